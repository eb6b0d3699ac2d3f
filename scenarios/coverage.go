package scenarios

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/synod-sim/synod/sim"
)

// Fault-coverage accounting. Every run records which faults struck while
// which protocol states held (a crash of the leader, a message lost during
// catch-up, a duplicate after a leader change): pairs of a kernel fault
// (sim.Fault) and a feature the scenario's family names. A sweep counts, per
// scenario, the seeds that reached each pair, and a scenario declares the
// pairs it promises to reach (Antithesis-style "sometimes" assertions): a
// sweep long enough to judge that never reaches one fails.

// Coverage is the set of (fault, feature) pairs one run reached.
type Coverage uint64

// maxFeatures bounds a family's features: NumFaults*maxFeatures bits.
const maxFeatures = 8

// Every pair has its bit in a Coverage: a fault kind more fails to compile
// here until Coverage widens.
var _ [64 - int(sim.NumFaults)*maxFeatures]struct{}

// MinCoverageSeeds is the shortest sweep of a scenario whose declared pairs
// are judged: a rare pair may well be missing from 200 seeds.
const MinCoverageSeeds = 1000

func coverPair(f sim.Fault, feature int) Coverage {
	return 1 << (uint(f)*maxFeatures + uint(feature))
}

// Features names the protocol states a scenario family reports, in bit order.
type Features []string

// pairName is "fault×feature".
func (fs Features) pairName(bit int) string {
	return sim.Fault(bit/maxFeatures).String() + "×" + fs[bit%maxFeatures]
}

// pairBit finds a "fault×feature" name.
func (fs Features) pairBit(name string) (int, bool) {
	fault, feature, ok := strings.Cut(name, "×")
	if !ok {
		return 0, false
	}
	for f := sim.Fault(0); f < sim.NumFaults; f++ {
		if f.String() != fault {
			continue
		}
		for i, n := range fs {
			if n == feature {
				return int(f)*maxFeatures + i, true
			}
		}
	}
	return 0, false
}

// coverageRecorder is the OnFault hook of one run: features reports which
// features hold as fault f strikes node (peer: the message's sender, or
// node itself).
type coverageRecorder struct {
	cov      Coverage
	features func(f sim.Fault, node, peer sim.NodeID) uint64
}

func (c *coverageRecorder) onFault(f sim.Fault, node, peer sim.NodeID) {
	on := c.features(f, node, peer)
	for on != 0 {
		i := bits.TrailingZeros64(on)
		on &^= 1 << i
		c.cov |= coverPair(f, i)
	}
}

// CoverageCounts are a scenario's seeds per reached pair over a sweep.
type CoverageCounts struct {
	Runs  uint64
	Seeds [int(sim.NumFaults) * maxFeatures]uint64
}

func (c *CoverageCounts) add(cov Coverage) {
	c.Runs++
	for cov != 0 {
		i := bits.TrailingZeros64(uint64(cov))
		cov &^= 1 << i
		c.Seeds[i]++
	}
}

func (c *CoverageCounts) merge(o *CoverageCounts) {
	c.Runs += o.Runs
	for i := range c.Seeds {
		c.Seeds[i] += o.Seeds[i]
	}
}

// CoverageReport is one scenario's coverage over a sweep, pair by pair.
type CoverageReport struct {
	Scenario string
	Runs     uint64
	Pairs    []PairCount // every pair of the family, in bit order
	// Missing are the declared pairs no seed reached, when the sweep was
	// long enough to judge (MinCoverageSeeds); Unjudged is set when not.
	Missing  []string
	Unjudged bool
}

// PairCount is how many seeds reached one pair.
type PairCount struct {
	Pair     string
	Seeds    uint64
	Declared bool
}

// Report turns a sweep's counts into per-scenario coverage, scenarios in
// name order.
func (s Summary) CoverageReports() []CoverageReport {
	var names []string
	for name := range s.Coverage {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []CoverageReport
	for _, name := range names {
		sc, err := Lookup(name)
		if err != nil || len(sc.Features) == 0 {
			continue
		}
		counts := s.Coverage[name]
		declared := map[int]bool{}
		for _, p := range sc.Sometimes {
			if bit, ok := sc.Features.pairBit(p); ok {
				declared[bit] = true
			}
		}
		rep := CoverageReport{Scenario: name, Runs: counts.Runs, Unjudged: counts.Runs < MinCoverageSeeds}
		for f := 0; f < int(sim.NumFaults); f++ {
			for i := range sc.Features {
				bit := f*maxFeatures + i
				rep.Pairs = append(rep.Pairs, PairCount{Pair: sc.Features.pairName(bit), Seeds: counts.Seeds[bit], Declared: declared[bit]})
				if declared[bit] && counts.Seeds[bit] == 0 && !rep.Unjudged {
					rep.Missing = append(rep.Missing, sc.Features.pairName(bit))
				}
			}
		}
		out = append(out, rep)
	}
	return out
}

// validateSometimes checks a scenario's declared pairs name its features.
func validateSometimes(s *Scenario) error {
	if len(s.Features) > maxFeatures {
		return fmt.Errorf("%s declares %d features, at most %d", s.Name, len(s.Features), maxFeatures)
	}
	for _, p := range s.Sometimes {
		if _, ok := s.Features.pairBit(p); !ok {
			return fmt.Errorf("%s promises %q, which is no fault×feature pair of its family (%s)", s.Name, p, strings.Join(s.Features, ", "))
		}
	}
	return nil
}

// cross is every "fault×feature" pair of the space-separated faults and
// features: how scenarios declare what they promise to reach.
func cross(faults, features string) []string {
	var out []string
	for _, f := range strings.Fields(faults) {
		for _, ft := range strings.Fields(features) {
			out = append(out, f+"×"+ft)
		}
	}
	return out
}
