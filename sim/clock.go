package sim

import "fmt"

// Clock is a node's local clock: it runs at (1 + DriftPPM/1e6) times the
// true rate and starts Offset away from true time. Lease-based protocols read
// it; the kernel itself always schedules in true virtual time.
type Clock struct {
	Offset   Duration
	DriftPPM int32
}

func (c Clock) read(now Time) Time {
	return now + Time(c.Offset) + Time(int64(now)*int64(c.DriftPPM)/1_000_000)
}

// SetClock sets a node's clock error. Fault plans call it to model skew.
func (w *World[M]) SetClock(id NodeID, c Clock) {
	if c.DriftPPM <= -1_000_000 {
		panic(fmt.Sprintf("sim: node %d clock drift %d ppm stops or reverses time", id, c.DriftPPM))
	}
	w.nodes[id].clock = c
	w.fault(FaultClock, id, id)
}

// ClockOf returns a node's clock error.
func (w *World[M]) ClockOf(id NodeID) Clock { return w.nodes[id].clock }

// LocalNow is the node's own clock reading, skewed and drifting; Now is true
// time. A correct lease protocol only trusts LocalNow within its error bound.
func (e *Env[M]) LocalNow() Time { return e.w.nodes[e.id].clock.read(e.w.now) }
