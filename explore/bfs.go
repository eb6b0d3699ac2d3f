package explore

import (
	"fmt"
	"sync"
	"time"

	"github.com/synod-sim/synod/sim"
)

// Breadth first, level by level. Workers expand disjoint chunks of a level
// against the visited set as it stood when the level began (read only), and
// one merge then walks the children in frontier order, then action order:
// so which state gets which id, where a state bound cuts, and which
// violation is reported first are the same for any number of workers.

type queued struct {
	state State
	id    uint32
	again bool   // a re-expansion: explore todo only, with sleep set sleep
	todo  uint64 //
	sleep uint64
}

type child struct {
	fp     uint64
	sleep  uint64
	state  State // nil when the visited set already covers the child
	parent uint32
	action int
	err    error
}

func (s *search) bfs(machines []Machine) Result {
	var r Result
	m := machines[0]
	rootID := s.add(m.Fingerprint(), 0, 0, 0)
	level := []queued{{state: m.Save(), id: rootID}}
	outs := make([]blocks, len(machines))
	s.slept = make([]uint64, len(machines))
	s.known = make([]uint64, len(machines))
	s.acts = make([][]sim.Action, len(machines))
	s.fps = make([][]uint64, len(machines))
	s.fresh = make([]map[uint64]bool, len(machines))
	for i := range s.fresh {
		s.fresh[i] = map[uint64]bool{}
	}
	for depth := 0; len(level) > 0; depth++ {
		if cut := s.resources(time.Now()); cut != "" {
			r.Cut = cut
			return s.finish(&r)
		}
		if s.cfg.MaxDepth > 0 && depth >= s.cfg.MaxDepth {
			r.Cut = fmt.Sprintf("the depth bound %d", s.cfg.MaxDepth)
			return s.finish(&r)
		}
		s.stats.MaxDepth = depth
		levelStart := s.count
		s.expandLevel(machines, level, outs)
		if cut := s.stopped.Load(); cut != nil {
			r.Cut = *cut
			return s.finish(&r)
		}
		kept := 0
		for w := range outs {
			kept += outs[w].len()
		}
		next := make([]queued, 0, kept) // at most one entry per child kept
		for w := range outs {
			for _, c := range outs[w].all() {
				if cut := s.limit(); cut != "" {
					r.Cut = cut
					return s.finish(&r)
				}
				s.stats.Transitions++
				if c.err != nil {
					r.Violation = c.err
					r.Path = append(s.path(c.parent), uint64(c.action))
					return s.finish(&r)
				}
				id, ok := s.seen.get(c.fp)
				switch {
				case !ok:
					if s.stats.States >= s.cfg.MaxStates {
						r.Cut = fmt.Sprintf("the state bound %d", s.cfg.MaxStates)
						return s.finish(&r)
					}
					id = s.add(c.fp, c.sleep, c.parent, c.action)
					next = append(next, queued{state: c.state, id: id})
				case id >= levelStart:
					if s.sleep != nil {
						s.sleep[id] &= c.sleep // not expanded yet: it will use the smaller set
					}
				default:
					if todo := s.sleepOf(id) &^ c.sleep; todo != 0 && c.state != nil {
						s.sleep[id] &= c.sleep
						next = append(next, queued{state: c.state, id: id, again: true, todo: todo, sleep: c.sleep})
					}
				}
			}
			outs[w].reset()
			s.stats.Slept += s.slept[w]
			s.stats.Transitions += s.known[w]
			s.slept[w], s.known[w] = 0, 0
		}
		level = next
	}
	r.Complete = true
	return s.finish(&r)
}

// expandLevel fills outs[w] with the children of worker w's chunk; chunks
// are contiguous and in order, so outs read in order is the level's order.
func (s *search) expandLevel(machines []Machine, level []queued, outs []blocks) {
	w := len(machines)
	if len(level) < 64 {
		w = 1
	}
	chunk := (len(level) + w - 1) / w
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		lo, hi := k*chunk, min((k+1)*chunk, len(level))
		if lo >= hi {
			continue
		}
		expand := func() {
			fresh := s.fresh[k]
			clear(fresh)
			for j, q := range level[lo:hi] {
				if j%64 == 0 && s.stopped.Load() == nil {
					// A level can take minutes and gigabytes: stop within
					// a few states of a bound.
					if cut := s.resources(time.Now()); cut != "" {
						s.stopped.Store(&cut)
					}
				}
				s.expand(machines[k], q, &outs[k], &s.acts[k], &s.fps[k], fresh, &s.slept[k], &s.known[k])
				if r, ok := machines[k].(Recycler); ok {
					r.Recycle(q.state)
					level[lo+j].state = nil
				}
			}
		}
		if w == 1 {
			expand()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); expand() }()
	}
	wg.Wait()
}

