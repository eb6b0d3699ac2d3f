package multipaxos

import (
	"fmt"

	"github.com/synod-sim/synod/paxos"
)

// Config configures a replica. The zero value of every duration and limit
// takes the default from Defaults.
type Config struct {
	// Replicas is the cluster size: nodes 0..Replicas-1 are replicas (the
	// initial configuration), the nodes after them are clients, or, with
	// MaxReplicas set, spare replicas and then clients.
	Replicas int
	// MaxReplicas is the space of replica ids (0: Replicas). Ids
	// Replicas..MaxReplicas-1 are spares: they belong to no configuration
	// until a membership change adds them, and a spare started early only
	// answers as an acceptor and learns the log. Clients come after them.
	MaxReplicas int
	// Alpha is α of reconfiguration through the log (reconfig.go): a
	// configuration chosen in slot i governs slots from i+α, and a leader
	// never proposes more than α slots past the ones it has applied. 0
	// switches reconfiguration off: the membership is fixed and every run is
	// as it was before reconfiguration existed.
	Alpha int
	// ReconfigBug switches on planted reconfiguration bugs by name,
	// comma-separated (ReconfigBugs lists them).
	ReconfigBug string
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
	if c.MaxReplicas <= 0 {
		c.MaxReplicas = c.Replicas
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

type role uint8

const (
	follower role = iota
	candidate
	leader
)

var roleNames = [...]string{"follower", "candidate", "leader"}

func (r role) String() string { return roleNames[r] }

// EventKind says what a replica reports to its observer.
type EventKind uint8

const (
	EvStart     EventKind = iota + 1 // the replica (re)started: its volatile state is new
	EvDecided                        // the replica learned Cmd is decided in Slot
	EvApplied                        // the replica applied Slot to its services
	EvLeader                         // the replica became leader at Ballot
	EvLeaseRead                      // the replica answered a read locally, Result
	EvConfig                         // the replica applied the membership change Cmd chosen in Slot: installed to govern from From (Outcome Executed) or refused (Stale)
)

// Event is what a replica reports after a step, for checkers and traces.
type Event struct {
	Kind    EventKind
	Slot    Slot
	Ballot  paxos.Ballot
	Cmd     Command
	Outcome Outcome
	Result  Result
	From    Slot // EvConfig: the first slot the configuration governs
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

	// reconfiguration (reconfig.go); alpha 0: off, spans holds epoch 0 alone
	alpha      Slot
	rbugs      reconfigBugs
	spans      []span // the configurations chosen, in slot order
	p1Asked    uint64 // leader: the replicas sent its Prepare
	recoverTop Slot   // leader: phase 1 found slots up to here, proposed again as the window reaches them
	changes    []Command
	peerCommit []Slot // leader: the commit index each replica last reported

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
	invariant(cfg.Replicas >= 1 && cfg.Replicas <= cfg.MaxReplicas && cfg.MaxReplicas <= 64 && cfg.MaxReplicas <= env.N(), id, 0, paxos.Ballot{},
		"cluster of %d replicas (%d replica ids) among %d nodes", cfg.Replicas, cfg.MaxReplicas, env.N())
	invariant(int(id) < cfg.MaxReplicas, id, 0, paxos.Ballot{}, "replica id beyond %d replica ids", cfg.MaxReplicas)
	invariant(cfg.Alpha >= 0 && cfg.Alpha <= MaxSlots, id, 0, paxos.Ballot{}, "α=%d", cfg.Alpha)
	rbugs, err := parseReconfigBugs(cfg.ReconfigBug)
	invariant(err == nil, id, 0, paxos.Ballot{}, "%v", err)
	s := &Server{env: env, cfg: cfg, id: id, n: cfg.MaxReplicas, quorum: paxos.QuorumSize(cfg.Replicas, cfg.Bugs),
		leader: -1, svc: NewServices(cfg.Keys, cfg.Locks, cfg.Bugs),
		alpha: Slot(cfg.Alpha), rbugs: rbugs, spans: []span{{from: 1, conf: initialConf(cfg.Replicas)}}}
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

// broadcast sends m to every replica in the set to, in id order.
func (s *Server) broadcast(to uint64, m Msg) {
	for i := 0; i < s.n; i++ {
		if to&(1<<uint(i)) != 0 {
			s.send(paxos.NodeID(i), m)
		}
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

func (s *Server) persist(rec any) {
	st := s.env.Storage()
	st.Append(rec)
	st.Sync()
}
