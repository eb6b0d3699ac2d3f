package multipaxos

import (
	"fmt"
	"math/bits"
	"strconv"
	"sync/atomic"

	"github.com/synod-sim/synod/paxos"
)

// Config configures a replica. The zero value of every duration and limit
// takes the default from Defaults.
type Config struct {
	// Replicas is the cluster size: nodes 0..Replicas-1 are replicas, the
	// nodes after them are clients.
	Replicas int
	// ElectionTimeout: a follower that hears nothing from a leader for a
	// time drawn from [ElectionTimeout, 2*ElectionTimeout] campaigns.
	ElectionTimeout paxos.Duration
	// Heartbeat is how often a leader tells followers it is alive and how
	// far the log is decided.
	Heartbeat paxos.Duration
	// Retransmit is how long a leader waits for a slot's acceptances before
	// it sends the slot again to the acceptors that have not answered.
	Retransmit paxos.Duration
	// Window bounds the slots a leader has in flight beyond its commit
	// index; client commands wait in a queue of at most MaxQueue.
	Window   int
	MaxQueue int
	// CatchupMax bounds the decided slots one catch-up message carries.
	CatchupMax int
	// Keys and Locks size the services.
	Keys, Locks int
	// Lease switches on leader-lease reads when its Duration is set.
	Lease Lease
	Bugs  paxos.Bugs
}

// Lease configures leader leases. A follower that acknowledges a leader's
// heartbeat promises, for Duration on its own clock, to refuse every other
// candidate; the leader serves reads locally while a quorum's promises
// surely still hold. Clocks may drift by up to DriftMaxPPM and sit up to
// SkewMax from true time (so a clock may jump by 2*SkewMax), and the leader
// must shorten its lease by that much.
type Lease struct {
	Duration    paxos.Duration
	DriftMaxPPM int64
	SkewMax     paxos.Duration
}

// Guard is how long after sending a heartbeat, on its own clock, a leader may
// serve lease reads once a quorum acknowledged that heartbeat. A follower's
// promise runs for at least (Duration-2*SkewMax)/(1+drift) of true time from
// when it received the heartbeat; the leader's clock may run fast or jump back
// by as much, so the leader counts at most that span scaled by (1-drift),
// less a jump of its own. Bug lease-ignores-skew trusts the clocks and uses
// Duration as it is.
func (l Lease) Guard(bugs paxos.Bugs) paxos.Duration {
	if bugs.Has(paxos.LeaseIgnoresSkew) {
		return l.Duration
	}
	d := int64(l.Duration - 2*l.SkewMax)
	rho := l.DriftMaxPPM
	return paxos.Duration(d*(1_000_000-rho)/(1_000_000+rho)) - 2*l.SkewMax
}

// Defaults fills the zero fields of a config.
func (c Config) Defaults() Config {
	def := func(d *paxos.Duration, v paxos.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ElectionTimeout, 150*paxos.Millisecond)
	def(&c.Heartbeat, 30*paxos.Millisecond)
	def(&c.Retransmit, 60*paxos.Millisecond)
	if c.Window <= 0 {
		c.Window = 8
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 64
	}
	if c.CatchupMax <= 0 {
		c.CatchupMax = 64
	}
	return c
}

// Timers of a replica.
const (
	timerElection  paxos.TimerID = iota // campaign when the leader falls silent
	timerHeartbeat                      // leader: heartbeat, retransmit
)

// MaxSlots bounds the log. Runs are short; a log this long means a leader is
// proposing in a loop.
const MaxSlots = 1 << 20

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

type role uint8

const (
	follower role = iota
	candidate
	leader
)

var roleNames = [...]string{"follower", "candidate", "leader"}

func (r role) String() string { return roleNames[r] }

