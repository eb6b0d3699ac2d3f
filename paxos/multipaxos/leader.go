package multipaxos

import (
	"math/bits"

	"github.com/synod-sim/synod/paxos"
)

// --- leader and election ---

// armElection arms the election timer for a randomized timeout, so that
// replicas do not campaign in step.
func (s *Server) armElection() {
	t := s.cfg.ElectionTimeout
	s.env.SetTimer(timerElection, t+paxos.Duration(s.env.Rand(uint64(t)+1)))
}

// heard notes that a leader or a candidate this replica promised is alive.
// The election timer is not re-armed on every message (that would queue a
// timer event per message); when it fires it looks at heardAt instead.
func (s *Server) heard() { s.heardAt, s.heard0 = s.env.Now(), true }

func (s *Server) onElectionTimer() {
	if s.role == leader {
		return
	}
	if !s.IsMember() {
		// A spare, a replica not caught up to the change that added it,
		// or one removed: it may not lead. It looks again later.
		s.seekCatchup()
		s.armElection()
		return
	}
	t := s.cfg.ElectionTimeout
	if quiet := paxos.Duration(s.env.Now() - s.heardAt); s.heard0 && quiet < t {
		s.env.SetTimer(timerElection, t-quiet+paxos.Duration(s.env.Rand(uint64(t)+1)))
		return
	}
	s.campaign()
}

func (s *Server) campaign() {
	s.stepDown()
	s.round = max(s.round, s.promised.Round) + 1
	// The round is durable before any message carries it, so a restarted
	// replica never reuses a ballot.
	s.persist(roundRecord{R: s.round})
	s.ballot = paxos.Ballot{Round: s.round, Node: s.id}
	s.role = candidate
	s.leader = -1
	s.heard0 = false
	s.armElection() // a campaign that stalls is retried with a higher ballot
	if s.cfg.Bugs.Has(paxos.SkipPhase1) {
		// Bug skip-phase1: "I have the log already" — lead at once, with
		// nothing but this replica's own acceptor for a quorum.
		s.p1From, s.p1Acks, s.p1 = s.commit+1, 0, s.p1[:0]
		s.promised = s.ballot
		s.persist(promiseRecord{B: s.ballot})
		for slot := s.p1From; slot <= s.top; slot++ {
			if e := s.peek(slot); !e.accBallot.IsZero() {
				s.mergePromise(Entry{Slot: slot, Ballot: e.accBallot, Cmd: e.cmd})
			}
		}
		s.becomeLeader()
		return
	}
	s.p1From, s.p1Acks = s.commit+1, 0
	clear(s.p1)
	s.p1 = s.p1[:0]
	// Every configuration that governs a slot from p1From on is asked:
	// phase 1 needs a majority of each (reconfig.go).
	s.p1Asked = s.reach(s.p1From)
	s.broadcast(s.p1Asked, Msg{Type: MsgPrepare, Ballot: s.ballot, Slot: s.p1From})
}

func (s *Server) onPromise(from paxos.NodeID, m Msg) {
	if s.role == leader && s.alpha > 0 && m.Ballot == s.ballot && s.p1Acks&(1<<uint(from)) == 0 {
		s.onLatePromise(from, m)
		return
	}
	if s.role != candidate || m.Ballot != s.ballot || s.p1Acks&(1<<uint(from)) != 0 {
		return
	}
	if m.Slot != s.p1From {
		s.fail(m.Slot, "promise from node %d for slots from %d, asked from %d", from, m.Slot, s.p1From)
	}
	s.p1Acks |= 1 << uint(from)
	for _, e := range m.Entries {
		if e.Decided {
			s.learn(e.Slot, e.Cmd, m.Ballot)
			continue
		}
		if s.ballot.Less(e.Ballot) {
			s.fail(e.Slot, "node %d reports an acceptance at %v", from, e.Ballot)
		}
		s.mergePromise(e)
	}
	if s.alpha == 0 && bits.OnesCount64(s.p1Acks) >= s.quorum ||
		s.alpha > 0 && s.phase1Covers(s.p1Acks, s.p1From, s.applied+s.alpha) {
		s.becomeLeader()
	}
}

// onLatePromise takes a promise a leader asked for when its window reached
// a configuration it had no majority of: what the member reports for slots
// the leader has not proposed yet joins phase 1's findings.
func (s *Server) onLatePromise(from paxos.NodeID, m Msg) {
	if m.Slot != s.p1From {
		s.fail(m.Slot, "promise from node %d for slots from %d, asked from %d", from, m.Slot, s.p1From)
	}
	s.p1Acks |= 1 << uint(from)
	for _, e := range m.Entries {
		switch {
		case e.Decided:
			s.learn(e.Slot, e.Cmd, m.Ballot)
		case s.ballot.Less(e.Ballot):
			s.fail(e.Slot, "node %d reports an acceptance at %v", from, e.Ballot)
		case e.Slot >= s.next:
			s.mergePromise(e)
			s.recoverTop = max(s.recoverTop, e.Slot)
		}
	}
	s.advance()
}

