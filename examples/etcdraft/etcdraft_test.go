package etcdraft

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"

	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// seeds is how many seeds the correct configuration runs: a few hundred by
// default, SYNOD_RAFT_SEEDS=100000 for the full acceptance sweep.
func seeds(t *testing.T) uint64 {
	if v := os.Getenv("SYNOD_RAFT_SEEDS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "SYNOD_RAFT_SEEDS")
		return n
	}
	return 300
}

func lookup(t *testing.T, name string) *scenarios.Scenario {
	s, err := scenarios.Lookup(name)
	require.NoError(t, err)
	return s
}

// The recommended configuration (PreVote, CheckQuorum, ReadOnlySafe) under
// every fault family keeps the history linearizable, the applied logs in
// agreement, a healthy leader undisturbed by a rejoining follower, and
// finishes every operation after the heal.
func TestRecommendedConfigurationPasses(t *testing.T) {
	s := lookup(t, "raft/kv")
	n := seeds(t)
	for seed := uint64(1); seed <= n; seed++ {
		res := s.Run(sim.NewPRNG(seed), scenarios.Options{})
		require.Nil(t, res.Violation, "seed %d (%s)", seed, res.Params)
		require.Empty(t, res.Inconclusive, "seed %d", seed)
	}
}

// Each hazard etcd raft's documentation names fails the way it predicts,
// and the sweep meets it early: these are the first failing seeds.
var hazards = []struct {
	scenario string
	first    uint64 // the first failing seed; the acceptance bound is 50,000
	kinds    []string
}{
	// A leader cut off from the others keeps answering lease reads on its
	// slow clock after the others elected a new leader and took a write.
	{"raft/lease-read", 893, []string{"linearizability"}},
	// A follower acknowledged entries it had not synced, crashed and lost
	// them: raft's own check finds the leader's commit index past the
	// follower's log and panics ("Was the raft log corrupted, truncated,
	// or lost?"); when the leader loses them too, replicas apply different
	// entries at one index (agreement) and acknowledged writes vanish.
	{"raft/unsafe-persist", 1, []string{"assertion", "agreement", "linearizability"}},
	// The follower cut off after the heal campaigns at ever higher terms;
	// when it rejoins, its vote request deposes the healthy leader.
	{"raft/no-prevote", 1, []string{"disruption"}},
}

func TestHazardsAreFound(t *testing.T) {
	for _, h := range hazards {
		t.Run(h.scenario, func(t *testing.T) {
			s := lookup(t, h.scenario)
			for seed := uint64(1); seed < h.first; seed++ {
				res := s.Run(sim.NewPRNG(seed), scenarios.Options{})
				require.Nil(t, res.Violation, "seed %d fails before the known first seed %d", seed, h.first)
			}
			res := s.Run(sim.NewPRNG(h.first), scenarios.Options{})
			require.NotNil(t, res.Violation, "seed %d", h.first)
			require.Contains(t, h.kinds, res.Violation.Kind, res.Violation.Message)
			require.LessOrEqual(t, h.first, uint64(50_000))
		})
	}
}

// A failing seed's trace replays event for event, and shrinks to a short
// story (lease-read shrinks for about a minute: its shrunk trace is kept
// in testdata and replayed instead, unless SYNOD_RAFT_SHRINK=1).
func TestHazardsReplayAndShrink(t *testing.T) {
	for _, h := range hazards {
		t.Run(h.scenario, func(t *testing.T) {
			s := lookup(t, h.scenario)
			res := s.Run(sim.NewPRNG(h.first), scenarios.Options{Trace: true})
			require.NotNil(t, res.Violation)
			f := scenarios.TraceFile(s.Name, h.first, 0, res)
			var buf bytes.Buffer
			require.NoError(t, f.Write(&buf))
			file, err := sim.ReadFile(&buf)
			require.NoError(t, err)
			rep, err := scenarios.Replay(file)
			require.NoError(t, err)
			require.Empty(t, rep.Divergence)
			require.True(t, scenarios.SameViolation(res.Violation, rep.Result.Violation))

			if h.scenario == "raft/lease-read" && os.Getenv("SYNOD_RAFT_SHRINK") == "" {
				return
			}
			sh, err := scenarios.ShrinkFile(file, scenarios.ShrinkOptions{Budget: 90 * time.Second})
			require.NoError(t, err)
			require.LessOrEqual(t, scenarios.EventLines(sh.File), 200, "shrunk %s", sh)
		})
	}
}

