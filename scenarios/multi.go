package scenarios

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/paxos"
	mp "github.com/synod-sim/synod/paxos/multipaxos"
	"github.com/synod-sim/synod/sim"
)

// multiSpec is the shape of a Multi-Paxos scenario: the ranges its runs draw
// cluster size, clients and faults from, the workload, and the timing.
type multiSpec struct {
	// sometimes are the fault×feature pairs the scenario promises to reach.
	sometimes              []string
	minNodes, maxNodes     int
	minClients, maxClients int
	ops                    int // the most operations a run draws, shared among the clients
	keys, locks            int
	think                  sim.Duration
	faults                 faults.Limits
	window                 sim.Duration // faults happen in [0, window), then heal
	liveness               sim.Duration // after heal, every op outstanding then completes and the replicas converge within this
	latency                sim.Latency
	election               sim.Duration
	heartbeat              sim.Duration
	retry                  sim.Duration // client retry timeout
	lease                  leaseMode
	leaseDuration          sim.Duration
	leaseMin               sim.Duration // when set, a run draws its lease from [leaseMin, leaseDuration] and scales its timing to it (see scaleToLease)
	readPct                int          // share of key-value commands that are reads; 0 means the client's default
	readers                int          // the first clients only read
	opsExact               bool         // every run issues exactly ops operations, heal or not (benchmarks)
	fixedThink             bool         // clients pause up to think, however many clients and operations the run draws
	timedWorkload          bool         // clients issue operations until a drawn time in the window, not a drawn number of them
	clockSteps             int          // with clock skew on: up to this many clock steps (NTP-style jumps) within the skew bound
	leaderCuts             int          // up to this many times, cut the current leader off from the other replicas...
	leaderCutMax           sim.Duration // ...for up to this long
	leaderCutsMin          int          // every run cuts the leader off at least this many times (at most leaderCuts)
	leaderFlap             sim.Duration // before a cut, the leader's links flap for up to this long (0: the cut is sudden)
	// sessionShare of the runs are a session scenario's run instead
	// (multi/swarm: sessions in the swarm).
	sessionShare sim.Rate
	reconfig     reconfigSpec // membership changes (reconfig.go); zero: none
}

type leaseMode uint8

const (
	leaseOff   leaseMode = iota
	leaseOn              // every run reads under leases
	leaseSwarm           // leases on in half the runs
)

// linBudget bounds the wall-clock time of one run's linearizability check. A
// check that runs out is inconclusive, never a pass.
var linBudget = 2 * time.Second

