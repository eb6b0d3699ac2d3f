package scenarios

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/sim"
)

// Shrinking works on the one thing every run is made of: its list of
// choices. Cluster size, proposers, fault plan, latencies and scheduling are
// all drawn from that list, with 0 as the plain outcome, so a shorter list
// with smaller values is a smaller run: fewer nodes, fewer faults, fewer
// events. The shrinker is Hypothesis-style and scenario-blind: it edits the
// list, re-runs the scenario from a loose sim.Replay (which clamps values out
// of range and answers 0 past the end), and keeps an edit when the run still
// breaks the same kind of invariant and is smaller — fewer events, then fewer
// choices, then a lexicographically smaller list. It knows one thing about
// runs: the choices drawn before the first node starts are the setup
// (cluster size, clients, fault families and schedule). It lowers those
// first, exploring fresh continuations of the run, since a smaller setup
// changes what every later choice means; then it cuts the tail, zeroes each
// event's choices and chunks of choices, deletes chunks, and binary-searches
// single values toward 0. Finally the smallest list is run once more with
// the trace on, so the trace file carries exactly the choices the run
// consumed and replays with no divergence.

// ShrinkOptions bound a shrink. The shrinker stops at a fixpoint (no edit
// helps) or when a bound is hit, keeping the smallest failing run so far.
type ShrinkOptions struct {
	// Budget is the wall-clock limit for the whole shrink, final traced run
	// included; 0 means DefaultShrinkBudget.
	Budget time.Duration
	// MaxRuns limits candidate runs; 0 means no limit. With a run limit and
	// no time limit reached, the result is the same on any machine and for
	// any number of workers.
	MaxRuns int
	// Workers run candidates in parallel; 0 means GOMAXPROCS. Candidates
	// are judged in the same order as by one worker, so the result does not
	// depend on it.
	Workers int
	// Start is when the budget began (zero: when the shrink starts). The
	// CLI sets it before reading the trace, so reading and replaying the
	// input count in the budget too.
	Start time.Time
	// Log, when set, receives a line per improvement.
	Log func(format string, args ...any)
}

// DefaultShrinkBudget is the time a shrink may take unless told otherwise:
// within the 30 seconds a person will wait for one trace.
const DefaultShrinkBudget = 25 * time.Second

// Size measures a trace: what "smaller" means to a reader.
type Size struct {
	Events  int    // events: timer, deliver, lost, fault lines (see EventLines)
	Lines   int    // every trace line, notes (begin, plan, decisions, violation) included
	Choices int    // recorded choices
	NonZero int    // choices that are not the plain outcome
	Params  string // what the run drew: nodes, proposers, faults...
}

func (s Size) String() string {
	return fmt.Sprintf("%d events, %d choices (%d non-zero); %s", s.Events, s.Choices, s.NonZero, s.Params)
}

// SizeOf measures a trace file.
func SizeOf(f *sim.File) Size {
	sz := Size{Events: EventLines(f), Lines: len(f.Lines)}
	sz.Params, _ = f.Get("params")
	for _, v := range f.Choices() {
		sz.Choices++
		if v != 0 {
			sz.NonZero++
		}
	}
	return sz
}

// EventLines counts a trace's events: timers, deliveries, lost messages and
// fault actions, not notes (node starts, sends, syncs, decisions). It is the
// header's "events" and the end line's count; a liveness failure's folded
// tail counts the events it holds.
func EventLines(f *sim.File) int { return f.Events() }

// Shrunk is the outcome of a shrink.
type Shrunk struct {
	Scenario string
	Seed     uint64
	Bugs     planted.Set
	Set      string // the settings of the shrunk run: a liveness failure's may heal earlier than the input's
	Kind     string // the violation kind kept throughout
	Before   Size
	After    Size
	Runs     int           // candidate runs
	Wall     time.Duration // time spent
	Fixpoint bool          // no edit helped any more (false: a budget ran out)
	Choices  []uint64      // the final choice list
	Result   Result        // the final run, traced
	File     *sim.File     // its trace file, ready to write
}