// The shrunk lease-read trace: a stale read in 177 events, replayed.
func TestLeaseReadShrunkTraceReplays(t *testing.T) {
	r, err := os.Open("testdata/lease-read.trace")
	require.NoError(t, err)
	defer r.Close()
	f, err := sim.ReadFile(r)
	require.NoError(t, err)
	require.LessOrEqual(t, scenarios.EventLines(f), 200)
	rep, err := scenarios.Replay(f)
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	require.NotNil(t, rep.Result.Violation)
	require.Equal(t, "linearizability", rep.Result.Violation.Kind)
}

// Same seed, same run: etcd raft's election timeouts come from the
// simulation, not crypto/rand, and tracing changes nothing.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"raft/kv", "raft/lease-read", "raft/unsafe-persist", "raft/no-prevote"} {
		s := lookup(t, name)
		for seed := uint64(1); seed <= 20; seed++ {
			require.Nil(t, scenarios.CheckDeterminism(s, seed, 0), "%s seed %d", name, seed)
			plain := s.Run(sim.NewPRNG(seed), scenarios.Options{})
			traced := s.Run(sim.NewPRNG(seed), scenarios.Options{Trace: true})
			require.Equal(t, plain.Digest, traced.Digest, "%s seed %d: tracing changed the run", name, seed)
		}
	}
}

// The election timeout raft uses is the one the node drew, in raft's own
// range, and it changes when raft resets (a new term).
func TestElectionTimeoutsAreDrawnFromTheRun(t *testing.T) {
	s := lookup(t, "raft/kv")
	res := s.Run(sim.NewPRNG(7), scenarios.Options{States: true})
	require.Nil(t, res.Violation)
	n := 0
	for _, l := range res.Trace.Lines() {
		if l.State == "" || !bytes.Contains([]byte(l.State), []byte("election-timeout=")) {
			continue
		}
		n++
		var ticks int
		_, err := sscanTimeout(l.State, &ticks)
		require.NoError(t, err)
		require.GreaterOrEqual(t, ticks, 6, l.State)
		require.LessOrEqual(t, ticks, 11, l.State)
	}
	require.Positive(t, n)
}

func sscanTimeout(state string, ticks *int) (int, error) {
	i := bytes.Index([]byte(state), []byte("election-timeout="))
	return fmt.Sscanf(state[i:], "election-timeout=%d", ticks)
}

// Lease reads go stale even on perfect clocks: a leader checks its quorum
// only every ElectionTick ticks, so it may step down up to two election
// timeouts after it lost touch, while the followers elect a new leader
// after one. raft/lease-read without any drift or skew (24 of 30,000
// seeds failed; the first is 3204).
func TestLeaseReadStaleWithoutDrift(t *testing.T) {
	sp := spec{minNodes: 3, maxNodes: 3, minClients: 2, maxClients: 3, ops: 200, keys: 3, readPct: 60,
		think: 30 * sim.Millisecond, retry: 60 * sim.Millisecond,
		raft: Config{Tick: 20 * sim.Millisecond, ElectionTicks: 6, HeartbeatTicks: 2, PreVote: true, CheckQuorum: true,
			ReadOnly: raft.ReadOnlyLeaseBased},
		window: 1500 * sim.Millisecond, bound: 4 * sim.Second, leaderCuts: 4, leaderCutMax: 600 * sim.Millisecond,
		faults: faults.Limits{ExtremeFixed: true}} // no fault family, and clocks exact
	res := sp.run(sim.NewPRNG(3204), scenarios.Options{}, nil)
	require.NotNil(t, res.Violation)
	require.Equal(t, "linearizability", res.Violation.Kind)
	require.Contains(t, res.Params, "faults=none")
}
