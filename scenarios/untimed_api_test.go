package scenarios_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// A user's protocol checked exhaustively through the public API: two
// senders send their values to a keeper that must keep the largest. The
// planted bug keeps the last value instead, which only some delivery
// orders show.

type maxMsg int

func (m maxMsg) Hash() uint64   { return uint64(m) * 0x9e3779b97f4a7c15 }
func (m maxMsg) String() string { return fmt.Sprintf("value %d", int(m)) }

const keepLast planted.Set = 1 << 41

type maxNode struct {
	env  *sim.Env[maxMsg]
	bugs planted.Set
	kept int
}

func (n *maxNode) Start() {
	if n.env.ID() != 0 {
		n.env.Send(0, maxMsg(10*int(n.env.ID())))
	}
}
func (n *maxNode) Timeout(sim.TimerID) {}
func (n *maxNode) Receive(_ sim.NodeID, m maxMsg) {
	if int(m) > n.kept || n.bugs.Has(keepLast) {
		n.kept = int(m)
	}
}
func (n *maxNode) Clone(env *sim.Env[maxMsg], _ sim.Node[maxMsg]) sim.Node[maxMsg] {
	c := *n
	c.env = env
	return &c
}
func (n *maxNode) Fingerprint() uint64 { return uint64(n.kept) }

// highest is the checker's memory: the largest value the keeper ever kept.
// A checker the search carries is a pointer: mutable() hands the run's own
// copy to change.
type highest struct{ v int }

func (h *highest) Clone() *highest     { c := *h; return &c }
func (h *highest) Fingerprint() uint64 { return uint64(h.v) }

func maxWorld(src sim.Source, opts scenarios.Options) (*scenarios.UntimedRun[maxMsg, *highest], *sim.World[maxMsg], *scenarios.Result) {
	res := &scenarios.Result{}
	w := sim.NewWorld(3, src, func(env *sim.Env[maxMsg]) sim.Node[maxMsg] { return &maxNode{env: env, bugs: opts.Bugs} })
	w.Untimed(sim.Bounds{})
	res.Trace = scenarios.TraceOf(w, opts)
	var u *scenarios.UntimedRun[maxMsg, *highest]
	u = scenarios.NewUntimedRun(w, &highest{}, func(mutable func() *highest, id sim.NodeID) *checker.Violation {
		kept := w.Node(0).(*maxNode).kept
		if id != 0 || kept == u.Checker().v {
			return nil
		}
		if kept < u.Checker().v {
			return &checker.Violation{Kind: "max", Message: fmt.Sprintf("the keeper went from %d down to %d", u.Checker().v, kept)}
		}
		mutable().v = kept
		return nil
	})
	return u, w, res
}

func TestUntimedRunOfAUsersProtocol(t *testing.T) {
	sc := &scenarios.Scenario{Name: "test/max-keeper", Summary: "test only: a keeper of the largest value, checked exhaustively"}
	sc.Run = func(src sim.Source, opts scenarios.Options) scenarios.Result {
		u, _, res := maxWorld(src, opts)
		u.Run(res)
		return *res
	}
	sc.Machine = func(opts scenarios.Options) (explore.Machine, error) {
		u, _, _ := maxWorld(sim.NewPRNG(0), opts)
		return u.Machine()
	}
	scenarios.Register(sc)
	defer scenarios.Unregister(sc.Name)
	if _, known := planted.Lookup("test-keep-last"); !known {
		planted.Register(planted.Info{Name: "test-keep-last", Bug: keepLast, Summary: "test only: the keeper keeps the last value"})
	}

	ok, err := scenarios.Check(sc, scenarios.Options{}, explore.Config{})
	require.NoError(t, err)
	require.True(t, ok.Complete)
	require.Nil(t, ok.Violation)

	bad, err := scenarios.Check(sc, scenarios.Options{Bugs: keepLast}, explore.Config{})
	require.NoError(t, err)
	require.NotNil(t, bad.Violation, "the search finds the order the bug needs")
	require.Equal(t, "max", bad.Replayed.Violation.Kind)
	rep, err := scenarios.Replay(bad.File)
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	require.Equal(t, "max", rep.Result.Violation.Kind)
}
