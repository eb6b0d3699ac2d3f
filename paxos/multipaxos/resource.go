package multipaxos

import (
	"fmt"
	"strconv"

	"github.com/synod-sim/synod/paxos"
)

// --- the protected resource ---

// Resource is the storage node that lock holders write to (Chubby's
// "server that the lock protects"). Every write carries the fencing token
// its writer's lock was granted with (Chubby's sequencer); the resource
// remembers, per lock, the highest token it accepted and refuses a write
// whose token is lower: a holder that lost its lock while paused cannot
// write over its successor. Bug no-fencing-check accepts every write.
type Resource struct {
	env     paxos.Env[Msg]
	cfg     ResourceConfig
	highest []uint64 // by lock: the highest token accepted
	events  []WriteEvent
}

// ResourceConfig configures a resource.
type ResourceConfig struct {
	Locks int
	Bugs  paxos.Bugs
}

// WriteEvent is one write as the resource judged it.
type WriteEvent struct {
	Write    Command // Client, Seq (the write's number), Key (the lock), Session
	Token    uint64
	Accepted bool
	Highest  uint64 // the highest token accepted for the lock before this write
}

// fenceRecord is the resource's durable memory of a lock's highest token.
type fenceRecord struct {
	Lock  uint8
	Token uint64
}

func (r fenceRecord) String() string {
	return "fence " + lockNames[r.Lock] + " token=" + strconv.FormatUint(r.Token, 10)
}

// NewResource builds a resource; Start reads its disk.
func NewResource(env paxos.Env[Msg], cfg ResourceConfig) *Resource {
	if cfg.Locks <= 0 || cfg.Locks > 64 {
		panic(fmt.Sprintf("multipaxos: resource at node %d guarding %d locks: want 1..64", env.ID(), cfg.Locks))
	}
	return &Resource{env: env, cfg: cfg, highest: make([]uint64, cfg.Locks)}
}

// Start rebuilds the highest tokens from disk.
func (r *Resource) Start() {
	for _, rec := range r.env.Storage().Records() {
		f, ok := rec.(fenceRecord)
		if !ok || int(f.Lock) >= r.cfg.Locks {
			panic(fmt.Sprintf("multipaxos: resource at node %d: unknown disk record %v", r.env.ID(), rec))
		}
		r.highest[f.Lock] = max(r.highest[f.Lock], f.Token)
	}
}

// Receive judges one write and answers it.
func (r *Resource) Receive(from paxos.NodeID, m Msg) {
	c := m.Cmd
	if m.Type != MsgWrite || paxos.NodeID(c.Client) != from || int(c.Key) >= r.cfg.Locks || m.Result.Token == 0 {
		return // not a write a holder sends
	}
	token, hi := m.Result.Token, r.highest[c.Key]
	ok := token >= hi || r.cfg.Bugs.Has(paxos.NoFencingCheck)
	if ok && token > hi {
		// Durable before the answer: a restarted resource must not accept
		// a token it refused before.
		st := r.env.Storage()
		st.Append(fenceRecord{Lock: c.Key, Token: token})
		st.Sync()
		r.highest[c.Key] = token
	}
	r.events = append(r.events, WriteEvent{Write: Command{Client: c.Client, Seq: c.Seq, Key: c.Key, Session: c.Session}, Token: token, Accepted: ok, Highest: hi})
	r.env.Send(from, Msg{Type: MsgWriteAck, Cmd: c, Result: Result{OK: ok, Token: token}})
}

// Timeout: a resource arms no timer.
func (r *Resource) Timeout(t paxos.TimerID) {
	panic(fmt.Sprintf("multipaxos: resource at node %d: unknown timer %d", r.env.ID(), t))
}

// TakeEvents returns the writes judged since the last call and forgets them.
func (r *Resource) TakeEvents() []WriteEvent {
	ev := r.events
	r.events = r.events[:0]
	return ev
}

// Highest is the highest token the resource accepted for lock l.
func (r *Resource) Highest(l uint8) uint64 { return r.highest[l] }

// Describe is the resource's state in one line.
func (r *Resource) Describe() string {
	s := "resource"
	for l, t := range r.highest {
		s += " " + lockNames[l] + "@" + strconv.FormatUint(t, 10)
	}
	return s
}
