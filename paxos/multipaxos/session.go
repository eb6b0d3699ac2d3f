package multipaxos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/paxos"
)

// --- sessions with leases (Chubby's, on the replicated log) ---
//
// A client opens a session (OpOpen) and keeps it alive with keep-alives
// (OpKeepAlive), both commands in the log: every replica counts a session's
// keep-alives (its beats) in the same order. Locks taken under a session
// (OpAcquire with Session set) belong to it. When a session's lease lapses
// the leader logs OpExpire(session, beats): applied while the session still
// has exactly that many beats it ends the session and frees its locks, at
// the same point of the log on every replica; a keep-alive that got into the
// log first makes it a no-op.
//
// Time never enters the replicated state. The promise the service makes is
// this: a session is not expired before Lease of true time has passed since
// any keep-alive it acknowledged was sent (the client's own bound, below).
// The leader keeps it with its own clock: it measures each session's lease
// from the moment it learned of the session's newest beat (its own
// application of it, or later), and it expires the session only when
// Lease*(1+drift)+2*skew has passed on that clock, which is at least Lease
// of true time however its clock drifts and steps within the bounds. A new
// leader, or a replica that restarted, cannot know when an earlier leader
// last extended a session, so it extends every session by a full lease from
// its own first look (the "failover keeps sessions alive" of Chubby §2.8).
//
// The client keeps the bound from its side: it counts a lease from the time
// it first sent the keep-alive that was acknowledged, for
// Lease*(1-drift)-2*skew on its own clock, which is at most Lease of true
// time. When that view lapses the client is in jeopardy: it stops acting as
// a holder, keeps trying, and gives the session up after a grace period
// (session_client.go).

// SessionID names a session; the service numbers them from 1 in log order.
type SessionID uint32

// SessionTerms are a session's lease and the clock bounds both sides budget
// for. A client asks for them when it opens the session; the log records
// them, so every replica measures the session alike.
type SessionTerms struct {
	Lease    paxos.Duration
	DriftPPM int64
	Skew     paxos.Duration
}

// String is how an open command carries the terms (Command.Value).
func (t SessionTerms) String() string {
	return fmt.Sprintf("lease=%dus drift=%dppm skew=%dus", t.Lease, t.DriftPPM, t.Skew)
}

// parseTerms reads terms written by String.
func parseTerms(s string) (SessionTerms, bool) {
	var t SessionTerms
	n, err := fmt.Sscanf(s, "lease=%dus drift=%dppm skew=%dus", &t.Lease, &t.DriftPPM, &t.Skew)
	return t, err == nil && n == 3 && t.valid()
}

func (t SessionTerms) valid() bool {
	return t.Lease > 0 && t.DriftPPM >= 0 && t.DriftPPM < 1_000_000 && t.Skew >= 0 && t.ClientView() > 0
}

// ClientView is how long, on the client's own clock, a lease surely runs
// from when the client sent the keep-alive that renewed it: at most Lease
// of true time whatever the client's clock does within the bounds.
func (t SessionTerms) ClientView() paxos.Duration {
	return paxos.Duration(int64(t.Lease)*(1_000_000-t.DriftPPM)/1_000_000) - 2*t.Skew
}

// ServiceWait is how long, on the leader's own clock, a session must go
// without a beat before the leader expires it: at least Lease of true time.
// Bug expire-early trusts the clock and waits Lease.
func (t SessionTerms) ServiceWait(bugs paxos.Bugs) paxos.Duration {
	if bugs.Has(paxos.ExpireEarly) {
		return t.Lease
	}
	return paxos.Duration(int64(t.Lease)*(1_000_000+t.DriftPPM)/1_000_000) + 2*t.Skew
}

// Session results: a session command refused because the session is over
// (expired, or never opened here) says so in its Value.
const Expired = "expired"

// sessionRec is one session in the replicated state.
type sessionRec struct {
	owner ClientID
	terms SessionTerms
	live  bool
	beats uint32 // keep-alives applied, the open included
	held  uint64 // locks held, by lock
}

// sessionView is one replica's own, volatile view of the sessions' timing:
// never replicated, rebuilt from scratch when the replica restarts. The
// leader expires sessions by it.
type sessionView struct {
	ballot   paxos.Ballot // the leadership the anchors were taken under
	anchor   []paxos.Time // by session: local time from which its lease is measured
	seen     []uint32     // by session: the beats the anchor was taken for
	expiring []uint32     // by session: beats+1 an expire was proposed for this leadership (0: none)
}

// sessionTable is the session part of the services.
type sessionTable struct {
	recs []sessionRec // by id-1
	view sessionView
}

