package sim

import "fmt"

// Pauses: a node that stops stepping for a while and then carries on as if
// nothing happened, a process stopped by a long garbage collection, a VM
// migration or SIGSTOP (the pause of Kleppmann's "How to do distributed
// locking"). Unlike a crash it loses nothing: its timers and the messages
// that reach it wait, and run, in their order, when the pause ends. Its
// clock keeps running meanwhile, so whatever it decided before the pause it
// acts on after, late.

// Pause stops node id from stepping until d from now. A pause already
// running is lengthened, never shortened; a crash ends it. OnFault hears of
// it as FaultPause before it takes hold, as of a crash (a node that is down
// is not paused, and nothing is heard).
func (w *World[M]) Pause(id NodeID, d Duration) {
	if w.un != nil {
		panic(fmt.Sprintf("sim: node %d paused in the untimed view, which has no time to pause for", id))
	}
	if d < 0 {
		panic(fmt.Sprintf("sim: node %d paused for %dµs", id, d))
	}
	s := &w.nodes[id]
	if !s.up {
		return
	}
	w.fault(FaultPause, id, id)
	until := w.now + Time(d)
	if s.pauseEpoch != s.epoch+1 || s.pausedUntil < until {
		s.pausedUntil, s.pauseEpoch = until, s.epoch+1
	}
}

// Paused reports whether node id is paused now.
func (w *World[M]) Paused(id NodeID) bool {
	s := &w.nodes[id]
	return s.up && s.pauseEpoch == s.epoch+1 && s.pausedUntil > w.now
}

// deferPaused puts an event for a paused node back into the queue at the
// end of the pause, and reports whether it did: the event is then not a step.
func (w *World[M]) deferPaused(at Time, ev *event[M]) bool {
	s := &w.nodes[ev.node]
	if s.pauseEpoch != s.epoch+1 || s.pausedUntil <= at || s.epoch != ev.epoch {
		return false
	}
	slot := w.alloc()
	w.slab[slot] = *ev
	w.push(s.pausedUntil, slot)
	return true
}
