package multipaxos

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/synod-sim/synod/paxos"
)

// Outcome says what applying a command did.
type Outcome uint8

const (
	// Executed: the command changed (or read) the services.
	Executed Outcome = iota + 1
	// Duplicate: the command's (client, seq) was the client's latest
	// executed one; nothing changed, the cached result answers the retry.
	Duplicate
	// Stale: an older command of a client that has moved on; nothing
	// changed and nobody is waiting for an answer.
	Stale
	// Skipped: the no-op.
	Skipped
)

var outcomeNames = [...]string{"?", "executed", "duplicate", "stale", "skipped"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// session is the replicated exactly-once record of one client: the last
// command it executed and its result. A client has one command outstanding at
// a time, so the last one is all a retry can ask about.
type session struct {
	seq    Seq
	result Result
}

type lockState struct {
	held   bool
	holder ClientID
	token  uint64 // last fencing token this lock handed out
	// session holds the lock when it was taken under one (session.go).
	session SessionID
}

// Services is the deterministic state machine every replica runs on the
// decided log: the key-value store, the lock service and the client session
// table. Each replica holds its own copy and applies the same commands in
// the same order.
type Services struct {
	kv       []string
	locks    []lockState
	sessions []session     // by client id
	noDedup  bool          // bug no-dedup: no session table
	sess     *sessionTable // leased client sessions (session.go); nil until one opens
	// frozen: copies of a replica share these services (Server.Clone);
	// they are never written again, and a replica copies them before it
	// applies a command.
	frozen atomic.Bool
}

// NewServices builds empty services with the given numbers of keys and locks.
func NewServices(keys, locks int, bugs paxos.Bugs) *Services {
	if keys < 0 || keys > 256 || locks < 0 || locks > 256 {
		panic(fmt.Sprintf("multipaxos: %d keys and %d locks: want 0..256 of each", keys, locks))
	}
	return &Services{kv: make([]string, keys), locks: make([]lockState, locks), noDedup: bugs.Has(paxos.NoDedup)}
}

// Get reads a key locally (lease reads and the stale-leader-read bug).
func (s *Services) Get(key uint8) string { return s.kv[key] }

// LastSeq is the last sequence number executed for a client, and its result.
func (s *Services) LastSeq(c ClientID) (Seq, Result) {
	if int(c) < len(s.sessions) {
		return s.sessions[c].seq, s.sessions[c].result
	}
	return 0, Result{}
}

// Apply executes one decided command.
func (s *Services) Apply(c Command) (Result, Outcome) { return s.applyWith(c, s.execute) }

// applyWith is Apply with exec to execute c once its session admits it: a
// membership change is executed by the replica, not by the services, but
// answered exactly once like any client command.
func (s *Services) applyWith(c Command, exec func(Command) Result) (Result, Outcome) {
	if c.Op == OpNoop {
		return Result{}, Skipped
	}
	if c.Op == OpExpire { // the leader's, not a client's: no exactly-once record
		return s.expire(c), Executed
	}
	if c.Client < 0 || c.Seq == 0 {
		panic(fmt.Sprintf("multipaxos: applying %v: a client command needs a client and a sequence number", c))
	}
	for int(c.Client) >= len(s.sessions) {
		s.sessions = append(s.sessions, session{})
	}
	sess := &s.sessions[c.Client]
	if !s.noDedup {
		switch {
		case c.Seq == sess.seq:
			return sess.result, Duplicate
		case c.Seq < sess.seq:
			return Result{}, Stale
		}
	}
	r := exec(c)
	if c.Seq > sess.seq {
		sess.seq, sess.result = c.Seq, r
	}
	return r, Executed
}

func (s *Services) execute(c Command) Result {
	switch c.Op {
	case OpGet:
		return Result{OK: true, Value: s.kv[c.Key]}
	case OpPut:
		s.kv[c.Key] = c.Value
		return Result{OK: true}
	case OpAppend:
		s.kv[c.Key] += c.Value
		return Result{OK: true}
	case OpCAS:
		if s.kv[c.Key] != c.Old {
			return Result{}
		}
		s.kv[c.Key] = c.Value
		return Result{OK: true}
	case OpOpen, OpKeepAlive:
		return s.sessionExec(c)
	case OpAcquire:
		if c.Session != 0 {
			return s.sessionExec(c)
		}
		l := &s.locks[c.Key]
		if l.held {
			// Not reentrant: the holder asking again is refused too, so
			// a retried acquire that was executed once is told apart.
			return Result{}
		}
		l.token++
		l.held, l.holder = true, c.Client
		return Result{OK: true, Token: l.token}
	case OpRelease:
		if c.Session != 0 {
			return s.sessionExec(c)
		}
		l := &s.locks[c.Key]
		if !l.held || l.holder != c.Client {
			return Result{}
		}
		l.held, l.holder = false, 0
		return Result{OK: true}
	}
	panic(fmt.Sprintf("multipaxos: applying unknown command %v", c))
}
