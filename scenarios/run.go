package scenarios

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/sim"
)

// World is what the shared run loop needs of a sim.World of any message
// type: every *sim.World[M] is one.
type World = world

// world is what the shared run loop needs of a sim.World of any message type.
type world interface {
	Now() sim.Time
	NextTime() (sim.Time, bool)
	Step() bool
	Events() uint64
	Digest() uint64
	Note(func() string)
	FairRandomness()
	TraceLen() int
}

// liveness is what the run loop asks of a scenario after the heal: done
// reports the work complete, progress counts work done so far (it only
// grows), stuck says what is still missing.
type liveness struct {
	heal     sim.Time
	bound    sim.Duration
	done     func() bool
	progress func() uint64
	stuck    func() string
}

// Liveness is what RunPhases asks of a scenario after the heal at Heal:
// within Bound, Done must report the work complete; Progress counts work
// done so far (it only grows: the last change is the stall point); Stuck
// says what is still missing, for the violation.
type Liveness struct {
	Heal     sim.Time
	Bound    sim.Duration
	Done     func() bool
	Progress func() uint64
	Stuck    func() string
}

// RunPhases is the run loop every scenario of Synod's uses, for a user's:
// the safety phase (faults on, until the heal), fair randomness from the
// heal on, then the liveness phase; it stops at the first violation the
// run's AfterStep hook records in *found, or once Done after the heal, and
// returns a liveness failure's stall point for Result.Stall (its trace
// folds the futile rest into one line).
func RunPhases(w World, found **checker.Violation, l Liveness) *Stall {
	return phases(w, found, liveness{heal: l.Heal, bound: l.Bound, done: l.Done, progress: l.Progress, stuck: l.Stuck})
}

// stallContext is how many trace lines past the stall point a liveness
// failure's trace still shows: the first futile rounds, not three seconds
// of them.
const stallContext = 24

// phases drives a world through the safety phase (faults on, until heal) and
// the liveness phase (after heal, every node must finish within bound). It
// stops at the first violation, or once done reports the work complete after
// the heal. The caller's AfterStep hook records violations into *found. A
// liveness failure is returned with its stall point: the later of the heal
// and the last progress, after which the run went on to the bound with no
// progress at all.
func phases(w world, found **checker.Violation, l liveness) *Stall {
	deadline := l.heal + sim.Time(l.bound)
	var last uint64
	healed := false
	var stall Stall
	mark := func() { stall = Stall{Line: w.TraceLen(), At: w.Now(), Events: w.Events()} }
	for *found == nil {
		if w.Now() >= l.heal {
			if !healed {
				healed = true
				// Liveness is judged under random draws, not the
				// adversary's (docs/architecture.md, "Liveness").
				w.FairRandomness()
				last = l.progress()
				mark()
			}
			if l.done() {
				return nil
			}
		}
		next, ok := w.NextTime()
		if !ok || next > deadline {
			now := w.Now()
			if ok {
				now = deadline
			}
			*found = &checker.Violation{Kind: "liveness", Time: int64(now), Message: fmt.Sprintf(
				"%s within %dms of the final heal at t=%dµs (no progress after t=%dµs)", l.stuck(), l.bound/sim.Millisecond, l.heal, stall.At)}
			stall.Until, stall.Total = now, w.Events()
			return &stall
		}
		w.Step()
		// Progress matters only after the heal: the hot loop of the safety
		// phase does not pay for it.
		if healed {
			if p := l.progress(); p != last {
				last = p
				mark()
			}
		}
	}
	return nil
}

// Stall is where a liveness failure stopped making progress: a trace shows
// the run up to there (and stallContext lines more) and folds the rest, with
// its choices, into one line.
type Stall struct {
	Line   int      // trace lines before the stall point
	At     sim.Time // when the last progress (or the heal) happened
	Events uint64   // events by then
	Until  sim.Time // when the liveness bound ran out
	Total  uint64   // events by then
}

// fold returns a run's trace lines with everything past the stall point's
// context folded into one line that keeps their choices, so the file still
// replays choice for choice.
func (st *Stall) fold(lines []sim.Line) []sim.Line {
	if st == nil || st.Line+stallContext >= len(lines)-1 {
		return lines
	}
	keep := st.Line + stallContext
	rest := lines[keep:]
	var choices []uint64
	events := 0
	for _, l := range rest {
		choices = append(choices, l.Choices...)
		events += sim.EventsIn(l.Text)
	}
	out := append(slices.Clone(lines[:keep]), sim.Line{At: rest[0].At, Choices: choices, Text: fmt.Sprintf(
		sim.FoldedPrefix+"%d more events up to t=%dµs, none of them progress since t=%dµs, folded here (simrun replay -v shows them)",
		events, st.Until, st.At)})
	return out
}

// guard turns a panic raised by a broken invariant inside the protocol or the
// kernel into an "assertion" violation of the run, so that one bad seed is
// reported with a trace instead of killing a whole swarm.
// guard is Guard for this package's runs.
var guard = Guard

// Guard, deferred at the top of a run function, turns a panic raised by a
// broken invariant inside the protocol or the kernel into an "assertion"
// violation of the run (with the frame that raised a runtime error), so
// one bad seed is reported with a trace instead of killing a sweep:
//
//	defer scenarios.Guard(w, &res, &found)
func Guard(w World, res *Result, found **checker.Violation) {
	if r := recover(); r != nil {
		recovered(w, r, res, found)
	}
}

// recovered is Guard's work once a panic was recovered; hot loops recover
// themselves and call it, so that nothing escapes when nothing panics.
func recovered(w World, r any, res *Result, found **checker.Violation) {
	msg := fmt.Sprint(r)
	if _, ours := r.(string); !ours {
		// Not one of our invariants: a runtime error. Keep the frame that
		// raised it, it is what a reader needs first.
		msg += " [" + firstFrame(debug.Stack()) + "]"
	}
	*found = &checker.Violation{Kind: "assertion", Time: int64(w.Now()), Message: msg}
	// The run's true size, as for any other violation: the shrinker judges
	// candidates by it, and a count of 0 would let any candidate pass.
	res.Violation, res.Events, res.Digest = *found, w.Events(), w.Digest()
}

func firstFrame(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic(") && i+3 < len(lines) {
			// The file as module/dir/file.go:line, without the checkout's
			// absolute path or the frame offset: the same on every machine.
			frame := strings.TrimSpace(lines[i+3])
			frame, _, _ = strings.Cut(frame, " +0x")
			if j := strings.LastIndex(frame, "/"); j >= 0 {
				if k := strings.LastIndex(frame[:j], "/"); k >= 0 {
					frame = frame[k+1:]
				}
			}
			return frame
		}
	}
	return "unknown frame"
}

// recorded wraps a run's source so that a trace can carry the choices drawn
// during setup, before the world exists.
func recorded(src sim.Source, opts Options) sim.Source {
	if _, already := src.(*sim.Recorder); already {
		return src // a run that hands its setup to another keeps one record
	}
	if opts.Trace {
		return &sim.Recorder{Inner: src}
	}
	return src
}

// nodeIDs lists nodes 0..n-1: the replicas a fault plan may touch.
func nodeIDs(n int) []sim.NodeID {
	out := make([]sim.NodeID, n)
	for i := range out {
		out[i] = sim.NodeID(i)
	}
	return out
}
