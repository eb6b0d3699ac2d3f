package sim

import (
	"fmt"
	"strconv"
)

// Dead letters in the untimed view.
//
// A message in flight is dead when delivering it, now or at any later
// time, would change nothing: its receiver promises to ignore it, or to
// refuse it with an answer its sender promises to ignore. A dead message
// still multiplies the states: every state the system passes through
// exists once with it in flight and once without, and its delivery can be
// interleaved anywhere. With CollectDead the world removes dead messages
// as soon as they are dead, so the search meets each of those states once.
// In a single-decree cluster with two proposers of two rounds each, that is
// the difference between a space the search cannot exhaust and one of five
// million states.
//
// The promises are the protocol's (paxos.DeadLetters): each is about the
// node's own code, for the rest of its incarnation, so the world relies on
// them only for nodes that can no longer crash. CollectDead delivers each
// dead message once, under check, before it removes it, so a promise the
// code breaks in the state at hand stops the run there. VerifyDeadLetters
// keeps dead messages in flight instead and checks, whenever one is
// delivered, that the node kept its promise: the unreduced search, and
// random walks, audit the promises the reduced search relies on, later
// states included.

// DeadLetters is a node's promises about messages it will never act on
// (the simulator's side of paxos.DeadLetters).
type DeadLetters[M Message] interface {
	// Ignores: m from node from, delivered now or later, changes nothing
	// and sends nothing.
	Ignores(from NodeID, m M) bool
	// Refuses: m from node from, delivered now or later, changes nothing;
	// all it may do is answer from.
	Refuses(from NodeID, m M) bool
	// Abandoned: the node, which sent m to node to, ignores every answer
	// to it from now on.
	Abandoned(to NodeID, m M) bool
}

// How a message in flight is dead (flight.dead).
const (
	alive   uint8 = iota
	ignored       // its receiver ignores it
	refused       // its receiver refuses it, and its sender ignores the answer
)

// CollectDead makes an untimed world remove dead messages from the network
// after every node step, each delivered once under check first. Call it
// before Boot, in every world that must replay the same choices (the
// search's and the replay's).
func (w *World[M]) CollectDead() {
	if w.un == nil {
		panic("sim: CollectDead before Untimed")
	}
	w.un.collect, w.un.verify = true, false
}

// VerifyDeadLetters makes an untimed world mark dead messages instead of
// removing them, and check every delivery of a marked message: the node's
// state, timers and disk stay as they were, and it sends nothing (ignored)
// or only answers to the sender that the sender ignores (refused). A
// broken promise panics, naming the node and the message.
func (w *World[M]) VerifyDeadLetters() {
	if w.un == nil {
		panic("sim: VerifyDeadLetters before Untimed")
	}
	w.un.verify, w.un.collect = true, false
}

// settled reports whether node id is up and can no longer crash: its
// promises then hold for the rest of the run.
func (w *World[M]) settled(id NodeID) bool {
	u := w.un
	if !w.nodes[id].up {
		return false
	}
	return u.left.Crashes == 0 || (u.bounds.Crashable != 0 && u.bounds.Crashable&(1<<uint(id)) == 0)
}

// deadness tells how f is dead, if it is, taking node id to be n with
// hash nHash (the node it is now, or will be after a step the search
// predicts).
func (w *World[M]) deadness(f *flight[M], id NodeID, n Node[M], nHash uint64) uint8 {
	if f.to == f.from || !w.settled(f.to) {
		return alive
	}
	// Node x as the caller sees it: id is n.
	node := func(x NodeID) (Node[M], uint64) {
		if x == id {
			return n, nHash
		}
		return w.nodes[x].node, w.nodeHashNow(x)
	}
	to, toHash := node(f.to)
	how := w.un.claim(Mix64(toHash*0x9e3779b97f4a7c15^f.key), func() uint8 {
		d, ok := to.(DeadLetters[M])
		switch {
		case !ok:
			return alive
		case d.Ignores(f.from, f.msg):
			return ignored
		case d.Refuses(f.from, f.msg):
			return refused
		}
		return alive
	})
	if how != refused {
		return how
	}
	if !w.settled(f.from) {
		return alive
	}
	from, fromHash := node(f.from)
	return w.un.claim(Mix64(fromHash*0xc2b2ae3d27d4eb4f^f.key^0xabad0ed), func() uint8 {
		if a, ok := from.(DeadLetters[M]); ok && a.Abandoned(f.to, f.msg) {
			return refused
		}
		return alive
	})
}

// claimSlots is the size of the table that remembers nodes' promises by
// (node fingerprint, message): the search asks the same ones in many
// states, and asking costs interface conversions.
const claimSlots = 1 << 16

type claimSlot struct {
	key uint64
	how uint8
}

// claim is ask's answer for key, remembered.
func (u *untimed[M]) claim(key uint64, ask func() uint8) uint8 {
	if u.claims == nil {
		u.claims = make([]claimSlot, claimSlots)
	}
	key |= 1 // 0 marks an empty slot
	c := &u.claims[key&(claimSlots-1)]
	if c.key != key {
		c.key, c.how = key, ask()
	}
	return c.how
}

