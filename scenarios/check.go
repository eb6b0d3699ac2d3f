package scenarios

import (
	"fmt"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/sim"
)

// Check scenarios run the untimed view of a world (sim/untimed.go): every
// step the source picks one enabled action. The same construction serves
// Run (replay, shrink, random walks, PCT) and Machine (the exhaustive
// search), so a path the search finds is a choice list Run replays.

// checkWorld is an untimed world with its checker.
type checkWorld[M sim.Message, C Memory[C]] struct {
	w     *sim.World[M]
	chk   C
	owned bool // chk is this world's own, not shared with a saved state
	// chkFP caches chk's fingerprint while chkFPOK: it changes only
	// through mutable, and most steps record nothing.
	chkFP   uint64
	chkFPOK bool
	found   *checker.Violation
	// loaded is the saved state the world holds unchanged, if any: loading
	// it again is free.
	loaded explore.State
	// free holds saved states the search is done with, for Save to reuse.
	free []*checkState[M, C]
	// checkerAfter, when set, is the fingerprint the checker would have
	// after node id's remembered step with stages st, without changing it;
	// ok is false when the step would break an invariant (it must run, to
	// be reported).
	checkerAfter func(id sim.NodeID, st sim.Stages[M]) (fp uint64, ok bool)
}

// watchShared installs the checker: observe checks node id after each of
// its steps, and calls mutable for the checker before anything that
// changes it, so the checker a world shares with saved states is copied
// only then.
func (cw *checkWorld[M, C]) watchShared(observe func(mutable func() C, id sim.NodeID) *checker.Violation) {
	cw.owned = true
	mutable := func() C {
		cw.chkFPOK = false
		if !cw.owned {
			cw.chk, cw.owned = cw.chk.Clone(), true
		}
		return cw.chk
	}
	cw.w.AfterStep = func(id sim.NodeID) {
		if v := observe(mutable, id); v != nil && cw.found == nil {
			cw.found = v
			cw.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
		}
	}
}

// run steps the world until no action is enabled or an invariant breaks:
// the whole of a check scenario's Run after setup.
func (cw *checkWorld[M, C]) run(res *Result) {
	defer guard(cw.w, res, &cw.found)
	cw.w.Boot()
	for cw.found == nil && cw.w.StepUntimed() {
	}
	res.Events, res.Digest, res.Violation = cw.w.Events(), cw.w.Digest(), cw.found
}

// checkMachine is a checkWorld as the explorer drives it.
type checkMachine[M sim.Message, C Memory[C]] struct {
	*checkWorld[M, C]
}

type checkState[M sim.Message, C any] struct {
	world sim.Snapshot[M]
	chk   C
	chkFP uint64
}

// newMachine boots cw and wraps it for the search; a violation at boot is
// returned as an error.
func newMachine[M sim.Message, C Memory[C]](cw *checkWorld[M, C]) (explore.Machine, error) {
	var res Result
	func() {
		defer guard(cw.w, &res, &cw.found)
		cw.w.Boot()
	}()
	if cw.found != nil {
		return nil, fmt.Errorf("the initial state is already broken: %v", cw.found)
	}
	return checkMachine[M, C]{cw}, nil
}

func (m checkMachine[M, C]) Load(s explore.State) {
	if s == m.loaded {
		return
	}
	m.loaded = s
	st := s.(*checkState[M, C])
	m.w.Load(&st.world)
	m.chk, m.owned, m.found = st.chk, false, nil
	m.chkFP, m.chkFPOK = st.chkFP, true
}

func (m checkMachine[M, C]) Actions() []sim.Action { return m.w.Enabled() }

func (m checkMachine[M, C]) Apply(a sim.Action) error {
	m.loaded = nil
	m.step(a)
	if m.found != nil {
		return m.found
	}
	return nil
}

// step runs one action; a broken assertion inside a node becomes the
// world's violation, as in every other run.
func (m checkMachine[M, C]) step(a sim.Action) {
	defer func() {
		if r := recover(); r != nil {
			var res Result
			recovered(m.w, r, &res, &m.found)
		}
	}()
	m.w.Do(a)
}

func (m checkMachine[M, C]) Fingerprint() uint64 {
	return sim.Mix64(m.w.Fingerprint() ^ m.checkerFingerprint()*0x9e3779b97f4a7c15)
}

func (m *checkWorld[M, C]) checkerFingerprint() uint64 {
	if !m.chkFPOK {
		m.chkFP, m.chkFPOK = m.chk.Fingerprint(), true
	}
	return m.chkFP
}

func (m checkMachine[M, C]) Save() explore.State {
	m.owned = false
	var st *checkState[M, C]
	if n := len(m.free); n > 0 {
		st, m.free = m.free[n-1], m.free[:n-1]
	} else {
		st = new(checkState[M, C])
	}
	if f, ok := any(m.chk).(interface{ Freeze() }); ok {
		f.Freeze() // before other workers may load the state and clone it
	}
	st.chk, st.chkFP = m.chk, m.checkerFingerprint()
	m.w.SaveInto(&st.world)
	m.loaded = st
	return st
}

