package multipaxos

import (
	"slices"

	"github.com/synod-sim/synod/paxos"
)

// Copies and fingerprints for the exhaustive search (scenario multi/check):
// the search steps a copy of a node and keeps the original, and merges two
// states whose fingerprints are equal. A field Fingerprint leaves out lets
// the search merge states that behave differently, and a field Clone shares
// lets a step of the copy change the original: clone_test.go checks both.

// Clone returns an independent copy of the replica bound to env: stepping
// the copy never changes the original, nor the original the copy.
func (s *Server) Clone(env paxos.Env[Msg]) *Server { return s.CloneInto(env, nil) }

// CloneInto is Clone into into, an earlier copy of a replica that nothing
// refers to any more (nil: allocate one): its struct and slices are reused.
//
// The log pages and the services are not copied but shared, copy-on-write:
// CloneInto freezes them, and whichever replica writes to a frozen page or
// frozen services first takes a private copy (Server.at, Server.apply).
// Most steps of a replica touch no page, or one, so a copy costs a struct
// and a few slice headers. into's own pages are dropped, not reused: a page
// it does not own may be shared with saved states.
func (s *Server) CloneInto(env paxos.Env[Msg], into *Server) *Server {
	for _, p := range s.pages {
		if !p.frozen.Load() {
			p.frozen.Store(true)
		}
	}
	if !s.svc.frozen.Load() {
		s.svc.frozen.Store(true)
	}
	if into == nil || into == s {
		into = new(Server)
	}
	pages, p1, queue, self, events := into.pages, into.p1, into.queue, into.self, into.events
	spans, changes, peerCommit := into.spans, into.changes, into.peerCommit
	*into = *s
	into.spans = append(spans[:0], s.spans...)
	clear(changes)
	into.changes = append(changes[:0], s.changes...)
	into.peerCommit = append(peerCommit[:0], s.peerCommit...)
	into.env = env
	clear(pages)
	into.pages = append(pages[:0], s.pages...)
	into.p1 = append(p1[:0], s.p1...)
	into.queue = append(queue[:0], s.queue...)
	clear(self)
	into.self = append(self[:0], s.self...)
	clear(events)
	into.events = append(events[:0], s.events...)
	return into
}

// Fingerprint hashes every field of the replica that can change what it
// does next. The configuration and the id are fixed for the life of a node
// and left out; so are events and self, which are empty between steps (an
// observer takes the events after every step). Fields that only one role
// reads are hashed only while the replica has that role, since every way
// into the role sets them afresh: so a leader that heard a late promise, or
// an acceptance after the slot was decided, is the state it was before.
//
//   - candidate only: the phase 1 tally (p1From, p1Acks, p1), reset by
//     campaign and read only by onPromise and becomeLeader;
//   - leader only: the proposer's window and timing (next, readyAt, queue,
//     lastSend, sentCommit, the lease heartbeats), set by becomeLeader and
//     cleared by stepDown, and a slot's acks and sentAt, which count only
//     for an undecided slot accepted at the ballot the replica leads with;
//   - candidate or leader: the ballot (a follower never reads it; campaign
//     picks a new one).
func (s *Server) Fingerprint() uint64 {
	h := paxos.Mix64(hashBallot(s.promised) ^ 0x3c)
	h = paxos.Mix64(h ^ uint64(s.round)<<32 ^ uint64(s.top))
	for slot := Slot(1); slot <= s.top; slot++ {
		e := s.peek(slot)
		if *e == (entry{}) {
			continue
		}
		h = paxos.Mix64(h ^ uint64(slot)<<40 ^ hashBallot(e.accBallot))
		h = e.cmd.hash(h)
		var acks, sentAt uint64
		if s.role == leader && e.accBallot == s.ballot && !e.decided {
			acks, sentAt = e.acks, uint64(e.sentAt)
		}
		h = paxos.Mix64(h ^ acks ^ sentAt<<1 ^ b2u(e.decided)<<62 ^ b2u(e.skipped)<<63)
	}
	h = paxos.Mix64(h ^ uint64(s.commit)<<32 ^ uint64(s.applied))
	h = s.svc.hash(h)
	h = paxos.Mix64(h ^ uint64(s.role)<<56 ^ uint64(uint32(s.leader)))
	if s.role != follower {
		h = paxos.Mix64(h ^ hashBallot(s.ballot))
	}
	if s.role == candidate {
		h = paxos.Mix64(h ^ uint64(s.p1From)<<32 ^ s.p1Acks)
		for i := range s.p1 {
			h = s.p1[i].hash(h)
		}
		h = paxos.Mix64(h ^ uint64(len(s.p1)))
	}
	if s.role == leader {
		h = paxos.Mix64(h ^ uint64(s.next)<<24 ^ uint64(s.readyAt))
		for i := range s.queue {
			h = s.queue[i].hash(h)
		}
		h = paxos.Mix64(h ^ uint64(len(s.queue))<<32 ^ uint64(s.lastSend) ^ uint64(s.sentCommit)<<40)
		for _, r := range s.hb {
			h = paxos.Mix64(h ^ uint64(r.stamp) ^ r.acks<<1)
		}
		h = paxos.Mix64(h ^ uint64(s.hbNext)<<56 ^ uint64(s.leaseFrom) ^ b2u(s.leaseOK)<<62)
	}
	if s.alpha > 0 {
		h = s.fingerprintReconfig(h)
	}
	h = paxos.Mix64(h ^ uint64(uint32(s.grantee))<<32 ^ uint64(s.grantUntil) ^ b2u(s.granting)<<63)
	h = paxos.Mix64(h ^ uint64(s.heardAt) ^ b2u(s.heard0)<<63 ^ b2u(s.replaying)<<62)
	h = paxos.Mix64(h ^ uint64(s.catchupAt) ^ uint64(len(s.self))<<48 ^ uint64(len(s.events))<<32)
	return h
}

