package paxos

import (
	"strconv"
	"strings"
)

// MsgType says what a single-decree message is.
type MsgType uint8

const (
	MsgPrepare  MsgType = iota + 1 // phase 1a: proposer asks for a promise
	MsgPromise                     // phase 1b: acceptor promises, reporting what it accepted
	MsgAccept                      // phase 2a: proposer asks acceptors to accept a value
	MsgAccepted                    // phase 2b: acceptor tells every learner it accepted
	MsgNack                        // acceptor refuses: it promised a higher ballot
	MsgQuery                       // learner asks peers for the decision
	MsgDecided                     // a learner that knows the decision answers a query
)

var msgNames = [...]string{"?", "prepare", "promise", "accept", "accepted", "nack", "query", "decided"}

// Msg is a single-decree Paxos message. It is a plain value: the simulator
// copies it without allocating.
type Msg struct {
	Type      MsgType
	Ballot    Ballot // the ballot the message is about
	AccBallot Ballot // promise: the highest ballot the acceptor accepted; nack: its promise
	Value     Value  // accept/accepted/decided: the value; promise: the accepted value
}

// Hash folds every field, for the simulator's run digest.
func (m Msg) Hash() uint64 {
	// Each ballot gets a mix of its own: folded into the same word, two
	// ballots' fields could cancel (the untimed view keys messages by it).
	h := Mix64(uint64(m.Type)<<56 ^ m.Ballot.hash())
	h = Mix64(h ^ m.AccBallot.hash())
	return Mix64(h ^ uint64(m.Value))
}

func (m Msg) String() string {
	s := msgNames[m.Type] + " b=" + m.Ballot.String()
	switch m.Type {
	case MsgPromise:
		if !m.AccBallot.IsZero() {
			s += " acc=" + m.AccBallot.String() + " v=" + strconv.FormatInt(int64(m.Value), 10)
		}
	case MsgNack:
		s += " promised=" + m.AccBallot.String()
	case MsgAccept, MsgAccepted, MsgDecided:
		s += " v=" + strconv.FormatInt(int64(m.Value), 10)
	}
	return s
}

// Timers of a single-decree node.
const (
	TimerPropose TimerID = iota // start or retry a proposal
	TimerLearn                  // ask peers for the decision
	TimerSync                   // deferred sync (bug no-persist only)
)

// Durable records an acceptor and proposer write to disk.
type (
	// promiseRecord: the acceptor promised ballot B.
	promiseRecord struct{ B Ballot }
	// acceptRecord: the acceptor accepted value V at ballot B.
	acceptRecord struct {
		B Ballot
		V Value
	}
	// roundRecord: the proposer used rounds up to R; never reuse them.
	roundRecord struct{ R uint32 }
	// decisionRecord: the learner learned V.
	decisionRecord struct{ V Value }
)

// SingleConfig configures a single-decree node.
type SingleConfig struct {
	// Propose is the value this node proposes; zero makes it a pure
	// acceptor and learner.
	Propose Value
	// RetryBase is the shortest wait before a proposer retries with a higher
	// ballot; the wait is randomized and grows with each failed attempt, so
	// dueling proposers settle.
	RetryBase Duration
	// LearnEvery is how often an undecided node asks its peers for the
	// decision, so a node that missed the Accepted messages still learns.
	LearnEvery Duration
	// Learners is the set of nodes acceptors tell what they accepted (bit
	// i: node i); 0 means every node. Paxos Made Simple's distinguished
	// learners: the others learn by asking (TimerLearn).
	Learners uint64
	Bugs     Bugs
}

// vote counts the acceptors that accepted one (ballot, value).
type vote struct {
	ballot Ballot
	value  Value
	from   uint64 // set of acceptors
	msgs   int    // messages counted (bug count-duplicates)
}

// maxVotes bounds the learner's table; the lowest ballot is forgotten first.
const maxVotes = 8

// Single is one node of single-decree Paxos playing proposer, acceptor and
// learner at once.
type Single struct {
	env  Env[Msg]
	cfg  SingleConfig
	id   NodeID
	n    int
	quor int

	// acceptor
	promised    Ballot
	accepted    Ballot
	acceptedVal Value
	dirty       bool // bug no-persist: answered but not yet synced

	// proposer
	round    uint32 // highest round used or seen
	ballot   Ballot // current attempt
	phase    uint8  // 0 idle, 1 preparing, 2 accepting
	promises uint64
	nacks    uint64 // bug nack-quorum: acceptors that refused the ballot
	highAcc  Ballot
	highVal  Value
	attempts int

	// learner
	votes    [maxVotes]vote
	decided  bool
	decision Value
}

