package multipaxos

import (
	"github.com/synod-sim/synod/paxos"
)

// --- client requests ---

func (s *Server) onRequest(from paxos.NodeID, c Command) {
	if s.role != leader {
		if s.leader >= 0 && s.leader != s.id {
			s.send(from, Msg{Type: MsgRedirect, Leader: s.leader, Cmd: Command{Client: c.Client, Seq: c.Seq}})
		}
		return
	}
	if s.svc.sess != nil {
		// Sessions (session.go): every request is a look at their leases.
		if c.Op == OpKeepAlive && s.cfg.Bugs.Has(paxos.KeepaliveNotReplicated) {
			s.keepAliveLocal(c)
			return
		}
		s.checkSessions()
	}
	if c.Op == OpGet {
		local := s.cfg.Lease.Duration > 0 && s.leaseValid()
		if s.cfg.Bugs.Has(paxos.StaleLeaderRead) {
			// Bug stale-leader-read: "I am the leader, my state is the
			// latest" — even when a newer leader has taken over.
			local = true
		}
		if local {
			r := Result{OK: true, Value: s.svc.Get(c.Key)}
			s.emit(Event{Kind: EvLeaseRead, Slot: s.applied, Ballot: s.ballot, Cmd: c, Result: r})
			s.reply(c, r)
			return
		}
	}
	if !s.cfg.Bugs.Has(paxos.NoDedup) {
		switch last, r := s.svc.LastSeq(c.Client); {
		case c.Seq == last:
			s.reply(c, r) // applied already: the reply was lost
			return
		case c.Seq < last:
			return // the client has moved on
		}
	}
	if s.pending(c) {
		return // its reply comes when it is applied
	}
	if c.Op == OpReconfig && s.alpha > 0 {
		// A membership change waits for the one in flight (reconfig.go).
		if len(s.changes) >= maxChanges {
			return // the client retries
		}
		c.Conf = Conf{} // the leader computes it
		s.changes = append(s.changes, c)
		s.pump()
		return
	}
	if len(s.queue) >= s.cfg.MaxQueue {
		return // the client retries
	}
	s.queue = append(s.queue, c)
	s.pump()
}

// pending reports whether the leader has c in flight or queued already.
func (s *Server) pending(c Command) bool {
	for slot := s.applied + 1; slot < s.next; slot++ {
		if e := s.peek(slot); e.accBallot == s.ballot && e.cmd.Client == c.Client && e.cmd.Seq == c.Seq {
			return true
		}
	}
	for i := range s.queue {
		if s.queue[i].Client == c.Client && s.queue[i].Seq == c.Seq {
			return true
		}
	}
	for i := range s.changes {
		if s.changes[i].Client == c.Client && s.changes[i].Seq == c.Seq {
			return true
		}
	}
	return false
}
