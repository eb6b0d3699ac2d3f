package scenarios

import (
	"fmt"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/paxos"
	mp "github.com/synod-sim/synod/paxos/multipaxos"
	"github.com/synod-sim/synod/sim"
)

// Chubby's real problem (issue 12): clients hold locks under sessions with
// leases kept alive through the log, misbehave as real clients do (crash
// and come back with a new session, pause for longer than their lease,
// drift, get cut off from the cluster or from the resource), and write to
// a protected resource with their fencing tokens. The verdict comes from
// what the resource accepted, what the clients were promised and what the
// log applied (checker.Sessions), and from the linearizability of the lock
// history with the service's expiries in it.
//
// Nodes: replicas 0..R-1, session clients R..R+C-1, the resource R+C.

// sessSpec is the shape of a session scenario.
type sessSpec struct {
	minNodes, maxNodes     int
	minClients, maxClients int
	locks                  int
	writes                 int  // writes a holder makes before it releases; 0: a primary never does
	election               bool // candidates for one lock; liveness: a live candidate becomes primary
	lease, grace           sim.Duration
	skew                   sim.Duration
	driftPPM               int32
	think, try             sim.Duration
	commit, retry          sim.Duration
	electionTimeout        sim.Duration
	heartbeat              sim.Duration
	window, liveness       sim.Duration
	replicaFaults          faults.Limits
	clientCrashes          int
	clientDownMax          sim.Duration
	pauses                 int
	pauseMax               sim.Duration
	pauseWrite             sim.Rate // share of pauses armed for the client's next decided write
	clientCuts             int
	clientCutMax           sim.Duration
	resourceCut            sim.Rate // share of client cuts from the resource, not the cluster
	leaderCuts             int
	leaderCutMax           sim.Duration
	clockSteps             int
	sometimes              []string // the fault×feature pairs promised
}

func init() {
	base := sessSpec{
		minNodes: 3, maxNodes: 5, minClients: 2, maxClients: 5, locks: 2, writes: 3,
		lease: 300 * sim.Millisecond, grace: 300 * sim.Millisecond,
		skew: 10 * sim.Millisecond, driftPPM: 200_000,
		think: 40 * sim.Millisecond, try: 150 * sim.Millisecond, commit: 5 * sim.Millisecond, retry: 60 * sim.Millisecond,
		electionTimeout: 150 * sim.Millisecond, heartbeat: 50 * sim.Millisecond,
		window: 2 * sim.Second, liveness: 4 * sim.Second,
		replicaFaults: faults.Limits{Families: faults.Crash | faults.Partition | faults.Loss | faults.Duplicate, Swarm: true,
			MaxCrashes: 3, DownMax: 400 * sim.Millisecond, MaxParts: 3, PartMax: 500 * sim.Millisecond,
			MaxDrop: 50_000, MaxDup: 50_000},
		clientCrashes: 2, clientDownMax: 400 * sim.Millisecond,
		pauses: 3, pauseMax: 900 * sim.Millisecond, pauseWrite: sim.RateScale / 2,
		clientCuts: 3, clientCutMax: 700 * sim.Millisecond, resourceCut: sim.RateScale / 3,
		leaderCuts: 3, leaderCutMax: 900 * sim.Millisecond,
		clockSteps: 4,
		sometimes:  sessSometimes(true),
	}
	register := func(name, summary string, edit func(*sessSpec)) {
		spec := base
		edit(&spec)
		sc := &Scenario{Name: name, Summary: summary, Features: sessFamily, Sometimes: spec.sometimes, Legend: sessLegend,
			Params: sessParams(spec), Validate: validateSessions}
		sc.Run = func(src sim.Source, opts Options) Result {
			return runSessions(spec, sc.settingsFor(opts.Set), src, opts, nil)
		}
		sessSpecs[name] = spec
		Register(sc)
	}
	register("multi/lock-sessions", "3-5 replicas, 2-5 clients take 2 locks under leased sessions and write to a fencing resource; clients crash, pause past their lease, drift and are cut off", func(s *sessSpec) {
		s.sometimes = sessSometimes(false)
	})
	register("multi/election", "leader election on the lock service: 2-5 candidates for one lock, the primary writes to a fencing resource; primaries pause and are cut off, the leader is cut off, replicas crash", func(s *sessSpec) {
		s.locks, s.writes, s.election = 1, 0, true
		s.think = 30 * sim.Millisecond
	})

	RegisterHunt(BugHunt{Bug: "no-fencing-check", Scenario: "multi/election", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "expire-early", Scenario: "multi/lock-sessions", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "client-ignores-jeopardy", Scenario: "multi/lock-sessions", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "keepalive-not-replicated", Scenario: "multi/election", Seeds: 50_000})
}