// NewSingle builds a node; Start reads its disk.
func NewSingle(env Env[Msg], cfg SingleConfig) *Single {
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 20 * Millisecond
	}
	if cfg.LearnEvery <= 0 {
		cfg.LearnEvery = 100 * Millisecond
	}
	n := env.N()
	invariant(n >= 1 && n <= 64, env.ID(), "cluster of %d nodes", n)
	return &Single{env: env, cfg: cfg, id: env.ID(), n: n, quor: QuorumSize(n, cfg.Bugs)}
}

// Promised is the highest ballot this acceptor has promised.
func (s *Single) Promised() Ballot { return s.promised }

// Accepted is the ballot and value this acceptor last accepted.
func (s *Single) Accepted() (Ballot, Value) { return s.accepted, s.acceptedVal }

// Phase is where this node's current proposal stands: 0 idle, 1 asking for
// promises, 2 asking for acceptances.
func (s *Single) Phase() int { return int(s.phase) }

// Decision is the value this node has learned, if any.
func (s *Single) Decision() (Value, bool) { return s.decision, s.decided }

// Start rebuilds state from disk and, if this node proposes, schedules the
// first attempt after a random delay so that proposers do not start in step.
func (s *Single) Start() {
	for _, r := range s.env.Storage().Records() {
		switch r := r.(type) {
		case promiseRecord:
			if s.promised.Less(r.B) {
				s.promised = r.B
			}
		case acceptRecord:
			s.accepted, s.acceptedVal = r.B, r.V
			if s.promised.Less(r.B) {
				s.promised = r.B
			}
		case roundRecord:
			s.round = max(s.round, r.R)
		case decisionRecord:
			s.decided, s.decision = true, r.V
		}
	}
	s.round = max(s.round, s.promised.Round)
	if s.decided {
		return
	}
	if s.cfg.Propose != 0 {
		s.env.SetTimer(TimerPropose, between(s.env, 0, s.cfg.RetryBase))
	}
	s.env.SetTimer(TimerLearn, s.cfg.LearnEvery)
}

func (s *Single) Timeout(t TimerID) {
	switch t {
	case TimerPropose:
		switch {
		case s.decided:
		case s.phase != 0 && s.cfg.Bugs.Has(NackQuorum):
			s.resend()
		default:
			s.propose()
		}
	case TimerLearn:
		if !s.decided {
			s.broadcast(Msg{Type: MsgQuery})
			s.env.SetTimer(TimerLearn, s.cfg.LearnEvery)
		}
	case TimerSync:
		if s.dirty {
			s.env.Storage().Sync()
			s.dirty = false
		}
	}
}

func (s *Single) Receive(from NodeID, m Msg) {
	invariant(from >= 0 && int(from) < s.n, s.id, "message from unknown node %d", from)
	switch m.Type {
	case MsgPrepare:
		s.onPrepare(from, m)
	case MsgAccept:
		s.onAccept(from, m)
	case MsgPromise:
		s.onPromise(from, m)
	case MsgNack:
		s.onNack(from, m)
	case MsgAccepted:
		s.onAccepted(from, m)
	case MsgQuery:
		if s.decided {
			s.env.Send(from, Msg{Type: MsgDecided, Value: s.decision})
		}
	case MsgDecided:
		s.decide(m.Value)
	default:
		invariant(false, s.id, "unknown message type %d from node %d", m.Type, from)
	}
}

func (s *Single) broadcast(m Msg) {
	for i := 0; i < s.n; i++ {
		s.env.Send(NodeID(i), m)
	}
}

// persist makes the acceptor's new state durable before it answers: the
// single most important ordering rule in Paxos. Bug no-persist answers first
// and syncs a little later.
func (s *Single) persist(rec any) {
	disk := s.env.Storage()
	disk.Append(rec)
	if s.cfg.Bugs.Has(NoPersist) {
		if !s.dirty {
			s.dirty = true
			s.env.SetTimer(TimerSync, 5*Millisecond)
		}
		return
	}
	disk.Sync()
}

