package multipaxos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/paxos"
)

// --- the session client: a lock holder that writes to the resource ---

// SessionClientConfig configures a session client.
type SessionClientConfig struct {
	Replicas int          // nodes 0..Replicas-1 are replicas
	Resource paxos.NodeID // the protected resource
	Terms    SessionTerms
	// Grace is how long after its lease view lapsed (jeopardy) the client
	// keeps trying to renew before it gives the session up and opens a new
	// one.
	Grace paxos.Duration
	Retry paxos.Duration // no reply: try the next replica
	// Locks are the locks the client contends for (the election: one).
	Locks int
	// Think bounds the pause between two writes of a holder; Try the pause
	// between two attempts at a lock (Chubby's clients wait for an event
	// instead; polling at about half a lease is as prompt).
	Think, Try paxos.Duration
	// Commit bounds the time between deciding a write (the holder checked
	// its lease) and sending it: the gap a pause falls into.
	Commit paxos.Duration
	// Writes is how many writes a holder makes before it releases the
	// lock; 0: it never does (a primary).
	Writes int
	// Until: from then on the client takes no lock and gives back the one
	// it holds, if Writes > 0.
	Until paxos.Time
	Bugs  paxos.Bugs
}

// Timers of a session client.
const (
	stRetry     paxos.TimerID = iota // no reply yet: try the next replica
	stKeepAlive                      // renew the session
	stWork                           // the next step of work
	stCommit                         // send the write decided
	stGrace                          // the grace period may be over
)

var sessionTimerNames = [...]string{"retry", "keepalive", "work", "commit", "grace"}

// seqBlock is how many sequence numbers a client reserves on disk at a
// time: a restarted client starts above every number an earlier
// incarnation may have used, so the service's exactly-once record admits
// its commands, and it syncs once per block, not once per command.
const seqBlock = 256

// SessionEventKind says what a session client reports.
type SessionEventKind uint8

const (
	SessRenewed SessionEventKind = iota + 1 // the service acknowledged Cmd (open or keep-alive) for Session, first sent at Sent
	SessLost                                // the client gave Session up: Why
	SessCall                                // the client asked Cmd (acquire or release) at At
	SessReturn                              // Cmd answered Result at At
	SessDecide                              // the client, holding Cmd.Key with Token, decided write Cmd.Seq
	SessSend                                // the client sent write Cmd.Seq to the resource
)

// SessionEvent is what a session client reports after a step. Times are
// true time, for the checker: the client itself only reads its own clock.
type SessionEvent struct {
	Kind    SessionEventKind
	Session SessionID
	Cmd     Command
	Result  Result
	Token   uint64
	Sent    paxos.Time
	At      paxos.Time
	Why     string
}

// seqRecord is the client's one durable fact: it may have used sequence
// numbers up to Upto.
type seqRecord struct{ Upto Seq }

func (r seqRecord) String() string {
	return "seq reserved up to " + strconv.FormatUint(uint64(r.Upto), 10)
}

type sessionCall struct {
	cmd       Command
	sentLocal paxos.Time // local clock at the first send
	sentAt    paxos.Time // true time of the first send (reported only)
}

type pendingWrite struct {
	lock  uint8
	token uint64
	write Seq
}

// SessionClient opens a session, keeps it alive, takes locks under it and,
// while it holds one and its lease view runs, writes to the resource with
// the lock's fencing token. It has one command outstanding at a time.
type SessionClient struct {
	env  paxos.Env[Msg]
	cfg  SessionClientConfig
	id   ClientID
	seq  Seq // the last sequence number used, by commands and writes alike
	upto Seq // reserved on disk
	to   paxos.NodeID

	session  SessionID
	viewFrom paxos.Time // local time at which the newest acknowledged renewal was sent
	graceEnd paxos.Time // local time at which a lapsed session is given up
	out      *sessionCall
	kaDue    bool
	redir    int

	holds   []uint64 // by lock: the token held, 0 if none
	writes  []int    // by lock: writes made under the token held
	pending *pendingWrite

	events []SessionEvent
}

