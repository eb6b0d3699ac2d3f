package etcdraft

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/synod-sim/synod/sim"
)

// Timers of a replica.
const (
	timerTick  sim.TimerID = iota // drives RawNode.Tick from the node's own clock
	timerFlush                    // unsafe persistence: the deferred fsync
)

// Config is how the replicas of one run are set up.
type Config struct {
	Replicas       int
	Tick           sim.Duration // one raft tick on the replica's own clock
	ElectionTicks  int
	HeartbeatTicks int
	PreVote        bool
	CheckQuorum    bool
	ReadOnly       raft.ReadOnlyOption
	// FlushEvery > 0 is the hazard of raft/unsafe-persist: a Ready's
	// messages leave at once, and its entries and hard state reach the
	// disk's synced prefix only at the next periodic flush.
	FlushEvery sim.Duration
}

// Server is one replica: a key-value store on an etcd raft RawNode, driven
// by the simulator (sim.Node[Msg]).
type Server struct {
	env   *sim.Env[Msg]
	cfg   *Config
	obs   observer
	store *raft.MemoryStorage
	rn    *raft.RawNode
	dice  dice

	// The replicated state machine: the store and, per client, the last
	// sequence number applied and its result (exactly-once writes).
	kv       map[string]string
	sessions map[sim.NodeID]session
	applied  uint64

	role   raft.StateType
	leader uint64 // raft id, 0 when none is known

	// writes waiting to be applied before this replica answers, by client
	// and sequence; reads waiting for their read index.
	writes  map[callKey]bool
	reads   []pendingRead
	readCtx uint64

	lastTick sim.Time // local clock at the last tick
}

type session struct {
	seq uint64
	ok  bool
	val string
}

type callKey struct {
	client sim.NodeID
	seq    uint64
}

type pendingRead struct {
	ctx   uint64
	req   Request
	index uint64 // 0 until raft answered the read index
}

// observer is what the run hears from replicas: what each applied, for the
// per-index agreement check.
type observer interface {
	applied(id sim.NodeID, index, term uint64, data []byte)
	note(id sim.NodeID, text func() string)
}

// NewServer builds replica env.ID() of cfg; obs may be nil.
func NewServer(env *sim.Env[Msg], cfg *Config, obs observer) *Server {
	if int(env.ID()) >= cfg.Replicas {
		panic(fmt.Sprintf("etcdraft: replica n%d in a cluster of %d", env.ID(), cfg.Replicas))
	}
	return &Server{env: env, cfg: cfg, obs: obs}
}

func (s *Server) raftID() uint64 { return uint64(s.env.ID()) + 1 }

// Start rebuilds raft's storage from the disk and starts the ticks.
func (s *Server) Start() {
	s.store = recoverStorage(s.cfg.Replicas, s.env.Disk().Records())
	rn, err := raft.NewRawNode(&raft.Config{
		ID: s.raftID(), ElectionTick: s.cfg.ElectionTicks, HeartbeatTick: s.cfg.HeartbeatTicks,
		Storage: s.store, MaxSizePerMsg: 64 << 10, MaxInflightMsgs: 64,
		PreVote: s.cfg.PreVote, CheckQuorum: s.cfg.CheckQuorum, ReadOnlyOption: s.cfg.ReadOnly,
		Logger: logger{s},
	})
	must(err)
	s.rn = rn
	s.dice = dice{rn: rn, ticks: s.cfg.ElectionTicks, id: uint64(s.env.ID()), draw: s.env.Rand}
	s.dice.roll()
	s.kv, s.sessions, s.writes = map[string]string{}, map[sim.NodeID]session{}, map[callKey]bool{}
	s.applied = 1 // the boot snapshot
	s.role = raft.StateFollower
	s.lastTick = s.env.LocalNow()
	s.env.SetTimer(timerTick, s.cfg.Tick)
	if s.cfg.FlushEvery > 0 {
		s.env.SetTimer(timerFlush, s.cfg.FlushEvery)
	}
	s.ready()
}

// Receive steps a raft message or serves a client.
func (s *Server) Receive(from sim.NodeID, m Msg) {
	switch {
	case m.Raft != nil:
		// A message for an earlier incarnation is still a valid raft
		// message: raft itself ignores what is stale.
		_ = s.rn.Step(m.Raft)
		s.dice.roll()
	case m.Req != nil:
		s.request(*m.Req)
	}
	s.ready()
}