// --- proposer ---

func (s *Single) propose() {
	s.round = max(s.round, s.promised.Round) + 1
	// The round is durable before any Prepare carries it, so a restarted
	// proposer never reuses a ballot with a different value.
	s.env.Storage().Append(roundRecord{R: s.round})
	s.env.Storage().Sync()
	s.ballot = Ballot{Round: s.round, Node: s.id}
	if s.cfg.Bugs.Has(DupBallot) {
		s.ballot.Node = 0
	}
	invariant(s.cfg.Bugs.Has(DupBallot) || s.ballot.Node == s.id, s.id, "ballot %v not owned by its proposer", s.ballot)
	s.phase, s.promises, s.nacks, s.highAcc, s.highVal = 1, 0, 0, Ballot{}, 0
	s.attempts++
	// Exponential randomized backoff, capped, so dueling proposers settle.
	s.armRetry()
	s.broadcast(Msg{Type: MsgPrepare, Ballot: s.ballot})
}

// armRetry arms the retry timer with exponential randomized backoff,
// capped, so dueling proposers settle.
func (s *Single) armRetry() {
	span := s.cfg.RetryBase << min(s.attempts, 5)
	s.env.SetTimer(TimerPropose, between(s.env, 2*s.cfg.RetryBase, 2*s.cfg.RetryBase+span))
}

// resend is bug nack-quorum's retry: the outstanding ballot's messages
// again, never a higher ballot.
func (s *Single) resend() {
	s.armRetry()
	if s.phase == 1 {
		s.broadcast(Msg{Type: MsgPrepare, Ballot: s.ballot})
	}
	// In phase 2 the Accepts went out once; the example resent nothing
	// more, and a lost Accept is as good as a nack that never comes.
}

func (s *Single) onPromise(from NodeID, m Msg) {
	if s.phase != 1 || (m.Ballot != s.ballot && !s.cfg.Bugs.Has(StalePromise)) {
		return // stale: an older attempt
	}
	invariant(m.AccBallot.Less(m.Ballot) || s.cfg.Bugs.Has(AcceptLowerBallot|DupBallot|StalePromise), s.id,
		"promise for ballot %v from node %d reports accepted ballot %v not below it", m.Ballot, from, m.AccBallot)
	s.promises |= 1 << uint(from)
	adopt := s.highAcc.Less(m.AccBallot)
	if s.cfg.Bugs.Has(LowestAccepted) {
		adopt = s.highAcc.IsZero()
	}
	if !m.AccBallot.IsZero() && adopt {
		s.highAcc, s.highVal = m.AccBallot, m.Value
	}
	if count(s.promises) < s.quor {
		return
	}
	v := s.cfg.Propose
	if !s.highAcc.IsZero() && !s.cfg.Bugs.Has(IgnoreAccepted) {
		v = s.highVal
	}
	invariant(v != 0, s.id, "ballot %v: nothing to propose", s.ballot)
	s.phase = 2
	s.broadcast(Msg{Type: MsgAccept, Ballot: s.ballot, Value: v})
}

func (s *Single) onNack(from NodeID, m Msg) {
	if m.Ballot != s.ballot || s.phase == 0 {
		return
	}
	invariant(s.ballot.Less(m.AccBallot) || s.ballot == m.AccBallot, s.id,
		"nack for ballot %v reports lower promise %v", m.Ballot, m.AccBallot)
	s.round = max(s.round, m.AccBallot.Round)
	if s.cfg.Bugs.Has(NackQuorum) {
		s.nacks |= 1 << uint(from)
		if count(s.nacks) < s.quor {
			return // wait for a quorum of refusals
		}
	}
	s.phase = 0 // abandon; the retry timer starts a higher ballot
}

// --- acceptor ---

func (s *Single) onPrepare(from NodeID, m Msg) {
	if m.Ballot.Less(s.promised) {
		s.env.Send(from, Msg{Type: MsgNack, Ballot: m.Ballot, AccBallot: s.promised})
		return
	}
	if s.promised != m.Ballot {
		s.promised = m.Ballot
		s.persist(promiseRecord{B: m.Ballot})
	}
	s.round = max(s.round, m.Ballot.Round)
	s.env.Send(from, Msg{Type: MsgPromise, Ballot: m.Ballot, AccBallot: s.accepted, Value: s.acceptedVal})
}

