package checker

import (
	"fmt"
	"slices"

	"github.com/synod-sim/synod/paxos"
)

// SingleState is what the single-decree checker reads off one node after
// each of its steps.
type SingleState struct {
	Promised paxos.Ballot
	Decided  bool
	Decision paxos.Value
}

// SingleDecree checks the safety of single-decree Paxos after every step:
// agreement, validity, stability of each node's decision across restarts,
// and monotonic promises across restarts. It remembers each node's history
// outside the node, so a restart cannot make it forget.
type SingleDecree struct {
	proposed []paxos.Value
	nodes    []singleNode
	chosen   paxos.Value
	chosenBy paxos.NodeID
	decided  int // nodes that have decided at least once
}

type singleNode struct {
	everDecided bool
	decision    paxos.Value
	promised    paxos.Ballot
	up          bool
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
	n.promised = s.Promised
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
	if c.chosenBy >= 0 && c.chosen != s.Decision {
		return &Violation{Kind: "agreement", Time: now, Message: fmt.Sprintf(
			"node %d decided %d but node %d decided %d", id, s.Decision, c.chosenBy, c.chosen)}
	}
	if c.chosenBy < 0 {
		c.chosen, c.chosenBy = s.Decision, id
	}
	if !n.everDecided {
		n.everDecided, n.decision = true, s.Decision
		c.decided++
	}
	return nil
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