func init() {
	msgFaults := faults.Limits{MaxDrop: 150_000, MaxDup: 200_000, TailMax: 60 * sim.Millisecond}
	base := multiSpec{
		minNodes: 3, maxNodes: 5, minClients: 2, maxClients: 5, ops: 400, keys: 3,
		think: 10 * sim.Millisecond, window: 1500 * sim.Millisecond, liveness: 3 * sim.Second,
		latency: defaultLatency, election: 100 * sim.Millisecond, heartbeat: 25 * sim.Millisecond,
		retry: 100 * sim.Millisecond, leaseDuration: sim.Second,
	}
	register := func(name, summary string, edit func(*multiSpec)) {
		spec := base
		edit(&spec)
		multiSpecs[name] = spec
		sc := &Scenario{Name: name, Summary: summary, Features: multiFamily, Legend: multiLegend, Sometimes: spec.sometimes,
			Params: multiParams(spec), Validate: validateMulti}
		if spec.reconfig.share > 0 {
			sc.Features, sc.Legend = reconfigFamily, reconfigLegend
		}
		sc.Run = func(src sim.Source, opts Options) Result {
			return runMultiWith(spec, sc.settingsFor(opts.Set), src, opts, nil)
		}
		if spec.sessionShare > 0 {
			sc.Params = append(sc.Params, Param{Name: "sessions", Unit: Fraction, Default: int64(spec.sessionShare), Max: int64(sim.RateScale),
				Doc: "share of runs that are a lock-sessions or election run (as those scenarios, with their defaults) instead"})
			sc.Run = func(src sim.Source, opts Options) Result {
				set := sc.settingsFor(opts.Set)
				src = recorded(src, opts)
				if sim.Chance(src, sim.Rate(set.Get("sessions"))) {
					name := "multi/lock-sessions"
					if sim.Chance(src, sim.RateScale/2) {
						name = "multi/election"
					}
					res := runSessions(sessSpecs[name], Settings{}, src, opts, nil)
					// Its coverage speaks of the session family, not of this
					// scenario's features.
					res.Coverage = 0
					res.Params = name + ": " + res.Params
					return res
				}
				return runMultiWith(spec, set, src, opts, nil)
			}
		}
		Register(sc)
	}
	register("multi/kv", "3-5 replicas, 2-5 clients on a KV store, lossy network: drops, duplicates, long delays", func(s *multiSpec) {
		s.faults = msgFaults
		s.faults.Families = faults.Loss | faults.Duplicate | faults.Delay
		s.sometimes = cross("drop dup delay", multiFive)
		// The correct protocol recovers from this scenario's faults within
		// 200ms of the heal on every one of 20,000 seeds (120ms is too
		// little for some). A second is five times that, and a liveness
		// failure's trace is mostly the futile heartbeats of this window:
		// at 3s they were two thirds of no-retransmit's shrunk trace.
		s.liveness = sim.Second
	})
	register("multi/kv-partition", "3-6 replicas, KV clients, Jepsen partition shapes come and go", func(s *multiSpec) {
		s.maxNodes = 6
		s.faults = faults.Limits{Families: faults.Partition, MaxParts: 4, PartMax: 600 * sim.Millisecond}
		s.sometimes = cross("cut", multiFive)
	})
	register("multi/kv-crash", "3-5 replicas, KV clients, replicas crash and restart from disk", func(s *multiSpec) {
		s.faults = faults.Limits{Families: faults.Crash, MaxCrashes: 5, DownMax: 400 * sim.Millisecond}
		s.sometimes = cross("crash restart", multiFive)
	})
	register("multi/lock", "3-5 replicas, 3-6 clients on a lock service with fencing tokens; crashes, partitions, loss", func(s *multiSpec) {
		s.keys, s.locks, s.minClients, s.maxClients = 0, 2, 3, 6
		s.faults = msgFaults
		s.faults.Families, s.faults.Swarm = faults.Crash|faults.Partition|faults.Loss|faults.Duplicate, true
		s.faults.MaxCrashes, s.faults.DownMax = 3, 300*sim.Millisecond
		s.faults.MaxParts, s.faults.PartMax = 3, 400*sim.Millisecond
		s.sometimes = cross("crash restart cut drop dup", multiFive)
	})
	register("multi/leader-churn", "3-5 replicas, the leader is cut off again and again, replicas crash, messages are lost", func(s *multiSpec) {
		s.election = 50 * sim.Millisecond
		s.heartbeat = 15 * sim.Millisecond
		// The leader cuts are the only partitions: a random partition's
		// heal would end a leader cut early.
		s.faults = msgFaults
		s.faults.Families = faults.Crash | faults.Loss
		s.faults.MaxCrashes, s.faults.DownMax = 6, 200*sim.Millisecond
		s.faults.MaxDrop = 50_000
		// Every run churns. Before a cut the leader's links may flap,
		// as a failing switch port or NIC does: accepts lost in a burst
		// while later ones get through leave holes in the log, and
		// the cut that follows hands the holes to a new leader
		// (no-gap-fill: 29 -> 474 failing seeds of 2,000, with every
		// run cutting at least once).
		s.leaderCuts, s.leaderCutMax, s.leaderCutsMin, s.leaderFlap = 5, 400*sim.Millisecond, 1, 40*sim.Millisecond
		// One client only reads and stays with whichever replica
		// answers it, as a cache or a dashboard would: cut off, a
		// deposed leader keeps a client while the writers move on to
		// its successor (stale-leader-read: 84 -> 663 failing seeds of
		// 2,000; a client that writes leaves a deposed leader at its
		// first write, and seldom reads only until then).
		s.readers = 1
		s.sometimes = cross("crash restart cut drop", multiFive)
	})
	register("multi/lease", "3-5 replicas read under 250-500ms leader leases while clocks drift and step within their bounds; leaders are cut off for long spans", func(s *multiSpec) {
		// One client only reads: it stays with whichever replica answers
		// it, as a cache or a dashboard would.
		s.keys, s.minClients, s.maxClients, s.readPct, s.readers = 2, 2, 5, 50, 1
		// Clocks drift by up to 30% here: far beyond real quartz, which
		// only widens the margin a correct lease keeps, and makes a lease
		// that trusts the clocks fail within a few hundred seeds.
		//
		// The lease is drawn, 250ms at the plain outcome, and the timing
		// below (given for a 500ms lease) scales with it: heartbeat,
		// election, retry, skew, leader cuts, the fault window. The story
		// of a lease bug — a leader cut off, a new leader elected once the
		// followers' grants ran out, a write there, a stale read from the
		// deposed leader whose slow clock says its lease still runs — takes
		// about one and a half leases, and clients act at their own pace,
		// which does not scale, so with the shortest lease it takes the
		// fewest client operations. Clients pause up to 100ms whatever the
		// workload, and stop at a drawn time rather than after a drawn
		// number of operations: a shrinker that lowers that time cuts the
		// history right after the stale read without moving anything that
		// happened before it.
		s.lease, s.leaseDuration, s.leaseMin = leaseOn, 500*sim.Millisecond, 250*sim.Millisecond
		s.think, s.fixedThink, s.timedWorkload = 100*sim.Millisecond, true, true
		s.election, s.heartbeat, s.retry = 100*sim.Millisecond, 50*sim.Millisecond, 50*sim.Millisecond
		s.window = 3 * sim.Second
		// The leader cuts are the only partitions: a random partition's
		// heal would end a leader cut early.
		s.faults = faults.Limits{Families: faults.ClockSkew, SkewMax: 25 * sim.Millisecond, DriftMaxPPM: 300_000}
		s.clockSteps = 6
		s.leaderCuts, s.leaderCutMax = 6, 1500*sim.Millisecond
		// A cut that strikes with no leader at all is rare here: the cuts
		// are leader cuts, and a deposed leader still believes it leads.
		s.sometimes = append(cross("clock", multiFive+" lease"), cross("cut", "leader lease catch-up new-leader client-waiting")...)
	})
	register("multi/minority", "3-7 replicas, KV and lock clients: crashes, partitions, loss, and a minority stays down or cut off for good; clients must still finish", func(s *multiSpec) {
		s.maxNodes, s.locks = 7, 2
		s.faults = msgFaults
		s.faults.Families = faults.Crash | faults.Partition | faults.Loss | faults.Lasting
		s.faults.MaxCrashes, s.faults.DownMax = 3, 300*sim.Millisecond
		s.faults.MaxParts, s.faults.PartMax = 2, 400*sim.Millisecond
		s.faults.MaxDrop = 50_000
		s.sometimes = cross("crash restart cut drop", multiFive)
	})
	swarm := msgFaults
	swarm.Families, swarm.Swarm = faults.AllFamilies, true
	swarm.MaxCrashes, swarm.DownMax = 4, 300*sim.Millisecond
	swarm.MaxParts, swarm.PartMax = 3, 500*sim.Millisecond
	swarm.SkewMax, swarm.DriftMaxPPM = 50*sim.Millisecond, 100_000
	register("multi/swarm", "3-7 replicas, KV and lock clients, leases in half the runs, every fault family swarm-selected per seed; a quarter of the runs reconfigure, an eighth are lock-sessions or election runs", func(s *multiSpec) {
		s.sessionShare = sim.RateScale / 8
		s.maxNodes, s.maxClients, s.locks = 7, 6, 2
		s.lease, s.clockSteps = leaseSwarm, 3
		s.faults = swarm
		s.reconfig = swarmReconfig
		s.sometimes = cross("crash restart cut drop dup delay clock", multiFive+" lease")
	})

	RegisterHunt(BugHunt{Bug: "skip-phase1", Scenario: "multi/kv-partition", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "no-gap-fill", Scenario: "multi/leader-churn", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "stale-leader-read", Scenario: "multi/leader-churn", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "no-dedup", Scenario: "multi/kv", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "even-quorum", Scenario: "multi/kv-partition", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "lease-ignores-skew", Scenario: "multi/lease", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "no-retransmit", Scenario: "multi/kv", Seeds: 50_000})
}