// entry is one slot of a replica's log. It holds one command: the one the
// acceptor accepted at accBallot or, once decided, the decided one. (Reporting
// a decided command with an older ballot is safe: a promise flags the slot as
// decided, and the candidate takes the decision as it is.) A leader accepts
// its own proposals before it sends them, so in a slot where accBallot is
// the ballot it leads with, cmd is its proposal.
type entry struct {
	accBallot paxos.Ballot
	cmd       Command
	acks      uint64     // leader: the acceptors that accepted cmd at accBallot
	sentAt    paxos.Time // leader: when it last sent the slot
	decided   bool
	// skipped: bug no-gap-fill's leader executed past this undecided slot.
	skipped bool
}

// pageSlots is the size of a log page. The log grows a page at a time and
// never moves, so growing it copies nothing. Pages are small because the
// exhaustive search copies a replica (every page) before each of its steps,
// and its logs are a few slots long.
const pageSlots = 16

// page is a page of the log. Copies of a replica share pages copy-on-write:
// Clone freezes every page it shares, a frozen page is never written again,
// and a replica about to write into one (at) takes a private copy first. An
// unfrozen page belongs to one replica alone. frozen is atomic because
// parallel searches clone one saved replica from several goroutines.
type page struct {
	frozen atomic.Bool
	e      [pageSlots]entry
}

// hbRound is one heartbeat whose acknowledgements a leasing leader counts.
type hbRound struct {
	stamp paxos.Time
	acks  uint64
}

const hbRing = 4

// EventKind says what a replica reports to its observer.
type EventKind uint8

const (
	EvStart     EventKind = iota + 1 // the replica (re)started: its volatile state is new
	EvDecided                        // the replica learned Cmd is decided in Slot
	EvApplied                        // the replica applied Slot to its services
	EvLeader                         // the replica became leader at Ballot
	EvLeaseRead                      // the replica answered a read locally, Result
)

// Event is what a replica reports after a step, for checkers and traces.
type Event struct {
	Kind    EventKind
	Slot    Slot
	Ballot  paxos.Ballot
	Cmd     Command
	Outcome Outcome
	Result  Result
}

// Server is one Multi-Paxos replica: acceptor, learner, and proposer when it
// leads, with the replicated services on its decided log.
type Server struct {
	env    paxos.Env[Msg]
	cfg    Config
	id     paxos.NodeID
	n      int // replicas
	quorum int
	guard  paxos.Duration

	// acceptor (durable)
	promised paxos.Ballot
	round    uint32 // highest round used or seen
	pages    []*page
	top      Slot // highest slot the log holds

	// learner
	commit  Slot // every slot <= commit is decided
	applied Slot // every slot <= applied is applied to svc
	svc     *Services

	// roles
	role   role
	ballot paxos.Ballot // the ballot this replica campaigns or leads with
	leader paxos.NodeID // who this replica believes leads, -1 if unknown

	// candidate
	p1From Slot
	p1Acks uint64
	p1     []Entry // highest accepted per slot from p1From on

	// leader
	next       Slot // next slot to propose into
	readyAt    Slot // lease reads wait until the slots recovered by phase 1 are applied
	queue      []Command
	lastSend   paxos.Time
	sentCommit Slot
	hb         [hbRing]hbRound
	hbNext     int
	leaseFrom  paxos.Time // local clock at the newest heartbeat a quorum acknowledged
	leaseOK    bool

	// acceptor side of leases: refuse every candidate but grantee (or all
	// of them, if grantee is -1) until the local clock passes grantUntil.
	// The grant is to a node, not a ballot: the lease holder itself may
	// campaign again while its lease runs, since no one else can lead.
	grantee    paxos.NodeID
	grantUntil paxos.Time
	granting   bool

	heardAt   paxos.Time
	heard0    bool // heardAt is set
	replaying bool // Start is reading the disk: write nothing back
	catchupAt paxos.Time
	self      []Msg // messages to itself, handled at the end of the step
	events    []Event

	refused uint64 // malformed messages refused (Refused)
}