func (t *sessionTable) clone() *sessionTable {
	if t == nil {
		return nil
	}
	c := &sessionTable{recs: append([]sessionRec(nil), t.recs...)}
	c.view.ballot = t.view.ballot
	c.view.anchor = append([]paxos.Time(nil), t.view.anchor...)
	c.view.seen = append([]uint32(nil), t.view.seen...)
	c.view.expiring = append([]uint32(nil), t.view.expiring...)
	return c
}

func (t *sessionTable) hash(h uint64) uint64 {
	if t == nil {
		return h
	}
	for _, r := range t.recs {
		h = paxos.Mix64(h ^ uint64(uint32(r.owner))<<32 ^ uint64(r.beats) ^ b2u(r.live)<<63)
		h = paxos.Mix64(h ^ r.held)
	}
	return h
}

// rec is session id's record, or nil.
func (t *sessionTable) rec(id SessionID) *sessionRec {
	if t == nil || id == 0 || int(id) > len(t.recs) {
		return nil
	}
	return &t.recs[id-1]
}

// SessionLive reports whether session id is open and unexpired in this
// replica's copy of the services.
func (s *Services) SessionLive(id SessionID) bool {
	r := s.sess.rec(id)
	return r != nil && r.live
}

// Sessions counts the sessions ever opened.
func (s *Services) Sessions() int {
	if s.sess == nil {
		return 0
	}
	return len(s.sess.recs)
}

// LockHolder reports who holds lock l: the session (0 for a lock taken
// without one), the client and the last token handed out.
func (s *Services) LockHolder(l uint8) (held bool, session SessionID, client ClientID, token uint64) {
	lk := s.locks[l]
	return lk.held, lk.session, lk.holder, lk.token
}

// ExpiryPending reports whether this replica leads and has logged an
// expire that its services have not applied yet: the session is still live
// at the beats the expire names.
func (s *Server) ExpiryPending() bool {
	t := s.svc.sess
	if s.role != leader || t == nil || t.view.ballot != s.ballot {
		return false
	}
	for i, e := range t.view.expiring {
		if e != 0 && i < len(t.recs) && t.recs[i].live && t.recs[i].beats+1 == e {
			return true
		}
	}
	return false
}

// sessionExec executes a session command once its client's exactly-once
// record admits it.
func (s *Services) sessionExec(c Command) Result {
	if s.sess == nil {
		s.sess = &sessionTable{}
	}
	switch c.Op {
	case OpOpen:
		terms, ok := parseTerms(c.Value)
		if !ok {
			panic(fmt.Sprintf("multipaxos: applying %v: bad session terms", c))
		}
		if len(s.sess.recs) >= 1<<20 {
			panic(fmt.Sprintf("multipaxos: applying %v: more than %d sessions", c, 1<<20))
		}
		s.sess.recs = append(s.sess.recs, sessionRec{owner: c.Client, terms: terms, live: true, beats: 1})
		return Result{OK: true, Token: uint64(len(s.sess.recs))}
	case OpKeepAlive:
		r := s.sess.rec(c.Session)
		if r == nil || !r.live || r.owner != c.Client {
			return Result{Value: Expired}
		}
		r.beats++
		return Result{OK: true}
	case OpAcquire:
		r := s.sess.rec(c.Session)
		if r == nil || !r.live || r.owner != c.Client {
			return Result{Value: Expired}
		}
		l := &s.locks[c.Key]
		if l.held {
			return Result{}
		}
		l.token++
		l.held, l.holder, l.session = true, c.Client, c.Session
		r.held |= 1 << c.Key
		return Result{OK: true, Token: l.token}
	case OpRelease:
		r := s.sess.rec(c.Session)
		if r == nil || !r.live || r.owner != c.Client {
			return Result{Value: Expired}
		}
		l := &s.locks[c.Key]
		if !l.held || l.session != c.Session {
			return Result{}
		}
		if r.held&(1<<c.Key) == 0 {
			panic(fmt.Sprintf("multipaxos: applying %v: lock %d held by session %d, which does not list it", c, c.Key, c.Session))
		}
		l.held, l.holder, l.session = false, 0, 0
		r.held &^= 1 << c.Key
		return Result{OK: true}
	}
	panic(fmt.Sprintf("multipaxos: applying %v as a session command", c))
}

// expire applies the leader's OpExpire: the session ends, and its locks are
// free, if no keep-alive came first. OK says whether it did.
func (s *Services) expire(c Command) Result {
	r := s.sess.rec(c.Session)
	if r == nil {
		panic(fmt.Sprintf("multipaxos: applying %v: no session %d among %d", c, c.Session, s.Sessions()))
	}
	if c.Beat > r.beats {
		panic(fmt.Sprintf("multipaxos: applying %v: session %d has had only %d beats", c, c.Session, r.beats))
	}
	if !r.live || c.Beat != r.beats {
		return Result{}
	}
	r.live = false
	for l := range s.locks {
		lk := &s.locks[l]
		if lk.held && lk.session == c.Session {
			lk.held, lk.holder, lk.session = false, 0, 0
			r.held &^= 1 << uint(l)
		}
	}
	if r.held != 0 {
		panic(fmt.Sprintf("multipaxos: applying %v: session %d lists locks %b it does not hold", c, c.Session, r.held))
	}
	return Result{OK: true}
}