func (s *Shrunk) String() string {
	stop := "fixpoint"
	if !s.Fixpoint {
		stop = "budget reached"
	}
	return fmt.Sprintf("%s: %d -> %d events, %d -> %d choices, %d runs in %.2fs (%s)",
		s.Kind, s.Before.Events, s.After.Events, s.Before.Choices, s.After.Choices, s.Runs, s.Wall.Seconds(), stop)
}

// ShrinkFile shrinks a failing trace file. The trace is replayed first: it
// must still break an invariant, whose kind the shrinker then keeps.
func ShrinkFile(f *sim.File, opts ShrinkOptions) (*Shrunk, error) {
	if opts.Start.IsZero() {
		opts.Start = time.Now() // replaying the input counts in the budget
	}
	rep, err := Replay(f)
	if err != nil {
		return nil, err
	}
	s, _ := Lookup(rep.Scenario)
	return shrink(s, rep.Seed, Options{Bugs: rep.Bugs, Set: rep.Set}, f.Choices(), f, opts)
}

// Shrink minimizes a failing run of a scenario, given as its choice list
// (Trace.Choices of a traced run, or any list: it is replayed loosely).
// seed is only carried into the trace header.
func Shrink(s *Scenario, seed uint64, bugs planted.Set, choices []uint64, opts ShrinkOptions) (*Shrunk, error) {
	return shrink(s, seed, Options{Bugs: bugs}, choices, nil, opts)
}

func shrink(s *Scenario, seed uint64, base Options, choices []uint64, orig *sim.File, opts ShrinkOptions) (*Shrunk, error) {
	if s == nil {
		return nil, fmt.Errorf("shrink: no scenario")
	}
	if reg, err := Lookup(s.Name); err != nil || reg != s {
		return nil, fmt.Errorf("shrink: scenario %q is not registered, so its traces could not be replayed", s.Name)
	}
	bugs := base.Bugs
	start := opts.Start
	if start.IsZero() {
		start = time.Now()
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultShrinkBudget
	}
	first := s.Run(&sim.Replay{Values: choices}, Options{Bugs: bugs, Set: base.Set, Trace: true})
	if first.Violation == nil {
		if first.Inconclusive != "" {
			return nil, fmt.Errorf("%s: the run is inconclusive (%s), not a violation: nothing to shrink", s.Name, first.Inconclusive)
		}
		return nil, fmt.Errorf("%s: the run breaks no invariant: nothing to shrink", s.Name)
	}
	if orig == nil {
		orig = TraceFile(s.Name, seed, bugs, first)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sh := &shrinker{
		s: s, bugs: bugs, set: base.Set, kind: first.Violation.Kind, opts: opts, workers: workers,
		// Keep a tenth of the budget for the final traced run.
		deadline: start.Add(opts.Budget - opts.Budget/10), seen: map[uint64]bool{},
	}
	sh.keep(first.Events, consumed(first.Trace.Choices()))
	sh.improved = 0
	fixpoint := sh.run()

	final := s.Run(&sim.Replay{Values: sh.best}, Options{Bugs: bugs, Set: sh.set, Trace: true})
	if final.Violation == nil || final.Violation.Kind != sh.kind {
		return nil, fmt.Errorf("%s: the shrunk run did not fail the same way when traced (got %v): the scenario is not deterministic", s.Name, final.Violation)
	}
	out := &Shrunk{
		Scenario: s.Name, Seed: seed, Bugs: bugs, Set: sh.set, Kind: sh.kind,
		Runs: sh.runs, Fixpoint: fixpoint, Choices: consumed(final.Trace.Choices()), Result: final,
	}
	out.File = TraceFile(s.Name, seed, bugs, final)
	rep, err := Replay(out.File)
	if err != nil {
		return nil, fmt.Errorf("%s: the shrunk trace cannot be replayed: %v", s.Name, err)
	}
	if rep.Divergence != "" {
		return nil, fmt.Errorf("%s: the shrunk trace does not replay (%s): the scenario is not deterministic", s.Name, rep.Divergence)
	}
	out.Before, out.After = SizeOf(orig), SizeOf(out.File)
	out.Wall = time.Since(start)
	out.File.Header = append(out.File.Header, sim.Field{Key: "shrunk", Value: fmt.Sprintf(
		"from %d events and %d choices (seed %d) by %d runs in %.2fs", out.Before.Events, out.Before.Choices, seed, out.Runs, out.Wall.Seconds())})
	return out, nil
}

// consumed is the values of the choices a run actually drew.
func consumed(cs []sim.Choice) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.V
	}
	return out
}