func (s *Single) onAccept(from NodeID, m Msg) {
	invariant(m.Value != 0, s.id, "accept for ballot %v carries no value", m.Ballot)
	if m.Ballot.Less(s.promised) && !s.cfg.Bugs.Has(AcceptLowerBallot) {
		s.env.Send(from, Msg{Type: MsgNack, Ballot: m.Ballot, AccBallot: s.promised})
		return
	}
	if s.promised.Less(m.Ballot) {
		s.promised = m.Ballot
	}
	s.accepted, s.acceptedVal = m.Ballot, m.Value
	if s.cfg.Bugs.Has(NoPersistAccept) {
		s.env.Storage().Append(acceptRecord{B: m.Ballot, V: m.Value})
	} else {
		s.persist(acceptRecord{B: m.Ballot, V: m.Value})
	}
	invariant(!s.promised.Less(s.accepted), s.id, "accepted ballot %v above promise %v", s.accepted, s.promised)
	accepted := Msg{Type: MsgAccepted, Ballot: m.Ballot, Value: m.Value}
	for i := 0; i < s.n; i++ {
		if s.cfg.Learners == 0 || s.cfg.Learners&(1<<uint(i)) != 0 {
			s.env.Send(NodeID(i), accepted)
		}
	}
}

// --- learner ---

func (s *Single) onAccepted(from NodeID, m Msg) {
	if s.decided {
		return
	}
	v := s.voteFor(m.Ballot, m.Value)
	v.from |= 1 << uint(from)
	v.msgs++
	n := count(v.from)
	if s.cfg.Bugs.Has(CountDuplicates) {
		n = v.msgs
	}
	if n >= s.quor {
		s.decide(m.Value)
	}
}

// voteFor finds or makes the tally of (ballot, value), evicting the lowest
// (ballot, value) when the table is full: by content, not position, so the
// table is a set (Fingerprint hashes it as one).
func (s *Single) voteFor(b Ballot, val Value) *vote {
	low := 0
	for i := range s.votes {
		v := &s.votes[i]
		if v.ballot == b && v.value == val {
			return v
		}
		if lo := &s.votes[low]; v.ballot.Less(lo.ballot) || (v.ballot == lo.ballot && v.value < lo.value) {
			low = i
		}
	}
	s.votes[low] = vote{ballot: b, value: val}
	return &s.votes[low]
}

func (s *Single) decide(v Value) {
	invariant(v != 0, s.id, "decided the empty value")
	if s.decided {
		return
	}
	s.decided, s.decision = true, v
	s.env.Storage().Append(decisionRecord{V: v})
	s.env.Storage().Sync()
	s.env.CancelTimer(TimerPropose)
	s.env.CancelTimer(TimerLearn)
}

// Clone returns an independent copy of the node bound to env: the
// exhaustive search steps copies and keeps the originals.
func (s *Single) Clone(env Env[Msg]) *Single { return s.CloneInto(env, nil) }

// CloneInto is Clone writing into an earlier copy nothing refers to any
// more (nil: allocate one).
func (s *Single) CloneInto(env Env[Msg], into *Single) *Single {
	if into == nil {
		into = new(Single)
	}
	*into = *s // every field is a value: the vote table is an array
	into.env = env
	return into
}

// Fingerprint hashes every field that can change what the node does next,
// for the exhaustive search's visited set. A field left out here would let
// the search merge two states that behave differently, so the soundness
// test (scenarios) continues pairs of equal fingerprints and compares them.
func (s *Single) Fingerprint() uint64 {
	h := Mix64(s.promised.hash() ^ 0x51)
	h = Mix64(h ^ s.accepted.hash())
	h = Mix64(h ^ uint64(s.acceptedVal))
	h = Mix64(h ^ uint64(s.round)<<32 ^ uint64(s.phase)<<8 ^ uint64(s.attempts)<<16 ^ b2u(s.dirty) ^ b2u(s.decided)<<1)
	h = Mix64(h ^ s.ballot.hash())
	h = Mix64(Mix64(h^s.promises) ^ s.nacks)
	h = Mix64(h ^ s.highAcc.hash())
	h = Mix64(h ^ uint64(s.highVal))
	h = Mix64(h ^ uint64(s.decision))
	if s.decided {
		return h // a decided learner never reads its tallies again
	}
	var votes uint64 // a set: summed, so arrival order does not matter
	for _, v := range s.votes {
		if v != (vote{}) { // empty slots: most of them, and all alike
			votes += Mix64(Mix64(Mix64(v.ballot.hash()^uint64(v.value))^v.from) ^ uint64(v.msgs))
		}
	}
	return Mix64(h + votes)
}