// sessSpecs are the session scenarios' shapes, for multi/swarm, which runs
// them in a share of its seeds.
var sessSpecs = map[string]sessSpec{}

var sessLegend = []string{
	"replicas are n0..n(R-1), session clients the nodes after them, the protected resource the last node",
	"open/keepalive/expire: sessions sS with leases, in the log; acquire(lL sS)/release under a session; expire(sS at beat B) is the leader's, a no-op if a keep-alive got in first",
	"write wC.N lL token=T: client C's N-th write to the resource under lock L's fencing token T; write-ack says accepted or refused",
	"client timers: keepalive, work (write or try for a lock), commit (send the write decided), grace (give a lapsed session up), retry",
}

func sessParams(spec sessSpec) []Param {
	ps := []Param{
		{Name: "replicas", Min: 1, Max: maxTimedNodes, Drawn: true, DrawMin: int64(spec.minNodes), DrawMax: int64(spec.maxNodes), Doc: "replicas"},
		{Name: "clients", Min: 1, Max: 16, Drawn: true, DrawMin: int64(spec.minClients), DrawMax: int64(spec.maxClients), Doc: "session clients"},
		span("lease", spec.lease, 1, "session lease"),
		span("grace", spec.grace, 0, "client grace period after its lease view lapses"),
		span("window", spec.window, 1, "faults strike in [0, window), then everything heals"),
		span("liveness", spec.liveness, 1, "after the heal, the locks of gone holders are free (or a primary is elected) within this"),
		span("skew", spec.skew, 0, "largest clock offset of every node, clients' too: the session terms budget for it (lease*(1-drift) > 2*skew)"),
		{Name: "drift", Default: int64(spec.driftPPM), Max: 500_000, Doc: "largest clock drift of every node, ppm: the session terms budget for it"},
		{Name: "clocksteps", Default: int64(spec.clockSteps), Max: 64, Doc: "up to this many clock steps within the skew bound"},
		{Name: "pauses", Default: int64(spec.pauses), Max: 64, Doc: "up to this many client pauses (the node takes no step) in the fault window"},
		span("pause", spec.pauseMax, 1, "longest client pause (the shortest is a tenth of it)"),
		{Name: "pausewrite", Unit: Fraction, Default: int64(sim.RateScale / 2), Max: int64(sim.RateScale),
			Doc: "share of pauses that strike right after the client decides a write, before it sends it (the rest at a drawn time)"},
		{Name: "clientcrashes", Default: int64(spec.clientCrashes), Max: 64, Doc: "up to this many client crashes (a restart is a new session)"},
		span("clientdown", spec.clientDownMax, 1, "longest a crashed client stays down"),
		{Name: "clientcuts", Default: int64(spec.clientCuts), Max: 64, Doc: "up to this many times, cut a client off from the cluster or from the resource"},
		span("clientcut", spec.clientCutMax, 1, "longest client cut"),
		{Name: "resourcecut", Unit: Fraction, Default: int64(sim.RateScale / 3), Max: int64(sim.RateScale),
			Doc: "share of client cuts that cut the client off from the resource (the rest: from the cluster)"},
		{Name: "leadercuts", Default: int64(spec.leaderCuts), Max: 64, Doc: "up to this many times, cut the current leader off from the other replicas"},
		span("leadercut", spec.leaderCutMax, 1, "longest leader cut"),
	}
	// The replicas' fault plan, its clock bounds aside: every clock is
	// skewed and drifts within skew and drift above, the skew family or not.
	for _, p := range faultParams(spec.replicaFaults) {
		switch p.Name {
		case "skew", "drift":
			continue
		case "faults":
			p.Doc = "fault families of the replicas' plan (loss, dup and delay strike every message; with swarm=1 each is on in half the runs)"
		case "crashes":
			p.Doc = "replica crashes in the fault window (0: none)"
		case "down":
			p.Doc = "longest a crashed replica stays down"
		case "partitions":
			p.Doc = "partitions of the replicas in the fault window, one after another (0: none)"
		}
		ps = append(ps, p)
	}
	return ps
}