type shrinker struct {
	s        *Scenario
	bugs     planted.Set
	set      string
	kind     string
	opts     ShrinkOptions
	workers  int
	deadline time.Time
	runs     int
	seen     map[uint64]bool // candidates known not to help, by hash

	// best is the smallest failing list so far, normalized to the choices
	// its run consumed; setup is how many of them were drawn before the
	// first node started (cluster size, workload, fault plan); lines are the
	// choice ranges of its trace lines after the setup.
	best       []uint64
	bestEvents uint64
	setup      int
	lines      [][2]int
	improved   int // edits kept
	stuck      int // rounds in a row with no edit kept
	level      int // exploration level: each multiplies continuations by 4
}

// budgetSpent ends a shrink early: time or runs are used up.
type budgetSpent struct{}

func (sh *shrinker) spent() bool {
	return (sh.opts.MaxRuns > 0 && sh.runs >= sh.opts.MaxRuns) || time.Now().After(sh.deadline)
}

// cand is a candidate run: a list of choices replayed loosely, then, past
// its end, plain outcomes or (when more is set) draws from more; with set,
// under those settings instead of the best run's.
type cand struct {
	vals []uint64
	more sim.Source
	set  *string
}

// settings are the settings a candidate runs with.
func (sh *shrinker) settings(c cand) string {
	if c.set != nil {
		return *c.set
	}
	return sh.set
}

// outcome is what a candidate run did: whether it broke the same
// invariant, in how many events, and which choices it consumed.
type outcome struct {
	ok     bool
	events uint64
	got    []uint64
	hash   uint64 // for the seen set; 0 for explorations
}

// hash names a candidate list and its settings for the seen set. It is
// seeded with a constant, not randomly: a shrink is a function of its input.
func (sh *shrinker) hash(vals []uint64, set string) uint64 {
	h := uint64(len(vals)) ^ 0x5eed5eed5eed5eed
	for _, b := range []byte(set) {
		h = sim.Mix64(h ^ uint64(b))
	}
	for _, v := range vals {
		h = sim.Mix64(h ^ v)
	}
	return h
}

// evaluate runs candidates on the workers and returns their outcomes in
// order. Candidates already known not to help come back not ok, unrun.
func (sh *shrinker) evaluate(cs []cand) []outcome {
	if sh.spent() {
		panic(budgetSpent{})
	}
	out := make([]outcome, len(cs))
	var todo []int
	for i, c := range cs {
		if c.more == nil {
			out[i].hash = sh.hash(c.vals, sh.settings(c))
			if sh.seen[out[i].hash] {
				continue
			}
		}
		todo = append(todo, i)
	}
	sh.runs += len(todo)
	limit := overrunFactor*len(sh.best) + overrunSlack
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < min(sh.workers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(todo) {
					return
				}
				i := todo[k]
				out[i].ok, out[i].events, out[i].got = sh.runOne(cs[i], limit)
			}
		}()
	}
	wg.Wait()
	for _, i := range todo {
		if !out[i].ok && out[i].hash != 0 {
			sh.seen[out[i].hash] = true
		}
	}
	return out
}

