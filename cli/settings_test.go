package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetChangesTheRunAndReplaysFromTheHeader: -set reaches every run of
// a sweep, the trace header records it, and replay and shrink need no
// flags to reproduce the run.
func TestSetChangesTheRunAndReplaysFromTheHeader(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-scenario", "single/dueling", "-bug", "dup-ballot", "-seeds", "2000",
		"-set", "nodes=5,proposers=5,latency=20ms,retry=3ms", "-fail-fast", "-out", dir)
	require.Equal(t, exitViolation, code)
	require.Len(t, rep.Violations, 1)
	v := rep.Violations[0]
	require.Contains(t, v.GoTest, "-synod.set=nodes=5,proposers=5,latency=20ms,retry=3ms")
	trace, err := os.ReadFile(v.Trace)
	require.NoError(t, err)
	require.Contains(t, string(trace), "\nset nodes=5,proposers=5,latency=20ms,retry=3ms\n")
	require.Contains(t, string(trace), "\nparams nodes=5 proposers=5 latency=1000-20000µs retry=3000µs")

	code, stdout, stderr := simrun(t, "replay", v.Trace)
	require.Equal(t, exitViolation, code, stderr)
	require.Contains(t, stdout, "matches the trace and its header")
	code, _, stderr = simrun(t, "shrink", v.Trace, "-o", dir+"/shrunk.trace", "-budget", "2s")
	require.Equal(t, exitViolation, code, stderr)
	code, _, stderr = simrun(t, "replay", dir+"/shrunk.trace")
	require.Equal(t, exitViolation, code, stderr)

	// The same seeds without the settings are other runs.
	_, plain := runJSON(t, "run", "-scenario", "single/dueling", "-bug", "dup-ballot", "-seeds", "2000", "-fail-fast", "-out", t.TempDir())
	require.NotEqual(t, rep.Digest, plain.Digest)
}

func TestSetRefusesBadSettings(t *testing.T) {
	requireUsageError(t, "has no setting \"nodez\"", "run", "-scenario", "single/crash", "-set", "nodez=3")
	requireUsageError(t, "want a rate", "run", "-scenario", "multi/kv", "-set", "loss=lots")
	requireUsageError(t, "want a duration", "run", "-scenario", "multi/kv", "-set", "window=-1ms")
	requireUsageError(t, "nothing to do", "run", "-scenario", "multi/kv", "-set", "keys=0")
}

func TestListShowsSettings(t *testing.T) {
	code, stdout, _ := simrun(t, "list", "-v")
	require.Equal(t, exitOK, code)
	for _, want := range []string{"  replicas=drawn 3..5 ", "  loss=drawn 0.000001..0.15 ", "  window=1500ms ", "  faults=loss+dup+delay ", "  nodes=drawn 3..7 "} {
		require.Contains(t, stdout, want)
	}
	require.True(t, strings.Contains(stdout, "-set key=value"))
}

// TestSettingsAreNotJudgedOnCoverage: a sweep with settings is another
// experiment than the scenario's; its coverage is reported, and a pair the
// settings switched off is no failure.
func TestSettingsAreNotJudgedOnCoverage(t *testing.T) {
	code, stdout, _ := simrun(t, "run", "-scenario", "single/crash", "-set", "faults=none", "-seeds", "1000", "-q", "-out", t.TempDir())
	require.Equal(t, exitOK, code, stdout)
	require.NotContains(t, stdout, "UNCOVERED")
}