func (b Ballot) hash() uint64 { return Mix64(uint64(b.Round)<<32 ^ uint64(uint32(b.Node))) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// String methods name the records in traces' sync lines.
func (r promiseRecord) String() string { return "promise b=" + r.B.String() }
func (r acceptRecord) String() string {
	return "accept b=" + r.B.String() + " v=" + strconv.FormatInt(int64(r.V), 10)
}
func (r roundRecord) String() string    { return "round " + strconv.FormatUint(uint64(r.R), 10) }
func (r decisionRecord) String() string { return "decision " + strconv.FormatInt(int64(r.V), 10) }

// Hash methods let the exhaustive search fingerprint a disk.
func (r promiseRecord) Hash() uint64  { return Mix64(0x01 ^ r.B.hash()) }
func (r acceptRecord) Hash() uint64   { return Mix64(Mix64(0x02^r.B.hash()) ^ uint64(r.V)) }
func (r roundRecord) Hash() uint64    { return Mix64(0x03 ^ uint64(r.R)<<8) }
func (r decisionRecord) Hash() uint64 { return Mix64(0x04 ^ uint64(r.V)<<8) }

// Describe is the node's state in one line: acceptor (promise, acceptance),
// proposer (phase and ballot) and learner (decision). Traces keep it after
// every step for simrun replay -state and the diagram.
func (s *Single) Describe() string {
	var b strings.Builder
	b.WriteString("promised=" + s.promised.String())
	b.WriteString(" accepted=")
	if s.accepted.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(strconv.FormatInt(int64(s.acceptedVal), 10) + "@" + s.accepted.String())
	}
	if s.phase > 0 {
		b.WriteString(" phase" + strconv.Itoa(int(s.phase)) + " b=" + s.ballot.String())
	}
	if s.decided {
		b.WriteString(" decided=" + strconv.FormatInt(int64(s.decision), 10))
	}
	return b.String()
}

// TimerName names the node's timer in trace lines.
func (s *Single) TimerName(t TimerID) string {
	if t == TimerPropose {
		return "propose"
	}
	return ""
}

// Ignores: a promise for a ballot this proposer is past collecting
// promises for (ballots only grow, and a ballot's phase 1 happens once), a
// nack for a ballot it has left, an acceptance or a decision once it has
// decided.
func (s *Single) Ignores(from NodeID, m Msg) bool {
	switch m.Type {
	case MsgPromise:
		return !s.cfg.Bugs.Has(StalePromise) && (m.Ballot.Less(s.ballot) || (m.Ballot == s.ballot && s.phase != 1))
	case MsgNack:
		return s.abandoned(m.Ballot)
	case MsgAccepted, MsgDecided:
		return s.decided
	}
	return false
}

// Refuses: a prepare or accept below the promise is answered with a nack,
// and promises only grow.
func (s *Single) Refuses(from NodeID, m Msg) bool {
	switch m.Type {
	case MsgPrepare:
		return m.Ballot.Less(s.promised)
	case MsgAccept:
		return m.Ballot.Less(s.promised) && !s.cfg.Bugs.Has(AcceptLowerBallot)
	}
	return false
}

// Abandoned: the answers to a prepare or an accept are promises and nacks
// for its ballot, which Ignores once the proposer has left that ballot.
func (s *Single) Abandoned(to NodeID, m Msg) bool {
	switch m.Type {
	case MsgPrepare:
		return !s.cfg.Bugs.Has(StalePromise) && s.abandoned(m.Ballot)
	case MsgAccept:
		return s.abandoned(m.Ballot)
	}
	return false
}

// abandoned reports whether this proposer has left ballot b for good: it
// moved to a higher one, or gave b up (phase 0), after which the next
// attempt takes a higher round. (A ballot above its own is one it may
// still start.)
func (s *Single) abandoned(b Ballot) bool {
	return b.Less(s.ballot) || (b == s.ballot && s.phase == 0)
}
