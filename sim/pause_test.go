package sim

import (
	"fmt"
	"testing"
)

// recorder notes when each of its steps ran.
type recorder struct {
	env   *Env[ping]
	steps []string
	at    []Time
}

func (r *recorder) Start() {}
func (r *recorder) Receive(from NodeID, m ping) {
	r.steps, r.at = append(r.steps, m.String()), append(r.at, r.env.Now())
}
func (r *recorder) Timeout(t TimerID) {
	r.steps, r.at = append(r.steps, "timer"), append(r.at, r.env.Now())
}

// A paused node takes no step: its timer and its mail wait for the end of
// the pause and then run in the order they were due; its clock ran on.
func TestPauseDefersTimersAndMailInOrder(t *testing.T) {
	recs := []*recorder{}
	w := NewWorld(2, NewPRNG(1), func(env *Env[ping]) Node[ping] {
		r := &recorder{env: env}
		recs = append(recs, r)
		return r
	})
	w.Net.Latency = Latency{Min: Millisecond, Max: Millisecond}
	w.Boot()
	w.nodes[1].env.SetTimer(0, 5*Millisecond)
	w.Pause(1, 20*Millisecond)
	if !w.Paused(1) {
		t.Fatal("node 1 not paused")
	}
	w.stepping = 0
	w.nodes[0].env.Send(1, ping(7))
	w.stepping = -1
	stepUntil(w, Time(50*Millisecond))
	r := recs[1]
	if len(r.steps) != 2 || r.steps[0] != "ping 7" || r.steps[1] != "timer" {
		t.Fatalf("steps %v, want the ping (due at 1ms), then the timer (due at 5ms)", r.steps)
	}
	for _, at := range r.at {
		if at != Time(20*Millisecond) {
			t.Fatalf("step at %d, want at the end of the pause (20ms)", at)
		}
	}
	if w.Paused(1) {
		t.Fatal("still paused")
	}
}

// A crash ends a pause: the restarted node steps at once.
func TestCrashEndsAPause(t *testing.T) {
	recs := []*recorder{}
	w := NewWorld(1, NewPRNG(1), func(env *Env[ping]) Node[ping] {
		r := &recorder{env: env}
		recs = append(recs, r)
		return r
	})
	w.Boot()
	w.Pause(0, Second)
	w.Crash(0)
	w.Restart(0)
	if w.Paused(0) {
		t.Fatal("a restarted node is still paused")
	}
	w.nodes[0].env.SetTimer(0, Millisecond)
	stepUntil(w, Time(10*Millisecond))
	if r := recs[len(recs)-1]; len(r.steps) != 1 || r.at[0] != Time(Millisecond) {
		t.Fatalf("restarted node stepped %v at %v", r.steps, r.at)
	}
}

// OnFault hears a pause as FaultPause, of the node paused; a node that is
// down is not paused and nothing is heard.
func TestPauseIsAFault(t *testing.T) {
	w := NewWorld(2, NewPRNG(1), func(env *Env[ping]) Node[ping] { return &recorder{env: env} })
	var heard []string
	w.OnFault = func(f Fault, node, peer NodeID) { heard = append(heard, fmt.Sprintf("%v n%d n%d", f, node, peer)) }
	w.Boot()
	w.Pause(1, Millisecond)
	w.Crash(0)
	w.Pause(0, Millisecond)
	if want := []string{"pause n1 n1", "crash n0 n0"}; fmt.Sprint(heard) != fmt.Sprint(want) {
		t.Fatalf("heard %v, want %v", heard, want)
	}
}
