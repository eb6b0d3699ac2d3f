package scenarios

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// singleSpec is the shape of a single-decree scenario: the ranges its runs
// draw cluster size, proposers and faults from.
type singleSpec struct {
	minNodes, maxNodes int
	minProps, maxProps int // proposers; 0 max means every node
	faults             faults.Limits
	window             sim.Duration // faults happen in [0, window), then heal
	liveness           sim.Duration // after heal, every node decides within this
	latency            sim.Latency
	// timing draws the network's latency range and the proposers' retry
	// base per run: fast retries on a slow network make proposers duel far
	// more than the defaults do.
	timing bool
	// plant, when set, runs after every node step the way a node's own
	// assertions do (a panic stops the run): tests plant failures with it.
	plant func(id sim.NodeID, node *paxos.Single)
	// sometimes are the fault×feature pairs the scenario promises to reach.
	sometimes []string
}

var defaultLatency = sim.Latency{Min: 1 * sim.Millisecond, Max: 5 * sim.Millisecond}

// singleMsgFaults bound the message faults' rates and delays in
// single-decree scenarios.
var singleMsgFaults = faults.Limits{MaxDrop: 200_000, MaxDup: 300_000, TailMax: 60 * sim.Millisecond}

// singleSwarmSpec is single/swarm's shape: every fault family, chosen per seed.
func singleSwarmSpec() singleSpec {
	swarm := singleMsgFaults
	swarm.Families, swarm.Swarm = faults.Crash|faults.Partition|faults.Loss|faults.Duplicate|faults.Delay|faults.Lasting, true
	swarm.MaxCrashes, swarm.DownMax = 4, 60*sim.Millisecond
	swarm.MaxParts, swarm.PartMax = 3, 80*sim.Millisecond
	return singleSpec{
		minNodes: 3, maxNodes: 7, minProps: 1,
		faults: swarm, window: 150 * sim.Millisecond, liveness: 3 * sim.Second, latency: defaultLatency,
		timing: true, sometimes: cross("crash restart cut drop dup delay", singleAll),
	}
}

func init() {
	register := func(name, summary string, spec singleSpec) {
		sc := &Scenario{Name: name, Summary: summary, Features: singleFamily, Legend: singleLegend, Sometimes: spec.sometimes, Params: singleParams(spec)}
		sc.Run = func(src sim.Source, opts Options) Result {
			return runSingle(spec, sc.settingsFor(opts.Set), src, opts)
		}
		Register(sc)
	}
	register("single/basic", "3 nodes, one proposer, no faults: the plain run", singleSpec{
		minNodes: 3, maxNodes: 3, minProps: 1, maxProps: 1,
		window: 0, liveness: sim.Second, latency: defaultLatency,
	})
	register("single/dueling", "3-5 nodes, every node proposes its own value, messages reordered", singleSpec{
		minNodes: 3, maxNodes: 5, minProps: 2,
		faults: faults.Limits{Families: faults.Delay, TailMax: 40 * sim.Millisecond},
		window: 100 * sim.Millisecond, liveness: 2 * sim.Second, latency: defaultLatency,
		sometimes: cross("delay", singleAll),
	})
	register("single/crash", "3-5 nodes, 2+ proposers, nodes crash and restart from disk", singleSpec{
		minNodes: 3, maxNodes: 5, minProps: 2,
		faults: faults.Limits{Families: faults.Crash, MaxCrashes: 4, DownMax: 60 * sim.Millisecond},
		window: 120 * sim.Millisecond, liveness: 2 * sim.Second, latency: defaultLatency,
		sometimes: cross("crash restart", singleAll),
	})
	register("single/partition", "3-5 nodes, 2+ proposers, Jepsen partition shapes come and go", singleSpec{
		minNodes: 3, maxNodes: 5, minProps: 2,
		faults: faults.Limits{Families: faults.Partition, MaxParts: 3, PartMax: 80 * sim.Millisecond},
		window: 150 * sim.Millisecond, liveness: 2 * sim.Second, latency: defaultLatency,
		sometimes: cross("cut", singleAll),
	})
	register("single/swarm", "3-7 nodes, 1+ proposers, every fault family swarm-selected per seed", singleSwarmSpec())
	minority := singleSwarmSpec()
	minority.minProps, minority.faults.Swarm = 2, false
	minority.faults.Families = faults.Crash | faults.Partition | faults.Loss | faults.Lasting
	minority.sometimes = cross("crash restart cut drop", singleAll)
	register("single/minority", "3-7 nodes, 2+ proposers: crashes, partitions, loss, and a minority stays down or cut off for good; the rest must decide", minority)

	RegisterHunt(BugHunt{Bug: "no-persist", Scenario: "single/crash", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "ignore-accepted", Scenario: "single/dueling", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "dup-ballot", Scenario: "single/dueling", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "count-duplicates", Scenario: "single/swarm", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "minority-quorum", Scenario: "single/dueling", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "accept-lower-ballot", Scenario: "single/dueling", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "lowest-accepted", Scenario: "single/swarm", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "stale-promise", Scenario: "single/swarm", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "no-persist-accept", Scenario: "single/minority", Seeds: 20_000})
	RegisterHunt(BugHunt{Bug: "nack-quorum", Scenario: "single/minority", Seeds: 20_000})
}

