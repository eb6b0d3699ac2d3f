package checker

import (
	"fmt"
	"math/bits"

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
//     every replica and across replicas;
//   - decided means chosen, from the acceptors' disks (Accepted): a replica
//     decides or applies a command in a slot only once a majority of
//     acceptors durably accepted it there at one ballot; at most one command
//     is ever chosen in a slot; every acceptance at a ballot above a chosen
//     one carries the chosen command (Paxos's P2b); and one ballot carries
//     one command per slot.
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

	// Ground truth from acceptors' disks: who accepted what at which
	// ballot, and the lowest ballot at which a majority accepted one
	// command.
	votes     []slotVote[C]
	chosen    bool
	chosenAt  paxos.Ballot
	chosenCmd C
}

type slotVote[C LogCommand] struct {
	ballot paxos.Ballot
	cmd    C
	by     uint64 // acceptors, a bit each
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

// Slots is the highest slot any replica decided or applied, or any
// acceptor accepted.
func (c *MultiLog[C]) Slots() uint64 { return uint64(len(c.slots)) }

// Known reports whether some replica has decided or applied slot s.
func (c *MultiLog[C]) Known(s uint64) bool {
	return s >= 1 && s <= uint64(len(c.slots)) && c.slots[s-1].set
}

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
		rec.cmd, rec.set, rec.node, rec.ballot, rec.applied = cmd, true, node, b, how == "applied"
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
	if v := c.agree(node, s, b, cmd, "decided", at); v != nil {
		return v
	}
	return c.isChosen(node, s, cmd, "decided", at)
}

// majority is the quorum the acceptors' votes are judged by: more than half
// of the replicas, whatever quorum the protocol believes in.
func (c *MultiLog[C]) majority() int { return len(c.replicas)/2 + 1 }

// isChosen checks that cmd is the command a majority of acceptors accepted
// in slot s at one ballot.
func (c *MultiLog[C]) isChosen(node paxos.NodeID, s uint64, cmd C, how string, at int64) *Violation {
	rec := c.slot(s)
	if rec.chosen && rec.chosenCmd == cmd {
		return nil
	}
	return &Violation{Kind: "unchosen-decision", Time: at, Message: fmt.Sprintf(
		"node %d %s %v in slot %d, but no majority (%d of %d) of acceptors durably accepted it at one ballot: %s",
		node, how, cmd, s, c.majority(), len(c.replicas), rec.describeVotes())}
}

func (r *slotRecord[C]) describeVotes() string {
	if len(r.votes) == 0 {
		return "no acceptor accepted anything in that slot"
	}
	var b []byte
	for i, v := range r.votes {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = fmt.Appendf(b, "%v at ballot %v by acceptors %s", v.cmd, v.ballot, nodeSet(v.by))
	}
	if r.chosen {
		b = fmt.Appendf(b, " (chosen: %v at ballot %v)", r.chosenCmd, r.chosenAt)
	}
	return string(b)
}

// chosenBy is the acceptors that accepted the chosen command at the
// ballot it was chosen at.
func (r *slotRecord[C]) chosenBy() uint64 {
	for _, v := range r.votes {
		if v.ballot == r.chosenAt && v.cmd == r.chosenCmd {
			return v.by
		}
	}
	return 0
}

func nodeSet(set uint64) string {
	var b []byte
	for i := 0; set != 0; i++ {
		if set&1 != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, "n%d", i)
		}
		set >>= 1
	}
	return "{" + string(b) + "}"
}

// Accepted records that acceptor node durably accepted cmd in slot s at
// ballot b: read off its disk, not reported by it. It checks that a ballot
// carries one command per slot, that an acceptance above a chosen ballot
// carries the chosen command, and that no second command is chosen.
func (c *MultiLog[C]) Accepted(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, at int64) *Violation {
	if s == 0 || node < 0 || int(node) >= len(c.replicas) || int(node) >= 64 {
		return &Violation{Kind: "acceptor", Time: at, Message: fmt.Sprintf("node %d accepted %v in slot %d: no such acceptor or slot", node, cmd, s)}
	}
	rec := c.slot(s)
	if rec.chosen && rec.chosenAt.Less(b) && rec.chosenCmd != cmd {
		return &Violation{Kind: "accepted-above-chosen", Time: at, Message: fmt.Sprintf(
			"slot %d: acceptor n%d accepted %v at ballot %v, above ballot %v where %v was chosen by acceptors %s: every ballot above a chosen one must carry the chosen command (P2b)",
			s, node, cmd, b, rec.chosenAt, rec.chosenCmd, nodeSet(rec.chosenBy()))}
	}
	var vote *slotVote[C]
	for i := range rec.votes {
		v := &rec.votes[i]
		if v.ballot != b {
			continue
		}
		if v.cmd != cmd {
			return &Violation{Kind: "one-value-per-ballot", Time: at, Message: fmt.Sprintf(
				"slot %d: acceptor %d accepted %v at ballot %v, where acceptors %s accepted %v: a ballot proposes one command per slot",
				s, node, cmd, b, nodeSet(v.by), v.cmd)}
		}
		vote = v
	}
	if vote == nil {
		rec.votes = append(rec.votes, slotVote[C]{ballot: b, cmd: cmd})
		vote = &rec.votes[len(rec.votes)-1]
	}
	vote.by |= 1 << uint(node)
	if bits.OnesCount64(vote.by) < c.majority() {
		return nil
	}
	switch {
	case !rec.chosen:
		rec.chosen, rec.chosenAt, rec.chosenCmd = true, b, cmd
	case rec.chosenCmd != cmd:
		return &Violation{Kind: "chosen-twice", Time: at, Message: fmt.Sprintf(
			"slot %d: %v is chosen at ballot %v (acceptors %s), but %v was chosen at ballot %v (acceptors %s)",
			s, cmd, b, nodeSet(vote.by), rec.chosenCmd, rec.chosenAt, nodeSet(rec.chosenBy()))}
	case b.Less(rec.chosenAt):
		rec.chosenAt = b
	}
	return nil
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
	if v := c.isChosen(node, s, cmd, "applied", at); v != nil {
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
