package explore

import (
	"errors"
	"testing"

	"github.com/synod-sim/synod/sim"
)

// grid is a toy system: nodes counters, each may step up to limit;
// reaching bad (if set) on every counter breaks an invariant. Steps at
// different counters commute.
type grid struct {
	limit, nodes int
	bad          int
	cur          []int
	acts         []sim.Action
}

func (g *grid) Load(s State)        { g.cur = append(g.cur[:0], s.([]int)...) }
func (g *grid) Save() State         { return append([]int(nil), g.cur...) }
func (g *grid) Fingerprint() uint64 { return g.key() }
func (g *grid) key() uint64 {
	var h uint64
	for _, c := range g.cur {
		h = sim.Mix64(h ^ uint64(c))
	}
	return h
}

func (g *grid) Actions() []sim.Action {
	g.acts = g.acts[:0]
	for i, c := range g.cur {
		if c < g.limit {
			g.acts = append(g.acts, sim.Action{Kind: sim.ActTimer, Node: sim.NodeID(i), Actor: sim.NodeID(i), Key: uint64(i + 1)})
		}
	}
	return g.acts
}

func (g *grid) Apply(a sim.Action) error {
	g.cur[a.Node]++
	if g.bad == 0 {
		return nil
	}
	for _, c := range g.cur {
		if c < g.bad {
			return nil
		}
	}
	return errors.New("every counter reached bad")
}

func newGrid(limit, nodes, bad int) func() (Machine, error) {
	return func() (Machine, error) {
		return &grid{limit: limit, nodes: nodes, bad: bad, cur: make([]int, nodes)}, nil
	}
}

func TestSearchCountsEveryState(t *testing.T) {
	for _, cfg := range []Config{{}, {DFS: true}, {POR: POROff}, {DFS: true, POR: POROff}, {Workers: 3}} {
		r, err := Search(newGrid(4, 3, 0), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Complete || r.States != 125 || r.MaxDepth != 12 || r.Violation != nil {
			t.Fatalf("%+v: want a complete search of 5^3 states to depth 12, got %+v complete=%v", cfg, r.Stats, r.Complete)
		}
		all := uint64(3 * 4 * 25) // every state's enabled steps: 3 counters x 4 steps x 25 states each
		switch {
		case (cfg.POR == POROff) && r.Transitions != all:
			t.Fatalf("%+v: %d transitions, want all %d", cfg, r.Transitions, all)
		case !(cfg.POR == POROff) && r.Transitions >= all:
			t.Fatalf("%+v: sleep sets saved no transition (%d)", cfg, r.Transitions)
		case !(cfg.POR == POROff) && r.Transitions < r.States-1:
			t.Fatalf("%+v: %d transitions cannot reach %d states", cfg, r.Transitions, r.States)
		}
	}
}

func TestBFSFindsTheShortestPath(t *testing.T) {
	for _, cfg := range []Config{{}, {POR: POROff}, {Workers: 2}} {
		r, err := Search(newGrid(5, 2, 3), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Violation == nil || len(r.Path) != 6 {
			t.Fatalf("%+v: want the violation at depth 6, got %v after %v", cfg, r.Violation, r.Path)
		}
	}
	r, _ := Search(newGrid(5, 2, 3), Config{DFS: true})
	if r.Violation == nil || len(r.Path) < 6 {
		t.Fatalf("DFS: want a violation at depth >= 6, got %v after %v", r.Violation, r.Path)
	}
}

func TestBoundsCutTheSearch(t *testing.T) {
	for _, cfg := range []Config{{MaxStates: 10}, {MaxDepth: 3}, {DFS: true, MaxStates: 10}, {DFS: true, MaxDepth: 3},
		{MaxMemory: 1}, {DFS: true, MaxMemory: 1}, {Budget: 1}, {DFS: true, Budget: 1}} {
		r, _ := Search(newGrid(12, 3, 0), cfg)
		if r.Complete || r.Cut == "" {
			t.Fatalf("%+v: a bound must cut the search and say so: %+v", cfg, r)
		}
		if cfg.MaxStates > 0 && r.States != cfg.MaxStates {
			t.Fatalf("%+v: %d states", cfg, r.States)
		}
	}
}

func TestVisitedTable(t *testing.T) {
	v := newVisited()
	for i := uint64(0); i < 200_000; i++ {
		v.put(sim.Mix64(i), uint32(i))
	}
	for i := uint64(0); i < 200_000; i++ {
		if id, ok := v.get(sim.Mix64(i)); !ok || id != uint32(i) {
			t.Fatalf("fingerprint %d: got %d %v", i, id, ok)
		}
	}
	if _, ok := v.get(12345); ok {
		t.Fatal("an absent fingerprint was found")
	}
	if v.bytes() > 200_000*BytesPerState {
		t.Fatalf("%d bytes for 200000 states: more than the %d a state stated", v.bytes(), BytesPerState)
	}
}
