// Package faults draws fault plans (nemeses, in Jepsen's word) from a choice
// source and schedules them into a world: crashes and restarts, partitions of
// Jepsen's shapes, message loss, duplication and delay, clock skew. It knows
// nothing of Paxos: it only crashes nodes and edits the network.
package faults

import (
	"fmt"
	"strings"

	"github.com/synod-sim/synod/sim"
)

// Target is the part of a world a fault plan drives. *sim.World satisfies it
// for every message type.
type Target interface {
	N() int
	Up(id sim.NodeID) bool
	Crash(id sim.NodeID)
	Restart(id sim.NodeID)
	At(t sim.Time, label string, fn func())
	Network() *sim.Network
	SetClock(id sim.NodeID, c sim.Clock)
	ClockOf(id sim.NodeID) sim.Clock
}

// Family is a kind of fault that a plan can switch on or off as a whole.
type Family uint8

const (
	Crash Family = 1 << iota
	Partition
	Loss
	Duplicate
	Delay
	ClockSkew
	// Lasting: at the heal, up to a minority of the nodes stay crashed or
	// cut off for good, so liveness is asked of what Paxos promises (a
	// live, connected majority), not of a fully healed cluster.
	Lasting
)

// AllFamilies is every fault family.
const AllFamilies = Crash | Partition | Loss | Duplicate | Delay | ClockSkew | Lasting

var familyNames = []struct {
	f    Family
	name string
}{{Crash, "crash"}, {Partition, "partition"}, {Loss, "loss"}, {Duplicate, "dup"}, {Delay, "delay"}, {ClockSkew, "skew"}, {Lasting, "lasting"}}

// ParseFamily reads one family's name, as String writes it.
func ParseFamily(name string) (Family, bool) {
	for _, fn := range familyNames {
		if fn.name == name {
			return fn.f, true
		}
	}
	return 0, false
}