// Timeout ticks raft as often as the node's own clock says a tick has
// passed. Ticks follow the clock's rate (drift) but not its steps, as a
// monotonic ticker would: at most two ticks per wake-up.
func (s *Server) Timeout(t sim.TimerID) {
	switch t {
	case timerTick:
		now := s.env.LocalNow()
		elapsed := sim.Duration(now - s.lastTick)
		n := min(max(elapsed/s.cfg.Tick, 0), 2)
		if elapsed < 0 || elapsed >= 3*s.cfg.Tick {
			s.lastTick = now // a clock step: start counting afresh
		} else {
			s.lastTick += sim.Time(n * s.cfg.Tick)
		}
		for range n {
			s.rn.Tick()
			s.dice.roll()
		}
		// The next tick is due when the local clock has advanced one tick
		// past the last; the node does not know its drift, so it asks
		// again then (not sooner than a tenth of a tick).
		next := s.cfg.Tick - sim.Duration(now-s.lastTick)
		s.env.SetTimer(timerTick, max(next, s.cfg.Tick/10))
	case timerFlush:
		s.env.Disk().Sync()
		s.env.SetTimer(timerFlush, s.cfg.FlushEvery)
	}
	s.ready()
}

// ready handles every Ready raft has, in the order raft's documentation
// asks: persist entries, hard state and snapshot (and sync), then send the
// messages, apply what is committed, and advance.
func (s *Server) ready() {
	for s.rn.HasReady() {
		rd := s.rn.Ready()
		disk := s.env.Disk()
		wrote := false
		if !raft.IsEmptySnap(rd.Snapshot) {
			disk.Append(snapshot{rd.Snapshot})
			must(s.store.ApplySnapshot(rd.Snapshot))
			wrote = true
		}
		if len(rd.Entries) > 0 {
			disk.Append(entries(rd.Entries))
			must(s.store.Append(rd.Entries))
			wrote = true
		}
		if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
			hs := rd.HardState
			disk.Append(hardState{hs.GetTerm(), hs.GetVote(), hs.GetCommit()})
			must(s.store.SetHardState(hs))
			wrote = true
		}
		if wrote && s.cfg.FlushEvery == 0 {
			disk.Sync()
		}
		if rd.SoftState != nil {
			s.role, s.leader = rd.SoftState.RaftState, rd.SoftState.Lead
		}
		for _, m := range rd.Messages {
			s.env.Send(sim.NodeID(m.GetTo()-1), Msg{Raft: m})
		}
		for _, e := range rd.CommittedEntries {
			s.apply(e)
		}
		for _, rs := range rd.ReadStates {
			ctx := binary.BigEndian.Uint64(rs.RequestCtx)
			for i := range s.reads {
				if s.reads[i].ctx == ctx {
					s.reads[i].index = rs.Index
				}
			}
		}
		s.serveReads()
		s.rn.Advance(rd)
		s.dice.roll()
	}
}

// request serves a client: a redirect unless this replica leads; a write is
// proposed (again, on every retry: the state machine applies it once), a
// read asks raft for a read index.
func (s *Server) request(req Request) {
	if s.role != raft.StateLeader {
		s.reply(req.Client, Reply{Seq: req.Seq, Redirect: true, Leader: sim.NodeID(s.leader) - 1})
		return
	}
	if req.Op.Kind == OpGet {
		s.readCtx++
		s.reads = append(s.reads, pendingRead{ctx: s.readCtx, req: req})
		s.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, s.readCtx))
		s.dice.roll()
		return
	}
	if last := s.sessions[req.Client]; last.seq >= req.Seq {
		if last.seq == req.Seq {
			s.reply(req.Client, Reply{Seq: req.Seq, OK: last.ok, Value: last.val})
		}
		return
	}
	s.writes[callKey{req.Client, req.Seq}] = true
	_ = s.rn.Propose(encode(req)) // a dropped proposal is retried by the client
	s.dice.roll()
}

// apply runs one committed entry against the store.
func (s *Server) apply(e *raftpb.Entry) {
	if e.GetIndex() != s.applied+1 {
		panic(fmt.Sprintf("etcdraft: n%d applies index %d after %d", s.env.ID(), e.GetIndex(), s.applied))
	}
	s.applied = e.GetIndex()
	if s.obs != nil {
		s.obs.applied(s.env.ID(), e.GetIndex(), e.GetTerm(), e.GetData())
	}
	if e.GetType() != raftpb.EntryType_EntryNormal || len(e.GetData()) == 0 {
		return // the leader's empty entry of its term
	}
	req := decode(e.GetData())
	last := s.sessions[req.Client]
	if req.Seq <= last.seq {
		return // a retry of a write already applied
	}
	res := session{seq: req.Seq, ok: true}
	switch req.Op.Kind {
	case OpPut:
		s.kv[req.Op.Key] = req.Op.Value
	case OpCAS:
		res.ok = s.kv[req.Op.Key] == req.Op.Old
		if res.ok {
			s.kv[req.Op.Key] = req.Op.Value
		}
	default:
		panic(fmt.Sprintf("etcdraft: n%d applies %v at index %d", s.env.ID(), req.Op, e.GetIndex()))
	}
	s.sessions[req.Client] = res
	k := callKey{req.Client, req.Seq}
	if s.writes[k] {
		delete(s.writes, k)
		s.reply(req.Client, Reply{Seq: req.Seq, OK: res.ok})
	}
}

