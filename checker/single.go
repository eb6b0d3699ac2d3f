package checker

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/synod-sim/synod/paxos"
)

// SingleState is what the single-decree checker reads off one node after
// each of its steps.
type SingleState struct {
	Promised  paxos.Ballot
	AccBallot paxos.Ballot // zero if nothing accepted
	AccValue  paxos.Value
	Decided   bool
	Decision  paxos.Value
}

// SingleDecree checks the safety of single-decree Paxos after every step:
// agreement, validity, stability of each node's decision across restarts,
// monotonic promises across restarts, and, from the acceptors' own state
// rather than any learner's word, that at most one value is ever chosen and
// that every ballot above a chosen one proposes the chosen value (Paxos's
// P2b). It remembers each node's history
// outside the node, so a restart cannot make it forget.
type SingleDecree struct {
	proposed []paxos.Value
	nodes    []singleNode
	chosen   paxos.Value
	chosenBy paxos.NodeID
	decided  int // nodes that have decided at least once

	// Ground truth from acceptors: who ever accepted what at which ballot.
	acceptances []acceptance
	chosenAt    paxos.Ballot // lowest ballot at which a value was chosen
	chosenVal   paxos.Value

	// A clone's tables belong to the checker it came from until it first
	// changes them.
	nodesShared, accShared bool
}

type acceptance struct {
	ballot paxos.Ballot
	value  paxos.Value
	by     uint64
}

type singleNode struct {
	everDecided bool
	decision    paxos.Value
	promised    paxos.Ballot
}

// NewSingleDecree checks a cluster of n nodes where proposed lists every
// value any proposer may propose.
func NewSingleDecree(n int, proposed []paxos.Value) *SingleDecree {
	return &SingleDecree{proposed: slices.Clone(proposed), nodes: make([]singleNode, n), chosenBy: -1}
}

// Observe checks one node's state after it stepped at time now.
func (c *SingleDecree) Observe(id paxos.NodeID, now int64, s SingleState) *Violation {
	n := &c.nodes[id]
	if s.Promised.Less(n.promised) {
		return &Violation{Kind: "promise-monotonicity", Time: now, Message: fmt.Sprintf(
			"node %d promised ballot %v, now reports %v: a promise was forgotten (across a restart?)", id, n.promised, s.Promised)}
	}
	if n.promised != s.Promised {
		n = c.node(id)
		n.promised = s.Promised
	}
	if s.Promised.Less(s.AccBallot) {
		return &Violation{Kind: "acceptor", Time: now, Message: fmt.Sprintf(
			"node %d accepted ballot %v above its promise %v", id, s.AccBallot, s.Promised)}
	}
	if !s.AccBallot.IsZero() {
		if v := c.accepted(id, now, s.AccBallot, s.AccValue); v != nil {
			return v
		}
	}
	if !s.Decided {
		return nil
	}
	if !slices.Contains(c.proposed, s.Decision) {
		return &Violation{Kind: "validity", Time: now, Message: fmt.Sprintf(
			"node %d decided %d, which no proposer proposed (proposed: %v)", id, s.Decision, c.proposed)}
	}
	if n.everDecided && n.decision != s.Decision {
		return &Violation{Kind: "stability", Time: now, Message: fmt.Sprintf(
			"node %d decided %d, earlier it decided %d", id, s.Decision, n.decision)}
	}
	if c.chosenAt.IsZero() || c.chosenVal != s.Decision {
		// Decided means chosen: asked of the acceptors' own history, not of
		// what other learners say.
		return &Violation{Kind: "unchosen-decision", Time: now, Message: fmt.Sprintf(
			"node %d decided %d, but no majority of acceptors ever accepted %d at one ballot%s", id, s.Decision, s.Decision, c.chosenNote())}
	}
	if c.chosenBy >= 0 && c.chosen != s.Decision {
		return &Violation{Kind: "agreement", Time: now, Message: fmt.Sprintf(
			"node %d decided %d but node %d decided %d", id, s.Decision, c.chosenBy, c.chosen)}
	}
	if c.chosenBy < 0 {
		c.chosen, c.chosenBy = s.Decision, id
	}
	if !n.everDecided {
		n = c.node(id)
		n.everDecided, n.decision = true, s.Decision
		c.decided++
	}
	return nil
}

// node returns node id's record, ready to change: a clone shares its
// tables with the checker it came from until it first changes them.
func (c *SingleDecree) node(id paxos.NodeID) *singleNode {
	if c.nodesShared {
		c.nodes, c.nodesShared = slices.Clone(c.nodes), false
	}
	return &c.nodes[id]
}

func (c *SingleDecree) chosenNote() string {
	if c.chosenAt.IsZero() {
		return " (nothing is chosen yet)"
	}
	return fmt.Sprintf(" (%d is chosen, at ballot %v)", c.chosenVal, c.chosenAt)
}

// HasDecided reports whether node id has ever decided.
func (c *SingleDecree) HasDecided(id paxos.NodeID) bool { return c.nodes[id].everDecided }

// Knows reports whether Observe would find nothing new in s: no violation
// and nothing to remember. The exhaustive search, which shares one checker
// among many states, copies it only when Knows is false.
func (c *SingleDecree) Knows(id paxos.NodeID, s SingleState) bool {
	n := &c.nodes[id]
	if n.promised != s.Promised || s.Promised.Less(s.AccBallot) || s.Decided != n.everDecided || (s.Decided && s.Decision != n.decision) {
		return false
	}
	if s.AccBallot.IsZero() {
		return true
	}
	for _, a := range c.acceptances {
		if a.ballot == s.AccBallot && a.value == s.AccValue {
			return a.by&(1<<uint(id)) != 0
		}
	}
	return false
}

