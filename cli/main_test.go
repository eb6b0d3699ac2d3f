package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
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
	traces, err := filepath.Glob(filepath.Join(dir, "single", "crash", "seed-*", "run.trace"))
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

func runJSON(t *testing.T, args ...string) (int, runReport) {
	t.Helper()
	code, stdout, stderr := simrun(t, append(args, "-json", "-q")...)
	var rep runReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "stdout %q stderr %q", stdout, stderr)
	return code, rep
}

func TestShrinkWritesAShorterTraceThatReplays(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-bug", "no-persist", "-seeds", "40", "-traces", "1", "-out", dir)
	require.Equal(t, exitViolation, code)
	orig := rep.Violations[0]
	out := filepath.Join(dir, "small.trace")

	code, stdout, stderr := simrun(t, "shrink", orig.Trace, "-o", out)
	require.Equal(t, exitViolation, code, stderr)
	require.Contains(t, stdout, "before: ")
	require.Contains(t, stdout, "after:  ")
	require.Contains(t, stdout, "candidate runs in")
	require.Contains(t, stdout, "FAIL "+orig.Kind)

	code, stdout, stderr = simrun(t, "replay", out)
	require.Equal(t, exitViolation, code, stderr)
	require.Contains(t, stdout, "matches the trace")
	require.Contains(t, stdout, orig.Kind)
	small, err := readTrace(out)
	require.NoError(t, err)
	require.Less(t, scenarios.EventLines(small), orig.Events)

	// Without -o the shrunk trace goes next to the original.
	code, _, _ = simrun(t, "shrink", orig.Trace, "-runs", "50")
	require.Equal(t, exitViolation, code)
	require.FileExists(t, scenarios.ShrunkPath(orig.Trace))
}

func TestShrinkRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	requireUsageError(t, "want one trace file", "shrink")
	requireUsageError(t, "cannot open trace", "shrink", filepath.Join(dir, "missing.trace"))
	requireUsageError(t, "-budget must be positive", "shrink", "x.trace", "-budget", "0s")

	// A passing run has nothing to shrink.
	s, err := scenarios.Lookup("single/basic")
	require.NoError(t, err)
	res := s.Run(sim.NewPRNG(1), scenarios.Options{Trace: true})
	ok := filepath.Join(dir, "ok.trace")
	require.NoError(t, writeTraceFile(ok, scenarios.TraceFile(s.Name, 1, 0, res)))
	requireUsageError(t, "breaks no invariant when replayed: nothing to shrink", "shrink", ok)
}

func TestRunShrinkWritesBothTraces(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-bug", "ignore-accepted", "-seeds", "20", "-traces", "2", "-shrink", "-out", dir)
	require.Equal(t, exitViolation, code)
	for _, v := range rep.Violations[:2] {
		require.FileExists(t, v.Trace)
		require.FileExists(t, v.Shrunk)
		require.Empty(t, v.ShrinkError)
		require.LessOrEqual(t, v.ShrunkEvents, v.Events)
		require.LessOrEqual(t, v.ShrunkEvents, 40)
		code, _, stderr := simrun(t, "replay", v.Shrunk)
		require.Equal(t, exitViolation, code, stderr)
	}
	require.Empty(t, rep.Violations[2].Shrunk, "only traced failures are shrunk")
}

// N shards of a range run each seed exactly once, and their merged
// summary has the digest, runs and events of the unsharded run.
func TestShardsMergeToTheUnshardedRun(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "-scenario", "single/crash,single/partition", "-seed", "11", "-seeds", "200", "-out", dir}
	code, whole := runJSON(t, args...)
	require.Equal(t, exitOK, code)

	const n = 3
	var files []string
	next := uint64(11)
	for i := 1; i <= n; i++ {
		code, stdout, _ := simrun(t, append(args, "-shard", fmt.Sprintf("%d/%d", i, n), "-json", "-q")...)
		require.Equal(t, exitOK, code)
		var rep runReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		require.Equal(t, next, rep.FirstSeed, "shard %d starts where shard %d ended", i, i-1)
		next += rep.Seeds
		require.Equal(t, fmt.Sprintf("%d/%d", i, n), rep.Shard)
		f := filepath.Join(dir, fmt.Sprintf("shard%d.json", i))
		require.NoError(t, os.WriteFile(f, []byte(stdout), 0o644))
		files = append(files, f)
	}
	require.Equal(t, uint64(211), next, "the shards cover seeds 11-210 exactly")

	code, stdout, stderr := simrun(t, append([]string{"merge", "-json"}, files...)...)
	require.Equal(t, exitOK, code, stderr)
	var merged runReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &merged))
	require.Equal(t, whole.Digest, merged.Digest)
	require.Equal(t, whole.Runs, merged.Runs)
	require.Equal(t, whole.Events, merged.Events)
	require.Equal(t, whole.Seeds, merged.Seeds)
	require.Equal(t, whole.FirstSeed, merged.FirstSeed)

	code, stdout, _ = simrun(t, append([]string{"merge"}, files...)...)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "merged 3 summaries")
	require.Contains(t, stdout, "digest "+whole.Digest)

	// A missing shard is reported, and is not a pass.
	code, stdout, _ = simrun(t, "merge", files[0], files[2])
	require.Equal(t, exitInconclusive, code)
	require.Contains(t, stdout, "no summary for 1 shard(s): 2/3")

	// Merged summaries merge again.
	m := filepath.Join(dir, "merged.json")
	_, stdout, _ = simrun(t, "merge", "-json", files[0], files[1])
	require.NoError(t, os.WriteFile(m, []byte(stdout), 0o644))
	code, stdout, _ = simrun(t, "merge", "-json", m, files[2])
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &merged))
	require.Equal(t, whole.Digest, merged.Digest)
}

func TestMergeReportsViolationsAndRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := 1; i <= 2; i++ {
		_, stdout, _ := simrun(t, "run", "-bug", "minority-quorum", "-seeds", "60", "-shard", fmt.Sprintf("%d/2", i), "-traces", "0", "-json", "-q", "-out", dir)
		f := filepath.Join(dir, fmt.Sprintf("s%d.json", i))
		require.NoError(t, os.WriteFile(f, []byte(stdout), 0o644))
		files = append(files, f)
	}
	code, stdout, _ := simrun(t, "merge", files[0], files[1])
	require.Equal(t, exitViolation, code)
	require.Contains(t, stdout, "violations: 60 runs")

	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	requireUsageError(t, "want the summaries", "merge")
	requireUsageError(t, "cannot read summary", "merge", filepath.Join(dir, "nope.json"))
	requireUsageError(t, "is not a JSON summary", "merge", write("bad.json", "synod-trace 1\n"))
	requireUsageError(t, `has no "digest" field`, "merge", write("other.json", `{"scenarios":["a"],"bug":"none","first_seed":1,"seeds":1,"runs":1,"events":1,"violations":[]}`))
	requireUsageError(t, "both ran seed 1", "merge", files[0], files[0])
	_, stdout, _ = simrun(t, "run", "-scenario", "single/basic", "-seeds", "5", "-json", "-q", "-out", dir)
	requireUsageError(t, "merge summaries of one experiment", "merge", files[0], write("basic.json", stdout))
}

func TestRunRefusesBadShards(t *testing.T) {
	for _, s := range []string{"0/3", "4/3", "1/0", "x", "1/2/3", "-1/2"} {
		requireUsageError(t, "-shard", "run", "-seeds", "5", "-shard", s)
	}
}

// plantNondeterminism registers, once, a scenario with the classic leak: a
// package-level counter that survives from one run to the next reaches the
// run's choices.
var plantOnce sync.Once

const leakyScenario = "test/planted-nondeterminism"

type leakySource struct {
	inner sim.Source
	n     int
	leak  uint64
}

func (l *leakySource) Choose(n uint64) uint64 {
	v := l.inner.Choose(n)
	if n > 1 {
		if l.n++; l.n == 25 {
			v = (v + l.leak) % n
		}
	}
	return v
}

func plantNondeterminism() {
	plantOnce.Do(func() {
		base, err := scenarios.Lookup("single/dueling")
		if err != nil {
			panic(err)
		}
		var runs atomic.Uint64
		scenarios.Register(&scenarios.Scenario{Name: leakyScenario, Summary: "test only: single/dueling with a leaking counter",
			Run: func(src sim.Source, opts scenarios.Options) scenarios.Result {
				return base.Run(&leakySource{inner: src, leak: runs.Add(1)}, opts)
			}})
	})
}

