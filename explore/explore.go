// Package explore searches every schedule of a small, bounded system: the
// model-checking half of Synod. It runs the real node code through a
// Machine (an untimed sim.World with its checkers), remembers the
// fingerprints of the states it has seen, and explores one order of actions
// that commute (sleep sets). It knows nothing of Paxos.
package explore

import (
	"fmt"
	"math/bits"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/synod-sim/synod/sim"
)

// State is a saved state of a Machine; only the Machine that made it (or
// another built by the same constructor) looks inside.
type State any

// Machine is one worker's copy of the system under check.
type Machine interface {
	// Load makes a saved state the current one.
	Load(State)
	// Actions lists the actions enabled in the current state, in the
	// canonical order of sim.World.Enabled. The slice is valid until the
	// state changes.
	Actions() []sim.Action
	// Apply runs a, one of the actions Actions listed for the current
	// state (the search passes the action, so the machine need not list
	// them again). A non-nil error is a broken invariant: the search stops
	// and reports the path to it.
	Apply(a sim.Action) error
	// Fingerprint hashes the whole current state, checkers' memory included.
	Fingerprint() uint64
	// Save captures the current state.
	Save() State
}

// StepPredictor is a Predictor that also tells where most node steps lead
// (a step memo): a transition into an explored state then costs a lookup,
// less than the revisits sleep sets force, so PORAuto turns them off.
type StepPredictor interface {
	Predictor
	PredictsSteps() bool
}

// PORMode says whether the search uses sleep sets. They prune transitions
// between independent actions, never states: with a StepPredictor the
// lookups they save cost less than the states they make the search visit
// again (a state reached with a smaller sleep set is explored again).
type PORMode uint8

const (
	PORAuto PORMode = iota // sleep sets unless the machine predicts steps
	POROn                  // sleep sets
	POROff                 // every order of every action
)

func (p PORMode) String() string { return [...]string{"auto", "on", "off"}[p] }

// ParsePOR reads a PORMode as String writes it.
func ParsePOR(s string) (PORMode, error) {
	for p := PORAuto; p <= POROff; p++ {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown reduction %q (auto, on, off)", s)
}

// Predictor is a Machine that can tell, for some actions, the Fingerprint
// the state would have after them without applying them (sim.World's
// FingerprintAfter): the search then skips restoring and stepping into
// states it has explored in full.
type Predictor interface {
	Predict(a sim.Action) (fp uint64, ok bool)
}

// Recycler is a Machine that can reuse the memory of a saved state the
// search will never load again.
type Recycler interface {
	Recycle(State)
}

// Config bounds a search. Zero values mean: BFS, no bound but the state
// limit, one worker, sleep sets as PORAuto decides.
type Config struct {
	DFS       bool          // depth first: little memory, paths not shortest
	MaxStates uint64        // stop after this many distinct states (0: DefaultMaxStates)
	MaxDepth  int           // do not expand states this deep (0: no limit)
	Budget    time.Duration // wall-clock limit (0: none); a cut is a bounded verdict
	// MaxMemory stops the search when the live heap passes 80% of it
	// (bytes; 0: no bound). BFS holds whole levels of states, and a state
	// of a big world is kilobytes.
	MaxMemory int64
	Workers   int     // BFS only: expand each level on this many workers
	POR       PORMode // sleep sets or not (PORAuto: whichever is faster for the machine)
	// Progress, when set, is called about once a second with the figures so far.
	Progress func(Stats)
}

// DefaultMaxStates bounds a depth-first search that was given no bound:
// about 2 GB of visited set and per-state records.
const DefaultMaxStates = 50_000_000

// DefaultMaxStatesBFS is lower: breadth first also holds whole levels of
// states (about 1.5 KB each in single/check).
const DefaultMaxStatesBFS = 10_000_000

// BytesPerState is the visited set's memory per distinct state, at worst
// (a table just grown is 35% full): 16-byte slots, plus the sleep mask,
// parent and action the search keeps per state.
const BytesPerState = 16*100/35 + 8 + 4 + 2

// Stats are a search's figures.
type Stats struct {
	States      uint64 // distinct states (fingerprints)
	Transitions uint64 // actions applied
	Slept       uint64 // actions not applied because a sleep set covered them
	MaxDepth    int    // deepest state reached
	Elapsed     time.Duration
	TableBytes  int
}

// StatesPerSecond is the rate of distinct states found.
func (s Stats) StatesPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.States) / s.Elapsed.Seconds()
}