// multiLegend explains Multi-Paxos traces.
var multiLegend = []string{
	"replicas are n0..n(R-1), clients the nodes after them; ballot R.N: round R of replica nN; s=S is log slot S; commit=C: slots up to C are decided",
	"cC#Q is client C's Q-th command (its dedup key); put/get/append/cas on keys kK, acquire/release on locks; noop fills a slot",
	"prepare/promise: phase 1 for every slot from s on; accept/accepted: phase 2; heartbeat carries the leader's commit (hb-ack grants its lease); catchup-req/catchup: a lagging replica learns decided slots; request/reply/redirect: clients",
	"timers: election (campaign when the leader is silent), heartbeat (lead, retransmit), think (client issues its next command), retry (client tries another replica)",
	"state: role and ballot, promise, leader belief, commit and applied, newest slots as S:command@ballot (! decided)",
}

// multiRun is one run of a Multi-Paxos scenario in progress.
type multiRun struct {
	spec     multiSpec
	w        *sim.World[mp.Msg]
	replicas int
	clients  int
	chk      *checker.MultiLog[mp.Command]
	found    *checker.Violation
	lost     uint64 // replicas a lasting fault keeps away after the heal
	// leaderChanges counts replicas becoming leader, crashedLeader the
	// replicas down since they crashed leading (coverage).
	leaderChanges int
	crashedLeader uint64

	clientsDone  int    // clients whose every operation returned
	doneSeen     []bool // by client
	linChecked   bool   // every client is done: the history is whole, to be checked after the run
	inconclusive string
	artifacts    map[string][]byte

	rc        *reconfigRun // membership changes, or nil (reconfig.go)
	confNoted uint64       // the last slot whose membership change the trace noted
}

// multiSpecs are the registered Multi-Paxos scenarios' shapes, for tests
// that vary one.
var multiSpecs = map[string]multiSpec{}