// validateSessions rejects clock bounds that leave a client no lease view.
func validateSessions(st Settings) error {
	terms := mp.SessionTerms{Lease: paxos.Duration(st.Get("lease")), DriftPPM: st.Get("drift"), Skew: paxos.Duration(st.Get("skew"))}
	if terms.ClientView() <= 0 {
		return fmt.Errorf("lease=%s with drift=%d and skew=%s leaves the client no lease view: want lease*(1-drift) > 2*skew",
			Param{Unit: Span}.Show(st.Get("lease")), st.Get("drift"), Param{Unit: Span}.Show(st.Get("skew")))
	}
	return nil
}

// applySessions is spec with the settings given (the cluster and client
// counts aside: they are drawn first).
func applySessions(spec sessSpec, st Settings) sessSpec {
	for _, sp := range []struct {
		name string
		to   *sim.Duration
	}{{"lease", &spec.lease}, {"grace", &spec.grace}, {"window", &spec.window}, {"liveness", &spec.liveness}, {"skew", &spec.skew},
		{"pause", &spec.pauseMax}, {"clientdown", &spec.clientDownMax}, {"clientcut", &spec.clientCutMax}, {"leadercut", &spec.leaderCutMax}} {
		setSpan(st, sp.name, sp.to)
	}
	for _, c := range []struct {
		name string
		to   *int
	}{{"clocksteps", &spec.clockSteps}, {"pauses", &spec.pauses}, {"clientcrashes", &spec.clientCrashes}, {"clientcuts", &spec.clientCuts}, {"leadercuts", &spec.leaderCuts}} {
		setInt(st, c.name, c.to)
	}
	if st.Given("drift") {
		spec.driftPPM = int32(st.Get("drift"))
	}
	if st.Given("pausewrite") {
		spec.pauseWrite = sim.Rate(st.Get("pausewrite"))
	}
	if st.Given("resourcecut") {
		spec.resourceCut = sim.Rate(st.Get("resourcecut"))
	}
	spec.replicaFaults = applyFaults(spec.replicaFaults, st)
	return spec
}

// sessRun is one run of a session scenario in progress.
type sessRun struct {
	spec     sessSpec
	w        *sim.World[mp.Msg]
	replicas int
	clients  int
	resource sim.NodeID
	heal     sim.Time
	chk      *checker.MultiLog[mp.Command]
	sess     *checker.Sessions
	hist     checker.SessionHistory
	found    *checker.Violation
	lost     uint64

	applied   []bool                    // by slot: applied somewhere already
	expiring  map[[2]uint32]int64       // (session, beat) -> first proposal
	calls     map[[2]int64]checker.OpID // (client, seq) -> history op
	owners    []int                     // by session-1: the client
	pauseNext []sim.Duration            // by client: a pause armed for its next decided write
	accepted  []sim.Time                // by client: its last write the resource accepted
	progress  uint64
	// crashedLeader: replicas down since they crashed leading (coverage).
	crashedLeader uint64
	linDone       bool
	inconcl       string
	artifacts     map[string][]byte
}