// Recycle takes back a saved state no one will load again.
func (m checkMachine[M, C]) Recycle(s explore.State) {
	st := s.(*checkState[M, C])
	if s == m.loaded {
		m.loaded = nil
	}
	var zero C
	st.chk = zero
	m.free = append(m.free, st)
}

// Checked is the outcome of an exhaustive check of a scenario.
type Checked struct {
	explore.Result
	Settings string // the bounds searched, as Settings.String
	// With a violation: the path re-run by Run with the trace on, and its
	// trace file (seed 0: the path is the whole run).
	Replayed Result
	File     *sim.File
}

// Check searches every schedule of a scenario's bounded configuration. A
// violation's path is replayed through Run with the trace on, so what is
// reported is a trace file that simrun replay and shrink take; a path that
// does not fail the same way when replayed is an error (a search that
// disagrees with the simulator is a bug of the harness, never a verdict).
func Check(sc *Scenario, opts Options, cfg explore.Config) (*Checked, error) {
	if sc.Machine == nil {
		return nil, fmt.Errorf("%s has no untimed view to check exhaustively (check scenarios: %s)", sc.Name, checkNames())
	}
	set, err := sc.ParseSettings(opts.Set)
	if err != nil {
		return nil, err
	}
	opts.Set, opts.Trace = set.All(), false
	res, err := explore.Search(func() (explore.Machine, error) { return sc.Machine(opts) }, cfg)
	if err != nil {
		return nil, err
	}
	out := &Checked{Result: res, Settings: opts.Set}
	if res.Violation == nil {
		return out, nil
	}
	opts.Trace = true
	src := &sim.Replay{Values: res.Path}
	out.Replayed = sc.Run(src, opts)
	v := out.Replayed.Violation
	if v == nil || !sameKind(v, res.Violation) || src.Clamped > 0 || src.Pos != len(res.Path) {
		return nil, fmt.Errorf("%s: the search's path (%d actions) did not replay to the same violation (search: %v; replay: %v): a bug in the harness",
			sc.Name, len(res.Path), res.Violation, v)
	}
	out.File = TraceFile(sc.Name, 0, opts.Bugs, out.Replayed)
	how := "bfs"
	if cfg.DFS {
		how = "dfs"
	}
	out.File.Header = append(out.File.Header, sim.Field{Key: "found", Value: fmt.Sprintf(
		"simrun check -%s: %d actions from the initial state, after %d distinct states", how, len(res.Path), res.States)})
	return out, nil
}

func sameKind(v *checker.Violation, err error) bool {
	w, ok := err.(*checker.Violation)
	return ok && w.Kind == v.Kind
}

func checkNames() string {
	var names []string
	for _, s := range All() {
		if s.Machine != nil {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ", ")
}

// faultBudgetParams are the fault budgets every check scenario declares.
var faultBudgetParams = []Param{
	{Name: "drops", Default: 0, Min: -1, Max: 16, Doc: "messages the network may lose; -1: any number"},
	{Name: "dups", Default: 0, Min: 0, Max: 8, Doc: "messages the network may duplicate"},
	{Name: "crashes", Default: 0, Min: 0, Max: 4, Doc: "node crashes (unsynced disk writes are lost)"},
	{Name: "restarts", Default: 0, Min: 0, Max: 4, Doc: "restarts of crashed nodes"},
}

// faultBounds are the budgets of faultBudgetParams, for n nodes.
func faultBounds(set Settings, n int) sim.Bounds {
	return sim.Bounds{Drops: set.Int("drops"), Dups: set.Int("dups"), Crashes: set.Int("crashes"),
		Restarts: set.Int("restarts"), Fires: make([][sim.MaxTimers]uint8, n)}
}

// PredictsSteps reports whether Predict tells where remembered steps lead.
func (m checkMachine[M, C]) PredictsSteps() bool { return m.checkerAfter != nil }

// Predict is the fingerprint after a drop or a duplication, which no
// checker sees, or after a step the world's memo remembers and from which
// the checker would learn nothing: only the world's part changes.
func (m checkMachine[M, C]) Predict(a sim.Action) (uint64, bool) {
	if a.Kind == sim.ActDeliver || a.Kind == sim.ActTimer {
		if m.checkerAfter == nil {
			return 0, false
		}
		fp, st, ok := m.w.StepAfter(a)
		if !ok {
			return 0, false
		}
		chkFP, ok := m.checkerAfter(a.Node, st)
		if !ok {
			return 0, false
		}
		return sim.Mix64(fp ^ chkFP*0x9e3779b97f4a7c15), true
	}
	chkFP := m.checkerFingerprint()
	fp, ok := m.w.FingerprintAfter(a)
	if !ok {
		return 0, false
	}
	return sim.Mix64(fp ^ chkFP*0x9e3779b97f4a7c15), true
}
