package multipaxos

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/synod-sim/synod/paxos"
)

// The unit tests drive replicas and clients by hand through this small
// harness: messages wait in one FIFO queue until a test delivers (or drops)
// them, timers fire only when a test says so, and time moves only when a test
// moves it. It is the interaction-test style of etcd's raft: a script of
// steps and the state they must lead to.

type envelope struct {
	from, to paxos.NodeID
	m        Msg
}

type node interface {
	Start()
	Receive(from paxos.NodeID, m Msg)
	Timeout(t paxos.TimerID)
}

type harness struct {
	t        testing.TB
	now      paxos.Time
	replicas int
	envs     []*fakeEnv
	nodes    []node
	queue    []envelope
	rng      *rand.Rand
	cfg      Config
	ccfg     ClientConfig
}

// fakeEnv is one node's paxos.Env. It checks the one ordering rule every
// Paxos must keep: a replica's promise, acceptance and round are synced
// before any message leaves.
type fakeEnv struct {
	h      *harness
	id     paxos.NodeID
	disk   fakeDisk
	offset paxos.Time
	timers [8]paxos.Time // deadline, or -1 when not armed
}

type fakeDisk struct {
	recs   []any
	synced int
}

func (d *fakeDisk) Append(r any)   { d.recs = append(d.recs, r) }
func (d *fakeDisk) Sync()          { d.synced = len(d.recs) }
func (d *fakeDisk) Records() []any { return d.recs }

// unsyncedVotes counts records a crash would lose that an answer may depend
// on. Decisions may wait for a later sync: they can be learned again.
func (d *fakeDisk) unsyncedVotes() int {
	n := 0
	for _, r := range d.recs[d.synced:] {
		if _, ok := r.(decideRecord); !ok {
			n++
		}
	}
	return n
}

func (d *fakeDisk) crash() { d.recs = d.recs[:d.synced] }

func (e *fakeEnv) ID() paxos.NodeID     { return e.id }
func (e *fakeEnv) N() int               { return len(e.h.envs) }
func (e *fakeEnv) Now() paxos.Time      { return e.h.now }
func (e *fakeEnv) LocalNow() paxos.Time { return e.h.now + e.offset }
func (e *fakeEnv) Send(to paxos.NodeID, m Msg) {
	if n := e.disk.unsyncedVotes(); n > 0 {
		e.h.t.Fatalf("node %d sends %v with %d unsynced records on its disk", e.id, m, n)
	}
	e.h.queue = append(e.h.queue, envelope{from: e.id, to: to, m: m})
}
func (e *fakeEnv) SetTimer(t paxos.TimerID, d paxos.Duration) { e.timers[t] = e.h.now + paxos.Time(d) }
func (e *fakeEnv) CancelTimer(t paxos.TimerID)                { e.timers[t] = -1 }
func (e *fakeEnv) Rand(n uint64) uint64                       { return e.h.rng.Uint64N(n) }
func (e *fakeEnv) Storage() paxos.Storage                     { return &e.disk }

// newHarness builds replicas and clients (not started).
func newHarness(t testing.TB, replicas, clients int, cfg Config, ccfg ClientConfig) *harness {
	cfg.Replicas, ccfg.Replicas = replicas, replicas
	h := &harness{t: t, replicas: replicas, rng: rand.New(rand.NewPCG(1, 2)), cfg: cfg, ccfg: ccfg}
	for i := 0; i < replicas+clients; i++ {
		e := &fakeEnv{h: h, id: paxos.NodeID(i)}
		for k := range e.timers {
			e.timers[k] = -1
		}
		h.envs = append(h.envs, e)
	}
	h.nodes = make([]node, len(h.envs))
	for i := range h.envs {
		h.build(i)
	}
	return h
}

func (h *harness) build(i int) {
	if i < h.replicas {
		h.nodes[i] = NewServer(h.envs[i], h.cfg)
	} else {
		h.nodes[i] = NewClient(h.envs[i], h.ccfg)
	}
}