// Result is a search's verdict.
type Result struct {
	Stats
	// Complete is true when every reachable state was explored: with no
	// violation, the configuration is safe under its bounds.
	Complete bool
	// Cut names the bound that stopped an incomplete search.
	Cut string
	// SleepSets says whether the search used sleep sets.
	SleepSets bool
	// Violation is the first broken invariant found, Path the action
	// indices (choices) from the initial state to it.
	Violation error
	Path      []uint64
}

type search struct {
	cfg     Config
	stopped atomic.Pointer[string] // BFS: the bound a worker saw reached
	seen    *visited
	count   uint32            // states added: the next id
	sleep   []uint64          // by state id, with sleep sets on: actions left unexplored (bit i: action i)
	par     []uint32          // BFS: parent id
	act     []uint16          // BFS: action index from the parent
	acts    [][]sim.Action    // BFS: each worker's copy of the actions it expands
	fps     [][]uint64        // BFS: each worker's predicted fingerprints of those actions (0: unknown)
	fresh   []map[uint64]bool // BFS: per worker, fingerprints new this level it saved
	slept   []uint64          // BFS: per worker, actions a sleep set covered this level
	known   []uint64          // BFS: per worker, children counted, not kept (explored or saved already)
	stats   Stats
	calls   uint64
	start   time.Time
	tick    time.Time
}

// maskable bounds the actions a sleep mask covers; actions past it are
// always explored.
const maskable = 64

