package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// tally is a cloneable node for the untimed view: it counts what it
// received, writes each ping to disk, and sends every node a ping on its
// timer.
type tally struct {
	env  *Env[ping]
	sum  uint64
	seen uint64
}

type pingRecord uint64

func (r pingRecord) Hash() uint64 { return Mix64(uint64(r)) }

func (n *tally) Start() {
	for _, r := range n.env.Disk().Records() {
		n.sum += uint64(r.(pingRecord))
	}
	n.env.SetTimer(0, Second)
}

func (n *tally) Receive(from NodeID, m ping) {
	n.sum += uint64(m)
	n.seen++
	n.env.Disk().Append(pingRecord(m))
	n.env.Disk().Sync()
}

func (n *tally) Timeout(TimerID) {
	for i := 0; i < n.env.N(); i++ {
		n.env.Send(NodeID(i), ping(10+n.env.ID()))
	}
}

func (n *tally) Clone(env *Env[ping], into Node[ping]) Node[ping] {
	c, _ := into.(*tally)
	if c == nil {
		c = new(tally)
	}
	*c = *n
	c.env = env
	return c
}

func (n *tally) Fingerprint() uint64 { return Mix64(n.sum ^ n.seen<<32) }

func newTallyWorld(b Bounds) *World[ping] {
	w := NewWorld(3, NewPRNG(1), func(env *Env[ping]) Node[ping] { return &tally{env: env} })
	w.Untimed(b)
	w.Boot()
	return w
}

func fires(n int, t TimerID, k uint8) [][MaxTimers]uint8 {
	f := make([][MaxTimers]uint8, n)
	for i := range f {
		f[i][t] = k
	}
	return f
}

func keys(acts []Action) []uint64 {
	var out []uint64
	for _, a := range acts {
		out = append(out, a.Key)
	}
	return out
}

func TestUntimedOrderDependsOnTheStateAlone(t *testing.T) {
	// Fire node 0's then node 1's timer, and the other way round: the
	// same messages are in flight, so the same actions in the same order.
	w := newTallyWorld(Bounds{Fires: fires(3, 0, 1)})
	root := w.Save()
	timer := func(node NodeID) Action {
		for _, a := range w.Enabled() {
			if a.Kind == ActTimer && a.Node == node {
				return a
			}
		}
		t.Fatalf("node %d has no timer enabled", node)
		return Action{}
	}
	w.Do(timer(0))
	w.Do(timer(1))
	a, fa := keys(w.Enabled()), w.Fingerprint()
	w.Load(root)
	w.Do(timer(1))
	w.Do(timer(0))
	require.Equal(t, a, keys(w.Enabled()))
	require.Equal(t, fa, w.Fingerprint())
	require.Len(t, a, 4+1, "four deliveries (each to the other node: a message to oneself is delivered within the step), then node 2's timer")
	require.Equal(t, ActDeliver, w.Enabled()[0].Kind, "choice 0 is the plain outcome: a delivery")
}

func TestUntimedBoundsAndCrashes(t *testing.T) {
	w := newTallyWorld(Bounds{Fires: fires(3, 0, 1), Crashes: 1, Restarts: 1, Crashable: 1 << 2})
	var crashes int
	for _, a := range w.Enabled() {
		if a.Kind == ActCrash {
			crashes++
			require.Equal(t, NodeID(2), a.Node, "only node 2 may crash")
		}
	}
	require.Equal(t, 1, crashes)
	w.Do(w.Enabled()[0]) // node 0's timer: a ping to everyone
	for _, a := range w.Enabled() {
		if a.Kind == ActTimer {
			require.NotEqual(t, NodeID(0), a.Node, "node 0 used its one firing")
		}
	}
	var crash Action
	for _, a := range w.Enabled() {
		if a.Kind == ActCrash {
			crash = a
		}
	}
	w.Do(crash)
	for _, a := range w.Enabled() {
		require.False(t, a.Kind == ActDeliver && a.Node == 2, "a crash voids the messages in flight to the node")
		require.NotEqual(t, ActCrash, a.Kind, "the crash budget is spent")
	}
	require.Equal(t, ActRestart, w.Enabled()[len(w.Enabled())-1].Kind)
}

func TestUntimedSnapshotsAreCopyOnWrite(t *testing.T) {
	w := newTallyWorld(Bounds{Fires: fires(3, 0, 2), Crashes: 1, Restarts: 1})
	w.Do(w.Enabled()[0])
	snap := w.Save()
	fp := w.Fingerprint()
	// Step, crash and restart the copy: the snapshot must not change.
	for i := 0; i < 6 && len(w.Enabled()) > 0; i++ {
		w.Do(w.Enabled()[len(w.Enabled())-1-i%2])
	}
	require.NotEqual(t, fp, w.Fingerprint())
	w.Load(snap)
	require.Equal(t, fp, w.Fingerprint(), "a loaded snapshot fingerprints as it was saved")
	before := keys(w.Enabled())
	w.Do(w.Enabled()[0])
	w.Load(snap)
	require.Equal(t, before, keys(w.Enabled()))
}

func TestUntimedDiskReadsOnlyInStart(t *testing.T) {
	w := newTallyWorld(Bounds{})
	require.PanicsWithValue(t, "sim: a node read its disk outside Start: the untimed view (exhaustive search) allows disk reads only in Start",
		func() { w.Disk(0).Records() })
}

func TestCancelTimerChecksItsID(t *testing.T) {
	w := newTallyWorld(Bounds{})
	require.PanicsWithValue(t, "sim: node 1 cancelled timer 8, max 7", func() { w.nodes[1].env.CancelTimer(MaxTimers) })
}