// runMultiWith runs a Multi-Paxos scenario and, when the run ends without
// a panic, hands the finished run to inspect (tests read its history).
func runMultiWith(spec multiSpec, set Settings, src sim.Source, opts Options, inspect func(*multiRun)) (res Result) {
	src = recorded(src, opts)
	n := int(set.Draw(src, "replicas", int64(spec.minNodes), int64(spec.maxNodes)))
	clients := int(set.Draw(src, "clients", int64(spec.minClients), int64(spec.maxClients)))
	leaseGiven := set.Given("lease")
	switch {
	case leaseGiven && set.Get("lease") > 0 && spec.leaseMin > 0:
		spec = withLease(spec, sim.Duration(set.Get("lease")))
	case leaseGiven && set.Get("lease") > 0:
		spec.leaseDuration = sim.Duration(set.Get("lease"))
	case spec.leaseMin > 0:
		spec = scaleToLease(spec, src)
	}
	if set.params != nil {
		spec = applyMulti(spec, set)
		res.Settings = set.String()
	}
	plan := faults.Draw(src, spec.faults)
	lease := leaseGiven && set.Get("lease") > 0
	if !leaseGiven {
		lease = spec.lease == leaseOn || (spec.lease == leaseSwarm && sim.Chance(src, sim.RateScale/2))
	}
	rc := drawReconfig(spec, set, src, n)
	if rc != nil && !leaseGiven {
		// Leases with membership changes are left for later: a removed
		// replica still behind campaigns, wins, and the grants it gathered
		// hold the cluster back for a whole lease.
		lease = false
	}
	ids := n // replica ids: the initial replicas, and spares with reconfiguration
	cfg := mp.Config{
		Replicas: n, Keys: spec.keys, Locks: spec.locks, Bugs: opts.Bugs,
		ElectionTimeout: paxos.Duration(spec.election), Heartbeat: paxos.Duration(spec.heartbeat),
		Retransmit: paxos.Duration(2 * spec.heartbeat),
	}
	operators := 0
	if rc != nil {
		rc.configure(&cfg, opts.Bugs)
		ids, operators = rc.ids, len(rc.ops)
		rc.opBase = ids + clients
		plan.Spare |= rc.spareMask()
	}
	if lease {
		// The lease's margins are the clock bounds the fault plan keeps to.
		cfg.Lease = mp.Lease{Duration: paxos.Duration(spec.leaseDuration),
			DriftMaxPPM: int64(spec.faults.DriftMaxPPM), SkewMax: paxos.Duration(spec.faults.SkewMax)}
	}
	// The workload size is drawn too, smallest at the plain outcome, so that
	// a shrinker can make a failing run's history short: a number of
	// operations per client or, with timedWorkload, the time at which the
	// clients stop issuing them (any number of operations up to opsMax).
	opsMax := max(1, spec.ops/clients)
	ops, until := opsMax, paxos.Time(spec.window)
	var workload string
	switch {
	case spec.timedWorkload:
		until = paxos.Time(sim.Between(src, 1, uint64(spec.window/sim.Millisecond)) * uint64(sim.Millisecond))
		workload = fmt.Sprintf("ops<=%d until=%dms", ops*clients, until/paxos.Time(sim.Millisecond))
	case spec.opsExact:
		sim.Between(src, 1, uint64(opsMax)) // drawn and not used, so that the runs stay what they were
		until = 0
		workload = fmt.Sprintf("ops=%d", ops*clients)
	default:
		ops = int(sim.Between(src, 1, uint64(opsMax)))
		workload = fmt.Sprintf("ops=%d", ops*clients)
	}
	// Clients pause for window/opsMax on average, so that the largest
	// workload spans the fault window instead of finishing before the faults
	// begin. The pause does not depend on the workload drawn: a smaller
	// workload is a prefix of a larger one. It does depend on the number of
	// clients, unless fixedThink holds it at think.
	think := max(spec.think, 2*spec.window/sim.Duration(opsMax))
	if spec.fixedThink {
		think = spec.think
	}
	ccfg := mp.ClientConfig{Replicas: ids, Retry: paxos.Duration(spec.retry),
		Workload: mp.Workload{Ops: ops, Keys: spec.keys, Locks: spec.locks, Think: paxos.Duration(think), ReadPct: spec.readPct,
			// Clients stop issuing at the heal (or before, at the drawn
			// time): the liveness phase waits for the operations
			// outstanding then, as the issue asks.
			Until: until}}
	leaseParam := "false"
	if lease {
		leaseParam = fmt.Sprintf("%dms", spec.leaseDuration/sim.Millisecond)
	}
	res.Params = fmt.Sprintf("replicas=%d clients=%d %s lease=%s %v", n, clients, workload, leaseParam, plan)

	newNode := func(env *sim.Env[mp.Msg]) sim.Node[mp.Msg] {
		e := envAdapter[mp.Msg]{env}
		if int(env.ID()) < ids {
			return nodeAdapter[mp.Msg, *mp.Server]{mp.NewServer(e, cfg)}
		}
		if rc != nil && int(env.ID()) >= rc.opBase {
			return nodeAdapter[mp.Msg, *mp.Operator]{mp.NewOperator(e, rc.ops[int(env.ID())-rc.opBase])}
		}
		c := ccfg
		if int(env.ID())-ids < spec.readers {
			c.Workload.ReadPct = 100
		}
		return nodeAdapter[mp.Msg, *mp.Client]{mp.NewClient(e, c)}
	}
	w := sim.NewWorld(ids+clients+operators, src, newNode)
	w.Net.Latency = spec.latency
	w.Net.Extreme, w.Extremes = plan.Extreme, plan.Extreme
	res.Trace = traceOf(w, opts)
	r := &multiRun{spec: spec, w: w, replicas: ids, clients: clients, chk: checker.NewMultiLog[mp.Command](ids), doneSeen: make([]bool, clients), rc: rc}
	if rc != nil {
		r.chk.EnableReconfig(rc.alpha, uint64(1)<<uint(n)-1)
	}
	defer guard(w, &res, &r.found)
	w.AfterStep = r.afterStep
	cov := &coverageRecorder{features: r.features}
	w.OnFault = cov.onFault
	defer func() { res.Coverage = cov.cov }()

	nodes := nodeIDs(ids)
	if plan.Families&faults.Lasting != 0 {
		nodes = nodeIDs(n) // a lasting fault takes a minority of the initial replicas
	}
	heal := sim.Time(spec.window)
	w.Note(func() string { return "plan " + res.Params })
	r.lost = faults.Schedule(w, src, plan, nodes, 0, heal)
	if rc != nil {
		rc.schedule(r, src, set, heal)
		res.Params += " " + rc.plan
		w.Note(func() string { return "membership " + rc.plan })
	}
	if plan.Families&faults.ClockSkew != 0 {
		faults.ClockSteps(w, src, nodes, spec.clockSteps, plan.SkewMax, plan.Extreme, heal)
	}
	r.scheduleLeaderCuts(src, heal)
	w.Boot()
	res.Stall = phases(w, &r.found, liveness{heal: heal, bound: spec.liveness, done: r.done, progress: r.progress, stuck: r.stuck})
	res.Events, res.Digest = w.Events(), w.Digest()
	if !r.linChecked && r.allClientsDone() {
		// A client whose time ran out is done without another step: the
		// run can reach its liveness goal before that client's next
		// timer, and its history is whole all the same.
		r.linChecked = true
	}
	if r.found == nil && r.linChecked {
		r.linearizable() // after the digest: its wall-clock budget must not reach the run
	}
	res.Violation = r.found
	if opts.Trace {
		r.saveHistory()
	}
	res.Inconclusive, res.Artifacts = r.inconclusive, r.artifacts
	if inspect != nil {
		inspect(r)
	}
	return res
}