// NewServer builds a replica; Start reads its disk.
func NewServer(env paxos.Env[Msg], cfg Config) *Server {
	cfg = cfg.Defaults()
	id := env.ID()
	invariant(cfg.Replicas >= 1 && cfg.Replicas <= 64 && cfg.Replicas <= env.N(), id, 0, paxos.Ballot{},
		"cluster of %d replicas among %d nodes", cfg.Replicas, env.N())
	invariant(int(id) < cfg.Replicas, id, 0, paxos.Ballot{}, "replica id beyond %d replicas", cfg.Replicas)
	s := &Server{env: env, cfg: cfg, id: id, n: cfg.Replicas, quorum: paxos.QuorumSize(cfg.Replicas, cfg.Bugs),
		leader: -1, svc: NewServices(cfg.Keys, cfg.Locks, cfg.Bugs)}
	if cfg.Lease.Duration > 0 {
		s.guard = cfg.Lease.Guard(cfg.Bugs)
		invariant(s.guard > 0, id, 0, paxos.Ballot{}, "lease of %dµs leaves nothing after the margin for drift %dppm and skew %dµs",
			cfg.Lease.Duration, cfg.Lease.DriftMaxPPM, cfg.Lease.SkewMax)
	}
	return s
}

// invariant stops the run when the replica's own state is broken; the
// message names node, slot and ballot.
func invariant(ok bool, node paxos.NodeID, slot Slot, b paxos.Ballot, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("multipaxos invariant broken at node %d slot %d ballot %v: %s",
			node, slot, b, fmt.Sprintf(format, args...)))
	}
}

// fail reports a broken invariant of this replica. Callers test the
// condition first, so that the arguments are only boxed on the way to a
// panic, never on the hot path.
func (s *Server) fail(slot Slot, format string, args ...any) {
	invariant(false, s.id, slot, s.ballot, format, args...)
}

// --- accessors for checkers, scenarios and tests ---

// TakeEvents returns what happened since the last call and forgets it. The
// slice is reused by the next step. An observer calls it after every step;
// without one, events accumulate for the life of the replica.
func (s *Server) TakeEvents() []Event {
	ev := s.events
	s.events = s.events[:0]
	return ev
}

// IsLeader reports whether this replica currently acts as leader.
func (s *Server) IsLeader() bool { return s.role == leader }

// Ballot is the ballot this replica campaigns or leads with.
func (s *Server) Ballot() paxos.Ballot { return s.ballot }

// Promised is the acceptor's promise.
func (s *Server) Promised() paxos.Ballot { return s.promised }

// Commit is the highest slot below which everything is decided here.
func (s *Server) Commit() Slot { return s.commit }

// Applied is the highest slot applied to this replica's services.
func (s *Server) Applied() Slot { return s.applied }

// Services is this replica's copy of the replicated services.
func (s *Server) Services() *Services { return s.svc }

// Decided returns the command decided in slot, if this replica knows it.
func (s *Server) Decided(slot Slot) (Command, bool) {
	if slot == 0 || slot > s.top || !s.peek(slot).decided {
		return Command{}, false
	}
	return s.peek(slot).cmd, true
}

// Role names the replica's role, for traces.
// HoldsLease reports whether this replica leads under a lease it may serve
// reads from.
func (s *Server) HoldsLease() bool { return s.role == leader && s.leaseValid() }

func (s *Server) Role() string { return s.role.String() }

// --- steps ---

