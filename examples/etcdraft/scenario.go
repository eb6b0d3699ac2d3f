package etcdraft

import (
	"fmt"
	"strings"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// spec is the shape of one etcd raft scenario.
type spec struct {
	minNodes, maxNodes     int
	minClients, maxClients int
	ops                    int // the most operations a run draws, shared among the clients
	keys                   int
	readPct                int
	think, retry           sim.Duration
	raft                   Config // Replicas is drawn per run
	faults                 faults.Limits
	leaderCuts             int          // up to this many times, the leader is cut off from the other replicas...
	leaderCutMax           sim.Duration // ...for up to this long
	window                 sim.Duration // faults in [0, w), then heal, w drawn from [window/8, window]
	bound                  sim.Duration // after the heal, everything finishes within this
	probe                  bool         // after the heal, cut a follower off and let it rejoin (disruption check)
}

var legend = []string{
	"replicas are n0..n(R-1) (raft ids 1..R), clients the nodes after them; raft messages print as Type t=term i=index/logterm c=commit ents=N",
	"request cC#S op: client C's S-th operation (a retry keeps S); reply/redirect answer it",
	"timers: tick (RawNode.Tick, on the node's own clock), flush (the deferred fsync of unsafe-persist), think and retry (clients)",
	"sync nA hardstate/entries: what became durable; 'nA raft info/warning' lines are raft's own log",
}

func init() {
	base := spec{
		minNodes: 3, maxNodes: 5, minClients: 2, maxClients: 4, ops: 200, keys: 3, readPct: 40,
		think: 30 * sim.Millisecond, retry: 60 * sim.Millisecond,
		raft: Config{Tick: 20 * sim.Millisecond, ElectionTicks: 6, HeartbeatTicks: 2,
			PreVote: true, CheckQuorum: true, ReadOnly: raft.ReadOnlySafe},
		window: 1500 * sim.Millisecond, bound: 4 * sim.Second, probe: true,
	}
	all := faults.Limits{
		Families: faults.Crash | faults.Partition | faults.Loss | faults.Duplicate | faults.Delay | faults.ClockSkew, Swarm: true,
		MaxCrashes: 4, DownMax: 300 * sim.Millisecond, MaxParts: 3, PartMax: 500 * sim.Millisecond,
		MaxDrop: 150_000, MaxDup: 200_000, TailMax: 60 * sim.Millisecond,
		SkewMax: 50 * sim.Millisecond, DriftMaxPPM: 100_000,
	}
	register("raft/kv", "etcd raft, recommended configuration (PreVote, CheckQuorum, ReadOnlySafe): 3-5 replicas, KV clients, every fault family swarm-selected, leader cuts, a follower cut off and rejoining after the heal", base, func(s *spec) {
		s.faults = all
		s.leaderCuts, s.leaderCutMax = 3, 400*sim.Millisecond
	})
	register("raft/lease-read", "etcd raft hazard: ReadOnlyLeaseBased reads while clocks drift up to 50% and the leader is cut off (stale reads expected)", base, func(s *spec) {
		s.raft.ReadOnly = raft.ReadOnlyLeaseBased
		s.maxNodes, s.maxClients, s.readPct = 3, 3, 60
		s.faults = faults.Limits{Families: faults.ClockSkew, DriftMaxPPM: 500_000}
		s.probe = false
		s.leaderCuts, s.leaderCutMax = 4, 600*sim.Millisecond
	})
	register("raft/unsafe-persist", "etcd raft hazard: Ready's messages sent before its entries and hard state are synced (fsync every 50ms); replicas crash (lost acknowledged writes expected)", base, func(s *spec) {
		s.raft.FlushEvery = 50 * sim.Millisecond
		s.readPct = 20
		s.faults = faults.Limits{Families: faults.Crash, MaxCrashes: 6, DownMax: 200 * sim.Millisecond}
		s.probe = false
		s.leaderCuts, s.leaderCutMax = 2, 300*sim.Millisecond
	})
	register("raft/no-prevote", "etcd raft hazard: PreVote and CheckQuorum off; after the heal a follower is cut off and rejoins (disruption of a healthy leader expected)", base, func(s *spec) {
		s.raft.PreVote, s.raft.CheckQuorum = false, false
		s.faults = all
	})
}

func register(name, summary string, base spec, edit func(*spec)) {
	sp := base
	edit(&sp)
	scenarios.Register(&scenarios.Scenario{Name: name, Summary: summary, Legend: legend, Hazard: hazardOf(summary), ShrinkBudget: shrinkBudgetOf(name),
		Run: func(src sim.Source, opts scenarios.Options) scenarios.Result { return sp.run(src, opts, nil) }})
}

// run is one run in progress.
type run struct {
	spec     spec
	cfg      Config
	w        *sim.World[Msg]
	replicas int
	clients  int
	found    *checker.Violation

	log []appliedEntry // by raft index: the first entry any replica applied there

	// The disruption probe (after the heal).
	probeDone  bool
	probeUntil sim.Time // the probe watches until then
	watch      sim.NodeID
	watchTerm  uint64
	probed     sim.NodeID
}

type appliedEntry struct {
	term, hash uint64
	by         sim.NodeID
	set        bool
}

// linBudget bounds the wall-clock time of one history check: a check that
// runs out is inconclusive, never a pass.
var linBudget = 2 * time.Second

// run executes one run; inspect, when set, sees the finished run (tests).
func (sp spec) run(src sim.Source, opts scenarios.Options, inspect func(*run)) (res scenarios.Result) {
	if opts.Trace {
		src = &sim.Recorder{Inner: src} // the setup's choices go on the trace's first line
	}
	n := int(sim.Between(src, uint64(sp.minNodes), uint64(sp.maxNodes)))
	clients := int(sim.Between(src, uint64(sp.minClients), uint64(sp.maxClients)))
	// The fault window is drawn, shortest at the plain outcome, so that a
	// shrinker can make a failing run short.
	window := sim.Duration(sim.Between(src, uint64(sp.window/8), uint64(sp.window)))
	plan := faults.Draw(src, sp.faults)
	ops := int(sim.Between(src, 1, uint64(max(1, sp.ops/clients))))
	heal := sim.Time(window)
	r := &run{spec: sp, cfg: sp.raft, replicas: n, clients: clients, watch: -1, probeDone: !sp.probe}
	r.cfg.Replicas = n
	// Clients stop issuing at a drawn time within the window (they pause
	// up to think whatever the workload), so that a shrinker that lowers it
	// cuts the history right after the evidence without moving anything
	// that happened before.
	until := sim.Time(sim.Between(src, 1, uint64(window/sim.Millisecond))) * sim.Time(sim.Millisecond)
	work := Workload{Replicas: n, Ops: ops, Keys: sp.keys, Think: sp.think, Retry: sp.retry, Until: until, ReadPct: sp.readPct}
	res.Params = fmt.Sprintf("replicas=%d clients=%d ops<=%d until=%dms window=%dms %v", n, clients, ops*clients, until/sim.Time(sim.Millisecond), window/sim.Millisecond, plan)

	w := sim.NewWorld(n+clients, src, func(env *sim.Env[Msg]) sim.Node[Msg] {
		if int(env.ID()) < n {
			return NewServer(env, &r.cfg, r)
		}
		return NewClient(env, work)
	})
	r.w = w
	w.Net.Latency = sim.Latency{Min: sim.Millisecond, Max: 5 * sim.Millisecond}
	w.Net.Extreme, w.Extremes = plan.Extreme, plan.Extreme
	if opts.Trace || opts.States {
		res.Trace = w.Trace()
		if opts.States {
			res.Trace.RecordStates()
		}
	}
	defer scenarios.Guard(w, &res, &r.found)
	w.AfterStep = r.afterStep
	w.Note(func() string { return "plan " + res.Params })
	replicas := make([]sim.NodeID, n)
	for i := range replicas {
		replicas[i] = sim.NodeID(i)
	}
	faults.Schedule(w, src, plan, replicas, 0, heal)
	r.scheduleLeaderCuts(src, heal)
	if sp.probe {
		w.At(heal, "probe: look for a stable leader", r.probe)
	}
	w.Boot()
	res.Stall = scenarios.RunPhases(w, &r.found, scenarios.Liveness{Heal: heal, Bound: r.spec.bound, Done: r.done, Progress: r.progress, Stuck: r.stuck})
	res.Events, res.Digest = w.Events(), w.Digest()
	if r.found == nil {
		// After the digest: the check's wall-clock budget must not reach
		// the run.
		h := r.history()
		switch lin := checker.CheckKV(h, linBudget); lin.Verdict {
		case checker.LinOk:
		case checker.LinIllegal:
			r.found = lin.Violation()
			if w.Tracing() {
				if page, err := lin.HTML(); err == nil {
					res.Artifacts = map[string][]byte{"history.html": page}
				}
				w.Note(func() string { return "violation " + r.found.Kind + ": " + r.found.Message })
			}
		default:
			res.Inconclusive = "linearizability: " + lin.Message
		}
	}
	res.Violation = r.found
	if inspect != nil {
		inspect(r)
	}
	return res
}

func (r *run) electionTimeout() sim.Duration {
	return sim.Duration(r.cfg.ElectionTicks) * r.cfg.Tick
}

func (r *run) server(i int) *Server {
	s, _ := r.w.Node(sim.NodeID(i)).(*Server)
	return s
}

func (r *run) client(i int) *Client {
	c, _ := r.w.Node(sim.NodeID(r.replicas + i)).(*Client)
	return c
}

// done: no client waits, the probe is over, every replica is up and has
// applied everything any replica knows committed.
func (r *run) done() bool {
	if !r.probeDone {
		return false
	}
	for i := 0; i < r.clients; i++ {
		if !r.client(i).Done() {
			return false
		}
	}
	top := uint64(0)
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		if s == nil {
			return false
		}
		top = max(top, s.rn.BasicStatus().HardState.GetCommit())
	}
	for i := 0; i < r.replicas; i++ {
		if r.server(i).Applied() < top {
			return false
		}
	}
	return true
}