// NewSessionClient builds a session client; Start reads its disk.
func NewSessionClient(env paxos.Env[Msg], cfg SessionClientConfig) *SessionClient {
	id := env.ID()
	if int(id) < cfg.Replicas || cfg.Replicas < 1 || !cfg.Terms.valid() || cfg.Locks < 1 || cfg.Locks > 64 ||
		cfg.Retry <= 0 || cfg.Think <= 0 || cfg.Try <= 0 || cfg.Grace < 0 || cfg.Commit < 0 || cfg.Writes < 0 || int(cfg.Resource) < cfg.Replicas {
		panic(fmt.Sprintf("multipaxos: session client at node %d: config %+v", id, cfg))
	}
	return &SessionClient{env: env, cfg: cfg, id: ClientID(id), holds: make([]uint64, cfg.Locks), writes: make([]int, cfg.Locks)}
}

// Start skips the sequence numbers an earlier incarnation may have used
// and opens a session.
func (c *SessionClient) Start() {
	for _, r := range c.env.Storage().Records() {
		sr, ok := r.(seqRecord)
		if !ok || sr.Upto <= c.seq {
			panic(fmt.Sprintf("multipaxos: session client %d: disk record %v after seq %d", c.id, r, c.seq))
		}
		c.seq = sr.Upto
	}
	c.upto = c.seq
	c.to = paxos.NodeID(c.env.Rand(uint64(c.cfg.Replicas)))
	c.open()
}

// --- what the scenario reads ---

// TakeEvents returns what happened since the last call and forgets it.
func (c *SessionClient) TakeEvents() []SessionEvent {
	ev := c.events
	c.events = c.events[:0]
	return ev
}

// Session is the client's session, 0 while it has none.
func (c *SessionClient) Session() SessionID { return c.session }

// Valid reports whether the client's own view of its lease runs.
func (c *SessionClient) Valid() bool {
	return c.session != 0 && c.env.LocalNow() < c.viewFrom+paxos.Time(c.cfg.Terms.ClientView())
}

// Holds is the token the client holds lock l with, or 0.
func (c *SessionClient) Holds(l uint8) uint64 { return c.holds[l] }

// Writing reports whether the client decided a write it has not sent yet:
// the gap a pause falls into.
func (c *SessionClient) Writing() bool { return c.pending != nil }

// Busy reports whether a command waits for its reply.
func (c *SessionClient) Busy() bool { return c.out != nil }

// --- steps ---

func (c *SessionClient) emit(e SessionEvent) {
	e.At = c.env.Now()
	c.events = append(c.events, e)
}

func (c *SessionClient) open() {
	c.issue(Command{Op: OpOpen, Value: c.cfg.Terms.String()})
}

func (c *SessionClient) issue(cmd Command) {
	if c.out != nil {
		panic(fmt.Sprintf("multipaxos: session client %d: issuing %v while %v waits", c.id, cmd, c.out.cmd))
	}
	cmd.Client, cmd.Seq = c.id, c.next()
	if cmd.Op.IsLock() {
		c.emit(SessionEvent{Kind: SessCall, Session: cmd.Session, Cmd: cmd})
	}
	c.out = &sessionCall{cmd: cmd, sentLocal: c.env.LocalNow(), sentAt: c.env.Now()}
	c.redir = 0
	c.send()
}

// next is the next sequence number, reserved on disk first.
func (c *SessionClient) next() Seq {
	c.seq++
	if c.seq > c.upto {
		c.upto += seqBlock
		st := c.env.Storage()
		st.Append(seqRecord{Upto: c.upto})
		st.Sync()
	}
	return c.seq
}

func (c *SessionClient) send() {
	c.env.Send(c.to, Msg{Type: MsgRequest, Cmd: c.out.cmd})
	c.env.SetTimer(stRetry, c.cfg.Retry)
}

// armWork schedules the next step of work after a pause drawn from
// [0, Think] while the client holds a lock, [0, Try] while it does not, the
// longest at the plain outcome. A client without a session has no work.
func (c *SessionClient) armWork() {
	if c.session == 0 {
		return
	}
	t := c.cfg.Try
	for _, h := range c.holds {
		if h != 0 {
			t = c.cfg.Think
		}
	}
	c.env.SetTimer(stWork, t-paxos.Duration(c.env.Rand(uint64(t)+1)))
}