// proposal is the value node i proposes: distinct per node, so agreement
// and validity violations name who proposed what.
func proposal(i int) paxos.Value { return paxos.Value(101 + i) }

// proposals lists the values of proposers 0..n-1.
func proposals(n int) []paxos.Value {
	out := make([]paxos.Value, n)
	for i := range out {
		out[i] = proposal(i)
	}
	return out
}

// singleNodes builds single-decree nodes from base, nodes 0..props-1
// proposing their own value.
func singleNodes(base paxos.SingleConfig, props int) sim.NewNode[paxos.Msg] {
	return func(env *sim.Env[paxos.Msg]) sim.Node[paxos.Msg] {
		cfg := base
		if int(env.ID()) < props {
			cfg.Propose = proposal(int(env.ID()))
		}
		return nodeAdapter[paxos.Msg, *paxos.Single]{paxos.NewSingle(envAdapter[paxos.Msg]{env}, cfg)}
	}
}

func runSingle(spec singleSpec, set Settings, src sim.Source, opts Options) (res Result) {
	src = recorded(src, opts)
	if set.params != nil {
		setSpan(set, "window", &spec.window)
		setSpan(set, "liveness", &spec.liveness)
		spec.faults = applyFaults(spec.faults, set)
		res.Settings = set.String()
	}
	n := int(set.Draw(src, "nodes", int64(spec.minNodes), int64(spec.maxNodes)))
	maxProps := spec.maxProps
	if maxProps == 0 || maxProps > n {
		maxProps = n
	}
	props := min(n, int(set.Draw(src, "proposers", int64(spec.minProps), int64(maxProps))))
	plan := faults.Draw(src, spec.faults)
	if plan.Families&faults.Lasting != 0 {
		// One proposer stays: Paxos decides with a live proposer and a
		// live majority, not without a proposer.
		plan.Spare = 1 << src.Choose(uint64(props))
	}
	latency, retry := spec.latency, paxos.Duration(0)
	if set.Given("latency") || set.Given("retry") {
		// Either fixes both: the draw would change the other.
		latency.Max = sim.Duration(set.Get("latency"))
		latency.Min = min(latency.Min, latency.Max)
		retry = paxos.Duration(set.Get("retry"))
	} else if spec.timing && sim.Chance(src, sim.RateScale/2) {
		latency.Max = latency.Min + sim.Duration(sim.Between(src, 0, uint64(20*sim.Millisecond)))
		retry = paxos.Duration(sim.Between(src, uint64(2*sim.Millisecond), uint64(40*sim.Millisecond)))
	}
	res.Params = fmt.Sprintf("nodes=%d proposers=%d latency=%d-%dµs retry=%dµs %v", n, props, latency.Min, latency.Max, retry, plan)

	values := proposals(props)
	w := sim.NewWorld(n, src, singleNodes(paxos.SingleConfig{Bugs: opts.Bugs, RetryBase: retry}, props))
	w.Net.Latency = latency
	w.Net.Extreme, w.Extremes = plan.Extreme, plan.Extreme
	res.Trace = traceOf(w, opts)
	chk := checker.NewSingleDecree(n, values)
	var found *checker.Violation
	defer guard(w, &res, &found)
	cov := &coverageRecorder{features: func(f sim.Fault, node, peer sim.NodeID) uint64 {
		return singleFeatures(w, props, chk, node, peer)
	}}
	w.OnFault = cov.onFault
	defer func() { res.Coverage = cov.cov }()
	w.AfterStep = func(id sim.NodeID) {
		node, _ := protocolOf[paxos.Msg, *paxos.Single](w.Node(id))
		dec, ok := node.Decision()
		accB, accV := node.Accepted()
		st := checker.SingleState{Promised: node.Promised(), AccBallot: accB, AccValue: accV, Decided: ok, Decision: dec}
		if v := chk.Observe(paxos.NodeID(id), int64(w.Now()), st); v != nil && found == nil {
			found = v
			w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
		}
		if ok && w.Tracing() {
			w.Note(func() string { return "n" + strconv.Itoa(int(id)) + " decided " + strconv.FormatInt(int64(dec), 10) })
		}
		if spec.plant != nil {
			spec.plant(id, node)
		}
	}

	nodes := nodeIDs(n)
	heal := sim.Time(spec.window)
	w.Note(func() string { return "plan " + res.Params })
	lost := faults.Schedule(w, src, plan, nodes, 0, heal)
	w.Boot()
	// Every node decides, but those a lasting fault keeps away: a live,
	// connected majority is all Paxos asks for.
	live := func(id paxos.NodeID) bool { return lost&(1<<uint(id)) == 0 }
	res.Stall = phases(w, &found, liveness{
		heal: heal, bound: spec.liveness,
		done:     func() bool { return !slices.ContainsFunc(chk.Undecided(), live) },
		progress: func() uint64 { return uint64(n - len(chk.Undecided())) },
		stuck: func() string {
			what := fmt.Sprintf("nodes %v did not decide", slices.DeleteFunc(chk.Undecided(), func(id paxos.NodeID) bool { return !live(id) }))
			if lost != 0 {
				what += fmt.Sprintf(" (with nodes %v away for good)", lostNodes(lost))
			}
			return what
		},
	})
	res.Events, res.Digest, res.Violation = w.Events(), w.Digest(), found
	return res
}