// fingerprintReconfig hashes what reconfiguration adds: the configurations
// chosen, and a leader's promises, phase 1 findings still to propose,
// waiting changes and its members' reported commit indexes. (Left out with
// reconfiguration off, where they never change, so fingerprints stay as
// they were.)
func (s *Server) fingerprintReconfig(h uint64) uint64 {
	for _, sp := range s.spans {
		h = paxos.Mix64(h ^ uint64(sp.from)<<32 ^ uint64(sp.at) ^ sp.conf.Members<<7 ^ uint64(sp.conf.Epoch)<<48)
	}
	h = paxos.Mix64(h ^ uint64(len(s.spans)))
	if s.role == leader {
		h = paxos.Mix64(h ^ s.p1Acks ^ s.p1Asked<<1 ^ uint64(s.recoverTop)<<40 ^ uint64(s.p1From)<<20)
		for i := range s.p1 {
			h = s.p1[i].hash(h)
		}
		for i := range s.changes {
			h = s.changes[i].hash(h)
		}
		for _, c := range s.peerCommit {
			h = paxos.Mix64(h ^ uint64(c))
		}
		h = paxos.Mix64(h ^ uint64(len(s.changes))<<32 ^ uint64(len(s.p1)))
	}
	return h
}

// Clone returns an independent copy of the client bound to env.
func (c *Client) Clone(env paxos.Env[Msg]) *Client {
	d := *c
	d.env = env
	d.calls = slices.Clone(c.calls)
	d.seen = slices.Clone(c.seen)
	return &d
}

// Fingerprint hashes every field of the client that can change what it does
// next (the configuration, its workload included, is fixed).
func (c *Client) Fingerprint() uint64 {
	h := paxos.Mix64(uint64(uint32(c.id))<<32 ^ uint64(c.seq) ^ 0xc1)
	h = paxos.Mix64(h ^ uint64(uint32(c.to))<<32 ^ uint64(c.redir) ^ b2u(c.waiting)<<63)
	h = paxos.Mix64(h ^ c.held)
	for i := range c.calls {
		call := &c.calls[i]
		h = call.Cmd.hash(h)
		h = call.Result.hash(paxos.Mix64(h ^ uint64(call.Call) ^ uint64(call.Return)<<1 ^ b2u(call.Returned)<<63))
	}
	h = paxos.Mix64(h ^ uint64(len(c.calls)))
	for _, v := range c.seen {
		h = hashString(h, v)
	}
	return h
}

// Clone returns an independent (and unfrozen) copy of the services.
func (s *Services) Clone() *Services {
	return &Services{kv: slices.Clone(s.kv), locks: slices.Clone(s.locks), sessions: slices.Clone(s.sessions), noDedup: s.noDedup, sess: s.sess.clone()}
}

func (s *Services) hash(h uint64) uint64 {
	for _, v := range s.kv {
		h = hashString(h, v)
	}
	for _, l := range s.locks {
		h = paxos.Mix64(h ^ b2u(l.held)<<63 ^ uint64(uint32(l.holder))<<32 ^ l.token)
	}
	for _, ss := range s.sessions {
		h = ss.result.hash(paxos.Mix64(h ^ uint64(ss.seq)))
	}
	return s.sess.hash(paxos.Mix64(h ^ uint64(len(s.sessions)) ^ b2u(s.noDedup)<<63))
}

// Hash hashes the command, for checkers that fingerprint what they saw.
func (c Command) Hash() uint64 { return c.hash(0x636d64) }

func (e Entry) hash(h uint64) uint64 {
	h = paxos.Mix64(h ^ uint64(e.Slot)<<1 ^ b2u(e.Decided) ^ hashBallot(e.Ballot)<<2)
	return e.Cmd.hash(h)
}

func hashBallot(b paxos.Ballot) uint64 {
	return paxos.Mix64(uint64(b.Round)<<32 ^ uint64(uint32(b.Node)))
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Hash methods let the exhaustive search fingerprint a disk.
func (r promiseRecord) Hash() uint64 { return paxos.Mix64(0x01 ^ hashBallot(r.B)) }
func (r roundRecord) Hash() uint64   { return paxos.Mix64(0x02 ^ uint64(r.R)<<8) }
func (r acceptRecord) Hash() uint64 {
	return r.C.hash(paxos.Mix64(0x03 ^ uint64(r.S)<<8 ^ hashBallot(r.B)))
}
func (r decideRecord) Hash() uint64 { return r.C.hash(paxos.Mix64(0x04 ^ uint64(r.S)<<8)) }

// Timer ids of replicas and clients, for the exhaustive search's bounds on
// how often each may fire.
const (
	TimerElection  = timerElection
	TimerHeartbeat = timerHeartbeat
	TimerThink     = timerThink
	TimerRetry     = timerRetry
)