// collectDead removes (CollectDead) or marks (VerifyDeadLetters) the dead
// messages to or from node id, which has just stepped: only their
// deadness can have changed. A message removed is delivered first, under
// the check VerifyDeadLetters makes (through the memo, so it costs a
// lookup when the memo knows the step): a node that breaks its promise in
// the state at hand stops the run there, instead of the search silently
// losing what the message would have done.
func (w *World[M]) collectDead(id NodeID) {
	u := w.un
	if u.verify {
		n, nHash := w.nodes[id].node, w.nodeHashNow(id)
		for i := range u.flights {
			f := &u.flights[i]
			if (f.to == id || f.from == id) && f.dead == alive {
				f.dead = w.deadness(f, id, n, nHash)
			}
		}
		return
	}
	for {
		i, how := w.nextDead(id)
		if i < 0 {
			return
		}
		f := u.remove(i)
		f.dead = how
		w.fold(0xdead<<48 ^ f.key)
		if w.trace != nil {
			w.trace.line(w.now, "dead n"+strconv.Itoa(int(f.from))+"->n"+strconv.Itoa(int(f.to))+" "+f.msg.String()+
				", removed: "+[...]string{"", "the receiver ignores it", "the receiver refuses it and the sender ignores the answer"}[how])
		}
		var key uint64
		var remembered *memoEntry[M]
		if u.memoOn(w) {
			key = w.memoKey(f.to, Action{Key: f.key + uint64(ActDeliver)})
			remembered = u.lookup(key)
		}
		w.beginDeadCheck(f)
		w.receive(f, key, remembered)
		w.endDeadCheck()
	}
}

// nextDead is the first message to or from node id that is dead, and how.
func (w *World[M]) nextDead(id NodeID) (int, uint8) {
	u := w.un
	n, nHash := w.nodes[id].node, w.nodeHashNow(id)
	for i := range u.flights {
		f := &u.flights[i]
		if f.to == id || f.from == id {
			if how := w.deadness(f, id, n, nHash); how != alive {
				return i, how
			}
		}
	}
	return -1, alive
}

// deadAfter is the sum of the keys of the messages collectDead would
// remove after node id's remembered step e, which leaves the node with
// hash nHash: the flights to or from id but the one delivered (index skip),
// and e's sends.
func (w *World[M]) deadAfter(id NodeID, skip int, e *memoEntry[M], nHash uint64) uint64 {
	u := w.un
	n := e.stages[len(e.stages)-1].node
	var sum uint64
	for i := range u.flights {
		f := &u.flights[i]
		if i != skip && (f.to == id || f.from == id) && w.deadness(f, id, n, nHash) != alive {
			sum += f.key
		}
	}
	for i := range e.sends {
		if w.deadness(&e.sends[i], id, n, nHash) != alive {
			sum += e.sends[i].key
		}
	}
	return sum
}

// deadCheck is what a verified delivery of a dead message must leave
// unchanged.
type deadCheck[M Message] struct {
	f      flight[M]
	nodeFP uint64
	armed  uint8
	writes uint64
	syncs  uint64
	sends  []flight[M] // collected while the step runs (untimed.add)
}

// beginDeadCheck notes node state before a marked message f is delivered.
func (w *World[M]) beginDeadCheck(f flight[M]) {
	u := w.un
	s := &w.nodes[f.to]
	c := &u.check
	*c = deadCheck[M]{f: f, nodeFP: s.node.(Cloner[M]).Fingerprint(), armed: s.armed,
		writes: s.disk.Writes, syncs: s.disk.Syncs, sends: c.sends[:0]}
	u.checking = true
	u.checked++
}

// DeadLettersChecked is the number of deliveries of dead messages
// VerifyDeadLetters has checked.
func (w *World[M]) DeadLettersChecked() uint64 {
	if w.un == nil {
		return 0
	}
	return w.un.checked
}

// endDeadCheck panics if the delivery begun by beginDeadCheck broke the
// promise that made its message dead.
func (w *World[M]) endDeadCheck() {
	u := w.un
	u.checking = false
	c := &u.check
	f := c.f
	s := &w.nodes[f.to]
	promise := "to ignore"
	if f.dead == refused {
		promise = "to refuse"
	}
	broken := func(what string) {
		panic(fmt.Sprintf("dead-letter promise broken at node %d: it promised %s %v from node %d, but delivering it %s",
			f.to, promise, f.msg, f.from, what))
	}
	switch {
	case s.node.(Cloner[M]).Fingerprint() != c.nodeFP:
		broken("changed its state")
	case s.armed != c.armed:
		broken("changed its timers")
	case s.disk.Writes != c.writes || s.disk.Syncs != c.syncs:
		broken("wrote to its disk")
	}
	for i := range c.sends {
		a := &c.sends[i]
		if f.dead == ignored || a.to != f.from {
			broken("sent " + a.msg.String() + " to node " + strconv.Itoa(int(a.to)))
		}
		// The sender abandoned the message: it must ignore the answer.
		d, ok := w.nodes[a.to].node.(DeadLetters[M])
		if !ok || !d.Ignores(a.from, a.msg) {
			panic(fmt.Sprintf("dead-letter promise broken at node %d: it abandoned %v to node %d, but does not ignore the answer %v",
				a.to, f.msg, f.to, a.msg))
		}
	}
}