// serveReads answers the reads whose read index this replica has applied.
func (s *Server) serveReads() {
	kept := s.reads[:0]
	for _, r := range s.reads {
		if r.index == 0 || r.index > s.applied {
			kept = append(kept, r)
			continue
		}
		v := s.kv[r.req.Op.Key]
		if s.obs != nil {
			s.obs.note(s.env.ID(), func() string {
				return fmt.Sprintf("n%d reads %s=%q at read index %d (applied %d, %v)", s.env.ID(), r.req.Op.Key, v, r.index, s.applied, s.role)
			})
		}
		s.reply(r.req.Client, Reply{Seq: r.req.Seq, OK: true, Value: v})
	}
	clear(s.reads[len(kept):])
	s.reads = kept
}

func (s *Server) reply(to sim.NodeID, r Reply) { s.env.Send(to, Msg{Rep: &r}) }

// Applied is the last index applied; Commit is raft's commit index.
func (s *Server) Applied() uint64 { return s.applied }

// Status is raft's view of itself: term, vote, commit, leader and role.
func (s *Server) Status() raft.BasicStatus { return s.rn.BasicStatus() }

// Describe is the replica's state in one line, for traces that keep states.
func (s *Server) Describe() string {
	st := s.rn.BasicStatus()
	return fmt.Sprintf("%v term=%d vote=%d lead=%d commit=%d applied=%d unsynced=%d election-timeout=%d ticks",
		st.RaftState, st.HardState.GetTerm(), st.HardState.GetVote(), st.Lead, st.HardState.GetCommit(), s.applied,
		s.env.Disk().Unsynced(), s.dice.timeout())
}

// TimerName names a replica's timers in trace lines.
func (s *Server) TimerName(t sim.TimerID) string {
	return [...]string{"tick", "flush"}[t]
}

// encode and decode carry a client request in a raft entry.
func encode(r Request) []byte {
	b := binary.AppendUvarint(nil, uint64(r.Client))
	b = binary.AppendUvarint(b, r.Seq)
	b = append(b, byte(r.Op.Kind))
	for _, s := range []string{r.Op.Key, r.Op.Value, r.Op.Old} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decode(b []byte) Request {
	var r Request
	next := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			panic(fmt.Sprintf("etcdraft: malformed entry %x", b))
		}
		b = b[n:]
		return v
	}
	r.Client = sim.NodeID(next())
	r.Seq = next()
	r.Op.Kind, b = OpKind(b[0]), b[1:]
	for _, s := range []*string{&r.Op.Key, &r.Op.Value, &r.Op.Old} {
		n := next()
		*s, b = string(b[:n]), b[n:]
	}
	return r
}

// logger sends raft's log lines to the trace (as notes), and nowhere
// else: raft's default logger writes to stderr with the wall clock.
type logger struct{ s *Server }

func (l logger) line(level string, text func() string) {
	if l.s.obs == nil {
		return
	}
	l.s.obs.note(l.s.env.ID(), func() string { return fmt.Sprintf("n%d raft %s: %s", l.s.env.ID(), level, text()) })
}

func (l logger) Debug(v ...any)                 {}
func (l logger) Debugf(format string, v ...any) {}
func (l logger) Error(v ...any)                 { l.line("error", func() string { return fmt.Sprint(v...) }) }
func (l logger) Info(v ...any)                  { l.line("info", func() string { return fmt.Sprint(v...) }) }
func (l logger) Warning(v ...any)               { l.line("warning", func() string { return fmt.Sprint(v...) }) }
func (l logger) Errorf(format string, v ...any) {
	l.line("error", func() string { return fmt.Sprintf(format, v...) })
}
func (l logger) Infof(format string, v ...any) {
	l.line("info", func() string { return fmt.Sprintf(format, v...) })
}
func (l logger) Warningf(format string, v ...any) {
	l.line("warning", func() string { return fmt.Sprintf(format, v...) })
}
func (l logger) Fatal(v ...any)                 { panic(fmt.Sprint(v...)) }
func (l logger) Fatalf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
func (l logger) Panic(v ...any)                 { panic(fmt.Sprint(v...)) }
func (l logger) Panicf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
