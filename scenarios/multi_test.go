package scenarios

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/paxos"
	mp "github.com/synod-sim/synod/paxos/multipaxos"
	"github.com/synod-sim/synod/sim"
)

// The correct protocol survives multi/swarm: every fault family, leases in
// half the runs, 3 to 7 replicas. SYNOD_SEEDS (or -synod.seeds) runs more.
func TestCorrectMultiPaxosSurvivesSwarm(t *testing.T) {
	requireSweepPasses(t, "multi/swarm", 3000)
}

// Every Multi-Paxos scenario gives the same digest for the same seed, with
// or without a trace, and a sweep's digest does not depend on the workers or
// GOMAXPROCS.
func TestMultiScenariosAreDeterministic(t *testing.T) {
	var multis []*Scenario
	for _, s := range All() {
		if strings.HasPrefix(s.Name, "multi/") {
			multis = append(multis, s)
		}
	}
	require.GreaterOrEqual(t, len(multis), 11) // the nine, multi/reconfig and multi/replace at least
	for _, s := range multis {
		for seed := uint64(1); seed <= 5; seed++ {
			a := s.Run(sim.NewPRNG(seed), Options{Bugs: paxos.StaleLeaderRead})
			b := s.Run(sim.NewPRNG(seed), Options{Bugs: paxos.StaleLeaderRead})
			c := s.Run(sim.NewPRNG(seed), Options{Bugs: paxos.StaleLeaderRead, Trace: true})
			require.Equal(t, a.Digest, b.Digest, "%s seed %d", s.Name, seed)
			require.Equal(t, a.Events, b.Events, "%s seed %d", s.Name, seed)
			require.Equal(t, a.Digest, c.Digest, "%s seed %d: tracing changed the run", s.Name, seed)
			require.True(t, SameViolation(a.Violation, c.Violation))
		}
	}
	digest := func(workers, procs int) uint64 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		return (&Sweep{Scenarios: multis, First: 1, Count: 30, Workers: workers}).Run().Digest
	}
	want := digest(1, 1)
	require.Equal(t, want, digest(3, 2))
}

// A crash restarts a replica from its disk: it replays its decided log, and
// every replica ends with the same applied log (the scenario's liveness goal
// includes convergence).
func TestMultiCrashScenarioConverges(t *testing.T) {
	spec := multiSpecs["multi/kv-crash"]
	for seed := uint64(1); seed <= 50; seed++ {
		var top []uint64
		res := runMultiWith(spec, Settings{}, sim.NewPRNG(seed), Options{}, func(r *multiRun) {
			for i := 0; i < r.replicas; i++ {
				top = append(top, uint64(r.server(i).Applied()))
			}
		})
		require.Nil(t, res.Violation, "seed %d", seed)
		for _, a := range top {
			require.Equal(t, top[0], a, "seed %d: replicas applied %v", seed, top)
		}
	}
}

// multi/lease draws its lease, the shortest at the plain outcome, and scales
// its timing with it. At every lease it draws, a correct leader's lease
// (shortened for drift and skew) outlasts a heartbeat round trip, so the
// correct protocol does serve reads under leases and not only configures
// them.
func TestLeaseScenarioScalesToTheDrawnLease(t *testing.T) {
	spec := multiSpecs["multi/lease"]
	require.Positive(t, spec.leaseMin)
	for k := sim.Duration(0); k <= leaseSteps; k++ {
		d := spec.leaseMin + k*(spec.leaseDuration-spec.leaseMin)/leaseSteps
		s := withLease(spec, d)
		require.Equal(t, d, s.leaseDuration)
		for _, pair := range [][2]sim.Duration{{s.heartbeat, spec.heartbeat}, {s.election, spec.election}, {s.retry, spec.retry},
			{s.faults.SkewMax, spec.faults.SkewMax}, {s.leaderCutMax, spec.leaderCutMax}, {s.window, spec.window}} {
			require.Equal(t, int64(pair[1])*int64(d)/int64(spec.leaseDuration), int64(pair[0]), "lease %v", d)
		}
		l := mp.Lease{Duration: paxos.Duration(d), DriftMaxPPM: int64(s.faults.DriftMaxPPM), SkewMax: paxos.Duration(s.faults.SkewMax)}
		require.Greater(t, l.Guard(0), paxos.Duration(s.heartbeat+2*s.latency.Max), "lease %v", d)
	}
	require.Equal(t, spec.leaseDuration, withLease(spec, spec.leaseDuration).leaseDuration)

	s, err := Lookup("multi/lease")
	require.NoError(t, err)
	plain := s.Run(&sim.Replay{}, Options{})
	require.Contains(t, plain.Params, "lease=250ms")
	local := map[string]int{}
	for seed := uint64(1); seed <= 30; seed++ {
		res := s.Run(sim.NewPRNG(seed), Options{Trace: true})
		require.Nil(t, res.Violation, "seed %d", seed)
		lease := strings.Fields(res.Params)[4]
		for _, l := range res.Trace.Lines() {
			if strings.Contains(l.Text, " locally at ballot ") {
				local[lease]++
			}
		}
	}
	require.Positive(t, local["lease=250ms"], "lease reads by lease drawn: %v", local)
	require.Positive(t, local["lease=500ms"], "lease reads by lease drawn: %v", local)
}