// leaseSteps is how many steps a drawn lease takes from leaseMin to
// leaseDuration: few, so that a shrinker tries each of them.
const leaseSteps = 8

// scaleToLease draws the run's lease duration from leaseMin up to
// leaseDuration, the shortest at the plain outcome, and scales to it the
// spans a lease story is made of (see withLease).
func scaleToLease(spec multiSpec, src sim.Source) multiSpec {
	k := sim.Duration(sim.Between(src, 0, leaseSteps))
	return withLease(spec, spec.leaseMin+k*(spec.leaseDuration-spec.leaseMin)/leaseSteps)
}

// withLease is spec with lease d: the heartbeat, the election timeout, the
// client retry, the clock skew bound, the longest leader cut and the fault
// window keep the ratio to the lease that spec gives them at leaseDuration
// (clock drift is a ratio already). Client think times and network latency
// do not scale, so a short lease tells the same story as a long one in fewer
// heartbeats and fewer client operations.
func withLease(spec multiSpec, d sim.Duration) multiSpec {
	full := spec.leaseDuration
	scale := func(x sim.Duration) sim.Duration { return sim.Duration(int64(x) * int64(d) / int64(full)) }
	spec.leaseDuration = d
	spec.heartbeat, spec.election, spec.retry = scale(spec.heartbeat), scale(spec.election), scale(spec.retry)
	spec.faults.SkewMax, spec.leaderCutMax = scale(spec.faults.SkewMax), scale(spec.leaderCutMax)
	spec.window = scale(spec.window)
	return spec
}

