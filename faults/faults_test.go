package faults

import (
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
)

func nodes(n int) []sim.NodeID {
	out := make([]sim.NodeID, n)
	for i := range out {
		out[i] = sim.NodeID(i)
	}
	return out
}

// reach counts, for each node, how many nodes (itself included) it hears from.
func reach(n int, l Links) []int {
	cut := map[[2]sim.NodeID]bool{}
	for _, c := range l {
		cut[c] = true
	}
	out := make([]int, n)
	for to := 0; to < n; to++ {
		for from := 0; from < n; from++ {
			if !cut[[2]sim.NodeID{sim.NodeID(from), sim.NodeID(to)}] {
				out[to]++
			}
		}
	}
	return out
}

func TestMajorityRingGivesEveryNodeADistinctMajority(t *testing.T) {
	for n := 3; n <= 7; n++ {
		l := Cut(sim.NewPRNG(uint64(n)), MajorityRing, nodes(n))
		for id, r := range reach(n, l) {
			require.Equal(t, n/2+1, r, "n=%d node %d", n, id)
		}
	}
}

func TestIsolateOneCutsOneNodeBothWays(t *testing.T) {
	l := Cut(&sim.Replay{}, IsolateOne, nodes(5))
	require.Len(t, l, 8)
	require.Equal(t, []int{1, 4, 4, 4, 4}, reach(5, l))
}

func TestHalvesAndBridge(t *testing.T) {
	require.Equal(t, []int{2, 2, 3, 3, 3}, reach(5, Cut(&sim.Replay{}, Halves, nodes(5))))
	// Node 0 bridges {1,2} and {3,4}.
	require.Equal(t, []int{5, 3, 3, 3, 3}, reach(5, Cut(&sim.Replay{}, Bridge, nodes(5))))
}

func TestDrawWithZeroChoicesIsThePlainRun(t *testing.T) {
	p := Draw(&sim.Replay{}, Limits{Families: AllFamilies, Swarm: true, MaxCrashes: 3, MaxParts: 3, MaxDrop: 1000, MaxDup: 1000, DownMax: 100, PartMax: 100})
	require.Equal(t, Family(0), p.Families, "all-zero choices must switch every family off")
}

func TestScheduleEndsWithEveryNodeUpAndTheNetworkWhole(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		src := sim.NewPRNG(seed)
		w := sim.NewWorld(5, src, func(env *sim.Env[nop]) sim.Node[nop] { return idle{} })
		p := Draw(src, Limits{Families: AllFamilies &^ Lasting, MaxCrashes: 4, MaxParts: 3, MaxDrop: 100_000, MaxDup: 100_000,
			DownMax: 50 * sim.Millisecond, PartMax: 50 * sim.Millisecond, TailMax: 20 * sim.Millisecond, SkewMax: 1000, DriftMaxPPM: 100})
		w.Boot()
		Schedule(w, src, p, nodes(5), 0, sim.Time(100*sim.Millisecond))
		for w.Step() {
		}
		for i := 0; i < 5; i++ {
			require.True(t, w.Up(sim.NodeID(i)), "seed %d: node %d down after heal", seed, i)
		}
		require.True(t, w.Net.Whole(), "seed %d", seed)
		require.Zero(t, w.Net.DropRate)
		require.Zero(t, w.Net.DupRate)
	}
}

// With Lasting on, a minority stays away after the heal: crashed, or up and
// cut off from the others (but not from each other); every other node is
// up, every other link whole, and the spared node is never taken.
func TestLastingFaultsKeepAMinorityAway(t *testing.T) {
	crashed, apart := 0, 0
	for seed := uint64(0); seed < 300; seed++ {
		src := sim.NewPRNG(seed)
		n := 3 + int(seed%5)
		w := sim.NewWorld(n, src, func(env *sim.Env[nop]) sim.Node[nop] { return idle{} })
		p := Draw(src, Limits{Families: Crash | Partition | Lasting, MaxCrashes: 3, MaxParts: 2,
			DownMax: 50 * sim.Millisecond, PartMax: 50 * sim.Millisecond})
		p.Spare = 1 << (seed % uint64(n))
		w.Boot()
		lost := Schedule(w, src, p, nodes(n), 0, sim.Time(100*sim.Millisecond))
		for w.Step() {
		}
		k := bits.OnesCount64(lost)
		require.True(t, k >= 1 && k <= (n-1)/2, "seed %d: %d of %d nodes lost", seed, k, n)
		require.Zero(t, lost&p.Spare, "seed %d: the spared node was taken", seed)
		isolated := w.Net.Apart() != 0
		if isolated {
			apart++
			require.Equal(t, lost, w.Net.Apart())
		} else {
			crashed++
		}
		for i := 0; i < n; i++ {
			id := sim.NodeID(i)
			away := lost&(1<<uint(i)) != 0
			require.Equal(t, !away || isolated, w.Up(id), "seed %d: node %d", seed, i)
			for j := 0; j < n; j++ {
				both := away == (lost&(1<<uint(j)) != 0)
				require.Equal(t, both || !isolated, w.Net.Connected(id, sim.NodeID(j)), "seed %d: %d->%d", seed, i, j)
			}
		}
		w.Net.Heal()
		require.Equal(t, isolated, w.Net.Apart() != 0, "Heal must not end a lasting cut")
	}
	require.NotZero(t, crashed)
	require.NotZero(t, apart)
}

type nop struct{}

func (nop) Hash() uint64   { return 0 }
func (nop) String() string { return "nop" }

type idle struct{}

func (idle) Start()                  {}
func (idle) Receive(sim.NodeID, nop) {}
func (idle) Timeout(sim.TimerID)     {}

// A family switched on with a zero bound draws nothing and panics nowhere,
// as crash and partition already did; so do clock steps with no window.
func TestZeroBoundsDrawNothing(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		p := Draw(sim.NewPRNG(seed), Limits{Families: Loss | Duplicate | Crash | Partition})
		require.Zero(t, p.DropRate)
		require.Zero(t, p.DupRate)
		require.Zero(t, p.Crashes)
		require.Zero(t, p.Partitions)
	}
	w := sim.NewWorld(3, sim.NewPRNG(1), func(env *sim.Env[nop]) sim.Node[nop] { return idle{} })
	require.NotPanics(t, func() { ClockSteps(w, sim.NewPRNG(1), []sim.NodeID{0, 1, 2}, 3, sim.Millisecond, false, 0) })
}