func (sh *shrinker) runOne(c cand, limit int) (ok bool, events uint64, got []uint64) {
	defer func() {
		// A scenario turns panics inside the world into violations; an
		// overrun while it draws its setup, before the world exists,
		// comes through here.
		if p := recover(); p != nil {
			if _, over := p.(overrun); !over {
				panic(p)
			}
			ok = false
		}
	}()
	var src sim.Source = &sim.Replay{Values: c.vals}
	if c.more != nil {
		src = &continued{vals: c.vals, more: c.more}
	}
	rec := &capped{Recorder: sim.Recorder{Inner: src}, max: limit}
	res := sh.s.Run(rec, Options{Bugs: sh.bugs, Set: sh.settings(c)})
	if rec.overran || res.Violation == nil || res.Violation.Kind != sh.kind {
		return false, 0, nil
	}
	return true, res.Events, consumed(rec.Choices)
}

// A candidate that draws many more choices than the smallest failing run is
// abandoned (Hypothesis calls it an overrun): it is almost never smaller,
// and a run that does not fail would otherwise go on to its natural end.
const (
	overrunFactor = 4
	overrunSlack  = 256
)

// capped records a candidate's choices and stops the run past max of them.
type capped struct {
	sim.Recorder
	max     int
	overran bool
}

// overrun is the panic that stops a capped run; the scenario's guard turns
// it into an assertion violation, which capped.overran tells apart.
type overrun struct{}

func (overrun) String() string { return "shrink: candidate run overran its choice budget" }

func (c *capped) Choose(n uint64) uint64 {
	if len(c.Choices) >= c.max {
		c.overran = true
		panic(overrun{})
	}
	return c.Recorder.Choose(n)
}

// continued replays a list of values, then draws from another source.
type continued struct {
	vals []uint64
	pos  int
	more sim.Source
}

func (c *continued) Choose(n uint64) uint64 {
	if c.pos < len(c.vals) {
		v := min(c.vals[c.pos], n-1)
		c.pos++
		return v
	}
	return c.more.Choose(n)
}

// smaller orders failing runs: fewer events, then fewer choices, then the
// lexicographically smaller list. Edits after the setup leave the setup as
// it is, so this is also the order of whole runs there.
func (sh *shrinker) smaller(o outcome) bool {
	if o.events != sh.bestEvents {
		return o.events < sh.bestEvents
	}
	if len(o.got) != len(sh.best) {
		return len(o.got) < len(sh.best)
	}
	return slices.Compare(o.got, sh.best) < 0
}

// improves accepts an edit after the setup: the setup is untouched and
// the run is smaller.
func (sh *shrinker) improves(o outcome) bool {
	return o.ok && len(o.got) >= sh.setup && slices.Equal(o.got[:sh.setup], sh.best[:sh.setup]) && sh.smaller(o)
}

// firstOf evaluates candidates in order, a batch of workers at a time, and
// keeps the first one accept approves. It returns its index, or -1.
func (sh *shrinker) firstOf(cs []cand, accept func(outcome) bool) int {
	for lo := 0; lo < len(cs); lo += sh.workers {
		batch := cs[lo:min(lo+sh.workers, len(cs))]
		for k, o := range sh.evaluate(batch) {
			if accept(o) {
				sh.set = sh.settings(batch[k])
				sh.keep(o.events, o.got)
				return lo + k
			}
			if o.ok && o.hash != 0 {
				sh.seen[o.hash] = true // judged against the best of its time: never smaller later
			}
		}
	}
	return -1
}

// try keeps a single candidate list if it improves on the best.
func (sh *shrinker) try(vals []uint64) bool {
	return sh.firstOf([]cand{{vals: vals}}, sh.improves) == 0
}

// scanDown walks positions from top() down to sh.setup, making a candidate
// at each with build (nil to skip), a batch of workers at a time; after an
// improvement it goes on below the position that helped, from the new best.
func (sh *shrinker) scanDown(top func() int, build func(i int) []uint64) {
	for i := top(); i >= sh.setup; {
		var cs []cand
		var at []int
		j := i
		for ; j >= sh.setup && len(cs) < sh.workers; j-- {
			if c := build(j); c != nil {
				cs = append(cs, cand{vals: c})
				at = append(at, j)
			}
		}
		if k := sh.firstOf(cs, sh.improves); k >= 0 {
			i = min(at[k]-1, top())
		} else {
			i = j
		}
	}
}