// runSessions runs a session scenario; inspect, when set, sees the
// finished run (tests).
func runSessions(spec sessSpec, set Settings, src sim.Source, opts Options, inspect func(*sessRun)) (res Result) {
	src = recorded(src, opts)
	n := int(set.Draw(src, "replicas", int64(spec.minNodes), int64(spec.maxNodes)))
	clients := int(set.Draw(src, "clients", int64(spec.minClients), int64(spec.maxClients)))
	spec = applySessions(spec, set)
	if set.params != nil {
		res.Settings = set.String()
	}
	plan := faults.Draw(src, spec.replicaFaults)
	terms := mp.SessionTerms{Lease: paxos.Duration(spec.lease), DriftPPM: int64(spec.driftPPM), Skew: paxos.Duration(spec.skew)}
	cfg := mp.Config{Replicas: n, Locks: spec.locks, Bugs: opts.Bugs,
		ElectionTimeout: paxos.Duration(spec.electionTimeout), Heartbeat: paxos.Duration(spec.heartbeat),
		Retransmit: paxos.Duration(2 * spec.heartbeat)}
	resource := sim.NodeID(n + clients)
	heal := sim.Time(spec.window)
	until := paxos.Time(heal)
	if spec.election {
		until = 0 // candidates keep trying: a primary must emerge after the heal
	}
	ccfg := mp.SessionClientConfig{Replicas: n, Resource: paxos.NodeID(resource), Terms: terms, Grace: paxos.Duration(spec.grace),
		Retry: paxos.Duration(spec.retry), Locks: spec.locks, Think: paxos.Duration(spec.think), Try: paxos.Duration(spec.try), Commit: paxos.Duration(spec.commit),
		Writes: spec.writes, Until: until, Bugs: opts.Bugs}
	res.Params = fmt.Sprintf("replicas=%d clients=%d lease=%dms %v", n, clients, spec.lease/sim.Millisecond, plan)

	newNode := func(env *sim.Env[mp.Msg]) sim.Node[mp.Msg] {
		e := envAdapter[mp.Msg]{env}
		switch id := env.ID(); {
		case int(id) < n:
			return nodeAdapter[mp.Msg, *mp.Server]{mp.NewServer(e, cfg)}
		case id == resource:
			return nodeAdapter[mp.Msg, *mp.Resource]{mp.NewResource(e, mp.ResourceConfig{Locks: spec.locks, Bugs: opts.Bugs})}
		}
		return nodeAdapter[mp.Msg, *mp.SessionClient]{mp.NewSessionClient(e, ccfg)}
	}
	w := sim.NewWorld(n+clients+1, src, newNode)
	w.Net.Latency = defaultLatency
	w.Net.Extreme, w.Extremes = plan.Extreme, plan.Extreme
	res.Trace = traceOf(w, opts)
	r := &sessRun{spec: spec, w: w, replicas: n, clients: clients, resource: resource, heal: heal,
		chk: checker.NewMultiLog[mp.Command](n), sess: checker.NewSessions(int64(spec.lease), spec.locks),
		expiring: map[[2]uint32]int64{}, calls: map[[2]int64]checker.OpID{},
		pauseNext: make([]sim.Duration, clients), accepted: make([]sim.Time, clients)}
	defer guard(w, &res, &r.found)
	w.AfterStep = r.afterStep
	cov := &coverageRecorder{features: r.features}
	w.OnFault = cov.onFault
	defer func() { res.Coverage = cov.cov }()

	w.Note(func() string { return "plan " + res.Params })
	r.lost = faults.Schedule(w, src, plan, nodeIDs(n), 0, heal)
	r.scheduleClocks(src, plan.Extreme)
	r.scheduleClientFaults(src)
	r.scheduleLeaderCuts(src)
	w.Boot()
	res.Stall = phases(w, &r.found, liveness{heal: heal, bound: spec.liveness, done: r.done, progress: func() uint64 { return r.progress }, stuck: r.stuck})
	res.Events, res.Digest = w.Events(), w.Digest()
	if r.found == nil && r.linDone {
		r.linearizable()
	}
	res.Violation, res.Inconclusive, res.Artifacts = r.found, r.inconcl, r.artifacts
	if inspect != nil {
		inspect(r)
	}
	return res
}

// scheduleClocks skews and drifts every clock, clients' too, within the
// bounds the session terms budget for, and steps some of them.
func (r *sessRun) scheduleClocks(src sim.Source, extreme bool) {
	all := nodeIDs(r.replicas + r.clients)
	for i, id := range all {
		c := sim.Clock{
			Offset:   sim.Duration(sim.Between(src, 0, 2*uint64(r.spec.skew))) - r.spec.skew,
			DriftPPM: int32(sim.Between(src, 0, 2*uint64(r.spec.driftPPM))) - r.spec.driftPPM,
		}
		if extreme {
			sign := sim.Duration(1 - 2*(i%2))
			c = sim.Clock{Offset: sign * r.spec.skew, DriftPPM: int32(sign) * r.spec.driftPPM}
		}
		r.w.SetClock(id, c)
	}
	faults.ClockSteps(r.w, src, all, r.spec.clockSteps, r.spec.skew, extreme, r.heal)
}

