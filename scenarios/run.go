package scenarios

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/sim"
)

// world is what the shared run loop needs of a sim.World of any message type.
type world interface {
	Now() sim.Time
	NextTime() (sim.Time, bool)
	Step() bool
	Events() uint64
	Digest() uint64
	Note(func() string)
	FairRandomness()
}

// phases drives a world through the safety phase (faults on, until heal) and
// the liveness phase (after heal, every node must finish within bound). It
// stops at the first violation, or once done reports the work complete after
// the heal. The caller's AfterStep hook records violations into *found.
func phases(w world, found **checker.Violation, heal sim.Time, bound sim.Duration, done func() bool, stuck func() string) {
	deadline := heal + sim.Time(bound)
	for *found == nil {
		if w.Now() >= heal {
			// Liveness is judged under random draws, not the adversary's
			// (docs/architecture.md, "Liveness").
			w.FairRandomness()
			if done() {
				return
			}
		}
		next, ok := w.NextTime()
		if !ok || next > deadline {
			now := w.Now()
			if ok {
				now = deadline
			}
			*found = &checker.Violation{Kind: "liveness", Time: int64(now), Message: fmt.Sprintf(
				"%s within %dms of the final heal at t=%dµs", stuck(), bound/sim.Millisecond, heal)}
			return
		}
		w.Step()
	}
}

// guard turns a panic raised by a broken invariant inside the protocol or the
// kernel into an "assertion" violation of the run, so that one bad seed is
// reported with a trace instead of killing a whole swarm.
func guard(w world, res *Result, found **checker.Violation) {
	r := recover()
	if r == nil {
		return
	}
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