// Start rebuilds the acceptor and the log from disk, re-applies the decided
// prefix, and arms the election timer.
func (s *Server) Start() {
	s.emit(Event{Kind: EvStart})
	recs := s.env.Storage().Records()
	s.replaying = true
	for _, r := range recs {
		switch r := r.(type) {
		case promiseRecord:
			if s.promised.Less(r.B) {
				s.promised = r.B
			}
		case roundRecord:
			s.round = max(s.round, r.R)
		case acceptRecord:
			e := s.entry(r.S)
			if r.B.Less(e.accBallot) {
				s.fail(r.S, "disk has acceptance at %v after one at %v", r.B, e.accBallot)
			}
			e.accBallot = r.B
			if !e.decided {
				e.cmd = r.C
			}
			if s.promised.Less(r.B) {
				s.promised = r.B
			}
		case decideRecord:
			s.learn(r.S, r.C, paxos.Ballot{})
		default:
			s.fail(0, "unknown disk record %T", r)
		}
	}
	s.round = max(s.round, s.promised.Round)
	if s.cfg.Lease.Duration > 0 && len(recs) > 0 {
		// A lease this replica granted before it crashed may still run:
		// refuse every candidate for a whole lease, on the new clock.
		s.granting, s.grantee = true, -1
		s.grantUntil = s.env.LocalNow() + paxos.Time(s.cfg.Lease.Duration)
	}
	s.replaying = false
	s.advance()
	s.armElection()
	s.drain()
}

// Receive handles one message.
func (s *Server) Receive(from paxos.NodeID, m Msg) {
	s.handle(from, m)
	s.drain()
}

// Timeout handles one timer.
func (s *Server) Timeout(t paxos.TimerID) {
	switch t {
	case timerElection:
		s.onElectionTimer()
	case timerHeartbeat:
		if s.role == leader {
			s.tick(false)
		}
	default:
		s.fail(0, "unknown timer %d", t)
	}
	s.drain()
}

func (s *Server) handle(from paxos.NodeID, m Msg) {
	if why := s.malformed(from, m); why != "" {
		// A peer's garbage must not stop a real replica: it is refused and
		// counted. Panics stay for broken invariants of this node's state.
		s.refused++
		return
	}
	if int(from) >= s.n {
		s.onRequest(from, m.Cmd)
		return
	}
	switch m.Type {
	case MsgPrepare:
		s.onPrepare(from, m)
	case MsgPromise:
		s.onPromise(from, m)
	case MsgNack:
		s.onNack(m)
	case MsgAccept:
		s.onAccept(from, m)
	case MsgAccepted:
		s.onAccepted(from, m)
	case MsgHeartbeat:
		s.onHeartbeat(from, m)
	case MsgHeartbeatAck:
		s.onHeartbeatAck(from, m)
	case MsgCatchupReq:
		s.onCatchupReq(from, m)
	case MsgCatchup:
		s.onCatchup(m)
	}
}

// malformed says what is wrong with a message no correct peer sends, or is
// empty: a type unknown or not meant for a replica, a replica message from a
// client or a request from a replica, a request that is not its sender's, a
// slot outside the log, an undecided catch-up entry.
func (s *Server) malformed(from paxos.NodeID, m Msg) string {
	inSlots := func(sl Slot) bool { return sl >= 1 && sl <= MaxSlots }
	switch {
	case from < 0:
		return "unknown sender"
	case int(from) >= s.n:
		c := m.Cmd
		if m.Type != MsgRequest || paxos.NodeID(c.Client) != from || c.Seq == 0 || c.Op == OpNoop {
			return "bad request"
		}
		return ""
	case m.Type < MsgPrepare || m.Type > MsgCatchup:
		return "not a replica message"
	}
	switch m.Type {
	case MsgAccept, MsgAccepted:
		if !inSlots(m.Slot) {
			return "slot out of range"
		}
	case MsgPrepare, MsgPromise, MsgCatchupReq: // "from Slot on": one past a full log is fine
		if m.Slot < 1 || m.Slot > MaxSlots+1 {
			return "slot out of range"
		}
	}
	for _, e := range m.Entries {
		if !inSlots(e.Slot) || (m.Type == MsgCatchup && !e.Decided) {
			return "bad entry"
		}
	}
	return ""
}

// Refused counts the malformed messages this replica refused.
func (s *Server) Refused() uint64 { return s.refused }

// send puts a message on the network, or, to itself, on the queue of
// messages handled before the step ends: a replica's messages to itself never
// touch the wire, and handling them after the current handler keeps every
// handler free of re-entry.
func (s *Server) send(to paxos.NodeID, m Msg) {
	if to == s.id {
		s.self = append(s.self, m)
		return
	}
	s.env.Send(to, m)
}