// mergePromise keeps, per slot, the command accepted at the highest ballot.
func (s *Server) mergePromise(e Entry) {
	if e.Slot < s.p1From {
		return
	}
	i := int(e.Slot - s.p1From)
	for len(s.p1) <= i {
		s.p1 = append(s.p1, Entry{})
	}
	if s.p1[i].Ballot.Less(e.Ballot) {
		s.p1[i] = e
	}
}

func (s *Server) onNack(m Msg) {
	if s.role == follower || m.Ballot != s.ballot || !s.ballot.Less(m.Promised) {
		return
	}
	s.round = max(s.round, m.Promised.Round)
	if s.role == leader && s.cfg.Lease.Duration > 0 {
		// A replica that campaigned while cut off outbids the leader. The
		// leader's lease grants hold the others back from that candidate,
		// so the leader campaigns again at once rather than leave the
		// cluster leaderless for a whole lease.
		s.campaign()
		return
	}
	s.stepDown()
}

func (s *Server) stepDown() {
	if s.role == leader {
		s.env.CancelTimer(timerHeartbeat)
		s.armElection()
	}
	s.role = follower
	s.leaseOK = false
	clear(s.queue)
	s.queue = s.queue[:0]
	s.p1Acks = 0
	clear(s.changes)
	s.changes = s.changes[:0]
	s.recoverTop = 0
}

// becomeLeader takes over after phase 1: every slot from the first this
// replica did not know decided up to the highest any promise reported is
// proposed again under the new ballot — with the command accepted at the
// highest ballot, or the one decided, or a no-op for a gap — before any new
// command. Nothing past a gap is applied until the gap is decided.
func (s *Server) becomeLeader() {
	s.role, s.leader = leader, s.id
	// This replica's own acceptor may not have promised (a lease it
	// granted held it back); a quorum of others did, so it takes the
	// ballot now.
	s.adopt(s.ballot)
	if s.promised != s.ballot {
		s.fail(0, "leading with %v while promised %v", s.ballot, s.promised)
	}
	top := s.commit
	for i := len(s.p1) - 1; i >= 0; i-- {
		if !s.p1[i].Ballot.IsZero() {
			top = max(top, s.p1From+Slot(i))
			break
		}
	}
	for slot := s.top; slot > top; slot-- {
		if s.peek(slot).decided {
			top = slot
			break
		}
	}
	s.emit(Event{Kind: EvLeader, Slot: top, Ballot: s.ballot})
	if s.alpha > 0 {
		s.p1Acks |= 1 << uint(s.id) // adopted above
		s.peerCommit = append(s.peerCommit[:0], make([]Slot, s.n)...)
	}
	s.next, s.recoverTop = s.p1From, top
	s.recover()
	s.readyAt = top
	s.leaseOK, s.hbNext = false, 0
	s.hb = [hbRing]hbRound{}
	s.env.CancelTimer(timerElection)
	s.tick(true) // announce the new leader at once
	s.advance()
}

// recover proposes again, as far as the window allows, the slots phase 1
// found (up to recoverTop): with the command accepted at the highest ballot,
// or the one decided, or a no-op for a gap. With reconfiguration off the
// window is unbounded and every one goes out at once.
func (s *Server) recover() {
	for s.next <= s.recoverTop && s.next <= s.edge() {
		slot := s.next
		e := s.entry(slot)
		var p Entry
		if i := int(slot - s.p1From); i < len(s.p1) {
			p = s.p1[i]
		}
		switch {
		case e.decided:
			s.propose(slot, e.cmd)
		case !p.Ballot.IsZero():
			s.propose(slot, p.Cmd)
		case s.cfg.Bugs.Has(paxos.NoGapFill):
			// Bug no-gap-fill: nobody reported a value, so "nothing
			// was chosen here" — execute past the hole and never
			// propose anything for it.
			e.skipped = true
		default:
			s.propose(slot, Noop)
		}
		s.next++
	}
}