// keep makes a failing list the new best and re-reads its structure from
// a traced run: where the setup ends and which choices each event drew.
func (sh *shrinker) keep(events uint64, vals []uint64) {
	sh.best, sh.bestEvents = vals, events
	sh.improved++
	res := sh.s.Run(&sim.Replay{Values: vals}, Options{Bugs: sh.bugs, Set: sh.set, Trace: true})
	sh.setup, sh.lines = 0, nil
	pos, booted := 0, false
	for _, l := range res.Trace.Lines() {
		if strings.HasPrefix(l.Text, "start ") {
			booted = true
		}
		if !booted {
			sh.setup += len(l.Choices)
		} else if len(l.Choices) > 0 {
			sh.lines = append(sh.lines, [2]int{pos, pos + len(l.Choices)})
		}
		pos += len(l.Choices)
	}
	if !booted {
		sh.setup, sh.lines = 0, nil // no boot line: treat every choice as an event's
	}
	if sh.opts.Log != nil {
		sh.opts.Log("shrink: %d events, %d choices (%d in setup) after %d runs", events, len(vals), sh.setup, sh.runs)
	}
}

// run applies the passes until none helps; it reports whether it got there
// before a budget ran out.
func (sh *shrinker) run() (fixpoint bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(budgetSpent); !ok {
				panic(r)
			}
			fixpoint = false
		}
	}()
	for {
		before := sh.improved
		if sh.escalate() {
			return true
		}
		sh.healEarlier()
		sh.lowerSetup()
		sh.cutTail()
		sh.zeroLines()
		for _, size := range []int{16, 4, 1} {
			sh.zeroChunks(size)
		}
		for _, size := range []int{16, 4, 2, 1} {
			sh.deleteChunks(size)
		}
		sh.lowerValues()
		if sh.improved == before {
			sh.stuck++
		} else {
			sh.stuck = 0
		}
	}
}

// escalate decides, after a round of passes, whether to stop: at a
// fixpoint the shrinker explores harder (four times the fresh continuations
// per setup choice, maxEscalation times) before it gives up.
func (sh *shrinker) escalate() (done bool) {
	if sh.stuck == 0 {
		return false
	}
	if sh.level >= maxEscalation {
		return true
	}
	sh.level++
	return false
}

// maxEscalation is how many times a fixpoint makes the shrinker explore
// harder before it stops.
const maxEscalation = 1

// healEarlier cuts a liveness failure's fault schedule short. The verdict
// is judged after the final heal: the cluster made no progress within the
// scenario's liveness bound. Everything between the moment the cluster got
// stuck and the heal is futile (heartbeats, retries), so the shortest
// failing run heals as soon after the damage as it can. The heal is the
// end of the scenario's "window" setting; the shrinker lowers it, and the
// shrunk trace's header records it (set window=...) so that replay heals
// at the same time. The liveness bound stays the scenario's.
//
// A shorter window changes what the choices after the setup mean (think
// times scale with it, fault times are drawn within it), so each window
// is tried with the best list as it is and with fresh continuations of its
// setup. Windows are tried from the shortest, a ladder of fractions of the
// current one; then a binary search closes in between the last that did
// not fail and the first that did.
func (sh *shrinker) healEarlier() {
	if sh.kind != "liveness" {
		return
	}
	param, ok := paramOf(sh.s, windowSetting)
	if !ok || param.Unit != Span || param.Drawn {
		return
	}
	window := sh.s.settingsFor(sh.set).Get(windowSetting)
	lo := int64(0) // the longest window known not to fail in fewer events
	for _, w := range windowLadder(window) {
		if sh.tryWindow(w) {
			hi := w
			for step := 0; step < windowSearchSteps && hi-lo > int64(sim.Millisecond); step++ {
				mid := roundWindow(lo + (hi-lo)/2)
				if mid <= lo || mid >= hi {
					break
				}
				if sh.tryWindow(mid) {
					hi = mid
				} else {
					lo = mid
				}
			}
			return
		}
		lo = w
	}
}

// windowSetting is the setting whose end is the final heal.
const windowSetting = "window"

