package sim

import "fmt"

// Latency describes how long a message spends on the wire: uniform in
// [Min, Max], and with probability TailRate uniform in (Max, TailMax]
// instead, the long tail that reorders messages badly.
type Latency struct {
	Min, Max Duration
	TailRate Rate
	TailMax  Duration
}

// Network is the simulated network: latency, loss and duplication rates, and
// a connectivity relation that need not be symmetric. Fault plans edit it
// between events; the kernel reads it on every send and delivery.
type Network struct {
	Latency  Latency
	DropRate Rate
	DupRate  Rate
	// Extreme makes every long-tail delay the longest allowed (the
	// boundary-timing adversary); ordinary latencies stay uniform, so
	// messages still reorder.
	Extreme bool

	n    int
	cut  []bool // cut[from*n+to]: from cannot reach to
	cuts int
	// apart is a set of nodes cut off from the others for good (bit i:
	// node i): Heal leaves it, so a fault plan's lasting minority stays
	// away whatever heals later.
	apart uint64
}

func (net *Network) init(n int) {
	net.n = n
	net.cut = make([]bool, n*n)
	net.Latency = Latency{Min: Millisecond, Max: 5 * Millisecond}
}

func (net *Network) latency(s Source) Duration {
	l := net.Latency
	if l.Max < l.Min || l.Min < 0 {
		panic(fmt.Sprintf("sim: latency range [%d, %d] is empty", l.Min, l.Max))
	}
	if l.TailRate > 0 && l.TailMax > l.Max && Chance(s, l.TailRate) {
		if net.Extreme {
			return l.TailMax
		}
		return Duration(Between(s, uint64(l.Max+1), uint64(l.TailMax)))
	}
	return Duration(Between(s, uint64(l.Min), uint64(l.Max)))
}

// Connected reports whether messages from one node reach another.
func (net *Network) Connected(from, to NodeID) bool {
	if net.apart != 0 && (net.apart>>uint(from))&1 != (net.apart>>uint(to))&1 {
		return false
	}
	if net.cuts == 0 {
		return true
	}
	return !net.cut[int(from)*net.n+int(to)]
}

// SetApart cuts the given nodes (bit i: node i) off from all the others in
// both directions, for good: Heal does not restore those links. Nodes in the
// set still reach each other.
func (net *Network) SetApart(set uint64) { net.apart = set }

// Apart is the set of nodes cut off for good.
func (net *Network) Apart() uint64 { return net.apart }

// SetLink cuts (ok false) or restores (ok true) the one-way link from -> to.
func (net *Network) SetLink(from, to NodeID, ok bool) {
	if from == to {
		return
	}
	i := int(from)*net.n + int(to)
	if net.cut[i] == !ok {
		return
	}
	net.cut[i] = !ok
	if ok {
		net.cuts--
	} else {
		net.cuts++
	}
}

// Heal restores every link, except those SetApart cut for good.
func (net *Network) Heal() {
	clear(net.cut)
	net.cuts = 0
}

// Whole reports whether no link is cut.
func (net *Network) Whole() bool { return net.cuts == 0 && net.apart == 0 }

// Nodes is the number of nodes the network connects.
func (net *Network) Nodes() int { return net.n }