// propose accepts slot's command in the leader's own acceptor, durably, and
// sends it to the other acceptors under the leader's ballot.
func (s *Server) propose(slot Slot, cmd Command) {
	e := s.entry(slot)
	switch {
	case e.accBallot == s.ballot && e.cmd != cmd:
		s.fail(slot, "proposing %v after %v in one ballot", cmd, e.cmd)
	case s.ballot.Less(e.accBallot):
		s.fail(slot, "proposing below an acceptance at %v", e.accBallot)
	case e.decided && e.cmd != cmd && !s.cfg.Bugs.Has(paxos.SplitLog):
		s.fail(slot, "proposing %v, but %v is decided", cmd, e.cmd)
	}
	if s.alpha > 0 {
		s.checkWindow(slot, cmd)
	}
	e.accBallot, e.acks, e.sentAt = s.ballot, 1<<uint(s.id), s.env.Now()
	if !e.decided {
		e.cmd = cmd
	}
	s.persist(acceptRecord{S: slot, B: s.ballot, C: cmd})
	s.lastSend, s.sentCommit = e.sentAt, s.commit
	m := Msg{Type: MsgAccept, Ballot: s.ballot, Slot: slot, Cmd: cmd, Commit: s.commit}
	to := s.acceptors(slot)
	for i := 0; i < s.n; i++ {
		if paxos.NodeID(i) != s.id && to&(1<<uint(i)) != 0 {
			s.env.Send(paxos.NodeID(i), m)
		}
	}
	if !e.decided && s.chosenBy(slot, e.acks) {
		s.learn(slot, cmd, s.ballot)
	}
	if s.cfg.Bugs.Has(paxos.NoRetransmit) {
		// As etcd raft's leader did: what a follower missed goes out again
		// with the next proposal, and only then.
		s.retransmit(slot, 0)
	}
}

func (s *Server) onAccepted(from paxos.NodeID, m Msg) {
	if s.role != leader || m.Ballot != s.ballot {
		return
	}
	if m.Slot > s.top {
		return
	}
	e := s.at(m.Slot)
	if e.accBallot != s.ballot {
		return
	}
	e.acks |= 1 << uint(from)
	if s.alpha > 0 && s.peerCommit[from] < m.Commit {
		// A member that caught up may now count where its acceptance did
		// not before.
		s.peerCommit[from] = m.Commit
		s.recount()
		return
	}
	if !e.decided && s.chosenBy(m.Slot, e.acks) {
		s.learn(m.Slot, e.cmd, s.ballot)
		s.advance()
	}
}

// pump moves queued client commands into free slots of the window.
func (s *Server) pump() {
	if s.alpha > 0 {
		s.pumpReconfig()
		return
	}
	k := 0
	for k < len(s.queue) && int(s.next) <= int(s.commit)+s.cfg.Window {
		s.propose(s.next, s.queue[k])
		s.next++
		k++
	}
	if k > 0 {
		n := copy(s.queue, s.queue[k:])
		clear(s.queue[n:])
		s.queue = s.queue[:n]
		if s.quorum <= 1 {
			// A quorum of one decided each slot as it was proposed: apply
			// them now, as an Accepted from a quorum would have.
			s.advance()
		}
	}
}

// tick is the leader's heartbeat: resend what has waited too long, tell the
// followers how far the log is decided, and (with leases) collect grants.
func (s *Server) tick(announce bool) {
	now := s.env.Now()
	if s.alpha > 0 && !announce {
		s.tickReconfig()
	}
	if !s.cfg.Bugs.Has(paxos.NoRetransmit) {
		s.retransmit(s.next, paxos.Time(s.cfg.Retransmit))
	}
	lease := s.cfg.Lease.Duration > 0
	if announce || lease || now-s.lastSend >= paxos.Time(s.cfg.Heartbeat) || s.sentCommit != s.commit {
		m := Msg{Type: MsgHeartbeat, Ballot: s.ballot, Commit: s.commit}
		to := s.reach(s.applied + 1) // joining replicas learn the log from the heartbeats
		if lease {
			m.Stamp = s.env.LocalNow()
			s.hb[s.hbNext] = hbRound{stamp: m.Stamp, acks: 1 << uint(s.id)}
			s.hbNext = (s.hbNext + 1) % hbRing
			s.grant(s.ballot)
			s.leaseGranted(m.Stamp, 1<<uint(s.id))
		}
		for i := 0; i < s.n; i++ {
			if paxos.NodeID(i) != s.id && to&(1<<uint(i)) != 0 {
				s.env.Send(paxos.NodeID(i), m)
			}
		}
		s.lastSend, s.sentCommit = now, s.commit
	}
	s.env.SetTimer(timerHeartbeat, s.cfg.Heartbeat)
}

// retransmit sends again the Accepts of undecided slots below end that were
// last sent at least age ago, to the acceptors that have not answered.
func (s *Server) retransmit(end Slot, age paxos.Time) {
	now := s.env.Now()
	for slot := s.commit + 1; slot < end; slot++ {
		e := s.peek(slot)
		if e.decided || e.accBallot != s.ballot || now-e.sentAt < age {
			continue
		}
		e = s.at(slot) // the page may be shared with a copy: own it before writing
		e.sentAt = now
		m := Msg{Type: MsgAccept, Ballot: s.ballot, Slot: slot, Cmd: e.cmd, Commit: s.commit}
		to := s.acceptors(slot) &^ (e.acks & s.voters(slot)) // a member not yet counted is asked again
		for i := 0; i < s.n; i++ {
			if to&(1<<uint(i)) != 0 {
				s.send(paxos.NodeID(i), m)
			}
		}
	}
}