// afterStep feeds what a replica reported during its step to the log checker.
func (r *multiRun) afterStep(id sim.NodeID) {
	if int(id) >= r.replicas {
		r.clientStepped(id)
		return
	}
	srv, ok := protocolOf[mp.Msg, *mp.Server](r.w.Node(id))
	if !ok {
		return
	}
	node := paxos.NodeID(id)
	at := int64(r.w.Now())
	// What the acceptor's disk now durably holds comes first: a decision
	// in this very step may rest on it.
	for _, rec := range r.w.Disk(id).TakeDurable() {
		if slot, b, cmd, ok := mp.Acceptance(rec); ok {
			if v := r.chk.Accepted(node, uint64(slot), b, cmd, at); v != nil && r.found == nil {
				r.found = v
				r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
			}
		}
	}
	for _, ev := range srv.TakeEvents() {
		var v *checker.Violation
		switch ev.Kind {
		case mp.EvStart:
			r.chk.Restarted(node)
		case mp.EvDecided:
			first := !r.chk.Known(uint64(ev.Slot))
			v = r.chk.Decided(node, uint64(ev.Slot), ev.Ballot, ev.Cmd, at)
			if first && r.w.Tracing() {
				r.w.Note(func() string {
					return fmt.Sprintf("slot %d decided %v (first learned by n%d, ballot %v)", ev.Slot, ev.Cmd, id, ev.Ballot)
				})
			}
		case mp.EvApplied:
			if r.w.Tracing() {
				r.w.Note(func() string {
					return fmt.Sprintf("n%d applies slot %d: %v, %v %v", id, ev.Slot, ev.Cmd, ev.Outcome, ev.Result)
				})
			}
			v = r.chk.Applied(node, uint64(ev.Slot), ev.Cmd, ev.Outcome == mp.Executed, at)
			if v == nil && ev.Cmd.Op == mp.OpAcquire && ev.Outcome == mp.Executed && ev.Result.OK {
				v = r.chk.Granted(node, uint64(ev.Slot), int(ev.Cmd.Key), ev.Result.Token, at)
			}
		case mp.EvLeader:
			r.leaderChanges++
			if r.w.Tracing() {
				r.w.Note(func() string {
					return fmt.Sprintf("n%d leads at ballot %v, recovering slots up to %d", id, ev.Ballot, ev.Slot)
				})
			}
		case mp.EvConfig:
			r.configEvent(id, ev, at)
		case mp.EvLeaseRead:
			if r.w.Tracing() {
				r.w.Note(func() string {
					return fmt.Sprintf("n%d answers %v locally at ballot %v (applied through slot %d): %q", id, ev.Cmd, ev.Ballot, ev.Slot, ev.Result.Value)
				})
			}
		}
		if v != nil && r.found == nil {
			r.found = v
			r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
		}
	}
}

func (r *multiRun) server(i int) *mp.Server {
	s, _ := protocolOf[mp.Msg, *mp.Server](r.w.Node(sim.NodeID(i)))
	return s
}

func (r *multiRun) client(i int) *mp.Client {
	c, _ := protocolOf[mp.Msg, *mp.Client](r.w.Node(sim.NodeID(r.replicas + i)))
	return c
}

// done is the liveness goal: no client operation waits for its reply (clients
// issue nothing new after the heal), and every replica is up and has applied
// the whole decided log.
func (r *multiRun) done() bool {
	if !r.allClientsDone() {
		return false
	}
	if r.rc != nil && !r.reconfigDone() {
		return false
	}
	top := mp.Slot(0)
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		if r.away(i) {
			continue
		}
		if s == nil {
			return false
		}
		top = max(top, s.Commit())
	}
	for i := 0; i < r.replicas; i++ {
		if !r.away(i) && r.server(i).Applied() < top {
			return false
		}
	}
	return true
}

// allClientsDone reports whether no client has anything left to do.
func (r *multiRun) allClientsDone() bool {
	for i := 0; i < r.clients; i++ {
		if c := r.client(i); c == nil || !c.Done() {
			return false
		}
	}
	return true
}

// progress counts the work done: slots applied by the replicas, and
// clients finished.
func (r *multiRun) progress() uint64 {
	p := uint64(r.clientsDone)
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil {
			p += uint64(s.Applied())
		}
	}
	return p
}

// away reports whether a lasting fault keeps replica i from the majority:
// liveness is not asked of it.
func (r *multiRun) away(i int) bool {
	return r.lost&(1<<uint(i)) != 0 || (r.rc != nil && !r.rc.required(r, i))
}

// stuck says what the liveness phase still waited for.
func (r *multiRun) stuck() string {
	var parts []string
	for i := 0; i < r.clients; i++ {
		c := r.client(i)
		if call, ok := c.Waiting(); ok {
			parts = append(parts, fmt.Sprintf("client %d waits for %v since t=%dµs", r.replicas+i, call.Cmd, call.Call))
		}
	}
	top := mp.Slot(0)
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil && !r.away(i) {
			top = max(top, s.Commit())
		}
	}
	var lag []string
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		switch {
		case r.away(i):
		case s == nil:
			lag = append(lag, fmt.Sprintf("n%d down", i))
		case s.Applied() < top:
			lag = append(lag, fmt.Sprintf("n%d (%s) applied %d of %d", i, s.Role(), s.Applied(), top))
		}
	}
	if len(lag) > 0 {
		parts = append(parts, "replicas behind: "+strings.Join(lag, ", "))
	}
	if r.lost != 0 {
		parts = append(parts, fmt.Sprintf("replicas %v away for good", lostNodes(r.lost)))
	}
	if r.rc != nil {
		parts = append(parts, r.reconfigStuck()...)
	}
	if len(parts) == 0 {
		return "the run did not finish"
	}
	return strings.Join(parts, "; ")
}