// windowSearchSteps bounds the binary search for the shortest window: each
// step is a window tried with every continuation.
const windowSearchSteps = 6

// windowLadder is the windows worth trying below w, shortest first: w/32
// up to 3w/4, on whole milliseconds where w allows.
func windowLadder(w int64) []int64 {
	var out []int64
	for _, frac := range [][2]int64{{1, 32}, {1, 16}, {1, 8}, {1, 4}, {1, 2}, {3, 4}} {
		x := roundWindow(w * frac[0] / frac[1])
		if x > 0 && x < w && (len(out) == 0 || x > out[len(out)-1]) {
			out = append(out, x)
		}
	}
	return out
}

// roundWindow rounds a window down to a whole millisecond, the way a
// person writes it, when it is longer than one.
func roundWindow(w int64) int64 {
	if ms := int64(sim.Millisecond); w > ms {
		return w / ms * ms
	}
	return w
}

// tryWindow keeps a run that heals at w, if one fails the same way in fewer
// events: the best list under the new window, or one of the fresh
// continuations of its setup.
func (sh *shrinker) tryWindow(w int64) bool {
	set, err := withSetting(sh.s, sh.set, windowSetting, w)
	if err != nil {
		return false
	}
	cs := []cand{{vals: sh.best, set: &set}, {vals: sh.best[:sh.setup], set: &set}}
	explore := exploreLarge << (2 * sh.level)
	for k := uint64(1); k <= uint64(explore); k++ {
		cs = append(cs, cand{vals: sh.best[:sh.setup], set: &set, more: sim.NewPRNG(sim.Mix64(k) ^ uint64(w))})
	}
	return sh.firstOf(cs, func(o outcome) bool { return o.ok && sh.smaller(o) }) >= 0
}

// withSetting is a settings text with one setting given a new value, the
// others as they were.
func withSetting(s *Scenario, text, name string, v int64) (string, error) {
	param, ok := paramOf(s, name)
	if !ok {
		return "", fmt.Errorf("%s has no setting %q", s.Name, name)
	}
	var kept []string
	if st, err := s.ParseSettings(text); err != nil {
		return "", err
	} else if given := st.String(); given != "" {
		for _, kv := range strings.Split(given, ",") {
			if k, _, _ := strings.Cut(kv, "="); k != name {
				kept = append(kept, kv)
			}
		}
	}
	out := strings.Join(append(kept, name+"="+param.Show(v)), ",")
	_, err := s.ParseSettings(out)
	return out, err
}