// accepted records that node id has accepted (b, v) and checks the chosen
// value against it.
func (c *SingleDecree) accepted(id paxos.NodeID, now int64, b paxos.Ballot, v paxos.Value) *Violation {
	i := slices.IndexFunc(c.acceptances, func(a acceptance) bool { return a.ballot == b && a.value == v })
	if i < 0 {
		for _, a := range c.acceptances {
			if a.ballot == b && a.value != v {
				return &Violation{Kind: "ballot-uniqueness", Time: now, Message: fmt.Sprintf(
					"node %d accepted %d at ballot %v, but another acceptor accepted %d at the same ballot", id, v, b, a.value)}
			}
		}
		if c.accShared {
			c.acceptances, c.accShared = slices.Clip(c.acceptances), false // the append copies
		}
		c.acceptances = append(c.acceptances, acceptance{ballot: b, value: v})
		i = len(c.acceptances) - 1
	}
	if bit := uint64(1) << uint(id); c.acceptances[i].by&bit == 0 {
		if c.accShared {
			c.acceptances, c.accShared = slices.Clone(c.acceptances), false
		}
		c.acceptances[i].by |= bit
	}
	a := &c.acceptances[i] // read only from here: it may be shared
	if !c.chosenAt.IsZero() && c.chosenAt.Less(b) && v != c.chosenVal {
		return &Violation{Kind: "chosen-value", Time: now, Message: fmt.Sprintf(
			"node %d accepted %d at ballot %v, but %d was already chosen at ballot %v", id, v, b, c.chosenVal, c.chosenAt)}
	}
	if bits.OnesCount64(a.by) < paxos.Majority(len(c.nodes)) {
		return nil
	}
	if !c.chosenAt.IsZero() && c.chosenVal != v {
		return &Violation{Kind: "chosen-value", Time: now, Message: fmt.Sprintf(
			"%d is chosen at ballot %v (a majority accepted it), but %d was chosen at ballot %v", v, b, c.chosenVal, c.chosenAt)}
	}
	if c.chosenAt.IsZero() || b.Less(c.chosenAt) {
		// P2b, asked of every acceptance already made: the order in which
		// two nodes' steps are observed must not decide whether a violation
		// is seen (the exhaustive search explores one order of independent
		// steps).
		for _, o := range c.acceptances {
			if b.Less(o.ballot) && o.value != v {
				return &Violation{Kind: "chosen-value", Time: now, Message: fmt.Sprintf(
					"%d is chosen at ballot %v, but %d was accepted at the higher ballot %v", v, b, o.value, o.ballot)}
			}
		}
		c.chosenAt, c.chosenVal = b, v
	}
	return nil
}

// Clone returns an independent copy of the checker, history included: the
// exhaustive search carries one per state.
func (c *SingleDecree) Clone() *SingleDecree {
	// Both sides share the tables now: whichever writes first copies.
	c.Freeze()
	d := *c
	return &d
}

// Freeze marks the checker's tables shared, so that it copies them before
// any change. The search freezes a checker when a saved state takes it:
// from then on workers may clone it at once, and Clone writes nothing.
func (c *SingleDecree) Freeze() {
	if !c.nodesShared || !c.accShared {
		c.nodesShared, c.accShared = true, true
	}
}

// CopyInto makes dst an independent copy of c in dst's own memory, which it
// reuses: the exhaustive search asks a scratch copy what c would become
// after a step it has not run.
func (c *SingleDecree) CopyInto(dst *SingleDecree) *SingleDecree {
	nodes, acc := dst.nodes, dst.acceptances
	*dst = *c
	dst.nodes = append(nodes[:0], c.nodes...)
	dst.acceptances = append(acc[:0], c.acceptances...)
	dst.nodesShared, dst.accShared = false, false
	return dst
}

// Fingerprint hashes everything the checker remembers that can change a
// later verdict. Which node decided first only names a node in a message,
// so it is left out, letting the search merge states that differ in it.
func (c *SingleDecree) Fingerprint() uint64 {
	h := paxos.Mix64(uint64(c.chosen) ^ uint64(c.decided)<<40 ^ 0xc4ec)
	if c.chosenBy >= 0 {
		h = paxos.Mix64(h ^ 1)
	}
	h = paxos.Mix64(h ^ uint64(c.chosenAt.Round)<<32 ^ uint64(uint32(c.chosenAt.Node)) ^ uint64(c.chosenVal)<<48)
	for _, n := range c.nodes {
		x := uint64(n.decision)<<1 ^ uint64(n.promised.Round)<<32 ^ uint64(uint32(n.promised.Node))<<16
		if n.everDecided {
			x ^= 1
		}
		h = paxos.Mix64(h ^ x)
	}
	var sum uint64 // acceptances are a set: hash them in any order
	for _, a := range c.acceptances {
		sum += paxos.Mix64(paxos.Mix64(paxos.Mix64(uint64(a.ballot.Round)<<32^uint64(uint32(a.ballot.Node)))^uint64(a.value)) ^ a.by)
	}
	return paxos.Mix64(h + sum)
}

// AllDecided reports whether every node has decided at least once.
func (c *SingleDecree) AllDecided() bool { return c.decided == len(c.nodes) }

// Undecided lists the nodes that never decided, for liveness reports.
func (c *SingleDecree) Undecided() []paxos.NodeID {
	var out []paxos.NodeID
	for i, n := range c.nodes {
		if !n.everDecided {
			out = append(out, paxos.NodeID(i))
		}
	}
	return out
}
