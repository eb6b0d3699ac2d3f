package sim

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// ping is the smallest message: a counter.
type ping uint64

func (p ping) Hash() uint64   { return uint64(p) }
func (p ping) String() string { return "ping " + strconv.FormatUint(uint64(p), 10) }

// pinger forwards every ping to a random peer and keeps a heartbeat timer:
// trivial nodes, so the benchmark measures the kernel alone.
type pinger struct {
	env *Env[ping]
	got uint64
}

func (p *pinger) Start() {
	p.env.SetTimer(0, 10*Millisecond)
	if p.env.ID() == 0 {
		p.env.Send(1, 1)
	}
}

func (p *pinger) Receive(from NodeID, m ping) {
	p.got++
	to := NodeID(p.env.Rand(uint64(p.env.N())))
	p.env.Send(to, m+1)
}

func (p *pinger) Timeout(t TimerID) { p.env.SetTimer(0, 10*Millisecond) }

func newPingWorld(seed uint64, n int) *World[ping] {
	return NewWorld(n, NewPRNG(seed), func(env *Env[ping]) Node[ping] { return &pinger{env: env} })
}

func runPing(w *World[ping], steps int) {
	w.Boot()
	for i := 0; i < steps && w.Step(); i++ {
	}
}

func TestSameSeedSameDigest(t *testing.T) {
	digest := func(seed uint64) uint64 {
		w := newPingWorld(seed, 5)
		w.Net.DropRate = 50_000
		w.Net.DupRate = 50_000
		w.Net.Latency.TailRate = 10_000
		w.Net.Latency.TailMax = 100 * Millisecond
		runPing(w, 20_000)
		return w.Digest()
	}
	require.Equal(t, digest(7), digest(7))
	require.NotEqual(t, digest(7), digest(8))
}

func TestCrashVoidsTimersAndInboundMessages(t *testing.T) {
	w := newPingWorld(1, 3)
	w.Boot()
	w.At(0, "crash n1", func() { w.Crash(1) })
	w.At(Time(20*Millisecond), "restart n1", func() { w.Restart(1) })
	received := map[NodeID]int{}
	w.AfterStep = func(id NodeID) {
		require.True(t, w.Up(id), "node %d stepped while down", id)
		received[id]++
	}
	stepUntil(w, Time(15*Millisecond))
	require.False(t, w.Up(1))
	stepUntil(w, Time(40*Millisecond))
	require.True(t, w.Up(1))
}

func stepUntil(w *World[ping], end Time) {
	for {
		next, ok := w.NextTime()
		if !ok || next >= end {
			return
		}
		w.Step()
	}
}

func TestDiskKeepsOnlySyncedRecordsAcrossCrash(t *testing.T) {
	w := newPingWorld(1, 2)
	w.Boot()
	d := w.Disk(0)
	d.Append("a")
	d.Sync()
	d.Append("b")
	require.Equal(t, 1, d.Unsynced())
	w.Crash(0)
	require.Equal(t, []any{"a"}, d.Records())
	w.Restart(0)
	require.True(t, w.Up(0))
}

func TestPartitionIsDirectional(t *testing.T) {
	w := newPingWorld(1, 3)
	w.Net.SetLink(0, 1, false)
	require.False(t, w.Net.Connected(0, 1))
	require.True(t, w.Net.Connected(1, 0))
	require.False(t, w.Net.Whole())
	w.Net.Heal()
	require.True(t, w.Net.Whole())
}

func TestChanceZeroDrawsNothing(t *testing.T) {
	r := &Replay{}
	require.False(t, Chance(r, 0))
	require.Equal(t, 0, r.Exhausted)
	require.False(t, Chance(r, 10), "choice 0 must be the uneventful outcome")
	require.Equal(t, 1, r.Exhausted)
}

func TestPRNGChooseInRange(t *testing.T) {
	p := NewPRNG(3)
	seen := make([]int, 7)
	for i := 0; i < 70_000; i++ {
		seen[p.Choose(7)]++
	}
	for v, n := range seen {
		require.InDelta(t, 10_000, n, 600, "value %d drawn %d times", v, n)
	}
}

func TestTraceRoundTrip(t *testing.T) {
	w := newPingWorld(9, 3)
	tr := w.Trace()
	w.Net.DropRate = 100_000
	runPing(w, 200)
	f := &File{Header: []Field{{"scenario", "ping"}}, Lines: tr.Lines()}
	var sb stringsBuilder
	require.NoError(t, f.Write(&sb))
	g, err := ReadFile(sb.reader())
	require.NoError(t, err)
	require.Equal(t, f.Lines, g.Lines)

	// Replaying the recorded choices rebuilds the same run.
	w2 := NewWorld(3, &Replay{Values: g.Choices()}, func(env *Env[ping]) Node[ping] { return &pinger{env: env} })
	tr2 := w2.Trace()
	w2.Net.DropRate = 100_000
	runPing(w2, 200)
	require.Equal(t, w.Digest(), w2.Digest())
	require.Equal(t, f.Lines, tr2.Lines())
}

// BenchmarkKernel measures the kernel with trivial nodes: events per second
// and allocations per event in the steady state.
func BenchmarkKernel(b *testing.B) {
	w := newPingWorld(1, 5)
	w.Net.DupRate = 1000 // keep a few messages in flight
	w.Boot()
	for i := 0; i < 100_000; i++ { // warm up: slab and queue reach steady size
		w.Step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := w.Events()
	for i := 0; i < b.N; i++ {
		if !w.Step() {
			b.Fatal("world ran dry")
		}
	}
	b.StopTimer()
	ev := float64(w.Events() - start)
	b.ReportMetric(ev/b.Elapsed().Seconds(), "events/s")
}
