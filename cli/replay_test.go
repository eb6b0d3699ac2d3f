package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
)

// TestReplayChecksEveryHeaderClaim edits each claim a trace header makes
// about its run; replay must refuse the file (exit 2, one line naming the
// claim), never print the edited claim as matching.
func TestReplayChecksEveryHeaderClaim(t *testing.T) {
	dir := t.TempDir()
	code, rep := checkJSON(t, "-bug", "dup-ballot", "-out", dir)
	require.Equal(t, exitViolation, code)
	data, err := os.ReadFile(rep.Trace)
	require.NoError(t, err)

	code, stdout, _ := simrun(t, "replay", rep.Trace)
	require.Equal(t, exitViolation, code)
	require.Contains(t, stdout, "matches the trace and its header")

	edits := map[string]func(string) string{
		"events":    func(v string) string { return v + "1" },
		"digest":    func(v string) string { return strings.Repeat("0", len(v)) },
		"params":    func(v string) string { return v + " extra" },
		"set":       func(v string) string { return strings.Replace(v, "dups=0", "dups=1", 1) },
		"violation": func(v string) string { return "agreement: made up" },
	}
	for key, edit := range edits {
		var lines []string
		found := false
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, " "); ok && k == key && !found {
				l, found = k+" "+edit(v), true
			}
			lines = append(lines, l)
		}
		require.True(t, found, "the trace has no %s header", key)
		path := filepath.Join(dir, key+".trace")
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
		code, stdout, stderr := simrun(t, "replay", path)
		require.Equal(t, exitUsage, code, "edited %s: %s", key, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%q", stderr)
		require.Contains(t, stderr, key)
		require.NotContains(t, stdout, "matches")
	}
}

func TestRunRefusesEmptyAndRepeatedScenarios(t *testing.T) {
	requireUsageError(t, "-scenario is empty", "run", "-scenario", "", "-seeds", "1")
	requireUsageError(t, "named twice", "run", "-scenario", "single/basic,single/basic", "-seeds", "1")
	requireUsageError(t, "named twice", "run", "-scenario", "single/basic, single/basic", "-seeds", "1")
}

func TestRunBoundsWhatFlagsAsk(t *testing.T) {
	requireUsageError(t, "-workers must be in", "run", "-workers", "10000000", "-seeds", "1")
	requireUsageError(t, "holds no seed", "run", "-scenario", "single/basic", "-seeds", "10", "-shard", "7/1000000000")
	requireUsageError(t, "more runs than can be counted", "run", "-seeds", "18446744073709551615")
	// More workers than runs: as many workers as runs, same result.
	code, rep := runJSON(t, "run", "-scenario", "single/basic", "-seeds", "3", "-workers", "4096", "-out", t.TempDir())
	require.Equal(t, exitOK, code)
	require.Equal(t, uint64(3), rep.Runs)
}

func TestTraceErrorsQuoteAShortPrefix(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 1<<20)
	path := filepath.Join(dir, "long.trace")
	require.NoError(t, os.WriteFile(path, []byte("synod-trace 2\nscenario single/basic\n--\n"+long+"\n@0 end 0 events, 1 lines\n"), 0o644))
	code, _, stderr := simrun(t, "replay", path)
	require.Equal(t, exitUsage, code)
	require.Less(t, len(stderr), 300, "the error line must not repeat a 1 MB input")
}

// Devices, huge files and huge lines are refused at once, in bounded
// memory: the readers stream and stop at their documented limits.
func TestReadersRefuseOversizedInput(t *testing.T) {
	dir := t.TempDir()
	requireUsageError(t, "not a synod trace", "replay", "/dev/zero")
	requireUsageError(t, "not a synod trace", "shrink", "/dev/zero")
	requireUsageError(t, "not a JSON summary", "merge", "/dev/zero")

	big := filepath.Join(dir, "big.trace")
	f, err := os.Create(big)
	require.NoError(t, err)
	_, err = f.WriteString("synod-trace 2\nscenario single/basic\n--\n")
	require.NoError(t, err)
	line := []byte(strings.Repeat("@0 deliver n0->n1 prepare b=1.0 | 1 2 3 4\n", 1000))
	for written := 0; written <= sim.MaxTraceBytes; written += len(line) {
		_, err = f.Write(line)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	requireUsageError(t, "larger than the", "replay", big)

	long := filepath.Join(dir, "long.trace")
	require.NoError(t, os.WriteFile(long, []byte("synod-trace 2\n"+strings.Repeat("k", sim.MaxTraceLine+1)+"\n"), 0o644))
	requireUsageError(t, "longer than the", "replay", long)
}

// A shard count near 2^64 is merged in a moment, naming the missing
// shards as a few runs, not one by one.
func TestMergeNamesMissingShardsAsRuns(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := simrun(t, "run", "-scenario", "single/basic", "-seeds", "10", "-shard", "1/10", "-json", "-q", "-out", dir)
	require.Equal(t, exitOK, code)
	huge := strings.Replace(stdout, `"shard": "1/10"`, `"shard": "1/18446744073709551615"`, 1)
	require.NotEqual(t, stdout, huge)
	path := filepath.Join(dir, "a.json")
	require.NoError(t, os.WriteFile(path, []byte(huge), 0o644))
	code, out, _ := simrun(t, "merge", path)
	require.Equal(t, exitInconclusive, code)
	require.Contains(t, out, "no summary for 18446744073709551614 shard(s): 2-18446744073709551615 of 18446744073709551615")
	require.Less(t, len(out), 2000)
}

func TestUnwritableOutputIsAnError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	requireUsageError(t, "is not a directory", "run", "-scenario", "single/basic", "-seeds", "1", "-out", filepath.Join(file, "sub"))

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	defer full.Close()
	var stderr strings.Builder
	code := run([]string{"list"}, full, &stderr)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr.String(), "cannot write the output")
}

// A summary whose fields are megabytes long gets an error line of bounded
// length, as a trace does.
func TestMergeErrorsQuoteAShortPrefix(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := simrun(t, "run", "-scenario", "single/basic", "-seeds", "2", "-json", "-q", "-out", dir)
	require.Equal(t, exitOK, code)
	for _, field := range []string{`"digest": "`, `"bug": "`} {
		i := strings.Index(stdout, field) + len(field)
		bad := stdout[:i] + strings.Repeat("z", 10<<20) + stdout[i:]
		path := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		code, _, stderr := simrun(t, "merge", path, path)
		require.Equal(t, exitUsage, code)
		require.Equal(t, 1, strings.Count(stderr, "\n"))
		require.Less(t, len(stderr), 600, "%s: the error line must not repeat a 10 MB field", field)
	}
}
