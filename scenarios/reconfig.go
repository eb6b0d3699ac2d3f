package scenarios

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/paxos"
	mp "github.com/synod-sim/synod/paxos/multipaxos"
	"github.com/synod-sim/synod/sim"
)

// Reconfiguration scenarios: membership changes through the log
// (paxos/multipaxos/reconfig.go) while clients run and faults fire.
//
// A run with reconfiguration allocates its node ids up front: replicas
// 0..R-1 (the initial configuration), spares R..R+S-1 (dormant until they
// join the running world, sim.World.Join), the clients, and the operators
// (administrators asking for membership changes, mp.Operator). Changes are
// drawn before the run against the configuration they expect, so that they
// are valid when asked one after another; two operators race and may see
// theirs refused, which is an answer too. multi/replace tells the
// operational story: a replica dies for good (sim.World.Leave: no restart,
// not even at the heal) and an empty one takes its place.
//
// Liveness after the heal: every operator's every change answered (chosen
// and installed, or chosen and refused), every member of the configuration
// the log ends with (away for good aside) up, caught up with the others and
// holding that configuration in effect, and the clients served. Replicas no
// longer members (removed, spares never added) are not waited for.

// reconfigSpec is a scenario's reconfiguration: zero share is off.
type reconfigSpec struct {
	share      sim.Rate // share of runs with reconfiguration on (sim.RateScale: all)
	maxSpares  int      // spare replica ids, drawn from [1, maxSpares]
	maxChanges int      // changes per operator, drawn from [1, maxChanges]
	operators  int      // operators, drawn from [1, operators]
	alphaMin   int      // α drawn from [alphaMin, alphaMax]
	alphaMax   int
	replace    bool // multi/replace: victims die for good, spares replace them
}

// reconfigRun is the reconfiguration part of one run.
type reconfigRun struct {
	spec    reconfigSpec
	alpha   int
	initial int // replicas of epoch 0
	ids     int // replica ids: initial replicas and spares
	ops     []mp.OperatorConfig
	opBase  int    // node id of the first operator
	victims []int  // multi/replace: replicas that die for good
	plan    string // what the run drew, for the params line
}

// drawReconfig draws whether this run reconfigures, and its shape: α, the
// spares and the operators. Nothing is drawn when the scenario has no
// reconfiguration, so other scenarios' runs are unchanged.
func drawReconfig(spec multiSpec, set Settings, src sim.Source, n int) *reconfigRun {
	rs := spec.reconfig
	if rs.share == 0 {
		return nil
	}
	if rs.share < sim.RateScale && !sim.Chance(src, rs.share) {
		return nil
	}
	rc := &reconfigRun{spec: rs, initial: n}
	rc.alpha = int(set.Draw(src, "alpha", int64(rs.alphaMin), int64(rs.alphaMax)))
	spares := int(set.Draw(src, "spares", 1, int64(rs.maxSpares)))
	if rs.replace {
		spares = min(spares, max(1, (n-1)/2)) // victims: a minority, each replaced by a spare
	}
	rc.ids = n + spares
	ops := int(set.Draw(src, "operators", 1, int64(rs.operators)))
	if rs.replace {
		ops = 1
	}
	rc.ops = make([]mp.OperatorConfig, ops)
	return rc
}

// configure sets the replicas' reconfiguration: replica ids, α and the
// planted reconfiguration bugs.
func (rc *reconfigRun) configure(cfg *mp.Config, bugs paxos.Bugs) {
	cfg.MaxReplicas, cfg.Alpha = rc.ids, rc.alpha
	cfg.ReconfigBug = paxos.ReconfigNames(bugs)
}

// spareMask is the spares' ids.
func (rc *reconfigRun) spareMask() uint64 {
	return (uint64(1)<<uint(rc.ids) - 1) &^ (uint64(1)<<uint(rc.initial) - 1)
}