// lostNodes lists the nodes of a set (bit i: node i).
func lostNodes(set uint64) []int {
	var out []int
	for i := 0; set != 0; i++ {
		if set&1 != 0 {
			out = append(out, i)
		}
		set >>= 1
	}
	return out
}

// singleLegend explains single-decree traces.
var singleLegend = []string{
	"ballot R.N: round R of proposer nN; higher round wins, node breaks ties; 0.0 is below every real ballot",
	"prepare/promise (phase 1), accept/accepted (phase 2), nack (refused: promised higher), query/decided (learning); values are 101+proposer",
	"timer propose: a proposer starts or retries a ballot; state: promised, accepted value@ballot, phase and ballot, decided value",
}

const singleAll = "proposer phase1 phase2 duel split"

// singleFamily is what single-decree runs report as faults strike.
var singleFamily = Features{"proposer", "phase1", "phase2", "duel", "split"}

// singleFeatures are the single-decree states that hold as a fault strikes
// node (peer: a message's sender): the fault touches a proposer; some
// proposer asks for promises; some asks for acceptances; two or more have
// proposals out at once; some node has decided and some live one has not.
func singleFeatures(w *sim.World[paxos.Msg], props int, chk *checker.SingleDecree, node, peer sim.NodeID) uint64 {
	var on uint64
	if int(node) < props || int(peer) < props {
		on |= 1 << 0
	}
	active := 0
	for i := 0; i < props; i++ {
		p, ok := protocolOf[paxos.Msg, *paxos.Single](w.Node(sim.NodeID(i)))
		if !ok {
			continue
		}
		switch p.Phase() {
		case 1:
			on |= 1 << 1
			active++
		case 2:
			on |= 1 << 2
			active++
		}
	}
	if active >= 2 {
		on |= 1 << 3
	}
	if undecided := len(chk.Undecided()); undecided > 0 && undecided < w.N() {
		on |= 1 << 4
	}
	return on
}
