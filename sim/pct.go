package sim

import "slices"

// Scheduler is a source that picks among an untimed world's enabled actions
// knowing what they are, where a plain Source sees only their number. The
// world asks Pick instead of Choose when its source is one; the pick is
// recorded as an ordinary choice, so a trace made under any scheduler
// replays from its choice list alone.
type Scheduler interface {
	Source
	Pick(acts []Action) int
}

func (w *World[M]) pick(acts []Action) int {
	if s, ok := w.src.(Scheduler); ok {
		i := s.Pick(acts)
		if i < 0 || i >= len(acts) {
			panic("sim: scheduler picked an action that is not enabled")
		}
		return i
	}
	return int(w.src.Choose(uint64(len(acts))))
}

// Pick forwards to a scheduler underneath, or draws a plain choice, and
// records the result either way.
func (r *Recorder) Pick(acts []Action) int {
	var v int
	if s, ok := r.Inner.(Scheduler); ok {
		v = s.Pick(acts)
	} else {
		v = int(r.Inner.Choose(uint64(len(acts))))
	}
	r.Choices = append(r.Choices, Choice{N: uint64(len(acts)), V: uint64(v)})
	return v
}

// PCT is probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010)
// for the untimed view, with nodes as the threads: every node gets a random
// priority, the highest-priority node with an enabled action runs (one of
// its actions, drawn uniformly), and at depth-1 steps drawn uniformly from
// the first MaxSteps the node that just ran drops below every initial
// priority. A bug that needs d ordering constraints among nodes is found
// with probability at least 1/(n·k^(d-1)) per run, for n nodes and k
// steps. Choose (setup and node draws) comes from the same seeded stream.
type PCT struct {
	rng      PRNG
	depth    int
	prio     []uint64 // by node; 0 means not drawn yet
	change   []int    // steps after which the running node is demoted
	steps    int
	demoted  int
	nodeActs []int
}

// PCTMaxSteps is the horizon change points are drawn from when none is
// given: about the length of a check scenario's run.
const PCTMaxSteps = 64

// NewPCT seeds a PCT scheduler of the given depth (at least 1) whose change
// points fall within the first maxSteps steps (0: PCTMaxSteps).
func NewPCT(seed uint64, depth, maxSteps int) *PCT {
	if depth < 1 {
		panic("sim: PCT depth must be at least 1")
	}
	if maxSteps <= 0 {
		maxSteps = PCTMaxSteps
	}
	p := &PCT{depth: depth}
	p.rng.Reset(seed)
	for range depth - 1 {
		p.change = append(p.change, 1+int(p.rng.Choose(uint64(maxSteps))))
	}
	slices.Sort(p.change)
	return p
}

// Choose draws from the seeded stream.
func (p *PCT) Choose(n uint64) uint64 { return p.rng.Choose(n) }

func (p *PCT) priority(id NodeID) uint64 {
	for int(id) >= len(p.prio) {
		p.prio = append(p.prio, 0)
	}
	if p.prio[id] == 0 {
		// Initial priorities sit above every demoted one (1..depth-1).
		p.prio[id] = uint64(p.depth) + 1 + p.rng.Choose(1<<40)
	}
	return p.prio[id]
}

// Pick runs one action of the highest-priority node that has one.
func (p *PCT) Pick(acts []Action) int {
	best, top := NodeID(-1), uint64(0)
	for _, a := range acts {
		if pr := p.priority(a.Node); pr > top {
			best, top = a.Node, pr
		}
	}
	p.nodeActs = p.nodeActs[:0]
	for i, a := range acts {
		if a.Node == best {
			p.nodeActs = append(p.nodeActs, i)
		}
	}
	i := p.nodeActs[p.rng.Choose(uint64(len(p.nodeActs)))]
	p.steps++
	for p.demoted < len(p.change) && p.change[p.demoted] <= p.steps {
		p.prio[best] = uint64(p.depth - 1 - p.demoted)
		p.demoted++
	}
	return i
}