// Search explores from the state newMachine's machine starts in. It calls
// newMachine once per worker; every machine must start in the same state.
func Search(newMachine func() (Machine, error), cfg Config) (Result, error) {
	if cfg.MaxStates == 0 {
		cfg.MaxStates = DefaultMaxStates
		if !cfg.DFS {
			cfg.MaxStates = DefaultMaxStatesBFS
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	m, err := newMachine()
	if err != nil {
		return Result{}, err
	}
	if cfg.POR == PORAuto {
		cfg.POR = POROn
		if p, ok := m.(StepPredictor); ok && p.PredictsSteps() {
			cfg.POR = POROff
		}
	}
	s := &search{cfg: cfg, seen: newVisited(), start: time.Now()}
	s.tick = s.start
	if cfg.DFS {
		return s.dfs(m), nil
	}
	machines := []Machine{m}
	for len(machines) < cfg.Workers {
		mw, err := newMachine()
		if err != nil {
			return Result{}, err
		}
		machines = append(machines, mw)
	}
	return s.bfs(machines), nil
}

// add records a new state and returns its id.
func (s *search) add(fp uint64, sleep uint64, parent uint32, action int) uint32 {
	id := s.count
	s.count++
	s.seen.put(fp, id)
	if s.cfg.POR == POROn {
		s.sleep = append(s.sleep, sleep) // without sleep sets every set is empty
	}
	if !s.cfg.DFS {
		s.par = append(s.par, parent)
		s.act = append(s.act, uint16(action))
	}
	s.stats.States++
	return id
}

func (s *search) finish(r *Result) Result {
	s.stats.Elapsed = time.Since(s.start)
	s.stats.TableBytes = s.seen.bytes() + cap(s.sleep)*8 + cap(s.par)*4 + cap(s.act)*2
	r.Stats = s.stats
	r.SleepSets = s.cfg.POR == POROn
	return *r
}

// limit names the time or memory bound the search has reached, or is
// empty, and calls Progress when a second has passed since the last call.
// Only one goroutine may call it (DFS, or the BFS merge).
func (s *search) limit() string {
	s.calls++
	if s.calls%1024 != 0 {
		return "" // reading the clock costs more than a transition's share
	}
	now := time.Now()
	if s.cfg.Progress != nil && now.Sub(s.tick) >= time.Second {
		s.tick = now
		st := s.stats
		st.Elapsed = now.Sub(s.start)
		s.cfg.Progress(st)
	}
	return s.resources(now)
}

// resources checks the time budget and the memory bound; any goroutine may
// call it.
func (s *search) resources(now time.Time) string {
	if s.cfg.Budget > 0 && now.Sub(s.start) >= s.cfg.Budget {
		return fmt.Sprintf("the %v time budget", s.cfg.Budget)
	}
	if s.cfg.MaxMemory > 0 {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); sample[0].Value.Kind() == metrics.KindUint64 && live > uint64(s.cfg.MaxMemory)/10*8 {
			return fmt.Sprintf("the memory bound (%d MB live of %d MB)", live>>20, s.cfg.MaxMemory>>20)
		}
	}
	return ""
}

// sleepOf is the sleep set state id was last explored with: the actions it
// has yet to explore (none without sleep sets).
func (s *search) sleepOf(id uint32) uint64 {
	if s.sleep == nil {
		return 0
	}
	return s.sleep[id]
}

// childSleep is the sleep set a child reached by action a inherits: every
// action of cand (the parent's sleep set and the actions explored before a)
// that is independent of a, found again in the child's action list. Both
// lists are in canonical order, so one merge-walk maps them.
func childSleep(parent []sim.Action, cand uint64, a sim.Action, child []sim.Action) uint64 {
	var out uint64
	j := 0
	for cand != 0 {
		i := bits.TrailingZeros64(cand)
		cand &^= 1 << i
		b := parent[i]
		if !sim.Independent(a, b) {
			continue
		}
		for j < len(child) && j < maskable && sim.CompareActions(child[j], b) < 0 {
			j++
		}
		if j >= len(child) || j >= maskable {
			break
		}
		if child[j].Key == b.Key {
			out |= 1 << j
		}
	}
	return out
}

// all is the mask of the first n actions.
func all(n int) uint64 {
	if n >= maskable {
		return ^uint64(0)
	}
	return 1<<n - 1
}

// --- depth first ---

type frame struct {
	state  State
	acts   []sim.Action
	fps    []uint64 // by action: the fingerprint it leads to, 0 if unknown
	todo   uint64   // actions still to explore (bits), beyond the mask: all
	sleep  uint64   // the sleep set this visit started with
	done   uint64   // actions explored in this visit
	next   int
	choice int // the action that led here from the frame below
}

func (s *search) dfs(m Machine) Result {
	var r Result
	root := m.Save()
	s.add(m.Fingerprint(), 0, 0, 0)
	stack := s.push(nil, m, root, ^uint64(0), 0, -1)
	s.stats.MaxDepth = 0
	recycler, _ := m.(Recycler)
	pop := func() {
		if recycler != nil {
			recycler.Recycle(stack[len(stack)-1].state)
		}
		stack[len(stack)-1].state = nil
		stack = stack[:len(stack)-1]
	}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		i := f.pick()
		if i < 0 {
			pop()
			continue
		}
		if cut := s.limit(); cut != "" {
			r.Cut = cut
			return s.finish(&r)
		}
		depth := len(stack)
		if s.cfg.MaxDepth > 0 && depth > s.cfg.MaxDepth {
			r.Cut = fmt.Sprintf("the depth bound %d", s.cfg.MaxDepth)
			pop()
			continue
		}
		a := f.acts[i]
		if f.explored(s, i) {
			s.stats.Transitions++
			if i < maskable {
				f.done |= 1 << i
			}
			continue
		}
		m.Load(f.state)
		err := m.Apply(a)
		s.stats.Transitions++
		if err != nil {
			for _, g := range stack[1:] {
				r.Path = append(r.Path, uint64(g.choice))
			}
			r.Path = append(r.Path, uint64(i))
			r.Violation = err
			return s.finish(&r)
		}
		fp := m.Fingerprint()
		id, seen := s.seen.get(fp)
		cand := (f.sleep | f.done) &^ (1 << i)
		if i < maskable {
			f.done |= 1 << i
		}
		if seen && s.sleepOf(id) == 0 {
			continue // explored in full before: no sleep set can add to it
		}
		var zc uint64
		if s.cfg.POR == POROn && cand != 0 {
			zc = childSleep(f.acts, cand, a, m.Actions()) // no candidates: no need to list the child's actions
		}
		if seen {
			todo := s.sleepOf(id) &^ zc
			if todo == 0 {
				continue
			}
			s.sleep[id] &= zc
			stack = s.push(stack, m, m.Save(), todo, zc, i)
		} else {
			if s.stats.States >= s.cfg.MaxStates {
				r.Cut = fmt.Sprintf("the state bound %d", s.cfg.MaxStates)
				return s.finish(&r)
			}
			s.add(fp, zc, 0, 0)
			stack = s.push(stack, m, m.Save(), ^zc, zc, i)
		}
		s.stats.MaxDepth = max(s.stats.MaxDepth, len(stack)-1)
	}
	r.Complete = r.Cut == ""
	return s.finish(&r)
}