// With a timed workload the clients stop at a drawn time: a run that stops
// them earlier is the same run up to then. A shrinker lowering that time cuts
// the history after the violation without moving anything before it.
func TestTimedWorkloadStopsWithoutMovingTheRun(t *testing.T) {
	s, err := Lookup("multi/lease")
	require.NoError(t, err)
	require.True(t, multiSpecs["multi/lease"].timedWorkload)
	for seed := uint64(1); seed <= 5; seed++ {
		full := s.Run(sim.NewPRNG(seed), Options{Trace: true})
		lines := full.Trace.Lines()
		// The first line drew the replicas, the clients, the lease,
		// whether timing is extreme (the boundary adversary) and the time
		// the clients stop (in ms, from 1).
		require.Equal(t, "begin", lines[0].Text)
		require.Len(t, lines[0].Choices, 5)
		vals := consumed(full.Trace.Choices())
		require.Equal(t, lines[0].Choices, vals[:5])
		vals[4] /= 2
		stop := sim.Time(vals[4]+1) * sim.Time(sim.Millisecond)
		short := s.Run(&sim.Replay{Values: vals}, Options{Trace: true})
		require.Nil(t, short.Violation, "seed %d", seed)
		before := func(ls []sim.Line) []sim.Line {
			var out []sim.Line
			for _, l := range ls[1:] { // not the begin line: its choices differ
				if l.At < stop && !strings.HasPrefix(l.Text, "plan ") {
					out = append(out, l)
				}
			}
			return out
		}
		a, b := before(lines), before(short.Trace.Lines())
		require.NotEmpty(t, a)
		require.True(t, slices.EqualFunc(a, b, func(x, y sim.Line) bool {
			return x.At == y.At && x.Text == y.Text && slices.Equal(x.Choices, y.Choices)
		}), "seed %d: the run changed before the clients stopped at %dµs", seed, stop)
		require.LessOrEqual(t, short.Events, full.Events, "seed %d", seed)
	}
}

// longHistory is the client history of a multi/swarm run made to issue
// exactly n operations.
func longHistory(t testing.TB, n int, seed uint64) *checker.History {
	spec := multiSpecs["multi/swarm"]
	spec.ops, spec.opsExact = n, true
	spec.liveness = 60 * sim.Second // the whole workload runs on after the heal
	var h *checker.History
	res := runMultiWith(spec, Settings{}, sim.NewPRNG(seed), Options{}, func(r *multiRun) { h = r.history() })
	require.Nil(t, res.Violation)
	require.Empty(t, res.Inconclusive)
	require.GreaterOrEqual(t, h.Len(), n*9/10)
	return h
}

// The histories the scenarios make are checked well within the budget: a
// 1,000-operation history from a faulty swarm run is decided (linearizable)
// in well under a second.
func TestLinearizabilityOfALongHistory(t *testing.T) {
	h := longHistory(t, 1000, 7)
	start := time.Now()
	kv := checker.CheckKV(h, 10*time.Second)
	lock := checker.CheckLock(h, 10*time.Second)
	took := time.Since(start)
	require.Equal(t, checker.LinOk, kv.Verdict, kv.Message)
	require.Equal(t, checker.LinOk, lock.Verdict, lock.Message)
	t.Logf("%d operations checked in %v", h.Len(), took)
}

// BenchmarkMultiPaxos measures seeds and events per second on multi/swarm,
// on one goroutine: a sweep runs one of these per core.
func BenchmarkMultiPaxos(b *testing.B) {
	s, err := Lookup("multi/swarm")
	require.NoError(b, err)
	var events uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res := s.Run(sim.NewPRNG(uint64(i)+1), Options{})
		if res.Violation != nil {
			b.Fatalf("seed %d: %v", i+1, res.Violation)
		}
		events += res.Events
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/seed")
}

// BenchmarkMultiLinearizability measures the check of the longest histories
// the scenarios make: 1,000 operations of KV and lock clients.
func BenchmarkMultiLinearizability(b *testing.B) {
	h := longHistory(b, 1000, 7)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if checker.CheckKV(h, 10*time.Second).Verdict != checker.LinOk || checker.CheckLock(h, 10*time.Second).Verdict != checker.LinOk {
			b.Fatal("history not linearizable")
		}
	}
	b.ReportMetric(float64(h.Len()), "ops")
}