func (h *harness) server(i int) *Server { return h.nodes[i].(*Server) }
func (h *harness) client(i int) *Client { return h.nodes[h.replicas+i].(*Client) }

func (h *harness) startAll() {
	for _, n := range h.nodes {
		n.Start()
	}
}

// crash loses a node's volatile state and unsynced records; restart builds
// it afresh from its disk.
func (h *harness) crash(i int) {
	h.envs[i].disk.crash()
	for k := range h.envs[i].timers {
		h.envs[i].timers[k] = -1
	}
	h.drop(func(e envelope) bool { return e.to == paxos.NodeID(i) })
	h.nodes[i] = nil
}

func (h *harness) restart(i int) {
	h.build(i)
	h.nodes[i].Start()
}

// fire runs a node's timer now, whatever its deadline.
func (h *harness) fire(i int, t paxos.TimerID) {
	if h.envs[i].timers[t] < 0 {
		h.t.Fatalf("node %d: timer %d is not armed", i, t)
	}
	h.envs[i].timers[t] = -1
	h.nodes[i].Timeout(t)
}

// deliver delivers queued messages in order, including those sent while
// delivering, until the queue is empty; keep decides which are delivered
// (nil: all), the rest are lost.
func (h *harness) deliver(keep func(envelope) bool) int {
	n := 0
	for len(h.queue) > 0 {
		e := h.queue[0]
		h.queue = h.queue[1:]
		if h.nodes[e.to] == nil || (keep != nil && !keep(e)) {
			continue
		}
		h.nodes[e.to].Receive(e.from, e.m)
		n++
		if n > 100_000 {
			h.t.Fatal("messages keep flowing: a loop?")
		}
	}
	return n
}

func (h *harness) drop(match func(envelope) bool) {
	kept := h.queue[:0]
	for _, e := range h.queue {
		if !match(e) {
			kept = append(kept, e)
		}
	}
	h.queue = kept
}

// isolated returns a filter that loses every message to or from the nodes.
func isolated(ids ...int) func(envelope) bool {
	return func(e envelope) bool {
		for _, id := range ids {
			if int(e.from) == id || int(e.to) == id {
				return false
			}
		}
		return true
	}
}

// campaign lets replica i's election timeout pass and fires its timer.
func (h *harness) campaign(i int) {
	h.now += 2 * paxos.Time(h.server(i).cfg.ElectionTimeout)
	h.fire(i, timerElection)
}

// elect makes replica i campaign and delivers everything.
func (h *harness) elect(i int) {
	h.campaign(i)
	h.deliver(nil)
	if !h.server(i).IsLeader() {
		h.t.Fatalf("node %d did not win its election", i)
	}
}

// request sends a command to replica to as if client c asked, and returns
// the replies that come back after delivering everything.
func (h *harness) request(c int, to int, cmd Command) []Msg {
	return h.requestVia(c, to, cmd, nil)
}

// requestVia is request with a filter on the messages between replicas.
func (h *harness) requestVia(c int, to int, cmd Command, keep func(envelope) bool) []Msg {
	cmd.Client = ClientID(h.replicas + c)
	h.queue = append(h.queue, envelope{from: paxos.NodeID(cmd.Client), to: paxos.NodeID(to), m: Msg{Type: MsgRequest, Cmd: cmd}})
	var replies []Msg
	h.deliver(func(e envelope) bool {
		if int(e.to) >= h.replicas {
			replies = append(replies, e.m)
			return false
		}
		return int(e.from) >= h.replicas || keep == nil || keep(e)
	})
	return replies
}

func (h *harness) decided(i int, slot Slot) string {
	c, ok := h.server(i).Decided(slot)
	if !ok {
		return "?"
	}
	return c.String()
}

// cmdAt is a put of value v by client 9 with sequence number seq.
func put(seq Seq, key uint8, v string) Command {
	return Command{Op: OpPut, Key: key, Seq: seq, Value: v}
}

var _ = fmt.Sprint