// scheduleClientFaults draws the clients' misbehaviour: crashes (a client
// comes back as a new incarnation with a new session), pauses (some at a
// drawn time, some right after the client decides its next write, the
// garbage collection of Kleppmann's story), and cuts from the cluster or
// from the resource. All of it ends by the heal.
func (r *sessRun) scheduleClientFaults(src sim.Source) {
	heal := r.heal
	client := func() sim.NodeID { return sim.NodeID(r.replicas + int(src.Choose(uint64(r.clients)))) }
	for i, k := 0, int(sim.Between(src, 0, uint64(r.spec.clientCrashes))); i < k; i++ {
		id := client()
		at := sim.Time(src.Choose(uint64(heal)))
		back := at + sim.Time(sim.Between(src, uint64(r.spec.clientDownMax/20), uint64(r.spec.clientDownMax)))
		r.w.At(at, fmt.Sprintf("crash client n%d", id), func() { r.w.Crash(id) })
		if back < heal {
			r.w.At(back, fmt.Sprintf("restart client n%d (a new incarnation, a new session)", id), func() { r.w.Restart(id) })
		}
	}
	for i, k := 0, int(sim.Between(src, 0, uint64(r.spec.pauses))); i < k; i++ {
		id := client()
		at := sim.Time(src.Choose(uint64(heal)))
		span := sim.Duration(sim.Between(src, uint64(r.spec.pauseMax/10), uint64(r.spec.pauseMax)))
		if at+sim.Time(span) >= heal {
			continue
		}
		if sim.Chance(src, r.spec.pauseWrite) {
			r.w.At(at, fmt.Sprintf("client n%d will pause for %dms after its next decided write", id, span/sim.Millisecond), func() {
				r.pauseNext[int(id)-r.replicas] = span
			})
			continue
		}
		r.w.At(at, fmt.Sprintf("pause client n%d for %dms", id, span/sim.Millisecond), func() { r.w.Pause(id, span) })
	}
	for i, k := 0, int(sim.Between(src, 0, uint64(r.spec.clientCuts))); i < k; i++ {
		id := client()
		at := sim.Time(src.Choose(uint64(heal)))
		end := min(at+sim.Time(sim.Between(src, uint64(r.spec.clientCutMax/10), uint64(r.spec.clientCutMax))), heal)
		fromResource := sim.Chance(src, r.spec.resourceCut)
		what := "the cluster"
		if fromResource {
			what = "the resource"
		}
		cut := func(ok bool) {
			if fromResource {
				r.w.Net.SetLink(id, r.resource, ok)
				r.w.Net.SetLink(r.resource, id, ok)
				return
			}
			for j := 0; j < r.replicas; j++ {
				r.w.Net.SetLink(id, sim.NodeID(j), ok)
				r.w.Net.SetLink(sim.NodeID(j), id, ok)
			}
		}
		r.w.At(at, fmt.Sprintf("cut client n%d off from %s", id, what), func() { cut(false) })
		r.w.At(end, fmt.Sprintf("client n%d reaches %s again", id, what), func() { cut(true) })
	}
}

// scheduleLeaderCuts cuts whichever replica leads off from the other
// replicas (clients still reach it), one cut at a time.
func (r *sessRun) scheduleLeaderCuts(src sim.Source) {
	cuts := int(sim.Between(src, 0, uint64(r.spec.leaderCuts)))
	at := sim.Time(0)
	for i := 0; i < cuts; i++ {
		at += sim.Time(src.Choose(uint64(r.heal)/uint64(cuts) + 1))
		span := sim.Time(sim.Between(src, uint64(r.spec.leaderCutMax/10), uint64(r.spec.leaderCutMax)))
		if at >= r.heal {
			break
		}
		end := min(at+span, r.heal)
		victim := sim.NodeID(-1)
		cut := func(ok bool) {
			if victim < 0 {
				return
			}
			for j := 0; j < r.replicas; j++ {
				r.w.Net.SetLink(victim, sim.NodeID(j), ok)
				r.w.Net.SetLink(sim.NodeID(j), victim, ok)
			}
		}
		r.w.At(at, "cut the leader off from the other replicas", func() {
			victim = r.leader()
			cut(false)
			if victim >= 0 {
				r.w.Note(func() string { return fmt.Sprintf("n%d cut off from the other replicas", victim) })
			}
		})
		r.w.At(end, "leader cut heals", func() { cut(true) })
		at = end
	}
}

// sessFamily is what session runs report as faults strike.
var sessFamily = Features{"leader", "election", "holder", "jeopardy", "expiry", "writing", "paused", "resource"}

