package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func simrun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A user's mistake gives exit 2 and exactly one line on stderr that says
// what is wrong; never a panic, never a stack.
func requireUsageError(t *testing.T, want string, args ...string) {
	t.Helper()
	code, _, stderr := simrun(t, args...)
	require.Equal(t, exitUsage, code, "simrun %v", args)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "want one line, got %q", stderr)
	require.Contains(t, stderr, want)
}

func TestBadInputsGiveOneLineAndExit2(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	requireUsageError(t, "unknown command", "frobnicate")
	requireUsageError(t, "unknown scenario", "run", "-scenario", "single/nope", "-seeds", "1")
	requireUsageError(t, "unknown bug", "run", "-bug", "off-by-one", "-seeds", "1")
	requireUsageError(t, "flag provided but not defined", "run", "-sedes", "3")
	requireUsageError(t, "invalid value", "run", "-seeds", "many")
	requireUsageError(t, "-seeds must be at least 1", "run", "-seeds", "0")
	requireUsageError(t, "want one trace file", "replay")
	requireUsageError(t, "cannot open trace", "replay", filepath.Join(dir, "missing.trace"))
	requireUsageError(t, "trace is empty", "replay", write("empty.trace", ""))
	requireUsageError(t, "not a synod trace", "replay", write("foreign.trace", "{\"hello\": 1}\n"))
	requireUsageError(t, "not a synod trace", "replay", write("binary.trace", "\x00\x01\x02garbage"))
	requireUsageError(t, "version", "replay", write("future.trace", "synod-trace 99\n--\n"))
}

func TestTruncatedTraceIsRejected(t *testing.T) {
	dir := t.TempDir()
	code, _, _ := simrun(t, "run", "-scenario", "single/crash", "-bug", "no-persist", "-seeds", "30", "-traces", "1", "-out", dir, "-q")
	require.Equal(t, exitViolation, code)
	traces, err := filepath.Glob(filepath.Join(dir, "*.trace"))
	require.NoError(t, err)
	require.Len(t, traces, 1)
	data, err := os.ReadFile(traces[0])
	require.NoError(t, err)

	for _, cut := range []int{len(data) / 3, len(data) - 10, 40} {
		p := filepath.Join(dir, "cut.trace")
		require.NoError(t, os.WriteFile(p, data[:cut], 0o644))
		requireUsageError(t, "truncated", "replay", p)
	}
}

func TestRunWritesReplayableTraceAndJSON(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := simrun(t, "run", "-scenario", "single/dueling", "-bug", "minority-quorum", "-seeds", "40", "-out", dir, "-json", "-traces", "2")
	require.Equal(t, exitViolation, code)
	var rep struct {
		Seeds      uint64  `json:"seeds"`
		Events     uint64  `json:"events"`
		Digest     string  `json:"digest"`
		Wall       float64 `json:"wall_seconds"`
		Violations []struct {
			Scenario, Kind, Message, Trace string
			Seed                           uint64
		} `json:"violations"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.Equal(t, uint64(40), rep.Seeds)
	require.NotZero(t, rep.Events)
	require.Len(t, rep.Digest, 16)
	require.NotEmpty(t, rep.Violations)
	v := rep.Violations[0]
	require.Equal(t, "single/dueling", v.Scenario)
	require.NotEmpty(t, v.Trace)

	code, stdout, stderr := simrun(t, "replay", v.Trace, "-v")
	require.Equal(t, exitViolation, code, stderr)
	require.Contains(t, stdout, "matches the trace")
	require.Contains(t, stdout, v.Message)
	require.Contains(t, stdout, "deliver", "-v prints the timeline")
}

func TestCorrectRunExitsZeroAndDigestIgnoresWorkers(t *testing.T) {
	digest := func(workers string) string {
		code, stdout, stderr := simrun(t, "run", "-scenario", "single/swarm,single/partition", "-seeds", "300", "-workers", workers, "-json", "-out", t.TempDir())
		require.Equal(t, exitOK, code, stderr)
		var rep struct{ Digest string }
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		return rep.Digest
	}
	require.Equal(t, digest("1"), digest("4"))
}

func TestListAndBugs(t *testing.T) {
	code, stdout, _ := simrun(t, "list")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "single/swarm")
	code, stdout, _ = simrun(t, "bugs")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "no-persist")
	require.Contains(t, stdout, "single/crash")
}
