package scenarios

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// firstFailure finds the first seed of a bug's hunt scenario that fails.
func firstFailure(t testing.TB, h BugHunt, bug paxos.Bugs) (*Scenario, uint64, Result) {
	s, err := Lookup(h.Scenario)
	require.NoError(t, err)
	for seed := uint64(1); seed <= uint64(h.Seeds); seed++ {
		if res := s.Run(sim.NewPRNG(seed), Options{Bugs: bug}); res.Violation != nil {
			return s, seed, s.Run(sim.NewPRNG(seed), Options{Bugs: bug, Trace: true})
		}
	}
	t.Fatalf("%s not found by %s in %d seeds", bug, h.Scenario, h.Seeds)
	return nil, 0, Result{}
}

// shrinkTargets are the issues' targets: a single-decree bug shrinks to at
// most 40 event lines; a Multi-Paxos one to at most 150 and at least five
// times shorter than the trace it came from; a liveness bug to at most 300
// event lines before its folded stall.
func shrinkTargets(scenario, kind string) (maxEvents, minFactor int) {
	if kind == "liveness" {
		return 300, 1
	}
	if strings.HasPrefix(scenario, "single/") {
		return 40, 1
	}
	return 150, 5
}

var flagShrinkAll = flag.Bool("synod.shrink-all", false, "TestShrinkEveryCataloguedBug shrinks every catalogued bug, Multi-Paxos ones too (env SYNOD_SHRINK_ALL=1)")

// Every catalogued bug's first failing trace shrinks to a short trace that
// still breaks the same invariant and replays with no divergence. By
// default the single-decree bugs (a few seconds); -synod.shrink-all adds the
// Multi-Paxos ones (up to the 25-second budget each), -synod.bug picks.
//
//	go test ./scenarios -run TestShrinkEveryCataloguedBug -synod.shrink-all -v
func TestShrinkEveryCataloguedBug(t *testing.T) {
	all := *flagShrinkAll || os.Getenv("SYNOD_SHRINK_ALL") != ""
	only := bugsUnderTest(t)
	for _, b := range paxos.Catalogue {
		h, ok := HuntFor(b.Name)
		if !ok {
			continue // its scenario is not registered in this build
		}
		switch {
		case only != 0 && !only.Has(b.Bug):
			continue
		case only == 0 && !all && !strings.HasPrefix(h.Scenario, "single/"):
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s, seed, res := firstFailure(t, h, b.Bug)
			orig := TraceFile(s.Name, seed, b.Bug, res)
			// The quick suite must not depend on the machine's speed: it gives
			// the shrinker time to reach its fixpoint, which is the same
			// everywhere. -synod.shrink-all measures against the real budget.
			opts := ShrinkOptions{Budget: 5 * time.Minute}
			if all {
				opts = ShrinkOptions{}
			}
			sh, err := ShrinkFile(orig, opts)
			require.NoError(t, err)
			t.Logf("%-20s %-16s seed %-5d %s", b.Name, s.Name, seed, sh)
			t.Logf("%-20s after: %s", b.Name, sh.After.Params)

			require.Equal(t, res.Violation.Kind, sh.Kind)
			maxEvents, factor := shrinkTargets(s.Name, res.Violation.Kind)
			require.LessOrEqual(t, sh.After.Events, maxEvents, "shrunk trace too long")
			require.LessOrEqual(t, sh.After.Events*factor, sh.Before.Events, "not %d times shorter", factor)
			if all {
				require.Less(t, sh.Wall, 30*time.Second)
			}

			// The shrunk trace, written and read back, replays exactly.
			var buf bytes.Buffer
			require.NoError(t, sh.File.Write(&buf))
			file, err := sim.ReadFile(&buf)
			require.NoError(t, err)
			rep, err := Replay(file)
			require.NoError(t, err)
			require.Empty(t, rep.Divergence)
			require.NotNil(t, rep.Result.Violation)
			require.Equal(t, sh.Kind, rep.Result.Violation.Kind)
			require.Equal(t, sh.After.Events, EventLines(file))
		})
	}
}

