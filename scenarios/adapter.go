package scenarios

import (
	"fmt"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// The protocol declares its own small interfaces (paxos.Env, paxos.Storage)
// and never imports the simulator; these adapters bind the two. They are the
// only place where sim and paxos types meet.

type envAdapter[M sim.Message] struct{ e *sim.Env[M] }

func (a envAdapter[M]) ID() paxos.NodeID          { return paxos.NodeID(a.e.ID()) }
func (a envAdapter[M]) N() int                    { return a.e.N() }
func (a envAdapter[M]) Now() paxos.Time           { return paxos.Time(a.e.Now()) }
func (a envAdapter[M]) LocalNow() paxos.Time      { return paxos.Time(a.e.LocalNow()) }
func (a envAdapter[M]) Send(to paxos.NodeID, m M) { a.e.Send(sim.NodeID(to), m) }
func (a envAdapter[M]) SetTimer(t paxos.TimerID, d paxos.Duration) {
	a.e.SetTimer(sim.TimerID(t), sim.Duration(d))
}
func (a envAdapter[M]) CancelTimer(t paxos.TimerID) { a.e.CancelTimer(sim.TimerID(t)) }
func (a envAdapter[M]) Rand(n uint64) uint64        { return a.e.Rand(n) }
func (a envAdapter[M]) Storage() paxos.Storage      { return a.e.Disk() }

// protocolNode is what every paxos state machine offers the simulator.
type protocolNode[M any] interface {
	Start()
	Receive(from paxos.NodeID, m M)
	Timeout(t paxos.TimerID)
}

// nodeAdapter lets a paxos state machine run as a sim.Node.
type nodeAdapter[M sim.Message, N protocolNode[M]] struct{ n N }

func (a nodeAdapter[M, N]) Start()                       { a.n.Start() }
func (a nodeAdapter[M, N]) Receive(from sim.NodeID, m M) { a.n.Receive(paxos.NodeID(from), m) }
func (a nodeAdapter[M, N]) Timeout(t sim.TimerID)        { a.n.Timeout(paxos.TimerID(t)) }

// Describe is the state machine's state in one line, for traces that keep
// states (replay -state, the diagram).
func (a nodeAdapter[M, N]) Describe() string {
	if d, ok := any(a.n).(sim.Describer); ok {
		return d.Describe()
	}
	return ""
}

// TimerName names the state machine's timer t in trace lines.
func (a nodeAdapter[M, N]) TimerName(t sim.TimerID) string {
	if n, ok := any(a.n).(interface{ TimerName(paxos.TimerID) string }); ok {
		return n.TimerName(paxos.TimerID(t))
	}
	return ""
}

// protocolOf returns the paxos state machine behind a running sim node.
func protocolOf[M sim.Message, N protocolNode[M]](n sim.Node[M]) (N, bool) {
	a, ok := n.(nodeAdapter[M, N])
	return a.n, ok
}

// cloneable is a paxos state machine the exhaustive search can copy and
// fingerprint (paxos declares the methods; sim.Cloner is their sim side).
type cloneable[M any, N any] interface {
	Clone(env paxos.Env[M]) N
	Fingerprint() uint64
}

// reusable is a cloneable that can copy itself into a discarded earlier
// copy (into) instead of allocating; into is the zero N when there is none.
type reusable[M any, N any] interface {
	CloneInto(env paxos.Env[M], into N) N
}

// Clone copies the state machine for the exhaustive search, bound to env.
func (a nodeAdapter[M, N]) Clone(env *sim.Env[M], into sim.Node[M]) sim.Node[M] {
	if r, ok := any(a.n).(reusable[M, N]); ok {
		var dst N
		if old, ok := into.(nodeAdapter[M, N]); ok {
			dst = old.n
		}
		return nodeAdapter[M, N]{r.CloneInto(envAdapter[M]{env}, dst)}
	}
	c, ok := any(a.n).(cloneable[M, N])
	if !ok {
		panic(fmt.Sprintf("scenarios: %T cannot be cloned for exhaustive search", a.n))
	}
	return nodeAdapter[M, N]{c.Clone(envAdapter[M]{env})}
}

// Fingerprint hashes the state machine's state.
func (a nodeAdapter[M, N]) Fingerprint() uint64 {
	c, ok := any(a.n).(cloneable[M, N])
	if !ok {
		panic(fmt.Sprintf("scenarios: %T cannot be fingerprinted for exhaustive search", a.n))
	}
	return c.Fingerprint()
}

// Ignores, Refuses and Abandoned pass on the state machine's dead-letter
// promises (paxos.DeadLetters); a machine that makes none promises nothing.
func (a nodeAdapter[M, N]) Ignores(from sim.NodeID, m M) bool {
	d, ok := any(a.n).(paxos.DeadLetters[M])
	return ok && d.Ignores(paxos.NodeID(from), m)
}

func (a nodeAdapter[M, N]) Refuses(from sim.NodeID, m M) bool {
	d, ok := any(a.n).(paxos.DeadLetters[M])
	return ok && d.Refuses(paxos.NodeID(from), m)
}

func (a nodeAdapter[M, N]) Abandoned(to sim.NodeID, m M) bool {
	d, ok := any(a.n).(paxos.DeadLetters[M])
	return ok && d.Abandoned(paxos.NodeID(to), m)
}