func (r *run) progress() uint64 {
	p := uint64(0)
	for i := 0; i < r.clients; i++ {
		p += uint64(len(r.client(i).Calls()))
	}
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil {
			p += s.Applied()
		}
	}
	if r.probeDone {
		p++
	}
	return p
}

func (r *run) stuck() string {
	var parts []string
	for i := 0; i < r.clients; i++ {
		if c := r.client(i); !c.Done() {
			parts = append(parts, fmt.Sprintf("client n%d waits (op %d)", r.replicas+i, len(c.Calls())))
		}
	}
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s == nil {
			parts = append(parts, fmt.Sprintf("n%d down", i))
		} else {
			st := s.Status()
			parts = append(parts, fmt.Sprintf("n%d %v term %d commit %d applied %d", i, st.RaftState, st.HardState.GetTerm(), st.HardState.GetCommit(), s.Applied()))
		}
	}
	if !r.probeDone {
		parts = append(parts, "the probe found no stable leader")
	}
	return strings.Join(parts, "; ")
}

func (r *run) violate(v *checker.Violation) {
	if r.found != nil {
		return
	}
	r.found = v
	r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
}

// applied is the per-index agreement check: every replica applies the same
// entry at each index, across crashes and restarts.
func (r *run) applied(id sim.NodeID, index, term uint64, data []byte) {
	for uint64(len(r.log)) <= index {
		r.log = append(r.log, appliedEntry{})
	}
	h := hashBytes(term, data)
	e := &r.log[index]
	if !e.set {
		*e = appliedEntry{term: term, hash: h, by: id, set: true}
		return
	}
	if e.hash != h {
		what := func(d []byte) string {
			if len(d) == 0 {
				return "the empty entry"
			}
			req := decode(d)
			return fmt.Sprintf("c%d#%d %v", req.Client, req.Seq, req.Op)
		}
		r.violate(&checker.Violation{Kind: "agreement", Time: int64(r.w.Now()), Message: fmt.Sprintf(
			"n%d applied %s (term %d) at index %d, where n%d applied an entry of term %d before", id, what(data), term, index, e.by, e.term)})
	}
}

