package multipaxos

import (
	"fmt"
	"strconv"

	"github.com/synod-sim/synod/paxos"
)

// Workload is what one client asks of the services.
type Workload struct {
	// Ops is how many commands the client issues, one at a time.
	Ops int
	// Keys and Locks are how many keys and locks the client draws from;
	// with both set it mixes key-value and lock commands evenly.
	Keys, Locks int
	// Think bounds the pause between a reply and the next command.
	Think paxos.Duration
	// ReadPct is the share of key-value commands that are reads (gets), in
	// percent; 0 means 40.
	ReadPct int
	// Until, when set, is the time from which the client issues no new
	// command (Jepsen's time limit): a liveness phase then waits only for
	// the commands outstanding.
	Until paxos.Time
	// Commands, when set, is the workload spelled out: the client issues
	// these commands in order, one at a time, and draws none (Ops must be
	// len(Commands) or 0). The client fills in its id and the sequence
	// numbers; a put, append or cas with no Value writes the client's unique
	// value. The exhaustive search needs it: there, every draw is 0.
	Commands []Command
}

// ClientConfig configures a client.
type ClientConfig struct {
	Replicas int // nodes 0..Replicas-1 are replicas
	Workload Workload
	// Retry is how long a client waits for a reply before it sends the
	// same command (same sequence number) to the next replica.
	Retry paxos.Duration
	// MaxRedirects bounds how many redirects a client follows at once
	// before it waits for its retry timer, so two replicas that name each
	// other cannot bounce it forever.
	MaxRedirects int
	// Home, when positive, is one more than the replica the client asks
	// first; 0 draws that replica at Start. (The exhaustive search, where
	// every draw is 0, spreads clients over the replicas with it.)
	Home int
}

// Call is one operation as the client saw it: when it asked, when (and
// whether) the answer came, and what it was.
type Call struct {
	Cmd      Command
	Call     paxos.Time
	Return   paxos.Time
	Result   Result
	Returned bool
}

// Timers of a client.
const (
	timerThink paxos.TimerID = iota // issue the next command
	timerRetry                      // no reply yet: try another replica
)

// Client issues commands to the replicated services, one at a time, with
// (client id, sequence number) so that retries are applied exactly once.
type Client struct {
	env   paxos.Env[Msg]
	cfg   ClientConfig
	id    ClientID
	seq   Seq
	to    paxos.NodeID // the replica it sends to: the leader, if it knows
	redir int          // redirects followed since the last retry

	calls   []Call
	waiting bool
	held    uint64   // locks this client holds, by its own record
	seen    []string // per key, the last value this client read or wrote
}

// NewClient builds a client; it starts issuing commands at Start.
func NewClient(env paxos.Env[Msg], cfg ClientConfig) *Client {
	if cfg.Retry <= 0 {
		cfg.Retry = 100 * paxos.Millisecond
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 3
	}
	id := env.ID()
	w := cfg.Workload
	if len(w.Commands) > 0 && w.Ops == 0 {
		w.Ops = len(w.Commands)
		cfg.Workload.Ops = w.Ops
	}
	for _, cmd := range w.Commands {
		if w.Ops != len(w.Commands) || cmd.Op == OpNoop || cmd.Op >= numOps ||
			(cmd.Op.IsKV() && int(cmd.Key) >= w.Keys) || (cmd.Op.IsLock() && int(cmd.Key) >= w.Locks) {
			panic(fmt.Sprintf("multipaxos: client at node %d: command %v in a workload of %d ops, %d keys, %d locks", id, cmd, w.Ops, w.Keys, w.Locks))
		}
	}
	if int(id) < cfg.Replicas || cfg.Home < 0 || cfg.Home > cfg.Replicas || w.ReadPct < 0 || w.ReadPct > 100 || w.Ops < 0 || w.Keys < 0 || w.Keys > 256 || w.Locks < 0 || w.Locks > 64 || (w.Ops > 0 && w.Keys == 0 && w.Locks == 0) {
		panic(fmt.Sprintf("multipaxos: client at node %d with %d replicas and workload %+v", id, cfg.Replicas, w))
	}
	return &Client{env: env, cfg: cfg, id: ClientID(id), seen: make([]string, w.Keys), calls: make([]Call, 0, w.Ops)}
}

// Calls is every operation the client issued, in order; the last may be
// waiting for its reply.
func (c *Client) Calls() []Call { return c.calls }

// Done reports whether the client has nothing more to do: no command waits
// for its reply, and the workload is issued or its time is up.
func (c *Client) Done() bool {
	return !c.waiting && (len(c.calls) == c.cfg.Workload.Ops || c.expired())
}

func (c *Client) expired() bool {
	return c.cfg.Workload.Until > 0 && c.env.Now() >= c.cfg.Workload.Until
}

// Waiting returns the operation waiting for a reply, if any.
func (c *Client) Waiting() (Call, bool) {
	if !c.waiting {
		return Call{}, false
	}
	return c.calls[len(c.calls)-1], true
}

// Start picks a replica to talk to and schedules the first command.
func (c *Client) Start() {
	if c.cfg.Home > 0 {
		c.to = paxos.NodeID(c.cfg.Home - 1)
	} else {
		c.to = paxos.NodeID(c.env.Rand(uint64(c.cfg.Replicas)))
	}
	c.think()
}