func (s *Server) broadcast(m Msg) {
	for i := 0; i < s.n; i++ {
		s.send(paxos.NodeID(i), m)
	}
}

func (s *Server) drain() {
	for i := 0; i < len(s.self); i++ {
		s.handle(s.id, s.self[i])
		if i >= 1024 {
			s.fail(0, "more than 1024 messages to itself in one step")
		}
	}
	clear(s.self)
	s.self = s.self[:0]
}

func (s *Server) emit(e Event) { s.events = append(s.events, e) }

// entry returns slot's entry, growing the log as needed.
func (s *Server) entry(slot Slot) *entry {
	if slot < 1 || slot > MaxSlots {
		s.fail(slot, "slot out of range 1..%d", MaxSlots)
	}
	for slot > s.top {
		if s.top%pageSlots == 0 {
			s.pages = append(s.pages, new(page))
		}
		s.top++
	}
	return s.at(slot)
}

// at returns the entry of a slot the log holds, for writing: a page shared
// with a copy (frozen by Clone) is replaced by a private copy first.
func (s *Server) at(slot Slot) *entry {
	i := (slot - 1) / pageSlots
	p := s.pages[i]
	if p.frozen.Load() {
		p = &page{e: p.e}
		s.pages[i] = p
	}
	return &p.e[(slot-1)%pageSlots]
}

// peek returns the entry of a slot the log holds, for reading only: the page
// may be shared with copies of the replica.
func (s *Server) peek(slot Slot) *entry {
	return &s.pages[(slot-1)/pageSlots].e[(slot-1)%pageSlots]
}

func (s *Server) persist(rec any) {
	st := s.env.Storage()
	st.Append(rec)
	st.Sync()
}

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
	t := s.cfg.ElectionTimeout
	if quiet := paxos.Duration(s.env.Now() - s.heardAt); s.heard0 && quiet < t {
		s.env.SetTimer(timerElection, t-quiet+paxos.Duration(s.env.Rand(uint64(t)+1)))
		return
	}
	s.campaign()
}

// --- acceptor ---

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

// leaseBlocks reports whether a lease this acceptor granted forbids it to
// promise ballot b now.
func (s *Server) leaseBlocks(b paxos.Ballot) bool {
	return s.granting && b.Node != s.grantee && s.env.LocalNow() < s.grantUntil
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
	s.send(from, Msg{Type: MsgAccepted, Ballot: m.Ballot, Slot: m.Slot})
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

// grant promises leader b a lease: no other candidate for a lease duration
// on this replica's clock.
func (s *Server) grant(b paxos.Ballot) {
	if s.grantee != b.Node {
		s.grantUntil = 0 // the earlier grantee's grant has expired, or it could not have been elected
	}
	s.granting, s.grantee = true, b.Node
	s.grantUntil = max(s.grantUntil, s.env.LocalNow()+paxos.Time(s.cfg.Lease.Duration))
}

// follow records that b's owner leads: hold off campaigning.
func (s *Server) follow(b paxos.Ballot) {
	if b.Node == s.id {
		return
	}
	s.leader = b.Node
	s.heard()
}

// --- learner ---

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
	res, out := s.svc.Apply(cmd)
	s.emit(Event{Kind: EvApplied, Slot: slot, Cmd: cmd, Outcome: out, Result: res})
	if s.role == leader && (out == Executed || out == Duplicate) {
		s.reply(cmd, res)
	}
}

func (s *Server) reply(c Command, r Result) {
	s.send(paxos.NodeID(c.Client), Msg{Type: MsgReply, Cmd: Command{Op: c.Op, Key: c.Key, Client: c.Client, Seq: c.Seq}, Result: r})
}

// --- proposer ---

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
	s.broadcast(Msg{Type: MsgPrepare, Ballot: s.ballot, Slot: s.p1From})
}

