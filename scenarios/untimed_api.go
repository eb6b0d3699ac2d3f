package scenarios

import (
	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/sim"
)

// Memory is what a checker offers the exhaustive search: a copy taken
// before it changes (saved states share it until then) and a fingerprint,
// hashed with the world's, so that two states differing only in what the
// checker remembers stay two states.
type Memory[C any] interface {
	Clone() C
	Fingerprint() uint64
}

// UntimedRun is a user's untimed world with its checker, the way Synod's
// check scenarios are built (single/check, multi/check): one construction
// serves the scenario's Run (replay, shrink, random walks, PCT: each step
// the source picks an enabled action) and its Machine (simrun check: every
// schedule), so a path the search finds is a choice list Run replays.
//
// The world must be untimed (w.Untimed with the configuration's bounds)
// and traced as the options ask (TraceOf) before NewUntimedRun; its nodes
// must implement sim.Cloner.
type UntimedRun[M sim.Message, C Memory[C]] struct {
	cw *checkWorld[M, C]
}

// NewUntimedRun wraps w and its checker chk. observe checks node id after
// each of its steps and returns a violation or nil; it must call mutable()
// for the checker before changing it (the search shares the checker with
// saved states and copies it only then).
func NewUntimedRun[M sim.Message, C Memory[C]](w *sim.World[M], chk C, observe func(mutable func() C, id sim.NodeID) *checker.Violation) *UntimedRun[M, C] {
	cw := &checkWorld[M, C]{w: w, chk: chk}
	cw.watchShared(observe)
	return &UntimedRun[M, C]{cw: cw}
}

// Checker is the checker as the run left it (after Run: every terminal
// state's checks, such as a history's linearizability, start from it).
func (u *UntimedRun[M, C]) Checker() C { return u.cw.chk }

// Run boots the world and steps it until no action is enabled or an
// invariant breaks, filling res's events, digest and violation: the whole
// of a check scenario's Run after setup.
func (u *UntimedRun[M, C]) Run(res *Result) { u.cw.run(res) }

// Machine boots the world and hands it to the exhaustive search: a
// scenario's Machine returns it. A violation at boot is an error.
func (u *UntimedRun[M, C]) Machine() (explore.Machine, error) { return newMachine(u.cw) }