// sessSometimes are the pairs the session scenarios promise, each reached
// by at least 1.5% of every 1,000 seeds in 1-10,000 of each (simrun run
// -coverage; lock-sessions' cut×writing is left out, at 1.0% in one block):
// a restarted client holds nothing, and a crash, restart, clock step or
// pause strikes no one's link to the resource; a pause strikes a client,
// never the leader; the plan delays nothing.
func sessSometimes(cutWriting bool) []string {
	all := "leader election holder jeopardy expiry writing paused resource"
	if !cutWriting {
		all = strings.Replace(all, " writing", "", 1)
	}
	out := append(cross("cut", all), cross("drop dup", strings.Join(sessFamily, " "))...)
	out = append(out, cross("crash clock", "leader election holder jeopardy expiry writing paused")...)
	out = append(out, cross("restart", "leader election jeopardy expiry paused")...)
	return append(out, cross("pause", "election holder jeopardy expiry writing paused")...)
}

// features are the session states that hold as fault f strikes node (peer:
// a message's sender): the fault touches the leader; no replica leads; it
// touches a client that holds a lock (by its own view: the primary, in the
// election); some client's session is in jeopardy (its lease view lapsed,
// the grace period runs); the leader has logged an expire not yet applied;
// it touches a client that decided a write and has not sent it; some client
// is paused; it touches the resource (a write or its answer).
func (r *sessRun) features(f sim.Fault, node, peer sim.NodeID) uint64 {
	var on uint64
	l := r.leader()
	switch {
	case f == sim.FaultCrash && l == node:
		r.crashedLeader |= 1 << uint(node)
		on |= 1 << 0
	case f == sim.FaultRestart:
		if int(node) < r.replicas && r.crashedLeader&(1<<uint(node)) != 0 {
			on |= 1 << 0
		}
		r.crashedLeader &^= 1 << uint(node)
	case l >= 0 && (l == node || l == peer):
		on |= 1 << 0
	}
	if l < 0 {
		on |= 1 << 1
	}
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil && s.ExpiryPending() {
			on |= 1 << 4
			break
		}
	}
	for i := 0; i < r.clients; i++ {
		id := sim.NodeID(r.replicas + i)
		c := r.client(i)
		if c == nil {
			continue
		}
		touched := id == node || id == peer
		if touched {
			for lk := 0; lk < r.spec.locks; lk++ {
				if c.Holds(uint8(lk)) != 0 {
					on |= 1 << 2
				}
			}
			if c.Writing() {
				on |= 1 << 5
			}
		}
		if c.Session() != 0 && !c.Valid() {
			on |= 1 << 3
		}
		if r.w.Paused(id) {
			on |= 1 << 6
		}
	}
	if node == r.resource || peer == r.resource {
		on |= 1 << 7
	}
	return on
}

func (r *sessRun) leader() sim.NodeID {
	best, who := paxos.Ballot{}, sim.NodeID(-1)
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s != nil && s.IsLeader() && best.Less(s.Ballot()) {
			best, who = s.Ballot(), sim.NodeID(i)
		}
	}
	return who
}

func (r *sessRun) server(i int) *mp.Server {
	s, _ := protocolOf[mp.Msg, *mp.Server](r.w.Node(sim.NodeID(i)))
	return s
}

func (r *sessRun) client(i int) *mp.SessionClient {
	c, _ := protocolOf[mp.Msg, *mp.SessionClient](r.w.Node(sim.NodeID(r.replicas + i)))
	return c
}

func (r *sessRun) violation(v *checker.Violation) {
	if v != nil && r.found == nil {
		r.found = v
		r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
	}
}

func (r *sessRun) note(format string, args ...any) {
	if r.w.Tracing() {
		r.w.Note(func() string { return fmt.Sprintf(format, args...) })
	}
}

// afterStep feeds what the node that stepped reported to the checkers.
func (r *sessRun) afterStep(id sim.NodeID) {
	at := int64(r.w.Now())
	switch {
	case int(id) < r.replicas:
		r.replicaStepped(id, at)
	case id == r.resource:
		res, ok := protocolOf[mp.Msg, *mp.Resource](r.w.Node(id))
		if !ok {
			return
		}
		for _, ev := range res.TakeEvents() {
			c := ev.Write
			verdict := "refuses"
			if ev.Accepted {
				verdict = "accepts"
				r.progress++
				r.accepted[int(c.Client)-r.replicas] = r.w.Now()
			}
			r.note("resource %s w%d.%d on %s with token %d from s%d (highest accepted %d)", verdict, c.Client, c.Seq, mp.LockName(c.Key), ev.Token, c.Session, ev.Highest)
			r.violation(r.sess.Written(int(c.Client), uint64(c.Seq), int(c.Key), ev.Token, ev.Accepted, at))
		}
	default:
		r.clientStepped(id, at)
	}
}