// EvExpiring is reported by a leader that logs an expire (Cmd): the
// earliest the expiry can take effect, for the linearizability check.
const EvExpiring EventKind = 64

// checkSessions is the leader's look at its sessions' leases, taken on every
// request it handles (keep-alives come every fraction of a lease from every
// live client): it logs an expire for each session whose lease has surely
// run out by its clock.
func (s *Server) checkSessions() {
	t := s.svc.sess
	if t == nil {
		return
	}
	now := s.env.LocalNow()
	v := &t.view
	if v.ballot != s.ballot {
		// A new leadership (or a restart): extend every session by a full
		// lease from now. Nothing here proves any of them expired.
		v.ballot = s.ballot
		v.anchor, v.seen, v.expiring = v.anchor[:0], v.seen[:0], v.expiring[:0]
	}
	for len(v.anchor) < len(t.recs) {
		i := len(v.anchor)
		v.anchor = append(v.anchor, now)
		v.seen = append(v.seen, t.recs[i].beats)
		v.expiring = append(v.expiring, 0)
	}
	for i := range t.recs {
		r := &t.recs[i]
		if !r.live {
			continue
		}
		if r.beats != v.seen[i] {
			// A beat since the last look: its lease runs from now, no
			// earlier than this replica applied it.
			if r.beats < v.seen[i] {
				s.fail(s.applied, "session %d went back from %d beats to %d", i+1, v.seen[i], r.beats)
			}
			v.anchor[i], v.seen[i], v.expiring[i] = now, r.beats, 0
			continue
		}
		if now < v.anchor[i]+paxos.Time(r.terms.ServiceWait(s.cfg.Bugs)) || v.expiring[i] == r.beats+1 {
			continue
		}
		if len(s.queue) >= s.cfg.MaxQueue {
			return // later
		}
		v.expiring[i] = r.beats + 1
		c := Command{Op: OpExpire, Client: -1, Session: SessionID(i + 1), Beat: r.beats}
		s.emit(Event{Kind: EvExpiring, Slot: s.next, Ballot: s.ballot, Cmd: c})
		s.queue = append(s.queue, c)
	}
}

// keepAliveLocal is bug keepalive-not-replicated: the leader answers a
// keep-alive from its own copy of the services and extends the lease in its
// own view only, without logging it. Another leader never hears of it.
func (s *Server) keepAliveLocal(c Command) {
	r := s.svc.sess.rec(c.Session)
	if r == nil || !r.live || r.owner != c.Client {
		s.reply(c, Result{Value: Expired})
		return
	}
	s.checkSessions()
	if i := int(c.Session) - 1; i < len(s.svc.sess.view.anchor) {
		s.svc.sess.view.anchor[i], s.svc.sess.view.expiring[i] = s.env.LocalNow(), 0
	}
	s.reply(c, Result{OK: true})
}

// writeSession prints a session command.
// Command.write has written "op(" already.
func (c Command) writeSession(b *strings.Builder) {
	switch c.Op {
	case OpOpen:
		b.WriteString(c.Value)
	case OpAcquire, OpRelease:
		b.WriteString(lockNames[c.Key] + " s" + strconv.FormatUint(uint64(c.Session), 10))
	case OpExpire:
		b.WriteString("s" + strconv.FormatUint(uint64(c.Session), 10) + " at beat " + strconv.FormatUint(uint64(c.Beat), 10))
	default:
		b.WriteString("s" + strconv.FormatUint(uint64(c.Session), 10))
	}
	b.WriteByte(')')
	if c.Seq == 0 {
		return // the leader's
	}
	b.WriteString(" c" + strconv.Itoa(int(c.Client)) + "#" + strconv.FormatUint(uint64(c.Seq), 10))
}

// writeWrite prints a write to the protected resource and its answer.
func writeWrite(b *strings.Builder, m Msg) {
	fmt.Fprintf(b, " w%d.%d %s token=%d by c%d s%d", m.Cmd.Client, m.Cmd.Seq, lockNames[m.Cmd.Key], m.Result.Token, m.Cmd.Client, m.Cmd.Session)
	if m.Type == MsgWriteAck {
		if m.Result.OK {
			b.WriteString(" accepted")
		} else {
			b.WriteString(" refused")
		}
	}
}