func TestCheckDeterminism(t *testing.T) {
	var real []string
	for _, s := range scenarios.Defaults() {
		if !strings.HasPrefix(s.Name, "test/") {
			real = append(real, s.Name)
		}
	}
	code, rep := runJSON(t, "run", "-check-determinism", "-scenario", strings.Join(real, ","), "-seeds", "10", "-out", t.TempDir())
	require.Equal(t, exitOK, code, "%+v", rep.Violations)
	require.True(t, rep.CheckDeterminism)

	plantNondeterminism()
	dir := t.TempDir()
	code, stdout, _ := simrun(t, "run", "-check-determinism", "-scenario", leakyScenario, "-seeds", "4", "-out", dir, "-q")
	require.Equal(t, exitViolation, code)
	t.Log(stdout)
	require.Contains(t, stdout, "nondeterminism violation")
	require.Contains(t, stdout, "first differ at trace line")
	require.Contains(t, stdout, "/run1.trace")
	require.Contains(t, stdout, "/run2.trace")
	traces, err := filepath.Glob(filepath.Join(dir, "test", "planted-nondeterminism", "seed-*", "run?.trace"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(traces), 2)
	require.Zero(t, len(traces)%2, "two traces per divergent seed")

	// Without the check, the leak goes unnoticed by the sweep.
	code, _, _ = simrun(t, "run", "-scenario", leakyScenario, "-seeds", "5", "-out", dir, "-q")
	require.Equal(t, exitOK, code)
}

// A scenario's coverage promise is judged by run: a declared pair no seed of
// a long enough sweep reached fails the sweep with one UNCOVERED line;
// -coverage prints the matrix; the JSON summary carries the counts.
func TestRunFailsWhenADeclaredPairIsNeverReached(t *testing.T) {
	s := &scenarios.Scenario{Name: "test/uncovered", Summary: "a run that reaches nothing",
		Features: scenarios.Features{"leader"}, Sometimes: []string{"crash×leader"},
		Run: func(sim.Source, scenarios.Options) scenarios.Result { return scenarios.Result{Events: 1} }}
	scenarios.Register(s)
	t.Cleanup(func() { scenarios.Unregister(s.Name) })

	dir := t.TempDir()
	code, stdout, _ := simrun(t, "run", "-scenario", s.Name, "-seeds", "999", "-q", "-out", dir)
	require.Equal(t, exitOK, code, "999 seeds are too few to judge: %s", stdout)
	code, stdout, _ = simrun(t, "run", "-scenario", s.Name, "-seeds", "1000", "-q", "-out", dir, "-coverage")
	require.Equal(t, exitViolation, code, stdout)
	require.Contains(t, stdout, "UNCOVERED test/uncovered: no seed of 1000 reached crash×leader")
	require.Contains(t, stdout, "coverage of test/uncovered over 1000 seeds")
	code, rep := runJSON(t, "run", "-scenario", s.Name, "-seeds", "1000", "-q", "-out", dir)
	require.Equal(t, exitViolation, code)
	require.Len(t, rep.Coverage, 1)
	require.Equal(t, []string{"crash×leader"}, rep.Coverage[0].Missing)
	require.Zero(t, rep.Coverage[0].Seeds["crash×leader"])
}

// A sweep with thousands of failures writes a handful of files: traces for
// the first ten and the first of every other kind, and failures.txt listing
// them all; -fail-fast stops at the first failing seed in seed order for any
// worker count; -bug alone runs the catalogue's budget and stops at the
// first failure; a bug that no seed shows is reported as escaped.
// filesUnder lists every file below dir.
func filesUnder(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	}))
	return out
}

func TestSweepsThatScale(t *testing.T) {
	dir := t.TempDir()
	code, rep := runJSON(t, "run", "-scenario", "multi/kv", "-bug", "no-dedup", "-seeds", "300", "-out", dir)
	require.Equal(t, exitViolation, code)
	require.Greater(t, len(rep.Violations), 200)
	files := filesUnder(t, dir)
	// The first 10 failures and the first of each other kind, a folder
	// each (trace, summary, diagram, history), and failures.txt.
	require.LessOrEqual(t, len(files), 1+11*5, "a capped sweep writes a handful of files: %v", files)
	for _, v := range rep.Violations[:10] {
		require.DirExists(t, v.Folder)
		require.FileExists(t, filepath.Join(v.Folder, "summary.json"))
		require.Equal(t, filepath.Join(v.Folder, "run.trace"), v.Trace)
	}
	require.Empty(t, rep.Violations[len(rep.Violations)-1].Folder, "past the cap, a failure is listed, not written")
	list, err := os.ReadFile(filepath.Join(dir, "failures.txt"))
	require.NoError(t, err)
	require.Equal(t, len(rep.Violations), strings.Count(string(list), "\n"), "failures.txt lists every failing seed")

	var first []uint64
	for _, w := range []string{"1", "2", "5"} {
		code, rep := runJSON(t, "run", "-scenario", "single/dueling", "-bug", "accept-lower-ballot", "-seeds", "500", "-fail-fast", "-workers", w, "-out", t.TempDir())
		require.Equal(t, exitViolation, code)
		require.Len(t, rep.Violations, 1)
		require.True(t, rep.Stopped)
		first = append(first, rep.Violations[0].Seed, rep.Runs)
	}
	require.Equal(t, []uint64{first[0], first[1], first[0], first[1], first[0], first[1]}, first, "seed and runs do not depend on workers")

	code, rep = runJSON(t, "run", "-bug", "stale-promise", "-out", t.TempDir())
	require.Equal(t, exitViolation, code)
	require.Len(t, rep.Violations, 1)
	require.Contains(t, rep.Hunt, "stale-promise in 20000 seeds of single/swarm")

	code, stdout, _ := simrun(t, "run", "-bug", "nack-quorum", "-scenario", "single/basic", "-seeds", "20", "-q", "-out", t.TempDir())
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "ESCAPED: nack-quorum switched on, and no seed failed")
	requireUsageError(t, "-traces", "run", "-traces", "some", "-seeds", "1")
}
