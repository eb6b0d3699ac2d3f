package scenarios

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// longChecks switches on the exhaustive searches of multi/check that take
// minutes (SYNOD_CHECK_LONG=1).
func longChecks() bool { return os.Getenv("SYNOD_CHECK_LONG") != "" }

// multiCheckHunts are the smallest multi/check settings under which a
// breadth-first search finds each Multi-Paxos bug, with the figures
// measured on 2 cores (Workers: 2).
var multiCheckHunts = []struct {
	bug, set string
	long     bool // minutes, not seconds: run with SYNOD_CHECK_LONG=1
}{
	// A second replica leads at once, without phase 1, and decides the
	// get in slot 1 where the first leader decided the put. 10 actions.
	{bug: "skip-phase1", set: "spread=1,elections=1,retries=0,heartbeats=0"},
	// Two replicas, quorum 1: each leads alone and decides its own
	// client's command in slot 1. 6 actions.
	{bug: "even-quorum", set: "replicas=2,spread=1,elections=1,retries=0,heartbeats=0"},
	// Four replicas, quorum 2: the leader decides with two acceptances of
	// four, which the acceptors' disks show is no majority. 7 actions.
	{bug: "even-quorum", set: "replicas=4,spread=1,elections=1,retries=0,heartbeats=0"},
	// n0 leads and proposes the put, which only n0 accepts; n1 campaigns,
	// finds nothing in slot 1, skips it and applies a no-op there that no
	// majority accepted. 11 actions.
	{bug: "no-gap-fill", set: "elections=1,retries=0,heartbeats=0"},
	// The default configuration: about 270 thousand states, seconds.
	{bug: "no-gap-fill", set: "", long: true},
}

func TestMultiCheckFindsBugs(t *testing.T) {
	sc, err := Lookup("multi/check")
	require.NoError(t, err)
	for _, h := range multiCheckHunts {
		if h.long && !longChecks() {
			t.Logf("%s with %s: skipped (minutes; SYNOD_CHECK_LONG=1 runs it)", h.bug, h.set)
			continue
		}
		r := searchScenario(t, "multi/check", h.set, h.bug, explore.Config{Workers: 2})
		require.NotNil(t, r.Violation, "%s with %s: %+v complete=%v cut=%q", h.bug, h.set, r.Stats, r.Complete, r.Cut)
		t.Logf("%s with %s: %v after %d states, %d transitions, depth %d, %v; path %v",
			h.bug, h.set, r.Violation, r.States, r.Transitions, r.MaxDepth, r.Elapsed, r.Path)

		// The path is a choice list: Run replays it to the same violation,
		// drawing exactly one choice per action.
		src := &sim.Replay{Values: r.Path}
		res := sc.Run(src, Options{Bugs: mustBugs(t, h.bug), Set: h.set})
		require.NotNil(t, res.Violation, "%s: the path did not replay to a violation", h.bug)
		require.Equal(t, r.Violation.(*checker.Violation).Kind, res.Violation.Kind)
		require.Equal(t, len(r.Path), src.Pos, "%s: the replay drew %d choices for a path of %d", h.bug, src.Pos, len(r.Path))
		require.Zero(t, src.Clamped)
		require.Equal(t, uint64(len(r.Path)), res.Events)
	}
}

// The correct protocol survives every schedule of a small configuration: two
// replicas campaign once each and one client writes.
func TestMultiCheckCorrectProtocolExhausts(t *testing.T) {
	const set = "clients=1,candidates=2,elections=1,retries=0,heartbeats=0"
	r := searchScenario(t, "multi/check", set, "", explore.Config{Workers: 2, MaxStates: 400_000})
	t.Logf("%s: %+v complete=%v", set, r.Stats, r.Complete)
	require.Nil(t, r.Violation, "path %v", r.Path)
	require.True(t, r.Complete, "cut by %s", r.Cut)
}

// Random walks of the default configuration: the correct protocol breaks
// no invariant, walks end (every bound is finite), and a walk is a function
// of its choices.
func TestMultiCheckRandomWalks(t *testing.T) {
	sc, err := Lookup("multi/check")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 300; seed++ {
		a := sc.Run(sim.NewPRNG(seed), Options{})
		require.Nil(t, a.Violation, "seed %d", seed)
		require.Empty(t, a.Inconclusive)
		rec := &sim.Recorder{Inner: sim.NewPRNG(seed)}
		b := sc.Run(rec, Options{Trace: true})
		require.Equal(t, a.Digest, b.Digest, "seed %d", seed)
		require.Equal(t, a.Events, uint64(len(rec.Choices)), "seed %d: one choice per action", seed)
	}
}

// Settings reach the world: a bad one is an error, and the bounds show in
// the run's parameters.
func TestMultiCheckSettings(t *testing.T) {
	sc, err := Lookup("multi/check")
	require.NoError(t, err)
	_, err = sc.Machine(Options{Set: "replicas=9"})
	require.Error(t, err)
	_, err = sc.Machine(Options{Set: "clients=1,writers=2"})
	require.Error(t, err)
	res := sc.Run(sim.NewPRNG(1), Options{Set: "replicas=4,elections=2,drops=1", Bugs: paxos.Bugs(0)})
	require.Contains(t, res.Params, "replicas=4")
	require.Contains(t, res.Params, "drops=1")
	require.Contains(t, res.Settings, "elections=2")
}

// BenchmarkMultiCheck exhausts a small multi/check configuration (one
// client, two candidates, one election each) and reports states per second;
// run it with -benchtime=1x -cpu 1.
func BenchmarkMultiCheck(b *testing.B) {
	b.ReportAllocs()
	var states uint64
	for b.Loop() {
		r := searchScenario(b, "multi/check", "clients=1,candidates=2,elections=1,retries=0,heartbeats=0", "", explore.Config{})
		if !r.Complete {
			b.Fatal("the search did not exhaust the space")
		}
		states += r.States
	}
	b.ReportMetric(float64(states)/b.Elapsed().Seconds(), "states/s")
	b.ReportMetric(float64(states)/float64(b.N), "states")
}