func (s *Server) onPromise(from paxos.NodeID, m Msg) {
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
	if bits.OnesCount64(s.p1Acks) >= s.quorum {
		s.becomeLeader()
	}
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
	for slot := s.p1From; slot <= top; slot++ {
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
	}
	s.next, s.readyAt = top+1, top
	s.leaseOK, s.hbNext = false, 0
	s.hb = [hbRing]hbRound{}
	s.env.CancelTimer(timerElection)
	s.tick(true) // announce the new leader at once
	s.advance()
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
	e.accBallot, e.acks, e.sentAt = s.ballot, 1<<uint(s.id), s.env.Now()
	if !e.decided {
		e.cmd = cmd
	}
	s.persist(acceptRecord{S: slot, B: s.ballot, C: cmd})
	s.lastSend, s.sentCommit = e.sentAt, s.commit
	m := Msg{Type: MsgAccept, Ballot: s.ballot, Slot: slot, Cmd: cmd, Commit: s.commit}
	for i := 0; i < s.n; i++ {
		if paxos.NodeID(i) != s.id {
			s.env.Send(paxos.NodeID(i), m)
		}
	}
	if !e.decided && s.quorum <= 1 {
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
	if !e.decided && bits.OnesCount64(e.acks) >= s.quorum {
		s.learn(m.Slot, e.cmd, s.ballot)
		s.advance()
	}
}

// pump moves queued client commands into free slots of the window.
func (s *Server) pump() {
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
	if !s.cfg.Bugs.Has(paxos.NoRetransmit) {
		s.retransmit(s.next, paxos.Time(s.cfg.Retransmit))
	}
	lease := s.cfg.Lease.Duration > 0
	if announce || lease || now-s.lastSend >= paxos.Time(s.cfg.Heartbeat) || s.sentCommit != s.commit {
		m := Msg{Type: MsgHeartbeat, Ballot: s.ballot, Commit: s.commit}
		if lease {
			m.Stamp = s.env.LocalNow()
			s.hb[s.hbNext] = hbRound{stamp: m.Stamp, acks: 1 << uint(s.id)}
			s.hbNext = (s.hbNext + 1) % hbRing
			s.grant(s.ballot)
			s.leaseGranted(m.Stamp, 1<<uint(s.id))
		}
		for i := 0; i < s.n; i++ {
			if paxos.NodeID(i) != s.id {
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
		for i := 0; i < s.n; i++ {
			if e.acks&(1<<uint(i)) == 0 {
				s.send(paxos.NodeID(i), m)
			}
		}
	}
}

func (s *Server) onHeartbeatAck(from paxos.NodeID, m Msg) {
	if s.role != leader || m.Ballot != s.ballot {
		return
	}
	for i := range s.hb {
		if r := &s.hb[i]; r.stamp == m.Stamp && r.acks != 0 {
			r.acks |= 1 << uint(from)
			s.leaseGranted(r.stamp, r.acks)
			return
		}
	}
}

func (s *Server) leaseGranted(stamp paxos.Time, acks uint64) {
	if bits.OnesCount64(acks) < s.quorum {
		return
	}
	if !s.leaseOK || s.leaseFrom < stamp {
		s.leaseFrom, s.leaseOK = stamp, true
	}
}

// leaseValid reports whether the leader may answer a read from its own state:
// a quorum's grants surely hold, and everything recovered by phase 1 (which
// includes every write that completed under an earlier leader) is applied.
func (s *Server) leaseValid() bool {
	return s.role == leader && s.leaseOK && s.applied >= s.readyAt &&
		s.env.LocalNow() < s.leaseFrom+paxos.Time(s.guard)
}

// --- clients ---

func (s *Server) onRequest(from paxos.NodeID, c Command) {
	if s.role != leader {
		if s.leader >= 0 && s.leader != s.id {
			s.send(from, Msg{Type: MsgRedirect, Leader: s.leader, Cmd: Command{Client: c.Client, Seq: c.Seq}})
		}
		return
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
	return false
}