// schedule lays out the run's membership story before boot: spares dormant
// until they join at drawn times in the fault window, the operators'
// changes (drawn so that a lasting fault's nodes stay a minority of every
// configuration they lead to), and in multi/replace the victims' deaths.
func (rc *reconfigRun) schedule(r *multiRun, src sim.Source, set Settings, heal sim.Time) {
	w := r.w
	window := uint64(heal)
	for id := rc.initial; id < rc.ids; id++ {
		w.Dormant(sim.NodeID(id))
	}
	for i := range rc.ops {
		w.Dormant(sim.NodeID(rc.opBase + i))
	}
	initial := uint64(1)<<uint(rc.initial) - 1
	var desc []string
	if rc.spec.replace {
		rc.scheduleReplace(r, src, heal, initial)
	} else {
		for id := rc.initial; id < rc.ids; id++ {
			at := sim.Time(src.Choose(window))
			id := sim.NodeID(id)
			w.At(at, fmt.Sprintf("n%d joins", id), func() { w.Join(id) })
		}
		for i := range rc.ops {
			changes := int(set.Draw(src, "changes", 1, int64(rc.spec.maxChanges)))
			rc.ops[i] = mp.OperatorConfig{Replicas: rc.ids, Retry: paxos.Duration(r.spec.retry),
				Pause:   paxos.Duration(heal) / paxos.Duration(changes+1),
				Changes: drawChanges(src, initial, rc.spareMask(), changes, r.lost)}
			at := sim.Time(src.Choose(window / 2))
			id := sim.NodeID(rc.opBase + i)
			w.At(at, fmt.Sprintf("operator n%d starts", id), func() { w.Join(id) })
		}
	}
	for i, op := range rc.ops {
		var chs []string
		for _, ch := range op.Changes {
			chs = append(chs, ch.String())
		}
		desc = append(desc, fmt.Sprintf("op%d[%s]", i, strings.Join(chs, "; ")))
	}
	rc.plan = fmt.Sprintf("reconfig α=%d spares=%d %s", rc.alpha, rc.ids-rc.initial, strings.Join(desc, " "))
	if len(rc.victims) > 0 {
		rc.plan += fmt.Sprintf(" victims=%v", rc.victims)
	}
}

// scheduleReplace is multi/replace's story: each victim dies for good at a
// drawn time; its replacement (a spare, empty disk) joins a little later
// and the operator, started with the first replacement, asks for each
// replacement in turn.
func (rc *reconfigRun) scheduleReplace(r *multiRun, src sim.Source, heal sim.Time, initial uint64) {
	w := r.w
	window := uint64(heal)
	var changes []mp.Change
	first := sim.Time(-1)
	for k, victim := range shuffled(src, rc.initial)[:rc.ids-rc.initial] {
		spare := sim.NodeID(rc.initial + k)
		death := sim.Time(src.Choose(window / 2))
		join := death + sim.Time(src.Choose(window/4))
		v := sim.NodeID(victim)
		w.At(death, fmt.Sprintf("n%d dies for good", v), func() { w.Leave(v) })
		w.At(join, fmt.Sprintf("n%d joins to replace n%d", spare, v), func() { w.Join(spare) })
		if first < 0 || join < first {
			first = join
		}
		rc.victims = append(rc.victims, victim)
		changes = append(changes, mp.ReplaceReplica(paxos.NodeID(victim), paxos.NodeID(spare)))
	}
	rc.ops[0] = mp.OperatorConfig{Replicas: rc.ids, Retry: paxos.Duration(r.spec.retry),
		Pause: paxos.Duration(heal) / 8, Changes: changes}
	id := sim.NodeID(rc.opBase)
	w.At(first, fmt.Sprintf("operator n%d starts", id), func() { w.Join(id) })
}