func (r *run) note(id sim.NodeID, text func() string) { r.w.Note(text) }

// afterStep watches the probe's leader: once a stable leader is watched, any
// change of its term or role while it keeps a live quorum is a disruption.
func (r *run) afterStep(id sim.NodeID) {
	if id != r.watch || r.probeDone {
		return
	}
	if r.w.Now() > r.probeUntil {
		r.probeDone, r.watch = true, -1
		return
	}
	st := r.server(int(id)).Status()
	term := st.HardState.GetTerm()
	if st.RaftState == raft.StateLeader && term == r.watchTerm {
		return
	}
	// A disruption is the rejoining follower's doing: the leader took a
	// term the follower holds. Anything else (a follower that lost touch
	// with the leader in a partition that ended at the heal, campaigning
	// with the others' consent) spoils the probe without a verdict.
	f := r.server(int(r.probed))
	if term <= r.watchTerm || f == nil || f.Status().HardState.GetTerm() < term {
		r.probeDone, r.watch = true, -1
		r.w.Note(func() string {
			return fmt.Sprintf("probe: n%d lost its lead to a term n%d did not bring: no verdict", id, r.probed)
		})
		return
	}
	r.violate(&checker.Violation{Kind: "disruption", Time: int64(r.w.Now()), Message: fmt.Sprintf(
		"n%d led term %d with every other replica but n%d reachable, and lost it (now %v at term %d) to the term n%d brought back when it rejoined",
		id, r.watchTerm, r.probed, st.RaftState, term, r.probed)})
}