// A shrink with a run budget is the same on any machine, and shrinking a
// shrunk trace again changes nothing.
func TestShrinkIsDeterministicAndIdempotent(t *testing.T) {
	h, ok := HuntFor("dup-ballot")
	require.True(t, ok)
	s, seed, res := firstFailure(t, h, paxos.DupBallot)
	opts := ShrinkOptions{MaxRuns: 400, Budget: time.Minute}
	a, err := Shrink(s, seed, paxos.DupBallot, consumed(res.Trace.Choices()), opts)
	require.NoError(t, err)
	b, err := Shrink(s, seed, paxos.DupBallot, consumed(res.Trace.Choices()), opts)
	require.NoError(t, err)
	require.Equal(t, a.Choices, b.Choices)
	require.Equal(t, a.Result.Digest, b.Result.Digest)

	full, err := Shrink(s, seed, paxos.DupBallot, consumed(res.Trace.Choices()), ShrinkOptions{})
	require.NoError(t, err)
	require.True(t, full.Fixpoint)
	again, err := ShrinkFile(full.File, ShrinkOptions{})
	require.NoError(t, err)
	require.Equal(t, full.Choices, again.Choices)
	require.Equal(t, full.After.Events, again.After.Events)
}

func TestShrinkRefusesAPassingRun(t *testing.T) {
	s, err := Lookup("single/basic")
	require.NoError(t, err)
	_, err = Shrink(s, 1, 0, nil, ShrinkOptions{})
	require.ErrorContains(t, err, "breaks no invariant")
}

func TestEventLinesCountsEventsNotNotes(t *testing.T) {
	f := &sim.File{Lines: []sim.Line{
		{Text: "begin"}, {Text: "plan nodes=3"}, {Text: "start n0"}, {Text: "timer n0 t0"},
		{Text: "deliver n0->n1 prepare b=1.0"}, {Text: "lost n1->n0 promise b=1.0"},
		{Text: "fault crash n2"}, {Text: "n1 decided 101"}, {Text: "violation agreement"},
		{Text: "send n0->n1 prepare b=1.0, due @5"}, {Text: "sync n1 promise b=1.0"},
		{Text: "stall: 7 more events up to t=9µs"},
	}}
	require.Equal(t, 4+7, EventLines(f), "timer, deliver, lost, fault, and the events a stall line folds")
	require.Equal(t, "x.shrunk.trace", ShrunkPath("x.trace"))
}

func TestShrinkRefusesAnUnregisteredScenario(t *testing.T) {
	sc, _ := Lookup("single/basic")
	stray := *sc
	stray.Name = "not/registered"
	_, err := Shrink(&stray, 1, 0, []uint64{0}, ShrinkOptions{MaxRuns: 1})
	require.ErrorContains(t, err, "not registered")
	_, err = Shrink(nil, 1, 0, nil, ShrinkOptions{MaxRuns: 1})
	require.Error(t, err)
}