// armKeepAlive schedules the next renewal: three per lease view, so that
// one lost keep-alive and its retry still renew in time.
func (c *SessionClient) armKeepAlive() {
	c.env.SetTimer(stKeepAlive, max(1, c.cfg.Terms.ClientView()/3))
}

// armGrace arms the timer that looks whether the grace period is over.
func (c *SessionClient) armGrace() {
	c.env.SetTimer(stGrace, max(1, paxos.Duration(c.graceEnd-c.env.LocalNow())))
}

// Timeout handles one timer.
func (c *SessionClient) Timeout(t paxos.TimerID) {
	switch t {
	case stRetry:
		if c.out != nil {
			c.to = (c.to + 1) % paxos.NodeID(c.cfg.Replicas)
			c.redir = 0
			c.send()
		}
	case stKeepAlive:
		if c.session == 0 {
			return // re-armed when a session opens
		}
		c.armKeepAlive()
		if c.out == nil {
			c.issue(Command{Op: OpKeepAlive, Session: c.session})
		} else {
			c.kaDue = true
		}
	case stWork:
		c.work()
		c.armWork()
	case stCommit:
		if p := c.pending; p != nil {
			// No second look at the lease: the write was decided, and a
			// pause since is what fencing is for.
			c.pending = nil
			c.env.Send(c.cfg.Resource, Msg{Type: MsgWrite, Cmd: Command{Client: c.id, Seq: p.write, Key: p.lock, Session: c.session}, Result: Result{Token: p.token}})
			c.emit(SessionEvent{Kind: SessSend, Session: c.session, Cmd: Command{Client: c.id, Seq: p.write, Key: p.lock}, Token: p.token})
		}
	case stGrace:
		if c.session == 0 {
			return
		}
		if c.env.LocalNow() < c.graceEnd {
			c.armGrace()
			return
		}
		c.lose("the grace period ran out")
	default:
		panic(fmt.Sprintf("multipaxos: session client %d: unknown timer %d", c.id, t))
	}
}

// acting reports whether the client may act as the holder of its locks: its
// lease view runs. Bug client-ignores-jeopardy acts as long as it has a
// session at all, through the grace period.
func (c *SessionClient) acting() bool {
	if c.cfg.Bugs.Has(paxos.ClientIgnoresJeopardy) {
		return c.session != 0
	}
	return c.Valid()
}

// work is one step: write under a lock held, give it back, or try for one.
func (c *SessionClient) work() {
	if c.session == 0 || !c.acting() {
		return // no session, or in jeopardy: hold still
	}
	late := c.cfg.Until > 0 && c.env.Now() >= c.cfg.Until
	for l := range c.holds {
		if c.holds[l] == 0 {
			continue
		}
		if c.cfg.Writes > 0 && (c.writes[l] >= c.cfg.Writes || late) {
			if c.out != nil {
				return // next time
			}
			// It stops acting as the holder before it asks to release.
			c.holds[l], c.writes[l] = 0, 0
			c.issue(Command{Op: OpRelease, Key: uint8(l), Session: c.session})
			return
		}
		if c.pending != nil {
			return
		}
		c.writes[l]++
		c.pending = &pendingWrite{lock: uint8(l), token: c.holds[l], write: c.next()}
		c.emit(SessionEvent{Kind: SessDecide, Session: c.session, Cmd: Command{Client: c.id, Seq: c.pending.write, Key: uint8(l)}, Token: c.holds[l]})
		c.env.SetTimer(stCommit, paxos.Duration(c.env.Rand(uint64(c.cfg.Commit)+1)))
		return
	}
	if late || c.out != nil {
		return
	}
	l := uint8(c.env.Rand(uint64(c.cfg.Locks)))
	c.issue(Command{Op: OpAcquire, Key: l, Session: c.session})
}

