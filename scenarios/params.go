package scenarios

import (
	"fmt"

	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/sim"
)

// The settings of the timed scenarios: every value a scenario's code fixes
// or draws, declared so that simrun run -set and -synod.set override it
// and simrun list -v shows it. Left unset, a run is exactly what it was
// before settings existed: same draws, same digest.

const (
	maxTimedNodes = 9
	maxSpan       = int64(600 * sim.Second)
)

// Spans a family gets when a setting switches it on in a scenario whose
// own plan leaves it off.
const (
	fallbackDown    = 100 * sim.Millisecond
	fallbackPartLen = 200 * sim.Millisecond
	fallbackTail    = 50 * sim.Millisecond
)

func span(name string, def sim.Duration, lo int64, doc string) Param {
	return Param{Name: name, Unit: Span, Default: int64(def), Min: lo, Max: maxSpan, Doc: doc}
}

// drawnCount is a count a run draws from [lo, hi], or 0 (off) when hi is 0.
func drawnCount(name string, lo, hi, max int64, doc string) Param {
	p := Param{Name: name, Min: 0, Max: max, Doc: doc}
	if hi > 0 {
		p.Drawn, p.DrawMin, p.DrawMax = true, lo, hi
	}
	return p
}

// drawnRate is a rate a run draws from [1ppm, hi] when fam is on.
func drawnRate(name string, on bool, hi sim.Rate, doc string) Param {
	p := Param{Name: name, Unit: Fraction, Min: 0, Max: int64(sim.RateScale / 2), Doc: doc}
	if on && hi > 0 {
		p.Drawn, p.DrawMin, p.DrawMax = true, 1, int64(hi)
	}
	return p
}

// faultParams declares the fault plan's settings, with the scenario's
// limits as defaults.
func faultParams(l faults.Limits) []Param {
	on := func(f faults.Family) bool { return l.Families&f != 0 }
	orElse := func(d, fallback sim.Duration) sim.Duration {
		if d > 0 {
			return d
		}
		return fallback
	}
	maxCrashes, maxParts := int64(0), int64(0)
	if on(faults.Crash) {
		maxCrashes = int64(l.MaxCrashes)
	}
	if on(faults.Partition) {
		maxParts = int64(l.MaxParts)
	}
	tail := Param{Name: "delay", Unit: Fraction, Max: int64(sim.RateScale), Doc: "share of messages delayed into the latency tail"}
	if on(faults.Delay) && l.TailMax > 0 {
		tail.Drawn, tail.DrawMin, tail.DrawMax = true, 1, int64(sim.RateScale/5)
	}
	swarm := int64(0)
	if l.Swarm {
		swarm = 1
	}
	return []Param{
		{Name: "faults", Unit: Families, Default: int64(l.Families), Doc: "fault families in the plan (with swarm=1 each is on in half the runs)"},
		{Name: "swarm", Unit: Flag, Default: swarm, Max: 1, Doc: "switch each family on or off per run (swarm testing)"},
		drawnCount("crashes", 1, maxCrashes, 32, "node crashes in the fault window (0: none)"),
		span("down", orElse(l.DownMax, fallbackDown), 1, "longest a crashed node stays down"),
		drawnCount("partitions", 1, maxParts, 32, "partitions in the fault window, one after another (0: none)"),
		span("partlen", orElse(l.PartMax, fallbackPartLen), 1, "longest partition"),
		drawnRate("loss", on(faults.Loss), l.MaxDrop, "share of messages dropped in the fault window"),
		drawnRate("dup", on(faults.Duplicate), l.MaxDup, "share of messages delivered twice in the fault window"),
		tail,
		span("tail", orElse(l.TailMax, fallbackTail), 1, "longest extra delay of a delayed message"),
		span("skew", l.SkewMax, 0, "largest clock offset (with the skew family)"),
		{Name: "drift", Default: int64(l.DriftMaxPPM), Max: 500_000, Doc: "largest clock drift, ppm (with the skew family)"},
		{Name: "extreme", Unit: Flag, Max: 1, Drawn: true, DrawMin: 0, DrawMax: 1,
			Doc: fmt.Sprintf("boundary-timing adversary: clocks, latencies and timers at their bounds (drawn: on in 1 run in %d)", sim.RateScale/faults.ExtremeShare)},
	}
}