// clientStepped checks the clients' history as soon as the last client is
// done: a run whose history is not linearizable stops there, so its trace
// (and its shrunk trace) ends where the evidence is complete.
func (r *multiRun) clientStepped(id sim.NodeID) {
	c, ok := protocolOf[mp.Msg, *mp.Client](r.w.Node(id))
	if !ok || !c.Done() || r.linChecked {
		return
	}
	// A client is done for good once its last op returned: count it once.
	if r.doneSeen[int(id)-r.replicas] {
		return
	}
	r.doneSeen[int(id)-r.replicas] = true
	r.clientsDone++
	if r.clientsDone < r.clients {
		return
	}
	// Every client is done: the history is whole. It is checked after the
	// run (linearizable, from runMultiWith), outside everything the digest
	// covers, since the check's budget is wall-clock time.
	r.linChecked = true
}

// linearizable checks the clients' history: the key-value operations and the
// lock operations, each against its porcupine model.
func (r *multiRun) linearizable() {
	h := r.history()
	var checks []func(*checker.History, time.Duration) checker.LinResult
	if r.spec.keys > 0 {
		checks = append(checks, checker.CheckKV)
	}
	if r.spec.locks > 0 {
		checks = append(checks, checker.CheckLock)
	}
	for _, check := range checks {
		switch lin := check(h, linBudget); lin.Verdict {
		case checker.LinOk:
			continue
		case checker.LinIllegal:
			v := lin.Violation()
			r.found = v
			// The page is for a person: only a traced run (a failure
			// being written, a replay) draws it, with its faults marked.
			if r.w.Tracing() {
				if html, err := lin.HTML(historyNotes(r.w.Trace().Lines(), r.replicas)...); err == nil {
					r.artifacts = map[string][]byte{"history.html": html}
				}
			}
			r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
		default:
			r.inconclusive = "linearizability: " + lin.Message
		}
		return
	}
}

// saveHistory keeps the client history as history.json, for simrun reeval
// to check again (with a larger budget, or a newer checker).
func (r *multiRun) saveHistory() {
	var models []string
	if r.spec.keys > 0 {
		models = append(models, "kv")
	}
	if r.spec.locks > 0 {
		models = append(models, "lock")
	}
	data, err := json.MarshalIndent(r.history().Save(models...), "", " ")
	if err != nil {
		panic("scenarios: saving the history: " + err.Error())
	}
	if r.artifacts == nil {
		r.artifacts = map[string][]byte{}
	}
	r.artifacts["history.json"] = data
}

// history is every client operation so far, in porcupine's terms: clients
// are numbered by node id, an operation without a reply never returned.
func (r *multiRun) history() *checker.History {
	h := &checker.History{}
	for i := 0; i < r.clients; i++ {
		id := r.replicas + i
		c := r.client(i)
		if c == nil {
			continue
		}
		for _, call := range c.Calls() {
			op := h.Call(id, int64(call.Call), historyInput(call.Cmd, id))
			if call.Returned {
				h.Return(op, int64(call.Return), checker.Output{Value: call.Result.Value, OK: call.Result.OK, Token: call.Result.Token})
			}
		}
	}
	return h
}

func historyInput(c mp.Command, owner int) checker.Input {
	switch c.Op {
	case mp.OpGet:
		return checker.Get(mp.KeyName(c.Key))
	case mp.OpPut:
		return checker.Put(mp.KeyName(c.Key), c.Value)
	case mp.OpAppend:
		return checker.Append(mp.KeyName(c.Key), c.Value)
	case mp.OpCAS:
		return checker.CAS(mp.KeyName(c.Key), c.Old, c.Value)
	case mp.OpAcquire:
		return checker.Acquire(mp.LockName(c.Key), owner)
	case mp.OpRelease:
		return checker.Release(mp.LockName(c.Key), owner)
	}
	panic("scenarios: client issued " + c.Op.String() + " (" + strconv.Itoa(int(c.Op)) + ")")
}

