package multipaxos

import (
	"strconv"

	"github.com/synod-sim/synod/paxos"
)

// --- acceptor ---

// Durable records. An acceptor syncs its promise or acceptance before it
// answers; decisions are written without a sync (a replica that loses them
// learns them again from its peers).
type (
	promiseRecord struct{ B paxos.Ballot }
	roundRecord   struct{ R uint32 }
	acceptRecord  struct {
		S Slot
		B paxos.Ballot
		C Command
	}
	decideRecord struct {
		S Slot
		C Command
	}
)

// String methods name the records in traces' sync lines.
func (r promiseRecord) String() string { return "promise b=" + r.B.String() }
func (r roundRecord) String() string   { return "round " + strconv.FormatUint(uint64(r.R), 10) }
func (r acceptRecord) String() string {
	return "accept s=" + strconv.FormatUint(uint64(r.S), 10) + " b=" + r.B.String() + " " + r.C.String()
}
func (r decideRecord) String() string {
	return "decide s=" + strconv.FormatUint(uint64(r.S), 10) + " " + r.C.String()
}

// Acceptance decodes a durable record: ok when rec says an acceptor
// accepted cmd in slot at ballot b. Checkers read acceptors' disks through
// it, so that "chosen" is judged by what acceptors hold, not by what any
// replica reports.
func Acceptance(rec any) (slot Slot, b paxos.Ballot, cmd Command, ok bool) {
	r, ok := rec.(acceptRecord)
	return r.S, r.B, r.C, ok
}

// adopt raises the promise to b, durably, and steps down from any lower
// ballot this replica campaigns or leads with.
func (s *Server) adopt(b paxos.Ballot) {
	if s.promised.Less(b) {
		s.promised = b
		s.persist(promiseRecord{B: b})
	}
	s.round = max(s.round, b.Round)
	if s.role != follower && s.ballot.Less(b) {
		s.stepDown()
	}
}

func (s *Server) onPrepare(from paxos.NodeID, m Msg) {
	if s.leaseBlocks(m.Ballot) {
		return // the candidate retries after its election timeout
	}
	if m.Ballot.Less(s.promised) {
		s.send(from, Msg{Type: MsgNack, Ballot: m.Ballot, Promised: s.promised})
		return
	}
	s.adopt(m.Ballot)
	if from != s.id {
		s.heard() // give the candidate time to win
	}
	var entries []Entry
	for slot := max(m.Slot, 1); slot <= s.top; slot++ {
		e := s.peek(slot)
		switch {
		case e.decided:
			entries = append(entries, Entry{Slot: slot, Ballot: e.accBallot, Cmd: e.cmd, Decided: true})
		case !e.accBallot.IsZero():
			if m.Ballot.Less(e.accBallot) {
				s.fail(slot, "promising %v with an acceptance at %v", m.Ballot, e.accBallot)
			}
			entries = append(entries, Entry{Slot: slot, Ballot: e.accBallot, Cmd: e.cmd})
		}
	}
	s.send(from, Msg{Type: MsgPromise, Ballot: m.Ballot, Slot: m.Slot, Commit: s.commit, Entries: entries})
}

// admit refuses a leader's message below this replica's promise with a
// nack, and otherwise adopts the ballot and follows its leader: the common
// prologue of everything a leader sends in phase 2.
func (s *Server) admit(from paxos.NodeID, b paxos.Ballot) bool {
	if b.Less(s.promised) {
		s.send(from, Msg{Type: MsgNack, Ballot: b, Promised: s.promised})
		return false
	}
	s.adopt(b)
	s.follow(b)
	return true
}

func (s *Server) onAccept(from paxos.NodeID, m Msg) {
	if !s.admit(from, m.Ballot) {
		return
	}
	e := s.entry(m.Slot)
	if m.Ballot.Less(e.accBallot) {
		s.fail(m.Slot, "accepting at %v after accepting at %v", m.Ballot, e.accBallot)
	}
	if e.decided && e.cmd != m.Cmd && !s.cfg.Bugs.Has(paxos.SplitLog) {
		s.fail(m.Slot, "leader %v proposes %v, but %v is decided", m.Ballot, m.Cmd, e.cmd)
	}
	if e.accBallot == m.Ballot && !e.decided && e.cmd != m.Cmd && !s.cfg.Bugs.Has(paxos.SplitLog) {
		s.fail(m.Slot, "ballot %v proposes %v after %v", m.Ballot, m.Cmd, e.cmd)
	}
	// A retransmission or a duplicate of an acceptance already on disk
	// needs no second record.
	if e.accBallot != m.Ballot {
		e.accBallot = m.Ballot
		if !e.decided {
			e.cmd = m.Cmd
		}
		s.persist(acceptRecord{S: m.Slot, B: m.Ballot, C: m.Cmd})
	}
	ack := Msg{Type: MsgAccepted, Ballot: m.Ballot, Slot: m.Slot}
	if s.alpha > 0 {
		ack.Commit = s.commit // how far it has caught up: a joining member counts once it has (reconfig.go)
	}
	s.send(from, ack)
	s.learnCommit(from, m.Ballot, m.Commit)
}

func (s *Server) onHeartbeat(from paxos.NodeID, m Msg) {
	if !s.admit(from, m.Ballot) {
		return
	}
	if s.cfg.Lease.Duration > 0 {
		s.grant(m.Ballot)
		s.send(from, Msg{Type: MsgHeartbeatAck, Ballot: m.Ballot, Stamp: m.Stamp})
	}
	s.learnCommit(from, m.Ballot, m.Commit)
}

// follow records that b's owner leads: hold off campaigning.
func (s *Server) follow(b paxos.Ballot) {
	if b.Node == s.id {
		return
	}
	s.leader = b.Node
	s.heard()
}