// expand applies every action a state should explore and appends the
// children the merge must see; a child the merge would only count (it
// leads to a state explored in full, or, without sleep sets, to one this
// worker saved already in this level) is counted in known instead, so a
// level holds its new states, not its transitions. It only reads the
// visited set.
func (s *search) expand(m Machine, q queued, out *blocks, buf *[]sim.Action, fps *[]uint64, fresh map[uint64]bool, slept, known *uint64) {
	m.Load(q.state)
	acts := append((*buf)[:0], m.Actions()...)
	*buf = acts
	todo, sleep := ^s.sleepOf(q.id), s.sleepOf(q.id)
	if q.again {
		todo, sleep = q.todo, q.sleep
	}
	var done uint64
	if s.stopped.Load() != nil {
		return
	}
	// Where actions lead, where the machine can tell without running them,
	// asked while it is in this state: a known child then costs no load.
	*fps = predictAll(m, acts, todo, (*fps)[:0])
	stepped := false
	for i := range acts {
		if i < maskable && todo&(1<<i) == 0 {
			*slept++
			continue
		}
		c := child{parent: q.id, action: i}
		if fp := (*fps)[i]; fp != 0 {
			id, seen := s.seen.get(fp)
			// Explored in full in an earlier level, or (without sleep sets,
			// which a repeat could narrow) saved already in this one.
			if seen && s.sleepOf(id) == 0 || !seen && s.cfg.POR != POROn && fresh[fp] {
				*known++
				if i < maskable {
					done |= 1 << i
				}
				continue
			}
		}
		if stepped {
			m.Load(q.state)
		}
		stepped = true
		c.err = m.Apply(acts[i])
		if c.err == nil {
			c.fp = m.Fingerprint()
			if s.cfg.POR == POROn {
				if cand := sleep | done; cand != 0 {
					c.sleep = childSleep(acts, cand, acts[i], m.Actions())
				}
			}
			id, ok := s.seen.get(c.fp)
			switch {
			case ok && s.sleepOf(id) == 0, !ok && fresh[c.fp] && s.cfg.POR != POROn:
				*known++ // as a predicted child above: only counted
				if i < maskable {
					done |= 1 << i
				}
				continue
			case !ok && !fresh[c.fp]:
				// New this level: only its first occurrence needs a
				// state; later ones only narrow its sleep set.
				fresh[c.fp] = true
				c.state = m.Save()
			case ok && s.sleepOf(id)&^c.sleep != 0:
				c.state = m.Save() // may need re-expanding
			}
		}
		out.add(c)
		if c.err != nil {
			return
		}
		if i < maskable {
			done |= 1 << i
		}
	}
}

// blocks is an append-only list of children in fixed-size blocks: a level
// can hold millions, and growing one slice would copy them again and again.
type blocks struct {
	full []([]child)
	last []child
}

const blockSize = 4096

func (b *blocks) add(c child) {
	if len(b.last) == blockSize {
		b.full = append(b.full, b.last)
		b.last = nil
	}
	if b.last == nil {
		b.last = make([]child, 0, blockSize)
	}
	b.last = append(b.last, c)
}

// all iterates the children in order, in place (a child is 64 bytes).
func (b *blocks) all() func(yield func(int, *child) bool) {
	return func(yield func(int, *child) bool) {
		i := 0
		for _, blk := range append(b.full, b.last) {
			for j := range blk {
				if !yield(i, &blk[j]) {
					return
				}
				i++
			}
		}
	}
}

func (b *blocks) reset() { *b = blocks{} }

func (b *blocks) len() int { return len(b.full)*blockSize + len(b.last) }

// path is the list of action indices from the root to state id.
func (s *search) path(id uint32) []uint64 {
	var rev []uint64
	for id != 0 {
		rev = append(rev, uint64(s.act[id]))
		id = s.par[id]
	}
	out := make([]uint64, len(rev))
	for i, v := range rev {
		out[len(rev)-1-i] = v
	}
	return out
}