func (f Family) String() string {
	var names []string
	for _, fn := range familyNames {
		if f&fn.f != 0 {
			names = append(names, fn.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// Shape is one of Jepsen's partition shapes.
type Shape uint8

const (
	IsolateOne   Shape = iota // one node cut off from all others
	Halves                    // two random halves
	MajorityRing              // each node sees a majority, no two the same one
	Bridge                    // two halves joined through one node
	OneWay                    // one node's outbound links cut, inbound kept
	numShapes
)

var shapeNames = [...]string{"isolate", "halves", "majority-ring", "bridge", "one-way"}

func (s Shape) String() string { return shapeNames[s] }

// Plan is a drawn fault plan: which families are on and how hard.
type Plan struct {
	Families Family

	Crashes           int
	DownMin, DownMax  sim.Duration
	Partitions        int
	PartMin, PartMax  sim.Duration
	DropRate, DupRate sim.Rate
	TailRate          sim.Rate
	TailMax           sim.Duration
	SkewMax           sim.Duration // largest clock offset
	DriftMaxPPM       int32        // largest clock drift
	// Spare are nodes (bit i: node i) a lasting fault never takes: the
	// scenario keeps what liveness needs besides a majority (a proposer).
	Spare uint64
	// Extreme is the boundary-timing adversary: clocks skewed and drifting
	// at their bounds with opposite signs on alternate nodes, latencies and
	// nodes' timers at the edges of their ranges (the scenario applies the
	// last two: sim.Network.Extreme, sim.World.Extremes).
	Extreme bool
}

// ExtremeShare is the share of seeds the boundary-timing adversary takes in
// every scenario.
const ExtremeShare = sim.RateScale / 8

// Limits bound what Draw may choose: which families are allowed and the
// largest counts and rates.
type Limits struct {
	Families    Family
	Swarm       bool // each allowed family is on only with probability 1/2
	MaxCrashes  int
	MaxParts    int
	MaxDrop     sim.Rate
	MaxDup      sim.Rate
	DownMax     sim.Duration
	PartMax     sim.Duration
	TailMax     sim.Duration
	SkewMax     sim.Duration
	DriftMaxPPM int32
	// MinCrashes, MinParts, MinDrop, MinDup raise the low end of their
	// draws (1 when unset); equal to the maximum, the value is fixed.
	MinCrashes, MinParts int
	MinDrop, MinDup      sim.Rate
	// MinTail fixes the share of messages delayed into the tail, as MinDrop
	// does the drop rate (drawn from 1ppm to 20% when unset).
	MinTail, MaxTail sim.Rate
	// Always are families on in every run, swarm or not.
	Always Family
	// ExtremeFixed fixes the boundary-timing adversary at Extreme instead
	// of drawing it in ExtremeShare of the runs.
	ExtremeFixed, Extreme bool
}

// atLeast1 is the low end of a count or rate draw.
func atLeast1[T ~int | ~uint32](v T) uint64 { return uint64(max(v, 1)) }

// Draw picks a plan within limits. In swarm mode each allowed family is
// switched on or off as a whole first, so that some seeds run with only a few
// families and bugs that one family masks are still found (swarm testing).
func Draw(src sim.Source, l Limits) Plan {
	p := Plan{Families: l.Families}
	if l.Swarm {
		p.Families = 0
		for _, fn := range familyNames {
			if l.Families&fn.f != 0 && (l.Always&fn.f != 0 || sim.Chance(src, sim.RateScale/2)) {
				p.Families |= fn.f
			}
		}
	}
	if p.Families&Crash != 0 && l.MaxCrashes > 0 {
		p.Crashes = int(sim.Between(src, atLeast1(l.MinCrashes), uint64(l.MaxCrashes)))
		p.DownMin = l.DownMax / 20
		p.DownMax = p.DownMin + sim.Duration(sim.Between(src, 0, uint64(l.DownMax-p.DownMin)))
	}
	if p.Families&Partition != 0 && l.MaxParts > 0 {
		p.Partitions = int(sim.Between(src, atLeast1(l.MinParts), uint64(l.MaxParts)))
		p.PartMin = l.PartMax / 20
		p.PartMax = p.PartMin + sim.Duration(sim.Between(src, 0, uint64(l.PartMax-p.PartMin)))
	}
	if p.Families&Loss != 0 && l.MaxDrop > 0 {
		p.DropRate = sim.Rate(sim.Between(src, atLeast1(l.MinDrop), uint64(l.MaxDrop)))
	}
	if p.Families&Duplicate != 0 && l.MaxDup > 0 {
		p.DupRate = sim.Rate(sim.Between(src, atLeast1(l.MinDup), uint64(l.MaxDup)))
	}
	if p.Families&Delay != 0 && l.TailMax > 0 {
		hi := l.MaxTail
		if hi == 0 {
			hi = sim.RateScale / 5
		}
		p.TailRate = sim.Rate(sim.Between(src, atLeast1(l.MinTail), uint64(hi)))
		p.TailMax = l.TailMax
	}
	if p.Families&ClockSkew != 0 {
		p.SkewMax = l.SkewMax
		p.DriftMaxPPM = l.DriftMaxPPM
	}
	p.Extreme = l.Extreme
	if !l.ExtremeFixed {
		p.Extreme = sim.Chance(src, ExtremeShare)
	}
	return p
}

func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faults=%v", p.Families)
	if p.Crashes > 0 {
		fmt.Fprintf(&b, " crashes=%d down=%d-%dµs", p.Crashes, p.DownMin, p.DownMax)
	}
	if p.Partitions > 0 {
		fmt.Fprintf(&b, " partitions=%d len=%d-%dµs", p.Partitions, p.PartMin, p.PartMax)
	}
	if p.DropRate > 0 {
		fmt.Fprintf(&b, " drop=%dppm", p.DropRate)
	}
	if p.DupRate > 0 {
		fmt.Fprintf(&b, " dup=%dppm", p.DupRate)
	}
	if p.TailRate > 0 {
		fmt.Fprintf(&b, " tail=%dppm/%dµs", p.TailRate, p.TailMax)
	}
	if p.SkewMax > 0 || p.DriftMaxPPM > 0 {
		fmt.Fprintf(&b, " skew<=%dµs drift<=%dppm", p.SkewMax, p.DriftMaxPPM)
	}
	if p.Extreme {
		b.WriteString(" timing=extreme")
	}
	return b.String()
}

// Schedule draws the concrete faults of a plan and schedules them into the
// window [start, heal) over the given nodes, then a heal at heal: every node
// up, the network whole, message faults off. Clock skew stays: clocks do not
// heal, but it stays within the plan's bound. With Lasting on, a drawn
// minority of nodes (at least one, when there are three or more) does not
// heal: it stays crashed, or up but cut off from everyone else, for good.
// Schedule returns that set (bit i: node i), for the liveness check to leave
// out.
func Schedule(t Target, src sim.Source, p Plan, nodes []sim.NodeID, start, heal sim.Time) (lost uint64) {
	if heal < start {
		panic(fmt.Sprintf("faults: heal at %d before window start %d", heal, start))
	}
	net := t.Network()
	if p.DropRate > 0 || p.DupRate > 0 || p.TailRate > 0 {
		t.At(start, fmt.Sprintf("net drop=%dppm dup=%dppm tail=%dppm", p.DropRate, p.DupRate, p.TailRate), func() {
			net.DropRate, net.DupRate = p.DropRate, p.DupRate
			net.Latency.TailRate, net.Latency.TailMax = p.TailRate, p.TailMax
		})
	}
	if p.SkewMax > 0 || p.DriftMaxPPM > 0 {
		for i, id := range nodes {
			c := sim.Clock{
				Offset:   sim.Duration(sim.Between(src, 0, 2*uint64(p.SkewMax))) - p.SkewMax,
				DriftPPM: int32(sim.Between(src, 0, 2*uint64(p.DriftMaxPPM))) - p.DriftMaxPPM,
			}
			if p.Extreme {
				// Worst case at once: every clock at its bounds, ahead and
				// fast on one node, behind and slow on the next.
				sign := sim.Duration(1 - 2*(i%2))
				c = sim.Clock{Offset: sign * p.SkewMax, DriftPPM: int32(sign) * p.DriftMaxPPM}
			}
			t.SetClock(id, c)
		}
	}
	span := uint64(heal - start)
	for i := 0; i < p.Crashes; i++ {
		id := nodes[src.Choose(uint64(len(nodes)))]
		at := start + sim.Time(src.Choose(span+1))
		back := at + sim.Time(sim.Between(src, uint64(p.DownMin), uint64(p.DownMax)))
		t.At(at, fmt.Sprintf("crash n%d", id), func() { t.Crash(id) })
		if back < heal {
			t.At(back, fmt.Sprintf("restart n%d", id), func() { t.Restart(id) })
		}
	}
	// Partitions do not overlap: each heals before the next begins.
	at := start
	for i := 0; i < p.Partitions; i++ {
		at += sim.Time(src.Choose(span/uint64(p.Partitions) + 1))
		if at >= heal {
			break
		}
		shape := Shape(src.Choose(uint64(numShapes)))
		cut := Cut(src, shape, nodes)
		end := min(at+sim.Time(sim.Between(src, uint64(p.PartMin), uint64(p.PartMax))), heal)
		t.At(at, "partition "+shape.String()+" "+cut.String(), func() { cut.Apply(net) })
		t.At(end, "partition heals", func() { net.Heal() })
		at = end
	}
	crashLost := false
	if p.Families&Lasting != 0 && len(nodes) >= 3 {
		k := int(sim.Between(src, 1, uint64((len(nodes)-1)/2)))
		for _, id := range shuffled(src, nodes) {
			if k > 0 && p.Spare&(1<<uint(id)) == 0 {
				lost |= 1 << uint(id)
				k--
			}
		}
		crashLost = sim.Chance(src, sim.RateScale/2)
	}
	label := "heal"
	if lost != 0 {
		how := "cut off"
		if crashLost {
			how = "down"
		}
		label = fmt.Sprintf("heal, but %s stay %s for good", nodeList(lost), how)
	}
	t.At(heal, label, func() {
		net.Heal()
		net.DropRate, net.DupRate, net.Latency.TailRate = 0, 0, 0
		for i := 0; i < t.N(); i++ {
			id := sim.NodeID(i)
			if crashLost && lost&(1<<uint(i)) != 0 {
				if t.Up(id) {
					t.Crash(id)
				}
				continue
			}
			t.Restart(id)
		}
		if !crashLost {
			net.SetApart(lost)
		}
	})
	return lost
}

func nodeList(set uint64) string {
	var names []string
	for i := 0; set != 0; i++ {
		if set&1 != 0 {
			names = append(names, fmt.Sprintf("n%d", i))
		}
		set >>= 1
	}
	return strings.Join(names, ",")
}

// Links is a set of one-way cut links.
type Links [][2]sim.NodeID

// Apply cuts the links, on top of whatever is cut already.
func (l Links) Apply(net *sim.Network) {
	for _, c := range l {
		net.SetLink(c[0], c[1], false)
	}
}

func (l Links) String() string {
	var b strings.Builder
	for i, c := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d>%d", c[0], c[1])
	}
	return "cut=" + b.String()
}

// Cut draws the links a partition of the given shape cuts among nodes.
func Cut(src sim.Source, shape Shape, nodes []sim.NodeID) Links {
	perm := shuffled(src, nodes)
	n := len(perm)
	var links Links
	both := func(a, b sim.NodeID) { links = append(links, [2]sim.NodeID{a, b}, [2]sim.NodeID{b, a}) }
	switch shape {
	case IsolateOne:
		for _, o := range perm[1:] {
			both(perm[0], o)
		}
	case OneWay:
		for _, o := range perm[1:] {
			links = append(links, [2]sim.NodeID{perm[0], o})
		}
	case Halves:
		half := n / 2
		for _, a := range perm[:half] {
			for _, b := range perm[half:] {
				both(a, b)
			}
		}
	case Bridge:
		// perm[0] is the bridge; the rest split into two sides that only
		// reach each other through it.
		rest := perm[1:]
		half := len(rest) / 2
		for _, a := range rest[:half] {
			for _, b := range rest[half:] {
				both(a, b)
			}
		}
	case MajorityRing:
		// Node i (in ring order) hears only from the m-1 nodes after it,
		// m a majority: every node sees a majority, no two the same one.
		// The grudges are one-way, as in Jepsen's majorities-ring.
		m := n/2 + 1
		for i := 0; i < n; i++ {
			for d := m; d < n; d++ {
				links = append(links, [2]sim.NodeID{perm[(i+d)%n], perm[i]})
			}
		}
	default:
		panic(fmt.Sprintf("faults: unknown partition shape %d", shape))
	}
	return links
}

// shuffled returns a permutation of nodes; the all-zero choices give the
// identity, so shrinking keeps the plain order.
func shuffled(src sim.Source, nodes []sim.NodeID) []sim.NodeID {
	out := append([]sim.NodeID(nil), nodes...)
	for i := len(out) - 1; i > 0; i-- {
		j := i - int(src.Choose(uint64(i+1)))
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ClockSteps schedules up to max clock steps in [0, heal): a node's clock
// jumps to a new offset within the skew bound, as NTP does when it steps
// rather than slews. Schedule only sets clocks once, and a lease protocol
// must also survive a clock that jumps by 2*skew. Under the boundary-timing
// adversary (extreme) every step goes to a bound.
func ClockSteps(t Target, src sim.Source, nodes []sim.NodeID, max int, skew sim.Duration, extreme bool, heal sim.Time) {
	if max == 0 || skew == 0 || heal <= 0 || len(nodes) == 0 {
		return // no window to step in, or nothing to step
	}
	steps := int(sim.Between(src, 0, uint64(max)))
	for i := 0; i < steps; i++ {
		id := nodes[src.Choose(uint64(len(nodes)))]
		at := sim.Time(src.Choose(uint64(heal)))
		offset := sim.Duration(sim.Between(src, 0, 2*uint64(skew))) - skew
		if extreme {
			offset = sim.Duration(sim.Edge(src, 0, 2*uint64(skew))) - skew
		}
		t.At(at, fmt.Sprintf("clock n%d steps to offset %dµs", id, offset), func() {
			c := t.ClockOf(id)
			c.Offset = offset
			t.SetClock(id, c)
		})
	}
}
