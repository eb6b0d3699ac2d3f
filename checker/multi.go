package checker

import (
	"fmt"

	"github.com/synod-sim/synod/paxos"
)

// LogCommand is what a replicated log holds, as the log checker needs it:
// comparable, so replicas agree on a slot when their commands are ==, and
// naming the client request it carries (ok false for a no-op).
type LogCommand interface {
	comparable
	String() string
	Request() (client int, seq uint64, ok bool)
}

// MultiLog checks a replicated log after every step of every replica:
//
//   - agreement: no two replicas decide or apply different commands in one
//     slot, and a replica never changes its mind about a slot;
//   - prefix order: each replica applies slots 1, 2, 3... with no gap and no
//     repeat (with agreement, the applied logs are prefixes of each other);
//   - exactly-once: a client request (client, seq) is executed in at most
//     one slot, however many times it was proposed;
//   - fencing: the tokens a lock grants strictly increase in log order, on
//     every replica and across replicas.
//
// Replicas report events as they happen; each report is checked against what
// the checker remembers, outside the replicas, so a restart cannot make it
// forget. Every check is O(1) per event, apart from slice growth.
type MultiLog[C LogCommand] struct {
	slots    []slotRecord[C] // by slot-1
	replicas []replicaLog
	executed [][]uint64 // by client, then seq: the slot that executed it, 0 if none yet
	locks    []lockRecord
}

type slotRecord[C LogCommand] struct {
	cmd     C
	token   uint64 // a lock grant's token in this slot
	ballot  paxos.Ballot
	node    paxos.NodeID
	set     bool
	applied bool // the first report was an application, not a decision
}

type replicaLog struct {
	applied uint64   // the last slot applied since the replica started
	tokens  []uint64 // by lock: the last token granted, as this replica applied it
}

type lockRecord struct {
	slot  uint64 // the highest slot that granted the lock
	token uint64
}

// NewMultiLog checks a cluster of the given number of replicas.
func NewMultiLog[C LogCommand](replicas int) *MultiLog[C] {
	return &MultiLog[C]{replicas: make([]replicaLog, replicas), slots: make([]slotRecord[C], 0, 256)}
}

// Restarted forgets what a replica had applied: it was rebuilt and applies its
// log again from slot 1.
func (c *MultiLog[C]) Restarted(node paxos.NodeID) {
	r := &c.replicas[node]
	r.applied = 0
	clear(r.tokens)
}

// AppliedUpTo returns the last slot a replica applied since it started.
func (c *MultiLog[C]) AppliedUpTo(node paxos.NodeID) uint64 { return c.replicas[node].applied }

// Slots is the highest slot any replica decided or applied.
func (c *MultiLog[C]) Slots() uint64 { return uint64(len(c.slots)) }

func (c *MultiLog[C]) slot(s uint64) *slotRecord[C] {
	for uint64(len(c.slots)) < s {
		c.slots = append(c.slots, slotRecord[C]{})
	}
	return &c.slots[s-1]
}

// agree checks cmd against what slot s holds, or records it.
func (c *MultiLog[C]) agree(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, how string, at int64) *Violation {
	if s == 0 {
		return &Violation{Kind: "agreement", Time: at, Message: fmt.Sprintf("node %d %s %v in slot 0; slots start at 1", node, how, cmd)}
	}
	rec := c.slot(s)
	if !rec.set {
		*rec = slotRecord[C]{cmd: cmd, set: true, node: node, ballot: b, applied: how == "applied"}
		return nil
	}
	if rec.cmd == cmd {
		return nil
	}
	return &Violation{Kind: "agreement", Time: at, Message: fmt.Sprintf(
		"slot %d: node %d %s %v%s, but node %d %s %v%s",
		s, node, how, cmd, atBallot(b), rec.node, rec.how(), rec.cmd, atBallot(rec.ballot))}
}

func (r *slotRecord[C]) how() string {
	if r.applied {
		return "applied"
	}
	return "decided"
}

func atBallot(b paxos.Ballot) string {
	if b.IsZero() {
		return ""
	}
	return " at ballot " + b.String()
}

// Decided checks that node learned cmd in slot s at ballot b.
func (c *MultiLog[C]) Decided(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, at int64) *Violation {
	return c.agree(node, s, b, cmd, "decided", at)
}

// Applied checks that node applied cmd in slot s; executed says whether it
// executed the command (false for a no-op or a duplicate its session table
// filtered out).
func (c *MultiLog[C]) Applied(node paxos.NodeID, s uint64, cmd C, executed bool, at int64) *Violation {
	r := &c.replicas[node]
	if s != r.applied+1 {
		return &Violation{Kind: "log-order", Time: at, Message: fmt.Sprintf(
			"node %d applied slot %d (%v) right after slot %d: applied logs must grow one slot at a time", node, s, cmd, r.applied)}
	}
	r.applied = s
	if v := c.agree(node, s, paxos.Ballot{}, cmd, "applied", at); v != nil {
		return v
	}
	client, seq, ok := cmd.Request()
	if !executed || !ok {
		return nil
	}
	if client < 0 || client >= 1<<16 || seq == 0 || seq >= 1<<24 {
		return &Violation{Kind: "exactly-once", Time: at, Message: fmt.Sprintf("node %d slot %d: %v names client %d seq %d", node, s, cmd, client, seq)}
	}
	for len(c.executed) <= client {
		c.executed = append(c.executed, nil)
	}
	ex := c.executed[client]
	for uint64(len(ex)) <= seq {
		ex = append(ex, 0)
	}
	c.executed[client] = ex
	switch prev := ex[seq]; {
	case prev == 0:
		ex[seq] = s
	case prev != s:
		return &Violation{Kind: "exactly-once", Time: at, Message: fmt.Sprintf(
			"client %d seq %d executed twice: in slot %d and, by node %d, again in slot %d (%v)", client, seq, prev, node, s, cmd)}
	}
	return nil
}

// Granted checks that node, applying slot s, granted lock with token.
func (c *MultiLog[C]) Granted(node paxos.NodeID, s uint64, lock int, token uint64, at int64) *Violation {
	r := &c.replicas[node]
	for len(r.tokens) <= lock {
		r.tokens = append(r.tokens, 0)
	}
	if token <= r.tokens[lock] {
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"node %d slot %d granted lock %d with token %d after granting token %d: tokens must strictly increase", node, s, lock, token, r.tokens[lock])}
	}
	r.tokens[lock] = token
	rec := c.slot(s)
	if rec.token != 0 && rec.token != token {
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"slot %d granted lock %d with token %d on node %d, token %d elsewhere", s, lock, token, node, rec.token)}
	}
	rec.token = token
	for len(c.locks) <= lock {
		c.locks = append(c.locks, lockRecord{})
	}
	l := &c.locks[lock]
	switch {
	case s > l.slot && token <= l.token:
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"node %d slot %d granted lock %d with token %d, but slot %d granted it token %d already", node, s, lock, token, l.slot, l.token)}
	case s > l.slot:
		l.slot, l.token = s, token
	}
	return nil
}