// probe waits for a stable leader (every replica up, at one term, following
// it), then cuts one follower off from the other replicas for two to five
// election timeouts and lets it rejoin. The leader keeps a majority all the
// while, so nothing should depose it: PreVote keeps the isolated follower's
// term where it was, and CheckQuorum makes the others ignore its votes.
func (r *run) probe() {
	w := r.w
	lead, term, ok := r.stable()
	if !ok {
		w.At(w.Now()+sim.Time(2*r.cfg.Tick), "probe: look for a stable leader", r.probe)
		return
	}
	src := w.Source()
	f := sim.NodeID(src.Choose(uint64(r.replicas - 1)))
	if f >= lead {
		f++
	}
	e := uint64(r.electionTimeout())
	// Long enough for the follower's election timeout (at most two
	// election timeouts) to run out at least once.
	span := sim.Time(sim.Between(src, 2*e+2*uint64(r.cfg.Tick), 5*e))
	r.watch, r.watchTerm, r.probed = lead, term, f
	r.probeUntil = w.Now() + span + sim.Time(4*e)
	r.cut(f, false)
	w.At(w.Now()+span, fmt.Sprintf("probe: n%d rejoins", f), func() { r.cut(f, true) })
	w.At(r.probeUntil, "probe: over", func() { r.probeDone, r.watch = true, -1 })
	w.Note(func() string {
		return fmt.Sprintf("probe: n%d leads term %d; n%d cut off from the other replicas for %dms", lead, term, f, span/sim.Time(sim.Millisecond))
	})
}

// stable finds a leader every replica follows at one term, in touch with
// all of them.
func (r *run) stable() (sim.NodeID, uint64, bool) {
	var lead uint64
	var term uint64
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		if s == nil {
			return 0, 0, false
		}
		st := s.Status()
		if i == 0 {
			lead, term = st.Lead, st.HardState.GetTerm()
		}
		if lead == 0 || st.Lead != lead || st.HardState.GetTerm() != term {
			return 0, 0, false
		}
	}
	// The leader must have heard from every follower since its last quorum
	// check: a leader that lost touch with some before the heal steps down
	// at its next check, which is CheckQuorum working, not a disruption.
	// (Whether all are active does not depend on the map's order.)
	for _, pr := range r.server(int(lead - 1)).rn.Status().Progress {
		if !pr.RecentActive {
			return 0, 0, false
		}
	}
	return sim.NodeID(lead - 1), term, true
}

func (r *run) cut(victim sim.NodeID, ok bool) {
	for i := 0; i < r.replicas; i++ {
		if sim.NodeID(i) != victim {
			r.w.Net.SetLink(victim, sim.NodeID(i), ok)
			r.w.Net.SetLink(sim.NodeID(i), victim, ok)
		}
	}
}

// scheduleLeaderCuts cuts whichever replica leads at the time off from the
// other replicas (clients still reach it), up to spec.leaderCuts times
// before the heal: the deposed-leader story that lease reads get wrong.
func (r *run) scheduleLeaderCuts(src sim.Source, heal sim.Time) {
	if r.spec.leaderCuts == 0 {
		return
	}
	cuts := int(sim.Between(src, 0, uint64(r.spec.leaderCuts)))
	at := sim.Time(0)
	for i := 0; i < cuts; i++ {
		at += sim.Time(src.Choose(uint64(heal)/uint64(cuts) + 1))
		span := sim.Time(sim.Between(src, uint64(r.spec.leaderCutMax/10), uint64(r.spec.leaderCutMax)))
		if at >= heal {
			break
		}
		end := min(at+span, heal)
		victim := sim.NodeID(-1)
		r.w.At(at, "cut the leader off", func() {
			victim = r.leader()
			if victim >= 0 {
				r.cut(victim, false)
				r.w.Note(func() string { return fmt.Sprintf("n%d cut off from the other replicas", victim) })
			}
		})
		r.w.At(end, "leader cut heals", func() {
			if victim >= 0 {
				r.cut(victim, true)
			}
		})
		at = end
	}
}

// leader is the replica leading at the highest term, or -1.
func (r *run) leader() sim.NodeID {
	who, best := sim.NodeID(-1), uint64(0)
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil && s.role == raft.StateLeader {
			if t := s.Status().HardState.GetTerm(); t > best {
				who, best = sim.NodeID(i), t
			}
		}
	}
	return who
}

// history is every client operation, in the checker's terms.
func (r *run) history() *checker.History {
	h := &checker.History{}
	for i := 0; i < r.clients; i++ {
		id := r.replicas + i
		for _, c := range r.client(i).Calls() {
			var in checker.Input
			switch c.Op.Kind {
			case OpGet:
				in = checker.Get(c.Op.Key)
			case OpPut:
				in = checker.Put(c.Op.Key, c.Op.Value)
			case OpCAS:
				in = checker.CAS(c.Op.Key, c.Op.Old, c.Op.Value)
			}
			op := h.Call(id, int64(c.Call), in)
			if c.Returned {
				out := checker.Output{OK: c.OK}
				if c.Op.Kind == OpGet {
					out.Value = c.Value
				}
				h.Return(op, int64(c.Return), out)
			}
		}
	}
	return h
}
