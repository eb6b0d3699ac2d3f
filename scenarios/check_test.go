package scenarios

import (
	"fmt"
	"github.com/stretchr/testify/require"
	"testing"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

func mustBugs(t testing.TB, s string) paxos.Bugs {
	t.Helper()
	b, err := paxos.ParseBugs(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkScenario(t testing.TB, name, set, bugs string, cfg explore.Config) *Checked {
	t.Helper()
	sc, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(sc, Options{Bugs: mustBugs(t, bugs), Set: set}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// smallSafe are single/check configurations small enough to exhaust in a
// test, each with a different fault budget.
var smallSafe = []string{
	"nodes=2,proposers=2",
	"nodes=3,proposers=1,crashes=1,restarts=1",
	"nodes=3,proposers=1,dups=1,drops=1",
	"", // the spin anchor's configuration
}

func TestCheckCorrectProtocolExhausts(t *testing.T) {
	for _, set := range smallSafe {
		for _, dfs := range []bool{false, true} {
			r := checkScenario(t, "single/check", set, "", explore.Config{DFS: dfs})
			if r.Violation != nil || !r.Complete || r.Cut != "" {
				t.Fatalf("%s dfs=%v: want a complete search with no violation, got complete=%v cut=%q violation=%v", set, dfs, r.Complete, r.Cut, r.Violation)
			}
			if r.States < 100 || r.Transitions < r.States-1 {
				t.Fatalf("%s dfs=%v: %d states, %d transitions: the search did not explore", set, dfs, r.States, r.Transitions)
			}
		}
	}
}

// The smallest single/check configuration that breaks each single-decree
// bug.
var checkHunts = []struct{ bug, set string }{
	{"stale-promise", "rounds=2"},
	{"lowest-accepted", "rounds=2"},
	{"ignore-accepted", ""},
	{"dup-ballot", ""},
	{"accept-lower-ballot", ""},
	{"minority-quorum", "proposers=1"},
	{"count-duplicates", "dups=1"},
	{"no-persist", "crashes=1,restarts=1"},
	{"no-persist-accept", "crashes=1,restarts=1"},
}

func TestCheckFindsSingleDecreeBugs(t *testing.T) {
	for _, h := range checkHunts {
		t.Run(h.bug, func(t *testing.T) {
			bfs := checkScenario(t, "single/check", h.set, h.bug, explore.Config{MaxStates: 2_000_000, POR: explore.POROn})
			if bfs.Violation == nil {
				t.Fatalf("BFS did not find %s with %q: %d states, complete=%v", h.bug, h.set, bfs.States, bfs.Complete)
			}
			// Check replays the path through Run; the trace must replay too.
			rep, err := Replay(bfs.File)
			if err != nil || rep.Divergence != "" || rep.Result.Violation == nil {
				t.Fatalf("the counterexample trace does not replay: %v %s %v", err, rep.Divergence, rep.Result.Violation)
			}
			// Sleep sets lose no violation and keep BFS paths shortest.
			full := checkScenario(t, "single/check", h.set, h.bug, explore.Config{MaxStates: 2_000_000, POR: explore.POROff})
			if full.Violation == nil || len(full.Path) != len(bfs.Path) {
				t.Fatalf("without sleep sets: violation %v after %d actions; with them: %d actions", full.Violation, len(full.Path), len(bfs.Path))
			}
			// Depth first may wander deep before it meets the violation, but
			// it may never call the space safe, nor beat BFS's length.
			dfs := checkScenario(t, "single/check", h.set, h.bug, explore.Config{DFS: true, MaxStates: 200_000})
			if dfs.Complete || (dfs.Violation != nil && len(dfs.Path) < len(bfs.Path)) {
				t.Fatalf("DFS: complete=%v, violation %v after %d actions (BFS: %d)", dfs.Complete, dfs.Violation, len(dfs.Path), len(bfs.Path))
			}
		})
	}
}

func TestCheckSleepSetsKeepEveryState(t *testing.T) {
	for _, set := range smallSafe {
		with := checkScenario(t, "single/check", set, "", explore.Config{POR: explore.POROn})
		without := checkScenario(t, "single/check", set, "", explore.Config{POR: explore.POROff})
		if with.States != without.States || with.MaxDepth != without.MaxDepth {
			t.Fatalf("%s: sleep sets changed what is reachable: %d states depth %d, without: %d states depth %d",
				set, with.States, with.MaxDepth, without.States, without.MaxDepth)
		}
		if with.Transitions >= without.Transitions {
			t.Fatalf("%s: sleep sets saved nothing: %d transitions, without: %d", set, with.Transitions, without.Transitions)
		}
	}
}

func TestCheckVerdictIndependentOfWorkers(t *testing.T) {
	for _, c := range []struct{ set, bug string }{{smallSafe[2], ""}, {"", "ignore-accepted"}, {"dups=1", "count-duplicates"}} {
		one := checkScenario(t, "single/check", c.set, c.bug, explore.Config{Workers: 1})
		three := checkScenario(t, "single/check", c.set, c.bug, explore.Config{Workers: 3})
		if one.States != three.States || one.Transitions != three.Transitions || one.Complete != three.Complete ||
			fmt.Sprint(one.Path) != fmt.Sprint(three.Path) {
			t.Fatalf("%q %s: 1 worker: %d states %d transitions path %v; 3 workers: %d states %d transitions path %v",
				c.set, c.bug, one.States, one.Transitions, one.Path, three.States, three.Transitions, three.Path)
		}
	}
}

func TestCheckBoundsAreInconclusive(t *testing.T) {
	r := checkScenario(t, "single/check", "", "", explore.Config{MaxStates: 500})
	if r.Complete || r.Cut == "" || r.States != 500 {
		t.Fatalf("a state bound must cut the search and say so: complete=%v cut=%q states=%d", r.Complete, r.Cut, r.States)
	}
	r = checkScenario(t, "single/check", "", "", explore.Config{MaxDepth: 4})
	if r.Complete || r.Cut == "" {
		t.Fatalf("a depth bound must cut the search and say so: complete=%v cut=%q", r.Complete, r.Cut)
	}
	r = checkScenario(t, "single/check", "", "", explore.Config{MaxDepth: 4, DFS: true})
	if r.Complete || r.Cut == "" {
		t.Fatalf("DFS: a depth bound must cut the search and say so: complete=%v cut=%q", r.Complete, r.Cut)
	}
}

// TestFingerprintSoundness looks for pairs of different paths that reach
// the same fingerprint, continues both with the same choices, and requires
// the same behaviour: the same enabled actions, fingerprints and verdicts
// at every step. A field the fingerprint missed shows up as a pair that
// parts.
func TestFingerprintSoundness(t *testing.T) {
	sets := []string{
		"nodes=3,proposers=2,learners=0,crashes=1,restarts=1,dups=1,drops=1,learns=1",
		"nodes=3,proposers=2,rounds=2,crashes=2,restarts=2",
		"nodes=3,proposers=2,rounds=2,dups=1", // dead letters collected from the start
	}
	for _, set := range sets {
		for _, bug := range []string{"", "no-persist", "count-duplicates"} {
			sc, _ := Lookup("single/check")
			m, err := sc.Machine(Options{Set: set, Bugs: mustBugs(t, bug)})
			if err != nil {
				t.Fatal(err)
			}
			type seen struct {
				state explore.State
				path  string
			}
			byFP := map[uint64]seen{}
			root := m.Save()
			pairs := 0
			rng := sim.NewPRNG(7)
			for walk := 0; walk < 3000 && pairs < 400; walk++ {
				m.Load(root)
				path := ""
				for depth := 0; depth < 60; depth++ {
					acts := m.Actions()
					if len(acts) == 0 {
						break
					}
					i := int(rng.Choose(uint64(len(acts))))
					path += fmt.Sprint(i, ",")
					if m.Apply(acts[i]) != nil {
						break
					}
					fp := m.Fingerprint()
					s, ok := byFP[fp]
					if !ok {
						byFP[fp] = seen{m.Save(), path}
						continue
					}
					if s.path == path {
						continue
					}
					pairs++
					here := m.Save()
					compareContinuations(t, m, s.state, here, rng.Choose(1<<32), set+" "+bug+" "+s.path+" vs "+path)
					m.Load(here)
				}
			}
			if pairs < 50 {
				t.Fatalf("%s %s: only %d pairs of paths met: the test proves little", set, bug, pairs)
			}
		}
	}
}

// TestPredictedFingerprints checks the search's shortcut: for every drop
// and duplication enabled along random walks, and every step the memo
// remembers (single/check), the fingerprint predicted without running it is
// the one running it gives.
func TestPredictedFingerprints(t *testing.T) {
	cases := []struct{ name, set string }{
		{"single/check", "learners=0,crashes=1,restarts=1,dups=2,drops=2,learns=1"},
		{"single/check", "drops=-1,dups=1"},
		{"single/check", "rounds=2"},
		{"multi/check", "drops=2,dups=1"},
	}
	for _, c := range cases {
		sc, _ := Lookup(c.name)
		m, err := sc.Machine(Options{Set: c.set})
		if err != nil {
			t.Fatal(err)
		}
		pred := m.(explore.Predictor)
		root := m.Save()
		rng := sim.NewPRNG(11)
		checked, steps := 0, 0
		for walk := 0; walk < 200; walk++ {
			m.Load(root)
			for depth := 0; depth < 40; depth++ {
				here := m.Save()
				acts := append([]sim.Action(nil), m.Actions()...)
				if len(acts) == 0 {
					break
				}
				for _, a := range acts {
					want, ok := pred.Predict(a)
					faultOnNet := a.Kind == sim.ActDrop || a.Kind == sim.ActDup
					if faultOnNet && !ok || a.Global() && ok {
						t.Fatalf("%s %s: %v predicted: %v", c.name, c.set, a.Kind, ok)
					}
					if !ok {
						continue
					}
					if !faultOnNet {
						steps++
					}
					if err := m.Apply(a); err != nil {
						t.Fatalf("%s %s: %v of %x was predicted, yet it broke an invariant: %v", c.name, c.set, a.Kind, a.Key, err)
					}
					if m.Fingerprint() != want {
						t.Fatalf("%s %s: %v of %x: predicted %x, got %x", c.name, c.set, a.Kind, a.Key, want, m.Fingerprint())
					}
					checked++
					m.Load(here)
				}
				if m.Apply(acts[rng.Choose(uint64(len(acts)))]) != nil {
					break
				}
			}
		}
		if checked < 1000 {
			t.Fatalf("%s %s: only %d predictions checked", c.name, c.set, checked)
		}
		if c.name == "single/check" && steps < 1000 {
			t.Fatalf("%s %s: only %d remembered steps predicted", c.name, c.set, steps)
		}
		t.Logf("%s %s: %d predictions checked, %d of them steps", c.name, c.set, checked, steps)
	}
}

func compareContinuations(t *testing.T, m explore.Machine, a, b explore.State, seed uint64, what string) {
	t.Helper()
	rng := sim.NewPRNG(seed)
	for step := 0; step < 40; step++ {
		m.Load(a)
		keysA, fpA := actionKeys(m), m.Fingerprint()
		m.Load(b)
		keysB, fpB := actionKeys(m), m.Fingerprint()
		if fpA != fpB || keysA != keysB {
			t.Fatalf("%s: equal fingerprints parted after %d equal steps: fingerprints %x/%x, actions %s / %s", what, step, fpA, fpB, keysA, keysB)
		}
		n := len(m.Actions())
		if n == 0 {
			return
		}
		i := int(rng.Choose(uint64(n)))
		m.Load(a)
		errA := m.Apply(m.Actions()[i])
		a = m.Save()
		m.Load(b)
		errB := m.Apply(m.Actions()[i])
		b = m.Save()
		if kindOf(errA) != kindOf(errB) {
			t.Fatalf("%s: after %d equal steps the verdicts part: %v / %v", what, step, errA, errB)
		}
		if errA != nil {
			return
		}
	}
}

func actionKeys(m explore.Machine) string {
	var b []byte
	for _, a := range m.Actions() {
		b = fmt.Appendf(b, "%x,", a.Key)
	}
	return string(b)
}

func kindOf(err error) string {
	if err == nil {
		return ""
	}
	if v, ok := err.(*checker.Violation); ok {
		return v.Kind
	}
	return err.Error()
}

// searchScenario runs the bare search (no replay of the path) on a check
// scenario.
func searchScenario(t testing.TB, name, set string, bugs string, cfg explore.Config) explore.Result {
	t.Helper()
	sc, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	b := mustBugs(t, bugs)
	res, err := explore.Search(func() (explore.Machine, error) { return sc.Machine(Options{Bugs: b, Set: set}) }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestStepMemoChangesNothing runs searches with the step memo and unkept
// disks and without them: every figure must be the same, verdicts and
// paths included. The memo is keyed by fingerprints, so this is also a
// test that node fingerprints miss nothing a step depends on.
func TestStepMemoChangesNothing(t *testing.T) {
	cases := []struct{ set, bug string }{
		{"", ""},
		{"drops=-1", ""},
		{"learners=0,crashes=1,restarts=1,dups=1,drops=1,learns=1", ""},
		{"rounds=2,crashes=1,restarts=1", "no-persist"},
		{"", "ignore-accepted"},
		{"learners=0,dups=2", "count-duplicates"},
		{"rounds=2", "stale-promise"},
		{"rounds=2", ""},
	}
	for _, c := range cases {
		for _, cfg := range []explore.Config{{DFS: true, MaxStates: 60_000}, {MaxStates: 30_000}, {DFS: true, POR: explore.POROff, MaxStates: 60_000}} {
			memo := searchScenario(t, "single/check", c.set, c.bug, cfg)
			plainSearch = true
			plain := searchScenario(t, "single/check", c.set, c.bug, cfg)
			plainSearch = false
			what := fmt.Sprintf("set=%q bug=%q dfs=%v nopor=%v", c.set, c.bug, cfg.DFS, cfg.POR)
			require.Equal(t, plain.States, memo.States, what)
			require.Equal(t, plain.Transitions, memo.Transitions, what)
			require.Equal(t, plain.Complete, memo.Complete, what)
			require.Equal(t, plain.Path, memo.Path, what)
			require.Equal(t, fmt.Sprint(plain.Violation), fmt.Sprint(memo.Violation), what)
		}
	}
}