// shuffled is 0..n-1 in a drawn order.
func shuffled(src sim.Source, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(src.Choose(uint64(i + 1)))
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// drawChanges draws up to count membership changes, each valid against the
// configuration the ones before it lead to: add a spare, remove a member
// (never below two), or replace a member by a spare. A change that would
// leave the nodes a lasting fault keeps away (lost) half of a
// configuration or more is not drawn: liveness is asked of a live majority.
func drawChanges(src sim.Source, members, spares uint64, count int, lost uint64) []mp.Change {
	var out []mp.Change
	pick := func(set uint64) paxos.NodeID {
		k := int(src.Choose(uint64(bits.OnesCount64(set))))
		for ; k > 0; k-- {
			set &= set - 1
		}
		return paxos.NodeID(bits.TrailingZeros64(set))
	}
	for i := 0; i < count; i++ {
		var ch mp.Change
		switch kind := src.Choose(3); {
		case kind == 0 && spares != 0:
			ch = mp.AddReplica(pick(spares))
		case kind == 1 && bits.OnesCount64(members) > 2:
			ch = mp.RemoveReplica(pick(members))
		case spares != 0:
			ch = mp.ReplaceReplica(pick(members), pick(spares))
		default:
			continue
		}
		next := members&^ch.Remove | ch.Add
		if 2*bits.OnesCount64(next&lost) >= bits.OnesCount64(next) {
			continue
		}
		members, spares = next, spares&^ch.Add
		out = append(out, ch)
	}
	if len(out) == 0 {
		// Nothing drawn fits: one change that always does, adding a spare
		// (every run with reconfiguration on has one).
		out = append(out, mp.AddReplica(pick(spares)))
	}
	return out
}

// operator returns operator i, or nil while it is down.
func (r *multiRun) operator(i int) *mp.Operator {
	o, _ := protocolOf[mp.Msg, *mp.Operator](r.w.Node(sim.NodeID(r.rc.opBase + i)))
	return o
}

// required reports whether liveness waits for replica i: a member of the
// configuration the log ends with.
func (rc *reconfigRun) required(r *multiRun, i int) bool {
	_, members, _ := r.chk.Newest()
	return members&(1<<uint(i)) != 0
}

// reconfigDone is the reconfiguration part of the liveness goal: every
// operator answered, and every member holds the newest configuration in
// effect.
func (r *multiRun) reconfigDone() bool {
	for i := range r.rc.ops {
		if o := r.operator(i); o == nil || !o.Done() {
			return false
		}
	}
	epoch, members, from := r.chk.Newest()
	for i := 0; i < r.replicas; i++ {
		if members&(1<<uint(i)) == 0 || r.lost&(1<<uint(i)) != 0 {
			continue
		}
		s := r.server(i)
		if s == nil || s.Conf().Epoch != epoch || s.Conf().Members != members || mp.Slot(from) > s.Applied()+1 {
			return false
		}
	}
	return true
}

// reconfigStuck says what the reconfiguration still waits for.
func (r *multiRun) reconfigStuck() []string {
	var parts []string
	for i := range r.rc.ops {
		o := r.operator(i)
		if o == nil {
			parts = append(parts, fmt.Sprintf("operator n%d never started", r.rc.opBase+i))
			continue
		}
		if c, ok := o.Waiting(); ok {
			parts = append(parts, fmt.Sprintf("operator n%d waits for %v since t=%dµs", r.rc.opBase+i, c.Change, c.Asked))
		}
	}
	epoch, members, from := r.chk.Newest()
	for i := 0; i < r.replicas; i++ {
		if members&(1<<uint(i)) == 0 || r.lost&(1<<uint(i)) != 0 {
			continue
		}
		if s := r.server(i); s != nil && (s.Conf().Epoch != epoch || mp.Slot(from) > s.Applied()+1) {
			parts = append(parts, fmt.Sprintf("n%d holds %v from slot %d, the log e%d%s from slot %d", i, s.Conf(), s.ConfFrom(), epoch, nodeMask(members), from))
		}
	}
	return parts
}

func nodeMask(m uint64) string {
	var ids []string
	for ; m != 0; m &= m - 1 {
		ids = append(ids, fmt.Sprint(bits.TrailingZeros64(m)))
	}
	return "{" + strings.Join(ids, ",") + "}"
}

// configEvent checks and notes a replica's report of a membership change
// it applied.
func (r *multiRun) configEvent(id sim.NodeID, ev mp.Event, at int64) {
	installed := ev.Outcome == mp.Executed
	conf := ev.Cmd.Conf
	if v := r.chk.ConfigInstalled(paxos.NodeID(id), uint64(ev.Slot), uint64(ev.From), conf.Epoch, conf.Members, installed, at); v != nil && r.found == nil {
		r.found = v
		r.w.Note(func() string { return "violation " + v.Kind + ": " + v.Message })
		return
	}
	if !r.w.Tracing() || uint64(ev.Slot) <= r.confNoted {
		return
	}
	r.confNoted = uint64(ev.Slot)
	r.w.Note(func() string {
		if !installed {
			return fmt.Sprintf("config change %v chosen in slot %d is refused (n%d applies it first)", ev.Cmd.Change, ev.Slot, id)
		}
		return fmt.Sprintf("config epoch=%d members=%s chosen in slot %d, governs from slot %d (n%d applies it first)",
			conf.Epoch, nodeSet(conf.Members), ev.Slot, ev.From, id)
	})
}

func nodeSet(m uint64) string {
	var ids []string
	for ; m != 0; m &= m - 1 {
		ids = append(ids, fmt.Sprintf("n%d", bits.TrailingZeros64(m)))
	}
	return "{" + strings.Join(ids, ",") + "}"
}

// reconfigFeature is the coverage feature of a membership change under
// way: an operator waits for its answer, or the newest configuration does
// not govern yet.
func (r *multiRun) reconfigFeature() bool {
	for i := range r.rc.ops {
		if o := r.operator(i); o != nil {
			if _, ok := o.Waiting(); ok {
				return true
			}
		}
	}
	_, _, from := r.chk.Newest()
	return from > r.chk.Prefix()+1
}

// swarmReconfig is multi/swarm's reconfiguration: on in a quarter of the
// runs, one operator.
var swarmReconfig = reconfigSpec{share: sim.RateScale / 4, maxSpares: 2, maxChanges: 3, operators: 1, alphaMin: 1, alphaMax: 6}

// reconfigFamily is multiFamily with the reconfiguration feature.
var reconfigFamily = append(append(Features{}, multiFamily...), "reconfig")

// reconfigParams declares the reconfiguration settings.
func reconfigParams(rs reconfigSpec) []Param {
	if rs.share == 0 {
		return nil
	}
	return []Param{
		{Name: "alpha", Min: 1, Max: 64, Drawn: true, DrawMin: int64(rs.alphaMin), DrawMax: int64(rs.alphaMax), Doc: "α: a configuration chosen in slot i governs from slot i+α (with reconfiguration on)"},
		{Name: "spares", Min: 1, Max: 4, Drawn: true, DrawMin: 1, DrawMax: int64(rs.maxSpares), Doc: "spare replica ids, dormant until they join"},
		{Name: "operators", Min: 1, Max: 3, Drawn: true, DrawMin: 1, DrawMax: int64(rs.operators), Doc: "operators asking for membership changes (two race)"},
		{Name: "changes", Min: 1, Max: 16, Drawn: true, DrawMin: 1, DrawMax: int64(rs.maxChanges), Doc: "membership changes each operator asks for"},
	}
}

func init() {
	msgFaults := faults.Limits{MaxDrop: 100_000, MaxDup: 100_000, TailMax: 60 * sim.Millisecond}
	base := multiSpec{
		minNodes: 3, maxNodes: 5, minClients: 2, maxClients: 4, ops: 300, keys: 3,
		think: 10 * sim.Millisecond, window: 1500 * sim.Millisecond, liveness: 3 * sim.Second,
		latency: defaultLatency, election: 100 * sim.Millisecond, heartbeat: 25 * sim.Millisecond,
		retry: 100 * sim.Millisecond, leaseDuration: sim.Second,
	}
	register := func(name, summary string, edit func(*multiSpec)) {
		spec := base
		edit(&spec)
		multiSpecs[name] = spec
		sc := &Scenario{Name: name, Summary: summary, Features: reconfigFamily, Legend: reconfigLegend, Sometimes: spec.sometimes,
			Params: append(multiParams(spec), reconfigParams(spec.reconfig)...), Validate: validateMulti}
		sc.Run = func(src sim.Source, opts Options) Result {
			return runMultiWith(spec, sc.settingsFor(opts.Set), src, opts, nil)
		}
		Register(sc)
	}
	register("multi/reconfig", "3-5 replicas and up to 3 spares, 1-2 operators add, remove and replace replicas while KV clients run; crashes, partitions, loss", func(s *multiSpec) {
		s.faults = msgFaults
		s.faults.Families, s.faults.Swarm = faults.Crash|faults.Partition|faults.Loss|faults.Duplicate, true
		s.faults.MaxCrashes, s.faults.DownMax = 3, 300*sim.Millisecond
		s.faults.MaxParts, s.faults.PartMax = 3, 400*sim.Millisecond
		s.reconfig = reconfigSpec{share: sim.RateScale, maxSpares: 3, maxChanges: 4, operators: 2, alphaMin: 1, alphaMax: 6}
		s.sometimes = append(cross("crash restart cut drop", multiFive), cross("crash cut drop", "reconfig")...)
	})
	register("multi/replace", "3-5 replicas, KV clients; a replica dies for good and an empty one replaces it (two, of five); crashes, partitions, loss", func(s *multiSpec) {
		s.faults = msgFaults
		s.faults.Families, s.faults.Swarm = faults.Crash|faults.Partition|faults.Loss, true
		s.faults.MaxCrashes, s.faults.DownMax = 2, 300*sim.Millisecond
		s.faults.MaxParts, s.faults.PartMax = 2, 400*sim.Millisecond
		s.reconfig = reconfigSpec{share: sim.RateScale, maxSpares: 2, maxChanges: 2, operators: 1, alphaMin: 1, alphaMax: 6, replace: true}
		s.sometimes = append(cross("crash restart cut drop", "leader election new-leader client-waiting"), cross("crash cut drop", "reconfig")...)
	})

	RegisterHunt(BugHunt{Bug: "reconfig-immediate", Scenario: "multi/reconfig", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "reconfig-concurrent", Scenario: "multi/reconfig", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "reconfig-join-uncaught", Scenario: "multi/reconfig", Seeds: 50_000})
	RegisterHunt(BugHunt{Bug: "reconfig-old-quorum", Scenario: "multi/reconfig", Seeds: 50_000})
}

// reconfigLegend is multiLegend with what reconfiguration adds.
var reconfigLegend = append(append([]string{}, multiLegend...),
	"replica ids: the initial replicas, then spares (dormant until they join), clients, operators (ask for membership changes); reconfig +{A} -{R}: a change asked, logged as the configuration eE{members} it makes; a configuration chosen in slot i governs from slot i+α",
)
