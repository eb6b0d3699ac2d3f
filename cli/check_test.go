package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func checkJSON(t *testing.T, args ...string) (int, checkReport) {
	t.Helper()
	code, stdout, stderr := simrun(t, append([]string{"check", "-json", "-q"}, args...)...)
	var rep checkReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "stdout %q stderr %q", stdout, stderr)
	return code, rep
}

func TestCheckVerdictsAndExitCodes(t *testing.T) {
	dir := t.TempDir()

	code, rep := checkJSON(t, "-set", "nodes=2,proposers=2", "-out", dir)
	require.Equal(t, exitOK, code)
	require.Equal(t, "complete", rep.Verdict)
	require.Greater(t, rep.States, uint64(100))
	require.Equal(t, "nodes=2,proposers=2,rounds=1,learners=1,learns=0,collect=1,drops=0,dups=0,crashes=0,restarts=0", rep.Settings)

	code, rep = checkJSON(t, "-max-states", "100", "-out", dir)
	require.Equal(t, exitInconclusive, code, "a search cut by a bound is never a pass")
	require.Equal(t, "bounded", rep.Verdict)
	require.Contains(t, rep.Cut, "state bound 100")

	code, rep = checkJSON(t, "-bug", "dup-ballot", "-out", dir)
	require.Equal(t, exitViolation, code)
	require.Equal(t, "violation", rep.Verdict)
	require.Equal(t, 6, rep.PathLength)
	require.True(t, rep.Shortest)
	require.Equal(t, filepath.Join(dir, "single_check-bfs-dup-ballot.trace"), rep.Trace)

	// The trace is an ordinary one: replay reproduces it, shrink takes it.
	code, stdout, _ := simrun(t, "replay", rep.Trace)
	require.Equal(t, exitViolation, code, stdout)
	require.Contains(t, stdout, "matches the trace")
	code, _, stderr := simrun(t, "shrink", rep.Trace, "-o", filepath.Join(dir, "s.trace"))
	require.Equal(t, exitViolation, code, stderr)

	// Workers change nothing but speed.
	_, one := checkJSON(t, "-bug", "ignore-accepted", "-out", dir)
	_, two := checkJSON(t, "-bug", "ignore-accepted", "-workers", "2", "-out", dir)
	require.Equal(t, one.States, two.States)
	require.Equal(t, one.Transitions, two.Transitions)
	require.Equal(t, one.PathLength, two.PathLength)
}

func TestCheckRefusesBadInput(t *testing.T) {
	requireUsageError(t, "unknown scenario", "check", "-scenario", "nope")
	requireUsageError(t, "no untimed view", "check", "-scenario", "single/swarm")
	requireUsageError(t, "has no setting", "check", "-set", "bogus=1")
	requireUsageError(t, "want an integer in", "check", "-set", "nodes=99")
	requireUsageError(t, "exceeds nodes", "check", "-set", "proposers=5")
	requireUsageError(t, "exclude each other", "check", "-bfs", "-dfs")
	requireUsageError(t, "-workers must be in", "check", "-workers", "0")
	requireUsageError(t, "-workers applies to -bfs", "check", "-dfs", "-workers", "2")
	requireUsageError(t, "unknown bug", "check", "-bug", "nope")
	requireUsageError(t, "needs a check scenario", "run", "-scenario", "single/swarm", "-strategy", "pct")
	requireUsageError(t, "unknown strategy", "run", "-strategy", "nope")
	requireUsageError(t, "pct depth", "run", "-scenario", "single/check", "-strategy", "pct", "-depth", "0")
}

func TestRunPCTWritesAReplayableTrace(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-scenario", "single/check", "-strategy", "pct", "-depth", "3", "-set", "rounds=2",
		"-bug", "stale-promise", "-seeds", "1000", "-traces", "1", "-out", dir)
	require.Equal(t, exitViolation, code)
	require.NotEmpty(t, rep.Violations)
	v := rep.Violations[0]
	require.Contains(t, v.GoTest, "-strategy pct -depth 3 -set rounds=2")
	code, stdout, _ := simrun(t, "replay", v.Trace)
	require.Equal(t, exitViolation, code)
	require.Contains(t, stdout, "matches the trace")
}
