// Package register is the smallest protocol tested with Synod from the
// outside: one register server with a write-ahead log on disk, and clients
// that write and read it. Its planted bug, ack-before-sync, answers a
// write before the write is durable; a crash then takes back a write a
// client was told had happened, which the register's linearizability check
// sees. Everything here uses Synod's public API only.
package register

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// AckBeforeSync is the planted bug: a bit no other registered bug holds.
const AckBeforeSync planted.Set = 1 << 40

// Msg is a client request (Op "w" or "r") or the server's reply.
type Msg struct {
	Op        string
	Seq       int
	Value     int
	Reply, OK bool
}

func (m Msg) Hash() uint64 {
	return uint64(m.Seq)<<32 ^ uint64(m.Value)<<8 ^ uint64(len(m.Op)) ^ map[bool]uint64{true: 1 << 63}[m.Reply]
}
func (m Msg) String() string {
	return fmt.Sprintf("%s#%d v=%d reply=%v", m.Op, m.Seq, m.Value, m.Reply)
}

// server holds the register; its disk holds every write, in order.
type server struct {
	env   *sim.Env[Msg]
	bugs  planted.Set
	value int
}

func (s *server) Start() {
	for _, r := range s.env.Disk().Records() {
		s.value = r.(int)
	}
}
func (s *server) Timeout(sim.TimerID) {}
func (s *server) Receive(from sim.NodeID, m Msg) {
	if m.Op == "w" {
		s.value = m.Value
		s.env.Disk().Append(m.Value)
		if !s.bugs.Has(AckBeforeSync) {
			s.env.Disk().Sync()
		}
	}
	s.env.Send(from, Msg{Op: m.Op, Seq: m.Seq, Value: s.value, Reply: true})
	if s.bugs.Has(AckBeforeSync) && s.env.Rand(2) == 0 {
		s.env.Disk().Sync() // later, sometimes: the window the bug opens
	}
}

// client alternates writes of fresh values and reads, resending until
// answered; it records its history.
type client struct {
	env   *sim.Env[Msg]
	ops   *[]porcupine.Operation
	until *sim.Time // no new operation from then
	seq   int
	open  *porcupine.Operation
}

func (c *client) Start() { c.env.SetTimer(0, sim.Duration(1+c.env.Rand(10))*sim.Millisecond) }
func (c *client) Timeout(sim.TimerID) {
	if c.open == nil {
		if c.env.Now() >= *c.until {
			return
		}
		c.seq++
		in := checker.RegisterInput{Op: checker.RegRead}
		if c.seq%2 == 1 {
			in = checker.RegisterInput{Op: checker.RegWrite, Value: int(c.env.ID())*1000 + c.seq}
		}
		*c.ops = append(*c.ops, porcupine.Operation{ClientId: int(c.env.ID()), Input: in, Call: int64(c.env.Now()), Return: checker.PendingReturn,
			Output: checker.RegisterOutput{Pending: true}})
		c.open = &(*c.ops)[len(*c.ops)-1]
	}
	in := c.open.Input.(checker.RegisterInput)
	op := map[checker.RegisterOp]string{checker.RegRead: "r", checker.RegWrite: "w"}[in.Op]
	c.env.Send(0, Msg{Op: op, Seq: c.seq, Value: in.Value})
	c.env.SetTimer(0, 20*sim.Millisecond) // resend if unanswered
}
func (c *client) Receive(_ sim.NodeID, m Msg) {
	if c.open == nil || m.Seq != c.seq {
		return // a late answer to a resent request
	}
	*c.open = porcupine.Operation{ClientId: c.open.ClientId, Input: c.open.Input, Call: c.open.Call, Return: int64(c.env.Now()),
		Output: checker.RegisterOutput{Value: m.Value, Set: m.Value != 0}}
	c.open = nil
	c.env.SetTimer(0, sim.Duration(1+c.env.Rand(10))*sim.Millisecond)
}

func run(src sim.Source, opts scenarios.Options) (res scenarios.Result) {
	var ops []porcupine.Operation
	var until sim.Time
	w := sim.NewWorld(3, src, func(env *sim.Env[Msg]) sim.Node[Msg] {
		if env.ID() == 0 {
			return &server{env: env, bugs: opts.Bugs}
		}
		return &client{env: env, ops: &ops, until: &until}
	})
	res.Trace = scenarios.TraceOf(w, opts)
	src = w.Source() // from here on, draws are recorded into the trace
	plan := faults.Draw(src, faults.Limits{Families: faults.Crash, MaxCrashes: 3, DownMax: 30 * sim.Millisecond})
	res.Params = plan.String()
	// Drawn, shortest at the plain outcome: a shrinker ends the run early.
	until = sim.Time(sim.Between(src, 10, 300)) * sim.Time(sim.Millisecond)
	faults.Schedule(w, src, plan, []sim.NodeID{0}, 0, until)
	w.Boot()
	for w.Now() < until+sim.Time(100*sim.Millisecond) && w.Step() {
	}
	lin := checker.CheckOperations(checker.RegisterModel, ops, 5*time.Second)
	res.Events, res.Digest, res.Violation = w.Events(), w.Digest(), lin.Violation()
	if lin.Verdict == checker.LinUnknown {
		res.Inconclusive = lin.Message
	}
	return res
}

func init() {
	planted.Register(planted.Info{Name: "ack-before-sync", Bug: AckBeforeSync, Summary: "toy register: a write is acknowledged before it is synced"})
	scenarios.Register(&scenarios.Scenario{Name: "toy/register", Summary: "a register server with a log on disk, two clients; the server crashes", Run: run})
	scenarios.RegisterHunt(scenarios.BugHunt{Bug: "ack-before-sync", Scenario: "toy/register", Seeds: 1000})
}
