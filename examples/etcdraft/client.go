package etcdraft

import (
	"strconv"

	"github.com/synod-sim/synod/sim"
)

// Timers of a client.
const (
	timerThink sim.TimerID = iota // issue the next operation
	timerRetry                    // no answer: try another replica
)

// Workload is what one client does: Ops operations on Keys keys, pausing up
// to Think between them, issuing nothing at or after Until.
type Workload struct {
	Replicas int
	Ops      int
	Keys     int
	Think    sim.Duration
	Retry    sim.Duration
	Until    sim.Time
	ReadPct  int // share of gets; the rest are puts and, one in three, CAS
}

// Call is one operation as the client saw it, for the history.
type Call struct {
	Op       Op
	Call     sim.Time
	Return   sim.Time
	Returned bool
	OK       bool
	Value    string
}

// Client issues key-value operations one at a time, finds the leader by
// following redirects (or trying replicas in turn), and retries an operation
// under the same sequence number until it is answered.
type Client struct {
	env    *sim.Env[Msg]
	w      Workload
	target sim.NodeID
	seq    uint64
	calls  []Call
	seen   map[string]string // the last value read or written per key: CAS guesses
	hops   int               // redirects followed since the last retry
	done   bool
}

// NewClient builds a client; clients never crash, so Start runs once.
func NewClient(env *sim.Env[Msg], w Workload) *Client {
	return &Client{env: env, w: w, seen: map[string]string{}}
}

func (c *Client) Start() {
	c.target = sim.NodeID(c.env.Rand(uint64(c.w.Replicas)))
	c.think()
}

func (c *Client) think() {
	if len(c.calls) >= c.w.Ops || c.env.Now() >= c.w.Until {
		c.done = true
		return
	}
	c.env.SetTimer(timerThink, sim.Duration(c.env.Rand(uint64(c.w.Think)+1)))
}

func (c *Client) Timeout(t sim.TimerID) {
	switch t {
	case timerThink:
		if c.env.Now() >= c.w.Until {
			c.done = true
			return
		}
		c.issue()
	case timerRetry:
		c.target = (c.target + 1) % sim.NodeID(c.w.Replicas)
		c.hops = 0
		c.send()
	}
}

// issue draws the next operation: a get, a put of a fresh value, or a CAS
// from the value this client last saw for the key.
func (c *Client) issue() {
	c.seq++
	key := "k" + strconv.Itoa(int(c.env.Rand(uint64(c.w.Keys))))
	value := "c" + strconv.Itoa(int(c.env.ID())) + "-" + strconv.FormatUint(c.seq, 10)
	op := Op{Kind: OpGet, Key: key}
	if c.env.Rand(100) >= uint64(c.w.ReadPct) {
		op = Op{Kind: OpPut, Key: key, Value: value}
		if c.env.Rand(3) == 0 {
			op = Op{Kind: OpCAS, Key: key, Old: c.seen[key], Value: value}
		}
	}
	c.calls = append(c.calls, Call{Op: op, Call: c.env.Now()})
	c.send()
}

func (c *Client) send() {
	call := c.calls[len(c.calls)-1]
	c.env.Send(c.target, Msg{Req: &Request{Client: c.env.ID(), Seq: c.seq, Op: call.Op}})
	c.env.SetTimer(timerRetry, c.w.Retry)
}

func (c *Client) Receive(from sim.NodeID, m Msg) {
	r := m.Rep
	if r == nil || r.Seq != c.seq || len(c.calls) == 0 || c.calls[len(c.calls)-1].Returned {
		return // an answer to an earlier attempt
	}
	if r.Redirect {
		// Replicas with stale beliefs can bounce a client between them:
		// a few hops per attempt, then the retry timer.
		if r.Leader >= 0 && r.Leader != c.target && c.hops < 3 {
			c.hops++
			c.target = r.Leader
			c.send()
		}
		return // no leader known: the retry timer tries the next replica
	}
	call := &c.calls[len(c.calls)-1]
	call.Returned, call.Return, call.OK, call.Value = true, c.env.Now(), r.OK, r.Value
	switch {
	case call.Op.Kind == OpGet:
		c.seen[call.Op.Key] = r.Value
	case r.OK:
		c.seen[call.Op.Key] = call.Op.Value
	}
	c.target = from
	c.env.CancelTimer(timerRetry)
	c.think()
}

// Done reports that the client issues nothing more and waits for nothing.
func (c *Client) Done() bool { return c.done }

// Calls is the client's history so far.
func (c *Client) Calls() []Call { return c.calls }

// Describe is the client's state in one line.
func (c *Client) Describe() string {
	s := "client seq=" + strconv.FormatUint(c.seq, 10) + " target=n" + strconv.Itoa(int(c.target))
	if c.done {
		s += " done"
	}
	return s
}

// TimerName names a client's timers in trace lines.
func (c *Client) TimerName(t sim.TimerID) string { return [...]string{"think", "retry"}[t] }