// applyFaults is the scenario's limits with the settings given: a count or
// rate set to a value fixes it and switches its family on in every run; set
// to 0 it switches the family off.
func applyFaults(l faults.Limits, st Settings) faults.Limits {
	if st.Given("faults") {
		l.Families = faults.Family(st.Get("faults"))
	}
	if st.Given("swarm") {
		l.Swarm = st.Get("swarm") == 1
	}
	spans := []struct {
		name     string
		to       *sim.Duration
		fallback sim.Duration
	}{{"down", &l.DownMax, fallbackDown}, {"partlen", &l.PartMax, fallbackPartLen}, {"tail", &l.TailMax, fallbackTail}, {"skew", &l.SkewMax, 0}}
	for _, sp := range spans {
		if st.Given(sp.name) {
			*sp.to = sim.Duration(st.Get(sp.name))
		} else if *sp.to == 0 {
			*sp.to = sp.fallback
		}
	}
	if st.Given("drift") {
		l.DriftMaxPPM = int32(st.Get("drift"))
	}
	// A family on with nothing to draw from gets a middling plan.
	if l.Families&faults.Crash != 0 && l.MaxCrashes == 0 {
		l.MaxCrashes = 3
	}
	if l.Families&faults.Partition != 0 && l.MaxParts == 0 {
		l.MaxParts = 2
	}
	if l.Families&faults.Loss != 0 && l.MaxDrop == 0 {
		l.MaxDrop = sim.RateScale / 20
	}
	if l.Families&faults.Duplicate != 0 && l.MaxDup == 0 {
		l.MaxDup = sim.RateScale / 20
	}
	fix := func(name string, f faults.Family, set func(v int64)) {
		if !st.Given(name) {
			return
		}
		v := st.Get(name)
		if v == 0 {
			l.Families &^= f
			return
		}
		l.Families, l.Always = l.Families|f, l.Always|f
		set(v)
	}
	fix("crashes", faults.Crash, func(v int64) { l.MinCrashes, l.MaxCrashes = int(v), int(v) })
	fix("partitions", faults.Partition, func(v int64) { l.MinParts, l.MaxParts = int(v), int(v) })
	fix("loss", faults.Loss, func(v int64) { l.MinDrop, l.MaxDrop = sim.Rate(v), sim.Rate(v) })
	fix("dup", faults.Duplicate, func(v int64) { l.MinDup, l.MaxDup = sim.Rate(v), sim.Rate(v) })
	fix("delay", faults.Delay, func(v int64) { l.MinTail, l.MaxTail = sim.Rate(v), sim.Rate(v) })
	if st.Given("extreme") {
		l.ExtremeFixed, l.Extreme = true, st.Get("extreme") == 1
	}
	return l
}

// singleParams declares a single-decree scenario's settings.
func singleParams(spec singleSpec) []Param {
	maxProps := spec.maxProps
	if maxProps == 0 {
		maxProps = spec.maxNodes
	}
	ps := []Param{
		{Name: "nodes", Min: 1, Max: maxTimedNodes, Drawn: true, DrawMin: int64(spec.minNodes), DrawMax: int64(spec.maxNodes), Doc: "cluster size"},
		{Name: "proposers", Min: 1, Max: maxTimedNodes, Drawn: true, DrawMin: int64(spec.minProps), DrawMax: int64(maxProps), Doc: "nodes that propose (their own values), at most nodes"},
		span("window", spec.window, 0, "faults strike in [0, window), then the cluster heals"),
		span("liveness", spec.liveness, 1, "after the heal, every node (but those away for good) decides within this"),
		span("latency", spec.latency.Max, 1, "longest one-way network latency (shortest: 1ms or this, if less)"),
		span("retry", 0, 0, "proposer retry base (0: the protocol's default)"),
	}
	if spec.timing {
		// Half the runs draw a network and a retry base together.
		ps[4].Drawn, ps[4].DrawMin, ps[4].DrawMax = true, int64(spec.latency.Min), int64(spec.latency.Min+20*sim.Millisecond)
		ps[5].Drawn, ps[5].DrawMin, ps[5].DrawMax = true, 0, int64(40*sim.Millisecond)
		ps[4].Doc += "; unset, half the runs draw it (and retry)"
		ps[5].Doc += "; unset, half the runs draw it (and latency)"
	}
	return append(ps, faultParams(spec.faults)...)
}

// setSpan overwrites *to with a span setting, if it was given.
func setSpan(st Settings, name string, to *sim.Duration) {
	if st.Given(name) {
		*to = sim.Duration(st.Get(name))
	}
}

// setInt overwrites *to with a count setting, if it was given.
func setInt(st Settings, name string, to *int) {
	if st.Given(name) {
		*to = st.Int(name)
	}
}