// explored reports whether action i is known, without running it, to
// lead to a state explored in full before.
func (f *frame) explored(s *search, i int) bool {
	fp := f.fps[i]
	if fp == 0 {
		return false
	}
	id, seen := s.seen.get(fp)
	return seen && s.sleepOf(id) == 0
}

// push enters a state: todo are the actions to explore (bits past the
// enabled ones are ignored), sleep the set it inherited. A popped frame's
// action buffer is reused.
func (s *search) push(stack []frame, m Machine, st State, todo, sleep uint64, choice int) []frame {
	var buf []sim.Action
	var fps []uint64
	if len(stack) < cap(stack) {
		old := &stack[:len(stack)+1][len(stack)]
		buf, fps = old.acts[:0], old.fps[:0]
	}
	m.Load(st)
	acts := append(buf, m.Actions()...)
	// Fingerprints known without running the action, while the machine is
	// in this state: a revisit then costs no restore.
	todo &= all(len(acts))
	if len(acts) > maskable {
		todo = ^uint64(0) // past the mask every action is explored
	}
	fps = predictAll(m, acts, todo, fps)
	s.stats.Slept += uint64(bits.OnesCount64(all(len(acts)) &^ todo))
	return append(stack, frame{state: st, acts: acts, fps: fps, todo: todo, sleep: sleep & all(len(acts)), choice: choice})
}

// predictAll appends to fps, for each action, the fingerprint it leads to
// where the machine (in the state that listed acts) can tell without
// running it, else 0; slept actions are never taken, so not asked.
func predictAll(m Machine, acts []sim.Action, todo uint64, fps []uint64) []uint64 {
	pred, _ := m.(Predictor)
	for i, a := range acts {
		var fp uint64
		if pred != nil && (i >= maskable || todo&(1<<i) != 0) {
			if p, ok := pred.Predict(a); ok {
				fp = p // a real 0 is merely not predicted
			}
		}
		fps = append(fps, fp)
	}
	return fps
}

// pick returns the next action to explore, or -1.
func (f *frame) pick() int {
	for f.next < len(f.acts) {
		i := f.next
		f.next++
		if i >= maskable || f.todo&(1<<i) != 0 {
			return i
		}
	}
	return -1
}
