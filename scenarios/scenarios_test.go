package scenarios

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// reproduce is what a failing seed test prints: the commands that rerun it.
func reproduce(t testing.TB, s *Scenario, seed uint64, bugs paxos.Bugs) string {
	set := settingsUnderTest(t, s)
	res := s.Run(sim.NewPRNG(seed), Options{Bugs: bugs, Trace: true, Set: set})
	dir := os.Getenv("SYNOD_TRACE_DIR")
	if dir == "" {
		dir = t.TempDir()
		if d, err := os.MkdirTemp("", "synod-failure-"); err == nil {
			dir = d // outlives the test, so the printed path still opens
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-seed%d.trace", strings.ReplaceAll(s.Name, "/", "_"), seed))
	var buf bytes.Buffer
	require.NoError(t, TraceFile(s.Name, seed, bugs, res).Write(&buf))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	cmd := fmt.Sprintf("go test ./scenarios -run '^%s$' -synod.scenario=%s -synod.seed=%d", t.Name(), s.Name, seed)
	if bugs != 0 {
		cmd += " -synod.bug=" + bugs.String()
	}
	if set != "" {
		cmd += " -synod.set=" + set
	}
	return fmt.Sprintf("\n  reproduce: %s\n  replay:    go run ./cmd/simrun replay %s", cmd, path)
}

// TestScenarioSeeds is the general seed test: every scenario (or those of
// -synod.scenario), over -synod.seeds seeds, with -synod.bug switched on,
// must run without a violation or an inconclusive check.
func TestScenarioSeeds(t *testing.T) {
	// 1,000 seeds of each of twenty-odd scenarios by default, to keep go
	// test within its budget; the fuzz workflow and -synod.seeds go deeper.
	first, count := seedRange(t, 1000)
	bugs := bugsUnderTest(t)
	for _, s := range scenariosUnderTest(t, "") {
		t.Run(s.Name, func(t *testing.T) {
			set := settingsUnderTest(t, s)
			for i := range count { // counted, not compared: first+count may wrap past 2^64-1
				seed := first + i
				res := s.Run(sim.NewPRNG(seed), Options{Bugs: bugs, Set: set})
				if res.Violation != nil {
					t.Fatalf("%s seed %d (%s): %v%s", s.Name, seed, res.Params, res.Violation, reproduce(t, s, seed, bugs))
				}
				if res.Inconclusive != "" {
					t.Fatalf("%s seed %d: inconclusive: %s%s", s.Name, seed, res.Inconclusive, reproduce(t, s, seed, bugs))
				}
			}
		})
	}
}

// The correct protocol survives thousands of swarm seeds with every fault
// family in play.
func TestCorrectSingleDecreeSurvivesSwarm(t *testing.T) {
	requireSweepPasses(t, "single/swarm", 20000)
}

// requireSweepPasses runs a scenario over -synod.seeds seeds (def by
// default) on every core and fails with the reproduction of the first
// failing seed.
func requireSweepPasses(t *testing.T, name string, def uint64) {
	first, count := seedRange(t, def)
	s, err := Lookup(name)
	require.NoError(t, err)
	sum := (&Sweep{Scenarios: []*Scenario{s}, First: first, Count: count}).Run()
	require.Equal(t, count, sum.Runs)
	for _, f := range sum.Failures {
		t.Fatalf("%s seed %d: %v%s", name, f.Seed, f.Violation, reproduce(t, s, f.Seed, 0))
	}
	for _, f := range sum.Inconclusive {
		t.Fatalf("%s seed %d: inconclusive: %s%s", name, f.Seed, f.Inconclusive, reproduce(t, s, f.Seed, 0))
	}
	// Every pair the scenario promises is reached, by at least 1% of the
	// seeds when the sweep is long enough to say.
	for _, rep := range sum.CoverageReports() {
		require.Empty(t, rep.Missing, "%s: declared fault×feature pairs no seed reached", name)
		for _, p := range rep.Pairs {
			if p.Declared && rep.Runs >= MinCoverageSeeds {
				require.GreaterOrEqual(t, p.Seeds*100, rep.Runs, "%s: %s reached by %d of %d seeds, under 1%%", name, p.Pair, p.Seeds, rep.Runs)
			}
		}
	}
}

func TestSameSeedSameDigest(t *testing.T) {
	for _, s := range All() {
		for seed := uint64(1); seed <= 20; seed++ {
			a := s.Run(sim.NewPRNG(seed), Options{})
			b := s.Run(sim.NewPRNG(seed), Options{})
			require.Equal(t, a.Digest, b.Digest, "%s seed %d", s.Name, seed)
			require.Equal(t, a.Events, b.Events, "%s seed %d", s.Name, seed)
			// Recording a trace must not change the run.
			c := s.Run(sim.NewPRNG(seed), Options{Trace: true})
			require.Equal(t, a.Digest, c.Digest, "%s seed %d: tracing changed the run", s.Name, seed)
		}
	}
}

func TestSweepDigestIgnoresWorkersAndGOMAXPROCS(t *testing.T) {
	scs, err := Parse("single/swarm,single/crash")
	require.NoError(t, err)
	digest := func(workers, procs int) uint64 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		sw := &Sweep{Scenarios: scs, First: 1, Count: 400, Workers: workers}
		return sw.Run().Digest
	}
	want := digest(1, 1)
	require.Equal(t, want, digest(4, 1))
	require.Equal(t, want, digest(4, 4))
	require.Equal(t, want, digest(3, 2))
}

func TestShardsOfASweepAddUp(t *testing.T) {
	scs, err := Parse("single/dueling")
	require.NoError(t, err)
	whole := (&Sweep{Scenarios: scs, First: 1, Count: 300}).Run()
	a := (&Sweep{Scenarios: scs, First: 1, Count: 100}).Run()
	b := (&Sweep{Scenarios: scs, First: 101, Count: 200}).Run()
	a.Merge(b)
	require.Equal(t, whole.Digest, a.Digest)
	require.Equal(t, whole.Runs, a.Runs)
	require.Equal(t, whole.Events, a.Events)
}

// firstFailingSeed searches seeds 1..limit on every core and returns the
// lowest that breaks an invariant (0 if none): the same answer as a serial
// search, found sooner.
func firstFailingSeed(s *Scenario, bugs paxos.Bugs, limit uint64) uint64 {
	var next atomic.Uint64
	var best atomic.Uint64
	best.Store(limit + 1)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed > limit || seed >= best.Load() {
					return
				}
				if res := s.Run(sim.NewPRNG(seed), Options{Bugs: bugs}); res.Violation != nil {
					for {
						b := best.Load()
						if seed >= b || best.CompareAndSwap(b, seed) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if b := best.Load(); b <= limit {
		return b
	}
	return 0
}

// Every catalogued bug is found by its hunt scenario within the hunt's seed
// bound (20,000 for single-decree bugs, 50,000 for Multi-Paxos ones); the
// failing run's trace, written and read back, replays to the same violation;
// a linearizability violation comes with porcupine's view of the history.
func TestEveryCataloguedBugIsFoundAndReplays(t *testing.T) {
	for _, b := range paxos.Catalogue {
		t.Run(b.Name, func(t *testing.T) {
			h, ok := HuntFor(b.Name)
			require.True(t, ok, "no scenario is registered to hunt %s", b.Name)
			bound := 20_000
			if strings.HasPrefix(h.Scenario, "multi/") {
				bound = 50_000
			}
			require.LessOrEqual(t, h.Seeds, bound)
			s, err := Lookup(h.Scenario)
			require.NoError(t, err)

			seed := firstFailingSeed(s, b.Bug, uint64(h.Seeds))
			require.NotZero(t, seed, "%s not found by %s in %d seeds", b.Name, h.Scenario, h.Seeds)
			found := s.Run(sim.NewPRNG(seed), Options{Bugs: b.Bug})
			t.Logf("%s found by %s seed %d (%s): %v", b.Name, h.Scenario, seed, found.Params, found.Violation)
			traced := s.Run(sim.NewPRNG(seed), Options{Bugs: b.Bug, Trace: true})
			require.True(t, SameViolation(found.Violation, traced.Violation), "tracing changed the run: %v", traced.Violation)
			if found.Violation.Kind == "linearizability" {
				// The page is drawn for traced runs only, with the run's
				// faults and leaders marked.
				require.Empty(t, found.Artifacts["history.html"], "a sweep's run draws no page it would throw away")
				page := string(traced.Artifacts["history.html"])
				require.Contains(t, page, "<html")
				require.Contains(t, page, "answered by replica")
			}
			var buf bytes.Buffer
			require.NoError(t, TraceFile(s.Name, seed, b.Bug, traced).Write(&buf))
			file, err := sim.ReadFile(&buf)
			require.NoError(t, err)
			rep, err := Replay(file)
			require.NoError(t, err)
			require.Empty(t, rep.Divergence)
			require.True(t, SameViolation(found.Violation, rep.Result.Violation), "replay: %v, want %v", rep.Result.Violation, found.Violation)
			require.Equal(t, found.Digest, rep.Result.Digest)
		})
	}
}

func TestReplayNamesTheFirstDivergence(t *testing.T) {
	s, err := Lookup("single/dueling")
	require.NoError(t, err)
	res := s.Run(sim.NewPRNG(5), Options{Trace: true})
	file := TraceFile(s.Name, 5, 0, res)
	// A different cluster size: the run goes another way from the plan line.
	file.Lines[0].Choices[0] = 0
	rep, err := Replay(file)
	require.NoError(t, err)
	// Line numbers count the magic line, the header and its separator.
	require.Contains(t, rep.Divergence, fmt.Sprintf("line %d: trace says \"@0 begin", len(file.Header)+3))

	// An edited event is caught where it stands.
	file = TraceFile(s.Name, 5, 0, res)
	file.Lines[20].Text += " (edited)"
	rep, err = Replay(file)
	require.NoError(t, err)
	require.Contains(t, rep.Divergence, fmt.Sprintf("line %d: trace says", len(file.Header)+3+20))
}

func TestReplayRejectsUnknownScenarioAndBug(t *testing.T) {
	_, err := Replay(&sim.File{Header: []sim.Field{{Key: "scenario", Value: "nope/x"}}})
	require.ErrorContains(t, err, "unknown scenario")
	_, err = Replay(&sim.File{Header: []sim.Field{{Key: "scenario", Value: "single/basic"}, {Key: "bug", Value: "frobnicate"}}})
	require.ErrorContains(t, err, "unknown bug")
}

// BenchmarkSingleDecree measures seeds per second on single/swarm, the
// figure behind "a million seeds in under a minute".
func BenchmarkSingleDecree(b *testing.B) {
	s, err := Lookup("single/swarm")
	require.NoError(b, err)
	var events uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		events += s.Run(sim.NewPRNG(uint64(i)), Options{}).Events
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/seed")
}

// A sweep bounded by MaxFailures stops at the same run for any number of
// workers: the first failures in (scenario, seed) order, and every run
// before the last of them.
func TestSweepStopsAtTheFirstFailuresInSeedOrder(t *testing.T) {
	s, err := Lookup("single/dueling")
	require.NoError(t, err)
	full := (&Sweep{Scenarios: []*Scenario{s}, First: 1, Count: 200, Bugs: paxos.IgnoreAccepted}).Run()
	require.Greater(t, len(full.Failures), 3)
	for _, workers := range []int{1, 2, 7} {
		for _, max := range []int{1, 3} {
			sum := (&Sweep{Scenarios: []*Scenario{s}, First: 1, Count: 200, Bugs: paxos.IgnoreAccepted, MaxFailures: max, Workers: workers}).Run()
			require.Len(t, sum.Failures, max)
			last := full.Failures[max-1].Seed
			require.Equal(t, full.Failures[:max], sum.Failures, "workers %d", workers)
			require.Equal(t, last, sum.Runs, "workers %d: runs up to seed %d", workers, last)
		}
	}
	none := (&Sweep{Scenarios: []*Scenario{s}, First: 1, Count: 50, MaxFailures: 1}).Run()
	require.Equal(t, uint64(50), none.Runs)
	require.Empty(t, none.Failures)
}
