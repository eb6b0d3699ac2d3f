package scenarios

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
)

// Every registered scenario runs each seed the same way twice.
func TestDeterminismCheckPassesOnEveryScenario(t *testing.T) {
	_, count := seedRange(t, 40)
	sw := &Sweep{Scenarios: All(), First: 1, Count: count, CheckDeterminism: true}
	sum := sw.Run()
	require.Equal(t, uint64(len(All()))*count, sum.Runs)
	for _, f := range sum.Failures {
		require.NotEqual(t, KindNondeterminism, f.Violation.Kind, "%s seed %d: %v", f.Scenario, f.Seed, f.Violation)
	}
}

// leaky wraps a source and, from its at-th choice on, adds a value that
// does not come from the seed: planted nondeterminism.
type leaky struct {
	inner sim.Source
	at    int
	n     int
	leak  func() uint64
}

func (l *leaky) Choose(n uint64) uint64 {
	v := l.inner.Choose(n)
	if n > 1 {
		l.n++
		if l.n == l.at {
			// Half the range per run: a leak that moves a rate or a
			// latency by one unit would rarely show.
			v = (v + l.leak()*(n/2+1)) % n
		}
	}
	return v
}

// plantedCounter is a real Paxos scenario with the classic determinism
// leak: a package-level counter that survives from one run to the next
// reaches the run's choices (here the 25th: a timer's jitter or a latency).
func plantedCounter() *Scenario {
	base, err := Lookup("single/dueling")
	if err != nil {
		panic(err)
	}
	var runs atomic.Uint64
	return &Scenario{Name: "test/planted-counter", Summary: "single/dueling with a package-level counter leaking into the run",
		Run: func(src sim.Source, opts Options) Result {
			k := runs.Add(1)
			return base.Run(&leaky{inner: src, at: 25, leak: func() uint64 { return k }}, opts)
		}}
}

// plantedMap leaks Go's randomized map iteration order into the run.
func plantedMap() *Scenario {
	base, err := Lookup("single/dueling")
	if err != nil {
		panic(err)
	}
	peers := map[uint64]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true}
	return &Scenario{Name: "test/planted-map", Summary: "single/dueling whose 20th choice follows map iteration order",
		Run: func(src sim.Source, opts Options) Result {
			return base.Run(&leaky{inner: src, at: 20, leak: func() uint64 {
				for k := range peers {
					return k
				}
				return 0
			}}, opts)
		}}
}

// The determinism check catches a planted leak and names the first event
// where the two runs part, with both versions of it.
func TestDeterminismCheckCatchesAPlantedCounter(t *testing.T) {
	s := plantedCounter()
	d := CheckDeterminism(s, 2, 0)
	require.NotNil(t, d)
	require.NotEqual(t, d.Digests[0], d.Digests[1])
	require.NotZero(t, d.Line, "the traced re-runs differ too: %v", d)
	require.NotEqual(t, d.Event[0], d.Event[1])
	msg := d.Error()
	require.Contains(t, msg, "first differ at trace line")
	require.Contains(t, msg, d.Event[0])
	t.Log(msg)

	// The line number is the one simrun replay and an editor show.
	lines := strings.Split(writeFile(t, d.Files[0]), "\n")
	require.Equal(t, d.Event[0], lines[d.Line-1])

	// Through a sweep, seeds are flagged (all but those where the leaked
	// value happens not to change what the run does), and each failure
	// carries both traces.
	sum := (&Sweep{Scenarios: []*Scenario{s}, First: 1, Count: 10, CheckDeterminism: true}).Run()
	require.GreaterOrEqual(t, len(sum.Failures), 6)
	for _, f := range sum.Failures {
		require.Equal(t, KindNondeterminism, f.Violation.Kind)
		require.NotNil(t, f.Divergence)
		require.NotNil(t, f.Divergence.Files[1])
	}
}

func TestDeterminismCheckCatchesMapOrder(t *testing.T) {
	sum := (&Sweep{Scenarios: []*Scenario{plantedMap()}, First: 1, Count: 30, CheckDeterminism: true}).Run()
	require.NotEmpty(t, sum.Failures, "30 seeds, each a 7-in-8 chance of two different map orders")
	require.Equal(t, KindNondeterminism, sum.Failures[0].Violation.Kind)
	require.Contains(t, sum.Failures[0].Violation.Message, "seed")
}

func TestShardsCoverTheRangeOnce(t *testing.T) {
	for _, c := range []struct{ first, count, n uint64 }{{1, 1000, 3}, {5, 7, 7}, {1, 2, 5}, {0, 1 << 63, 4}, {1, 1<<64 - 1, 1000}} {
		next := c.first
		for i := uint64(1); i <= c.n; i++ {
			f, k := Shard(c.first, c.count, i, c.n)
			require.Equal(t, next, f, "shard %d/%d of %d+%d starts where the last ended", i, c.n, c.first, c.count)
			require.LessOrEqual(t, k, c.count/c.n+1)
			require.GreaterOrEqual(t, k, c.count/c.n)
			next = f + k
		}
		require.Equal(t, c.first+c.count, next)
	}
	require.Panics(t, func() { Shard(1, 10, 0, 3) })
	require.Panics(t, func() { Shard(1, 10, 4, 3) })
}

// Shards of a sweep run each seed exactly once, and their summaries merge
// to the unsharded sweep's digest.
func TestShardedSweepRunsEachSeedOnce(t *testing.T) {
	const first, count, n = 1, 300, 4
	base, err := Lookup("single/crash")
	require.NoError(t, err)
	// A scenario that tells which seed it was given by its source's first
	// draw, then runs single/crash.
	bySeed := map[uint64]uint64{}
	for seed := uint64(first); seed < first+count; seed++ {
		bySeed[sim.NewPRNG(seed).Choose(1<<63)] = seed
	}
	var seen [first + count]atomic.Int32
	counting := &Scenario{Name: "test/counting", Run: func(src sim.Source, opts Options) Result {
		seen[bySeed[src.Choose(1<<63)]].Add(1)
		return base.Run(src, opts)
	}}
	scs := []*Scenario{counting}
	whole := (&Sweep{Scenarios: scs, First: first, Count: count}).Run()
	for seed := first; seed < first+count; seed++ {
		require.Equal(t, int32(1), seen[seed].Swap(0), "seed %d", seed)
	}
	var merged Summary
	for i := uint64(1); i <= n; i++ {
		f, k := Shard(first, count, i, n)
		merged.Merge((&Sweep{Scenarios: scs, First: f, Count: k, Workers: int(i)}).Run())
	}
	for seed := first; seed < first+count; seed++ {
		require.Equal(t, int32(1), seen[seed].Load(), "seed %d runs once over the %d shards", seed, n)
	}
	require.Equal(t, whole.Digest, merged.Digest)
	require.Equal(t, whole.Runs, merged.Runs)
	require.Equal(t, whole.Events, merged.Events)
}

func writeFile(t *testing.T, f *sim.File) string {
	var b strings.Builder
	require.NoError(t, f.Write(&b))
	return b.String()
}