// Receive takes a reply, a redirect or a write's answer.
func (c *SessionClient) Receive(from paxos.NodeID, m Msg) {
	if m.Type == MsgWriteAck {
		return // the resource's verdict is its own to report
	}
	if c.out == nil || m.Cmd.Seq != c.out.cmd.Seq {
		return // an answer to an earlier try, or a duplicate
	}
	switch m.Type {
	case MsgReply:
		if m.Cmd.Client != c.id || m.Cmd.Op != c.out.cmd.Op {
			panic(fmt.Sprintf("multipaxos: session client %d: reply %v from node %d does not answer %v", c.id, m, from, c.out.cmd))
		}
		call := *c.out
		c.out = nil
		c.to = from
		c.env.CancelTimer(stRetry)
		c.answered(call, m.Result)
		if c.out == nil && c.kaDue && c.session != 0 {
			c.kaDue = false
			c.issue(Command{Op: OpKeepAlive, Session: c.session})
		}
	case MsgRedirect:
		if m.Leader >= 0 && int(m.Leader) < c.cfg.Replicas && m.Leader != c.to && c.redir < 3 {
			c.redir++
			c.to = m.Leader
			c.send()
		}
	default:
		panic(fmt.Sprintf("multipaxos: session client %d: unexpected %v from node %d", c.id, m.Type, from))
	}
}

func (c *SessionClient) answered(call sessionCall, r Result) {
	cmd := call.cmd
	if cmd.Op.IsLock() {
		c.emit(SessionEvent{Kind: SessReturn, Session: cmd.Session, Cmd: cmd, Result: r})
	}
	switch cmd.Op {
	case OpOpen:
		if !r.OK || r.Token == 0 {
			panic(fmt.Sprintf("multipaxos: session client %d: open answered %v", c.id, r))
		}
		c.session = SessionID(r.Token)
		c.renewed(call)
		c.armKeepAlive()
		c.armWork()
	case OpKeepAlive:
		switch {
		case cmd.Session != c.session:
		case r.OK:
			c.renewed(call)
		case r.Value == Expired:
			c.lose("the service says it expired")
		}
	case OpAcquire:
		switch {
		case cmd.Session != c.session:
		case r.OK:
			c.holds[cmd.Key], c.writes[cmd.Key] = r.Token, 0
			c.armWork() // a holder works at its own pace
		case r.Value == Expired:
			c.lose("the service says it expired")
		}
	case OpRelease:
		if cmd.Session == c.session && r.Value == Expired {
			c.lose("the service says it expired")
		}
	}
}

// renewed counts the lease from when call was first sent, if that is later
// than the renewal the view runs from.
func (c *SessionClient) renewed(call sessionCall) {
	c.emit(SessionEvent{Kind: SessRenewed, Session: c.session, Cmd: call.cmd, Sent: call.sentAt})
	if call.cmd.Op == OpOpen || call.sentLocal > c.viewFrom {
		c.viewFrom = call.sentLocal
	}
	// Jeopardy begins when the view lapses, or now if a slow answer comes
	// after that: the grace period runs from then.
	c.graceEnd = max(c.viewFrom+paxos.Time(c.cfg.Terms.ClientView()), c.env.LocalNow()) + paxos.Time(c.cfg.Grace)
	c.armGrace()
}

// lose gives the session up: its locks are no longer the client's, and it
// opens a new session. A command waiting for its reply is abandoned.
func (c *SessionClient) lose(why string) {
	c.emit(SessionEvent{Kind: SessLost, Session: c.session, Why: why})
	c.session = 0
	clear(c.holds)
	clear(c.writes)
	c.kaDue = false
	c.env.CancelTimer(stGrace)
	c.env.CancelTimer(stWork)
	if c.out != nil {
		c.out = nil
		c.env.CancelTimer(stRetry)
	}
	c.open()
}

// Describe is the client's state in one line.
func (c *SessionClient) Describe() string {
	var b strings.Builder
	if c.session == 0 {
		b.WriteString("no session")
	} else {
		fmt.Fprintf(&b, "s%d", c.session)
		if !c.Valid() {
			b.WriteString(" in jeopardy")
		}
	}
	for l, t := range c.holds {
		if t != 0 {
			fmt.Fprintf(&b, ", holds %s token %d", lockNames[l], t)
		}
	}
	if c.out != nil {
		b.WriteString(", waits for ")
		b.WriteString(c.out.cmd.String())
	}
	return b.String()
}

// TimerName names timer t in traces.
func (c *SessionClient) TimerName(t paxos.TimerID) string {
	if int(t) < len(sessionTimerNames) {
		return sessionTimerNames[t]
	}
	return ""
}
