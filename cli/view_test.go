package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// failingTrace runs one failing seed and returns the trace file it wrote.
func failingTrace(t *testing.T, dir string) string {
	t.Helper()
	code, stdout, stderr := simrun(t, "run", "-bug", "dup-ballot", "-scenario", "single/dueling", "-seeds", "1", "-out", dir)
	require.Equal(t, exitViolation, code, "stdout %q stderr %q", stdout, stderr)
	var traces []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".trace") && !strings.HasSuffix(p, ".shrunk.trace") {
			traces = append(traces, p)
		}
		return err
	}))
	require.Len(t, traces, 1)
	return traces[0]
}

// simrun view FILE writes FILE.html next to the trace, with the node
// states of a replay, and says how to open it.
func TestViewWritesTheDiagram(t *testing.T) {
	dir := t.TempDir()
	trace := failingTrace(t, dir)
	code, stdout, stderr := simrun(t, "view", trace)
	require.Equal(t, exitOK, code, stderr)
	require.Empty(t, stderr, "a fresh trace replays, with states")
	html := strings.TrimSuffix(trace, ".trace") + ".html"
	require.Contains(t, stdout, "wrote "+html)
	require.Contains(t, stdout, "open it: ")
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	s := string(page)
	require.True(t, strings.HasPrefix(s, "<!DOCTYPE html>"))
	require.Contains(t, s, `id="viol"`)
	require.Contains(t, s, `class="bad"`)
	require.NotContains(t, s, "no node states")
	require.NotContains(t, s, "node states are unavailable")
	require.Contains(t, s, `promised=`, "the replay's node states are in the page")

	out := filepath.Join(dir, "elsewhere.html")
	code, stdout, _ = simrun(t, "view", "-o", out, trace)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, out)
	again, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, len(page), len(again), "the same trace draws the same page")
}

// A trace that cannot be replayed (an unknown scenario here) is still
// drawn, from the file alone, with a note.
func TestViewDrawsATraceItCannotReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd.trace")
	body := "synod-trace 2\nscenario no/such\nseed 1\nbug none\nparams nodes=2\n--\n" +
		"@0 begin\n@0 start n0\n@0 start n1\n@5 timer n0 propose\n@5 send n0->n1 prepare b=1.0, due @9\n@9 deliver n0->n1 prepare b=1.0\n@9 end 2 events, 6 lines\n"
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	code, stdout, stderr := simrun(t, "view", path)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "node states are unavailable")
	require.Equal(t, 1, strings.Count(stderr, "\n"))
	page, err := os.ReadFile(filepath.Join(dir, "odd.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "node states are unavailable")
	require.Contains(t, stdout, "odd.html")
}

func TestViewRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	notTrace := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notTrace, []byte("hello\n"), 0o644))
	requireUsageError(t, "want one trace file", "view")
	requireUsageError(t, "want one trace file", "view", notTrace, notTrace)
	requireUsageError(t, "cannot open trace", "view", filepath.Join(dir, "missing.trace"))
	requireUsageError(t, "not a synod trace", "view", notTrace)
	requireUsageError(t, "-max-lines", "view", "-max-lines", "0", notTrace)
	requireUsageError(t, "flag provided but not defined", "view", "-frob", notTrace)

	trace := failingTrace(t, dir)
	requireUsageError(t, "cannot write the diagram", "view", "-o", filepath.Join(dir, "no", "such", "dir.html"), trace)
	requireUsageError(t, "would overwrite the trace", "view", "-o", trace, trace)
	abs, err := filepath.Abs(trace)
	require.NoError(t, err)
	requireUsageError(t, "would overwrite the trace", "view", "-o", abs, filepath.Join(filepath.Dir(trace), ".", filepath.Base(trace)))
}