// paramOf is the scenario's declared setting of that name.
func paramOf(s *Scenario, name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// lowerSetup makes the run simpler before it makes it shorter: fewer nodes,
// fewer proposers or clients, fewer fault families, milder faults. Each
// setup choice, first to last, is lowered to the smallest value with which
// the invariant still breaks in no more events. A lower setup choice changes
// what every later choice means, so besides keeping the rest of the list (or
// dropping it), the shrinker explores: it continues the run from fresh
// pseudo-random streams until one fails the same way.
func (sh *shrinker) lowerSetup() {
	for i := 0; i < sh.setup; i++ {
		for _, x := range lowerCandidates(sh.best[i]) {
			if sh.trySetup(i, x) {
				break
			}
		}
	}
}

// Fresh continuations one lowered setup choice gets: many for a small
// choice (a count of nodes, proposers or crashes, a fault family on or off),
// which changes the run's shape, and a few for a large one (a time, a rate).
const (
	exploreSmall = 256
	exploreLarge = 16
)

func (sh *shrinker) trySetup(i int, x uint64) bool {
	prefix := append(slices.Clone(sh.best[:i]), x)
	cs := []cand{{vals: slices.Concat(prefix, sh.best[i+1:])}, {vals: prefix}}
	explore := exploreLarge
	if sh.best[i] <= 8 {
		explore = exploreSmall
	}
	explore <<= 2 * sh.level
	for k := uint64(1); k <= uint64(explore); k++ {
		cs = append(cs, cand{vals: prefix, more: sim.NewPRNG(sim.Mix64(k) ^ x ^ uint64(i)<<32)})
	}
	// The choices before i are replayed as they were, so the run draws its
	// i-th choice at the same point: a lower value there is a simpler
	// setup, whatever comes after.
	return sh.firstOf(cs, func(o outcome) bool {
		return o.ok && len(o.got) > i && slices.Equal(o.got[:i+1], prefix) && o.events <= sh.bestEvents
	}) >= 0
}

// lowerCandidates are the values below v worth trying for a setup choice,
// smallest first: all of them when few, else 0 and a halving ladder up to v.
func lowerCandidates(v uint64) []uint64 {
	if v <= 8 {
		out := make([]uint64, v)
		for i := range out {
			out[i] = uint64(i)
		}
		return out
	}
	out := []uint64{0}
	for d := v / 2; d > 0; d /= 2 {
		if x := v - d; x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// cutTail drops choices from the end, halving the cut when it fails: the
// end of a run is replaced by plain outcomes.
func (sh *shrinker) cutTail() {
	for step := (len(sh.best) - sh.setup) / 2; step >= 1; step /= 2 {
		for len(sh.best)-step >= sh.setup && sh.try(sh.best[:len(sh.best)-step]) {
		}
	}
}

// zeroLines sets every choice an event drew to the plain outcome, event by
// event from the last: its messages are neither lost nor duplicated and
// take the shortest time.
func (sh *shrinker) zeroLines() {
	for j := len(sh.lines) - 1; j >= 0; {
		var cs []cand
		var at []int
		k := j
		for ; k >= 0 && len(cs) < sh.workers; k-- {
			lo, hi := sh.lines[k][0], min(sh.lines[k][1], len(sh.best))
			if lo >= hi || !slices.ContainsFunc(sh.best[lo:hi], nonZero) {
				continue
			}
			c := slices.Clone(sh.best)
			clear(c[lo:hi])
			cs = append(cs, cand{vals: c})
			at = append(at, k)
		}
		if m := sh.firstOf(cs, sh.improves); m >= 0 {
			j = min(at[m]-1, len(sh.lines)-1)
		} else {
			j = k
		}
	}
}

func nonZero(v uint64) bool { return v != 0 }

// zeroChunks sets runs of choices to the plain outcome, from the end of the
// list to the start of the events.
func (sh *shrinker) zeroChunks(size int) {
	sh.scanDown(func() int { return len(sh.best) - size }, func(i int) []uint64 {
		if !slices.ContainsFunc(sh.best[i:i+size], nonZero) {
			return nil
		}
		c := slices.Clone(sh.best)
		clear(c[i : i+size])
		return c
	})
}

// deleteChunks removes runs of choices, shifting the rest forward: a
// decision that no longer happens (one retry fewer, one message fewer)
// takes its choices with it.
func (sh *shrinker) deleteChunks(size int) {
	sh.scanDown(func() int { return len(sh.best) - size }, func(i int) []uint64 {
		return slices.Concat(sh.best[:i], sh.best[i+size:])
	})
}

// lowerValues lowers each non-zero choice after the setup as far as it will
// go: 0 first, then a binary search between the last value known to pass
// and the one known to fail.
func (sh *shrinker) lowerValues() {
	for i := sh.setup; i < len(sh.best); i++ {
		v := sh.best[i]
		if v <= 1 {
			continue // zeroChunks tried 0 already
		}
		with := func(x uint64) []uint64 {
			c := slices.Clone(sh.best)
			c[i] = x
			return c
		}
		lo, hi := uint64(0), v // lo does not fail, hi does
		for lo+1 < hi && i < len(sh.best) && sh.best[i] == hi {
			mid := lo + (hi-lo)/2
			if sh.try(with(mid)) {
				hi = mid
			} else {
				lo = mid
			}
		}
	}
}

// ShrunkPath is where a shrunk trace goes next to the trace it came from.
func ShrunkPath(path string) string {
	if base, ok := strings.CutSuffix(path, ".trace"); ok {
		return base + ".shrunk.trace"
	}
	return path + ".shrunk"
}