// think schedules the next command after a pause drawn from [0, Think]. The
// plain outcome of the draw (0) is the longest pause: a client that waits is
// the uneventful run, so a shrinker that lowers choices makes the workload
// sparser, not denser.
func (c *Client) think() {
	if len(c.calls) < c.cfg.Workload.Ops {
		t := c.cfg.Workload.Think
		c.env.SetTimer(timerThink, t-paxos.Duration(c.env.Rand(uint64(t)+1)))
	}
}

// Timeout issues the next command or retries the waiting one.
func (c *Client) Timeout(t paxos.TimerID) {
	switch t {
	case timerThink:
		c.issue()
	case timerRetry:
		if c.waiting {
			c.to = (c.to + 1) % paxos.NodeID(c.cfg.Replicas)
			c.redir = 0
			c.send()
		}
	default:
		panic(fmt.Sprintf("multipaxos: client %d: unknown timer %d", c.id, t))
	}
}

// Receive takes a reply or a redirect.
func (c *Client) Receive(from paxos.NodeID, m Msg) {
	if !c.waiting || m.Cmd.Seq != c.seq {
		return // an answer to an earlier try, or a duplicate
	}
	switch m.Type {
	case MsgReply:
		call := &c.calls[len(c.calls)-1]
		if m.Cmd.Client != c.id || m.Cmd.Op != call.Cmd.Op || m.Cmd.Key != call.Cmd.Key {
			panic(fmt.Sprintf("multipaxos: client %d: reply %v from node %d does not answer %v", c.id, m, from, call.Cmd))
		}
		call.Return, call.Result, call.Returned = c.env.Now(), m.Result, true
		c.waiting = false
		c.to = from
		c.env.CancelTimer(timerRetry)
		c.observe(call.Cmd, m.Result)
		c.think()
	case MsgRedirect:
		if m.Leader >= 0 && int(m.Leader) < c.cfg.Replicas && m.Leader != c.to && c.redir < c.cfg.MaxRedirects {
			c.redir++
			c.to = m.Leader
			c.send()
		}
	default:
		panic(fmt.Sprintf("multipaxos: client %d: unexpected %v from node %d", c.id, m.Type, from))
	}
}

// observe updates what the client believes: the locks it holds and the last
// value of each key, from which it draws plausible compare-and-sets.
func (c *Client) observe(cmd Command, r Result) {
	switch cmd.Op {
	case OpGet:
		c.seen[cmd.Key] = r.Value
	case OpPut:
		c.seen[cmd.Key] = cmd.Value
	case OpAppend:
		c.seen[cmd.Key] += cmd.Value
	case OpCAS:
		if r.OK {
			c.seen[cmd.Key] = cmd.Value
		}
	case OpAcquire:
		if r.OK {
			c.held |= 1 << cmd.Key
		}
	case OpRelease:
		c.held &^= 1 << cmd.Key
	}
}

func (c *Client) issue() {
	if c.waiting || len(c.calls) >= c.cfg.Workload.Ops || c.expired() {
		return
	}
	c.seq++
	cmd := c.draw()
	c.calls = append(c.calls, Call{Cmd: cmd, Call: c.env.Now()})
	c.waiting = true
	c.redir = 0
	c.send()
}

func (c *Client) send() {
	c.env.Send(c.to, Msg{Type: MsgRequest, Cmd: c.calls[len(c.calls)-1].Cmd})
	c.env.SetTimer(timerRetry, c.cfg.Retry)
}

// draw picks the next command. Written values are unique ("c<client>.<seq>;")
// so a history shows which write a read saw.
func (c *Client) draw() Command {
	w := c.cfg.Workload
	cmd := Command{Client: c.id, Seq: c.seq}
	if len(w.Commands) > 0 {
		given := w.Commands[c.seq-1]
		cmd.Op, cmd.Key, cmd.Value, cmd.Old = given.Op, given.Key, given.Value, given.Old
		if cmd.Value == "" && (cmd.Op == OpPut || cmd.Op == OpAppend || cmd.Op == OpCAS) {
			cmd.Value = c.value()
		}
		return cmd
	}
	lock := w.Locks > 0 && (w.Keys == 0 || c.env.Rand(2) == 1)
	if lock {
		cmd.Key = uint8(c.env.Rand(uint64(w.Locks)))
		cmd.Op = OpAcquire
		if c.held&(1<<cmd.Key) != 0 {
			cmd.Op = OpRelease
		}
		return cmd
	}
	cmd.Key = uint8(c.env.Rand(uint64(w.Keys)))
	reads := uint64(w.ReadPct)
	if reads == 0 {
		reads = 40
	}
	if c.env.Rand(100) < reads {
		cmd.Op = OpGet
		return cmd
	}
	// Writes: puts 1/3, appends 5/12, compare-and-sets 1/4.
	value := c.value()
	switch r := c.env.Rand(12); {
	case r < 4:
		cmd.Op = OpPut
		cmd.Value = value
	case r < 9:
		cmd.Op = OpAppend
		cmd.Value = value
	default:
		cmd.Op = OpCAS
		cmd.Old, cmd.Value = c.seen[cmd.Key], value
	}
	return cmd
}

// value is the unique value the client's current command writes.
func (c *Client) value() string {
	return "c" + strconv.Itoa(int(c.id)) + "." + strconv.FormatUint(uint64(c.seq), 10) + ";"
}