func (r *sessRun) replicaStepped(id sim.NodeID, at int64) {
	srv, ok := protocolOf[mp.Msg, *mp.Server](r.w.Node(id))
	if !ok {
		return
	}
	node := paxos.NodeID(id)
	for _, rec := range r.w.Disk(id).TakeDurable() {
		if slot, b, cmd, ok := mp.Acceptance(rec); ok {
			r.violation(r.chk.Accepted(node, uint64(slot), b, cmd, at))
		}
	}
	for _, ev := range srv.TakeEvents() {
		switch ev.Kind {
		case mp.EvStart:
			r.chk.Restarted(node)
		case mp.EvDecided:
			r.violation(r.chk.Decided(node, uint64(ev.Slot), ev.Ballot, ev.Cmd, at))
		case mp.EvLeader:
			r.note("n%d leads at ballot %v", id, ev.Ballot)
		case mp.EvExpiring:
			key := [2]uint32{uint32(ev.Cmd.Session), ev.Cmd.Beat}
			if _, seen := r.expiring[key]; !seen {
				r.expiring[key] = at
				r.note("n%d (leader) finds s%d's lease run out and logs %v", id, ev.Cmd.Session, ev.Cmd)
			}
		case mp.EvApplied:
			r.violation(r.chk.Applied(node, uint64(ev.Slot), ev.Cmd, ev.Outcome == mp.Executed, at))
			if r.found == nil && ev.Outcome == mp.Executed {
				r.firstApply(ev, at)
			}
		}
	}
}

// firstApply judges a command the first time any replica applies it: the
// replicated state changes there, the same on every replica.
func (r *sessRun) firstApply(ev mp.Event, at int64) {
	s := int(ev.Slot)
	for len(r.applied) <= s {
		r.applied = append(r.applied, false)
	}
	if r.applied[s] {
		return
	}
	r.applied[s] = true
	c, res := ev.Cmd, ev.Result
	switch {
	case c.Op == mp.OpOpen:
		r.sess.Opened(int(res.Token), int(c.Client))
		for len(r.owners) < int(res.Token) {
			r.owners = append(r.owners, -1)
		}
		r.owners[res.Token-1] = int(c.Client)
		r.note("session s%d opened for client n%d", res.Token, c.Client)
	case c.Op == mp.OpExpire && res.OK:
		from, ok := r.expiring[[2]uint32{uint32(c.Session), c.Beat}]
		if !ok {
			panic(fmt.Sprintf("scenarios: %v applied at slot %d, never proposed", c, s))
		}
		r.hist.Expire(r.owners[c.Session-1], int(c.Session), from, at)
		r.note("session s%d expires (slot %d): its locks are free", c.Session, s)
		r.violation(r.sess.Expired(int(c.Session), at))
	case c.Op == mp.OpAcquire && c.Session != 0 && res.OK:
		r.note("lock %s granted to s%d with token %d (slot %d)", mp.LockName(c.Key), c.Session, res.Token, s)
		r.violation(r.sess.Granted(int(c.Key), int(c.Session), res.Token, at))
	case c.Op == mp.OpRelease && c.Session != 0 && res.OK:
		r.violation(r.sess.Released(int(c.Key), int(c.Session), at))
	}
}

