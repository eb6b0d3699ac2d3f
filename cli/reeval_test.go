package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/checker"
)

func writeHistory(t *testing.T, path string, h *checker.History, models ...string) {
	t.Helper()
	data, err := json.Marshal(h.Save(models...))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// TestReevalChecksSavedHistoriesAgain: a failure folder's history.json is
// checked again, the verdict sets the exit code, and bad input is one line.
func TestReevalChecksSavedHistoriesAgain(t *testing.T) {
	dir := t.TempDir()
	good := &checker.History{}
	w := good.Call(0, 0, checker.Put("x", "1"))
	good.Return(w, 10, checker.Output{})
	r := good.Call(1, 20, checker.Get("x"))
	good.Return(r, 30, checker.Output{Value: "1"})
	writeHistory(t, filepath.Join(dir, "multi", "kv", "seed-1", "history.json"), good, "kv")

	code, stdout, _ := simrun(t, "reeval", dir)
	require.Equal(t, exitOK, code, stdout)
	require.Contains(t, stdout, "1 histories: 1 linearizable, 0 not")

	bad := &checker.History{}
	w = bad.Call(0, 0, checker.Put("x", "1"))
	bad.Return(w, 10, checker.Output{})
	r = bad.Call(1, 20, checker.Get("x"))
	bad.Return(r, 30, checker.Output{Value: "7"})
	writeHistory(t, filepath.Join(dir, "multi", "kv", "seed-2", "history.json"), bad, "kv")
	code, stdout, _ = simrun(t, "reeval", dir, "-budget", "5s")
	require.Equal(t, exitViolation, code, stdout)
	require.Contains(t, stdout, "ILLEGAL "+filepath.Join(dir, "multi", "kv", "seed-2", "history.json"))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk-history.json"), []byte(`{"models":["kv"],"ops":[{"kind":"frob"}]}`), 0o644))
	requireUsageError(t, "unknown kind", "reeval", dir)
	requireUsageError(t, "no history.json", "reeval", t.TempDir())
	requireUsageError(t, "-budget", "reeval", dir, "-budget", "0s")
	requireUsageError(t, "want one directory", "reeval")
}

// TestFailureFoldersKeepEverything: a Multi-Paxos failure's folder holds
// its trace, summary, history page and saved history, and the shrunk
// run's trace and history page.
func TestFailureFoldersKeepEverything(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-scenario", "multi/kv", "-bug", "no-dedup", "-seeds", "50", "-fail-fast", "-shrink", "-shrink-budget", "3s", "-out", dir)
	require.Equal(t, exitViolation, code)
	v := rep.Violations[0]
	require.Equal(t, filepath.Join(dir, "multi", "kv", "seed-"+strconv.FormatUint(v.Seed, 10)+"-no-dedup"), v.Folder)
	for _, name := range []string{"run.trace", "summary.json", "history.json", "shrunk.trace"} {
		require.FileExists(t, filepath.Join(v.Folder, name))
	}
	var sum summaryJSON
	data, err := os.ReadFile(filepath.Join(v.Folder, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &sum))
	require.Equal(t, v.Seed, sum.Seed)
	require.Equal(t, "no-dedup", sum.Bug)
	require.Equal(t, v.Shrunk, sum.Shrunk)
	code, _, _ = simrun(t, "reeval", v.Folder)
	require.NotEqual(t, exitUsage, code)
}