// multiParams declares a Multi-Paxos scenario's settings.
func multiParams(spec multiSpec) []Param {
	lease := span("lease", 0, 0, "leader lease for local reads (0: no leases)")
	switch {
	case spec.lease == leaseOn && spec.leaseMin > 0:
		lease.Drawn, lease.DrawMin, lease.DrawMax = true, int64(spec.leaseMin), int64(spec.leaseDuration)
		lease.Doc += "; the heartbeat, election, retry, skew, leader cuts and window scale with it"
	case spec.lease == leaseOn:
		lease.Default = int64(spec.leaseDuration)
	case spec.lease == leaseSwarm:
		lease.Drawn, lease.DrawMin, lease.DrawMax = true, 0, int64(spec.leaseDuration)
		lease.Doc += "; unset, half the runs lease for the longest"
	}
	ps := []Param{
		{Name: "replicas", Min: 1, Max: maxTimedNodes, Drawn: true, DrawMin: int64(spec.minNodes), DrawMax: int64(spec.maxNodes), Doc: "replicas"},
		{Name: "clients", Min: 1, Max: 16, Drawn: true, DrawMin: int64(spec.minClients), DrawMax: int64(spec.maxClients), Doc: "clients"},
		{Name: "ops", Default: int64(spec.ops), Min: 1, Max: 100_000, Doc: "most operations a run issues, shared among the clients (each draws how many of its share)"},
		{Name: "keys", Default: int64(spec.keys), Min: 0, Max: 256, Doc: "keys of the KV store the clients use"},
		{Name: "locks", Default: int64(spec.locks), Min: 0, Max: 64, Doc: "locks of the lock service the clients use"},
		{Name: "readpct", Default: int64(spec.readPct), Min: 0, Max: 100, Doc: "share of KV commands that are reads, % (0: the client's default)"},
		span("think", spec.think, 0, "longest pause between a client's operations"),
		span("window", spec.window, 0, "faults strike in [0, window), then the cluster heals; clients stop issuing then"),
		span("liveness", spec.liveness, 1, "after the heal, every operation completes and the replicas converge within this"),
		span("latency", spec.latency.Max, 1, "longest one-way network latency (shortest: 1ms or this, if less)"),
		span("election", spec.election, 1, "election timeout base"),
		span("heartbeat", spec.heartbeat, 1, "leader heartbeat interval"),
		span("retry", spec.retry, 1, "client retry timeout"),
		lease,
		{Name: "clocksteps", Default: int64(spec.clockSteps), Max: 64, Doc: "with the skew family: up to this many clock steps within the skew bound"},
		{Name: "leadercuts", Default: int64(spec.leaderCuts), Max: 64, Doc: "up to this many times, cut the current leader off"},
		span("leadercut", spec.leaderCutMax, 0, "longest leader cut"),
		span("leaderflap", spec.leaderFlap, 0, "before a leader cut, the leader's links may flap for up to this long (0: cuts are sudden)"),
	}
	return append(ps, faultParams(spec.faults)...)
}

// validateMulti rejects settings that leave the clients nothing to do.
func validateMulti(st Settings) error {
	if st.Get("keys") == 0 && st.Get("locks") == 0 {
		return fmt.Errorf("keys=0 and locks=0 leave the clients nothing to do")
	}
	if st.Get("leadercuts") > 0 && st.Get("leadercut") == 0 {
		return fmt.Errorf("leadercuts=%d needs leadercut > 0", st.Get("leadercuts"))
	}
	return nil
}

// applyMulti is spec with the settings given (the lease aside: runMulti
// draws or fixes it first, since the timing scales with it).
func applyMulti(spec multiSpec, st Settings) multiSpec {
	for _, c := range []struct {
		name string
		to   *int
	}{{"ops", &spec.ops}, {"keys", &spec.keys}, {"locks", &spec.locks}, {"readpct", &spec.readPct}, {"clocksteps", &spec.clockSteps}, {"leadercuts", &spec.leaderCuts}} {
		setInt(st, c.name, c.to)
	}
	for _, sp := range []struct {
		name string
		to   *sim.Duration
	}{{"think", &spec.think}, {"window", &spec.window}, {"liveness", &spec.liveness}, {"election", &spec.election},
		{"heartbeat", &spec.heartbeat}, {"retry", &spec.retry}, {"leadercut", &spec.leaderCutMax}, {"leaderflap", &spec.leaderFlap}} {
		setSpan(st, sp.name, sp.to)
	}
	if st.Given("latency") {
		spec.latency.Max = sim.Duration(st.Get("latency"))
		spec.latency.Min = min(spec.latency.Min, spec.latency.Max)
	}
	spec.faults = applyFaults(spec.faults, st)
	return spec
}