// scheduleLeaderCuts cuts whichever replica leads at the time off from the
// other replicas (clients still reach it), up to spec.leaderCuts times before
// heal, one cut at a time: Jepsen's "partition the primary". Random
// partitions seldom single out the leader for long, and it is the leader
// that a deposed-leader or lease bug needs cut off. With spec.leaderFlap, a
// cut may begin with the leader's links to each replica going up and down
// every few milliseconds: bursts of loss from one node, which random loss
// over the whole network seldom makes.
func (r *multiRun) scheduleLeaderCuts(src sim.Source, heal sim.Time) {
	if r.spec.leaderCuts == 0 {
		return
	}
	lo := min(r.spec.leaderCutsMin, r.spec.leaderCuts)
	cuts := int(sim.Between(src, uint64(lo), uint64(r.spec.leaderCuts)))
	at := sim.Time(0)
	for i := 0; i < cuts; i++ {
		at += sim.Time(src.Choose(uint64(heal)/uint64(cuts) + 1))
		span := sim.Time(sim.Between(src, uint64(r.spec.leaderCutMax/10), uint64(r.spec.leaderCutMax)))
		if at >= heal {
			break
		}
		end := min(at+span, heal)
		victim := sim.NodeID(-1)
		flaky := sim.Time(0)
		if r.spec.leaderFlap > 0 {
			flaky = sim.Time(sim.Between(src, 0, uint64(r.spec.leaderFlap)))
		}
		if at+flaky >= end {
			flaky = 0
		}
		// The flapping picks its victim as it starts; the cut that
		// follows takes the same replica, led still or not.
		for t := at; t < at+flaky; {
			up := src.Choose(1 << uint(r.replicas)) // bit i: the link with replica i is up
			first := t == at
			r.w.At(t, "the leader's links flap", func() {
				if first {
					victim = r.leader()
				}
				r.flap(victim, up)
			})
			t += sim.Time(sim.Between(src, uint64(sim.Millisecond), uint64(4*sim.Millisecond)))
		}
		at += flaky
		r.w.At(at, "cut the leader off", func() {
			if flaky == 0 || victim < 0 {
				victim = r.leader()
			}
			r.cutLinks(victim, false)
		})
		r.w.At(end, "leader cut heals", func() { r.cutLinks(victim, true) })
		at = end
	}
}

// multiFive are the Multi-Paxos features every scenario reaches (all but
// the lease, which only lease scenarios hold).
const multiFive = "leader election catch-up new-leader client-waiting"

// multiFamily is what Multi-Paxos runs report as faults strike.
var multiFamily = Features{"leader", "lease", "election", "catch-up", "new-leader", "client-waiting"}

// features are the Multi-Paxos states that hold as a fault strikes node
// (peer: a message's sender): the fault touches the leader; a leader holds
// a lease; no replica leads; some live replica is behind the highest commit;
// leadership has changed hands at least once; a client waits for a reply.
func (r *multiRun) features(f sim.Fault, node, peer sim.NodeID) uint64 {
	var on uint64
	l := r.leader()
	switch {
	case f == sim.FaultCrash && l == node:
		r.crashedLeader |= 1 << uint(node)
		on |= 1 << 0
	case f == sim.FaultRestart:
		// A restart touches the leader when the replica led as it went down.
		if r.crashedLeader&(1<<uint(node)) != 0 {
			on |= 1 << 0
		}
		r.crashedLeader &^= 1 << uint(node)
	case l >= 0 && (l == node || l == peer):
		on |= 1 << 0
	}
	leads := false
	top, low := mp.Slot(0), mp.Slot(0)
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		if s == nil {
			continue
		}
		if s.IsLeader() {
			leads = true
		}
		if s.HoldsLease() {
			on |= 1 << 1
		}
		if top == 0 || s.Commit() > top {
			top = s.Commit()
		}
		if low == 0 || s.Commit() < low {
			low = s.Commit()
		}
	}
	if !leads {
		on |= 1 << 2
	}
	if low < top {
		on |= 1 << 3
	}
	if r.leaderChanges >= 2 {
		on |= 1 << 4
	}
	if r.rc != nil && r.reconfigFeature() {
		on |= 1 << 6
	}
	for i := 0; i < r.clients; i++ {
		if c := r.client(i); c != nil {
			if _, waiting := c.Waiting(); waiting {
				on |= 1 << 5
				break
			}
		}
	}
	return on
}

// leader is the replica leading at the highest ballot, or -1.
func (r *multiRun) leader() sim.NodeID {
	best, who := paxos.Ballot{}, sim.NodeID(-1)
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil && s.IsLeader() && best.Less(s.Ballot()) {
			best, who = s.Ballot(), sim.NodeID(i)
		}
	}
	return who
}

// flap sets the victim's links with the other replicas, both ways: up for
// replica i when bit i of up is set, down otherwise.
func (r *multiRun) flap(victim sim.NodeID, up uint64) {
	if victim < 0 {
		return
	}
	var down []string
	for i := 0; i < r.replicas; i++ {
		ok := up&(1<<uint(i)) != 0
		r.w.Net.SetLink(victim, sim.NodeID(i), ok)
		r.w.Net.SetLink(sim.NodeID(i), victim, ok)
		if !ok && sim.NodeID(i) != victim {
			down = append(down, fmt.Sprintf("n%d", i))
		}
	}
	if r.w.Tracing() {
		r.w.Note(func() string { return fmt.Sprintf("n%d's links flap: down to %v", victim, down) })
	}
}

func (r *multiRun) cutLinks(victim sim.NodeID, ok bool) {
	if victim < 0 {
		return
	}
	for i := 0; i < r.replicas; i++ {
		r.w.Net.SetLink(victim, sim.NodeID(i), ok)
		r.w.Net.SetLink(sim.NodeID(i), victim, ok)
	}
	if !ok && r.w.Tracing() {
		r.w.Note(func() string { return fmt.Sprintf("n%d cut off from the other replicas", victim) })
	}
}