func (r *sessRun) clientStepped(id sim.NodeID, at int64) {
	c, ok := protocolOf[mp.Msg, *mp.SessionClient](r.w.Node(id))
	if !ok {
		return
	}
	ci := int(id) - r.replicas
	for _, ev := range c.TakeEvents() {
		switch ev.Kind {
		case mp.SessRenewed:
			r.progress++
			r.violation(r.sess.Renewed(int(id), int(ev.Session), int64(ev.Sent), at))
		case mp.SessLost:
			r.note("client n%d gives session s%d up: %s", id, ev.Session, ev.Why)
		case mp.SessCall:
			kind := checker.SessAcquire
			if ev.Cmd.Op == mp.OpRelease {
				kind = checker.SessRelease
			}
			r.calls[[2]int64{int64(id), int64(ev.Cmd.Seq)}] = r.hist.Call(int(id), at, kind, mp.LockName(ev.Cmd.Key), int(ev.Session))
		case mp.SessReturn:
			op, ok := r.calls[[2]int64{int64(id), int64(ev.Cmd.Seq)}]
			if !ok {
				panic(fmt.Sprintf("scenarios: client n%d: answer to %v, never asked", id, ev.Cmd))
			}
			r.hist.Return(op, at, checker.Output{OK: ev.Result.OK, Token: ev.Result.Token, Value: ev.Result.Value})
		case mp.SessDecide:
			r.sess.Decided(int(id), uint64(ev.Cmd.Seq), int(ev.Session), int(ev.Cmd.Key), ev.Token, at)
			if span := r.pauseNext[ci]; span > 0 {
				r.pauseNext[ci] = 0
				r.w.Pause(id, span)
				r.note("client n%d decided write w%d.%d (token %d) and pauses for %dms before sending it", id, id, ev.Cmd.Seq, ev.Token, span/sim.Millisecond)
			}
		}
	}
}

// done is the liveness goal after the heal: the replicas converged; with
// lock clients, every client has a live session, waits for nothing and
// every lock is free (a gone holder's lock came free by expiry); in the
// election, a candidate holds the lock under a live session, believes it
// is primary, and the resource accepted one of its writes since the heal.
func (r *sessRun) done() bool {
	top := mp.Slot(0)
	var ref *mp.Server
	for i := 0; i < r.replicas; i++ {
		s := r.server(i)
		if r.lost&(1<<uint(i)) != 0 {
			continue
		}
		if s == nil {
			return false
		}
		if s.Commit() > top {
			top, ref = s.Commit(), s
		}
	}
	for i := 0; i < r.replicas; i++ {
		if r.lost&(1<<uint(i)) == 0 && r.server(i).Applied() < top {
			return false
		}
	}
	if ref == nil {
		return false
	}
	svc := ref.Services()
	if r.spec.election {
		held, sess, _, token := svc.LockHolder(0)
		if !held {
			return false
		}
		for i := 0; i < r.clients; i++ {
			c := r.client(i)
			if c != nil && c.Session() == sess && c.Valid() && c.Holds(0) == token && r.accepted[i] > r.heal {
				r.linDone = true
				return true
			}
		}
		return false
	}
	for i := 0; i < r.clients; i++ {
		if c := r.client(i); c == nil || c.Session() == 0 || !c.Valid() || c.Busy() {
			return false
		}
	}
	for l := 0; l < r.spec.locks; l++ {
		if held, _, _, _ := svc.LockHolder(uint8(l)); held {
			return false
		}
	}
	r.linDone = true
	return true
}

// stuck says what the liveness phase still waited for.
func (r *sessRun) stuck() string {
	var parts []string
	for i := 0; i < r.replicas; i++ {
		if s := r.server(i); s == nil && r.lost&(1<<uint(i)) == 0 {
			parts = append(parts, fmt.Sprintf("n%d down", i))
		} else if s != nil {
			for l := 0; l < r.spec.locks; l++ {
				if held, sess, client, token := s.Services().LockHolder(uint8(l)); held && s.IsLeader() {
					parts = append(parts, fmt.Sprintf("leader n%d: %s held by s%d of n%d, token %d", i, mp.LockName(uint8(l)), sess, client, token))
				}
			}
		}
	}
	for i := 0; i < r.clients; i++ {
		if c := r.client(i); c == nil {
			parts = append(parts, fmt.Sprintf("client n%d down", r.replicas+i))
		} else {
			parts = append(parts, fmt.Sprintf("client n%d: %s", r.replicas+i, c.Describe()))
		}
	}
	return strings.Join(parts, "; ")
}

// linearizable checks the lock history with its expiries, after the run
// (its wall-clock budget must not reach the digest).
func (r *sessRun) linearizable() {
	switch lin := checker.CheckSessionLocks(&r.hist, linBudget); lin.Verdict {
	case checker.LinOk:
	case checker.LinIllegal:
		r.found = lin.Violation()
		if html, err := lin.HTML(); err == nil {
			r.artifacts = map[string][]byte{"history.html": html}
		}
	default:
		r.inconcl = "linearizability: " + lin.Message
	}
}