// A run that dies on a node's own assertion is judged by its true size: a
// test plants an assertion (a node that learns proposer 1's value panics,
// as a broken invariant does) in the swarm's shape, shrinks the first seed
// that trips it, and requires a shrunk trace no longer than the original
// with the true event count in both.
func TestShrinkNeverGrowsAnAssertionFailure(t *testing.T) {
	spec := singleSwarmSpec()
	spec.plant = func(id sim.NodeID, node *paxos.Single) {
		if v, ok := node.Decision(); ok && v == proposal(1) {
			panic(fmt.Sprintf("planted invariant broken at node %d: decided %d", id, v))
		}
	}
	s := &Scenario{Name: "test/planted-assertion", Run: func(src sim.Source, opts Options) Result { return runSingle(spec, Settings{}, src, opts) }}
	Register(s)
	t.Cleanup(func() { delete(registry, s.Name) })

	var seed uint64
	var res Result
	for seed = 1; seed < 200; seed++ {
		if res = s.Run(sim.NewPRNG(seed), Options{Trace: true}); res.Violation != nil {
			break
		}
	}
	require.NotNil(t, res.Violation, "no seed below 200 trips the planted assertion")
	require.Equal(t, "assertion", res.Violation.Kind)
	require.NotZero(t, res.Events, "an assertion failure records its true event count")
	require.NotZero(t, res.Digest)
	again := s.Run(sim.NewPRNG(seed), Options{})
	require.Equal(t, res.Events, again.Events)
	require.Equal(t, res.Digest, again.Digest, "an assertion failure's digest is reproducible")

	out, err := Shrink(s, seed, 0, consumed(res.Trace.Choices()), ShrinkOptions{MaxRuns: 3000, Budget: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "assertion", out.Result.Violation.Kind)
	require.LessOrEqual(t, out.After.Events, out.Before.Events, "the shrink grew the trace")
	require.LessOrEqual(t, out.Result.Events, res.Events)
	t.Logf("seed %d: %d events shrunk to %d", seed, out.Before.Events, out.After.Events)
}

// A liveness failure shrinks by healing earlier: the shrunk run heals at a
// window its trace header sets, is judged by the scenario's own liveness
// bound, and is no longer than the run it came from, folded stall events
// counted. Every liveness bug of the catalogue ends at most 300 events
// long, and its trace replays byte for byte.
func TestShrinkLivenessBugsHealEarly(t *testing.T) {
	for _, name := range []string{"no-retransmit", "nack-quorum"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, ok := paxos.LookupBug(name)
			require.True(t, ok)
			h, ok := HuntFor(name)
			require.True(t, ok)
			s, seed, res := firstFailure(t, h, b.Bug)
			require.Equal(t, "liveness", res.Violation.Kind)
			orig := TraceFile(s.Name, seed, b.Bug, res)
			// Time enough to reach the fixpoint, which is the same on
			// every machine.
			sh, err := ShrinkFile(orig, ShrinkOptions{Budget: 5 * time.Minute})
			require.NoError(t, err)
			t.Logf("%s seed %d: %s; set %s", s.Name, seed, sh, sh.Set)

			require.Equal(t, "liveness", sh.Kind)
			require.LessOrEqual(t, sh.After.Events, sh.Before.Events, "the shrink grew the trace")
			require.LessOrEqual(t, sh.After.Events, 300)
			require.Equal(t, EventLines(orig), sh.Before.Events, "the input's count has its folded stall in it")

			window, ok := sh.File.Get("set")
			require.True(t, ok, "the shrunk run's heal is in its header")
			require.Contains(t, window, "window=")
			bound := s.settingsFor("").Get("liveness")
			require.Contains(t, sh.Result.Violation.Message, fmt.Sprintf("within %dms of the final heal", bound/int64(sim.Millisecond)),
				"judged by the scenario's own liveness bound")

			var buf bytes.Buffer
			require.NoError(t, sh.File.Write(&buf))
			written := buf.String()
			file, err := sim.ReadFile(&buf)
			require.NoError(t, err)
			rep, err := Replay(file)
			require.NoError(t, err)
			require.Empty(t, rep.Divergence)
			require.Equal(t, "liveness", rep.Result.Violation.Kind)
			again := TraceFile(s.Name, seed, b.Bug, rep.Result)
			again.Header = append(again.Header, sim.Field{Key: "shrunk", Value: mustGet(t, sh.File, "shrunk")})
			var out bytes.Buffer
			require.NoError(t, again.Write(&out))
			require.Equal(t, written, out.String(), "the replay writes the shrunk trace byte for byte")
		})
	}
}

func mustGet(t *testing.T, f *sim.File, key string) string {
	v, ok := f.Get(key)
	require.True(t, ok, key)
	return v
}
