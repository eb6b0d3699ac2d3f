package multipaxos

import (
	"github.com/synod-sim/synod/paxos"
)

// --- learner and catch-up ---

// learn records that cmd is decided in slot.
func (s *Server) learn(slot Slot, cmd Command, b paxos.Ballot) {
	e := s.entry(slot)
	if e.decided {
		if e.cmd != cmd {
			// Only a deliberate bug can decide two commands in one slot;
			// report it so the checker names the disagreement.
			if !s.cfg.Bugs.Has(paxos.SplitLog) {
				s.fail(slot, "decided %v, now told %v at %v", e.cmd, cmd, b)
			}
			e.cmd = cmd
			s.emit(Event{Kind: EvDecided, Slot: slot, Ballot: b, Cmd: cmd})
		}
		return
	}
	e.decided, e.cmd = true, cmd
	if !s.replaying {
		s.env.Storage().Append(decideRecord{S: slot, C: cmd})
	}
	s.emit(Event{Kind: EvDecided, Slot: slot, Ballot: b, Cmd: cmd})
}

// learnCommit takes a leader's word that every slot up to commit is decided:
// a slot this replica accepted at the leader's own ballot holds the command
// the leader decided (a leader proposes one command per slot per ballot). The
// rest it asks the leader for.
func (s *Server) learnCommit(from paxos.NodeID, b paxos.Ballot, commit Slot) {
	if commit <= s.commit {
		return
	}
	top := min(commit, s.top)
	for slot := s.commit + 1; slot <= top; slot++ {
		if e := s.peek(slot); !e.decided && e.accBallot == b {
			s.learn(slot, e.cmd, b)
		}
	}
	s.advance()
	if s.commit < commit && from != s.id {
		now := s.env.Now()
		if s.catchupAt == 0 || now-s.catchupAt >= paxos.Time(s.cfg.Retransmit) {
			s.catchupAt = now
			s.send(from, Msg{Type: MsgCatchupReq, Ballot: b, Slot: s.commit + 1})
		}
	}
}

func (s *Server) onCatchupReq(from paxos.NodeID, m Msg) {
	var entries []Entry
	for slot := max(m.Slot, 1); slot <= s.top && len(entries) < s.cfg.CatchupMax; slot++ {
		if e := s.peek(slot); e.decided {
			entries = append(entries, Entry{Slot: slot, Cmd: e.cmd, Decided: true})
		}
	}
	if len(entries) > 0 {
		s.send(from, Msg{Type: MsgCatchup, Ballot: m.Ballot, Slot: m.Slot, Commit: s.commit, Entries: entries})
	}
}

func (s *Server) onCatchup(m Msg) {
	for _, e := range m.Entries { // every one decided: handle checked
		s.learn(e.Slot, e.Cmd, m.Ballot)
	}
	s.catchupAt = 0
	s.advance()
}

// advance moves the commit index over the decided prefix and applies it.
func (s *Server) advance() {
	for s.commit < s.top {
		if e := s.peek(s.commit + 1); !e.decided && !e.skipped {
			break
		}
		s.commit++
	}
	for s.applied < s.commit {
		s.applied++
		s.apply(s.applied)
	}
	if s.role == leader && !s.IsMember() {
		// Removed: every slot of a configuration with this replica in it
		// is decided. It stops leading; the members elect one of their own.
		s.handOff()
		s.stepDown()
		s.leader = -1
	}
	if s.role == leader {
		s.pump()
	}
}

func (s *Server) apply(slot Slot) {
	e := s.peek(slot)
	cmd := e.cmd
	if !e.decided {
		if !e.skipped {
			s.fail(slot, "applying an undecided slot")
		}
		cmd = Noop
	}
	if s.svc.frozen.Load() { // shared with a copy: copy-on-write
		s.svc = s.svc.Clone()
	}
	var res Result
	var out Outcome
	if cmd.Op == OpReconfig {
		res, out = s.applyReconfig(slot, cmd)
	} else {
		res, out = s.svc.Apply(cmd)
	}
	s.emit(Event{Kind: EvApplied, Slot: slot, Cmd: cmd, Outcome: out, Result: res})
	if s.role == leader && (out == Executed || out == Duplicate) && cmd.Seq > 0 {
		s.reply(cmd, res)
	}
}

func (s *Server) reply(c Command, r Result) {
	s.send(paxos.NodeID(c.Client), Msg{Type: MsgReply, Cmd: Command{Op: c.Op, Key: c.Key, Client: c.Client, Seq: c.Seq}, Result: r})
}
