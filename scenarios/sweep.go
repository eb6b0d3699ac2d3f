package scenarios

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/sim"
)

// Sweep runs scenarios over a range of seeds on parallel workers. Each run is
// single-threaded and deterministic; workers only decide which run goes
// where, and nothing they do reaches the results' order or digest.
type Sweep struct {
	Scenarios []*Scenario
	First     uint64 // first seed
	Count     uint64 // seeds per scenario
	Workers   int    // 0 means GOMAXPROCS
	Bugs      planted.Set
	Set       string   // settings for every scenario (Options.Set)
	Strategy  Strategy // how a seed becomes a source (zero: swarm)
	// CheckDeterminism runs every seed twice and reports a seed whose two
	// runs differ as a "nondeterminism" failure naming the first event
	// where they part (see CheckDeterminism).
	CheckDeterminism bool
	// MaxFailures stops the sweep once this many seeds have failed (0: no
	// limit). Runs go in (scenario, seed) order, block by block, and the
	// summary ends at the run that made the last failure kept: the same
	// for any number of workers.
	MaxFailures int

	// Progress counters, safe to read while Run works.
	Done       atomic.Uint64
	Violations atomic.Uint64
}

// Failure is one seed that broke a property or could not be checked.
type Failure struct {
	Scenario     string
	Seed         uint64
	Violation    *checker.Violation
	Inconclusive string
	// Divergence is set for a "nondeterminism" failure: the seed ran
	// differently twice.
	Divergence *Divergence
}

// KindNondeterminism is the violation kind of a seed that ran differently
// twice under Sweep.CheckDeterminism.
const KindNondeterminism = "nondeterminism"

// Summary is the outcome of a sweep.
type Summary struct {
	Runs   uint64
	Events uint64
	// Digest folds every run's digest with its scenario and seed. It is a
	// sum, so it does not depend on worker count, scheduling or sharding:
	// the digests of disjoint shards add up to the digest of their union.
	Digest       uint64
	Failures     []Failure // violations, by scenario then seed
	Inconclusive []Failure
	// Coverage counts, per scenario, the seeds that reached each
	// fault×feature pair (scenarios that declare features).
	Coverage map[string]*CoverageCounts
}

func (s *Summary) cover(scenario string, cov Coverage) {
	if s.Coverage == nil {
		s.Coverage = map[string]*CoverageCounts{}
	}
	c := s.Coverage[scenario]
	if c == nil {
		c = &CoverageCounts{}
		s.Coverage[scenario] = c
	}
	c.add(cov)
}

// RunDigest is one run's contribution to a sweep digest.
func RunDigest(scenario string, seed, digest uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(scenario))
	return sim.Mix64(digest ^ sim.Mix64(seed^h.Sum64()))
}

// Run executes the sweep and returns its summary.
func (s *Sweep) Run() Summary {
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	total := uint64(len(s.Scenarios)) * s.Count
	if uint64(workers) > total {
		workers = int(max(total, 1)) // a worker per run at most: each holds a summary
	}
	if s.MaxFailures > 0 {
		return s.runBounded(workers, total)
	}
	var next atomic.Uint64
	parts := make([]Summary, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(part *Summary) {
			defer wg.Done()
			for {
				job := next.Add(1) - 1
				if job >= total {
					return
				}
				s.runJob(job, part)
			}
		}(&parts[w])
	}
	wg.Wait()
	var sum Summary
	for _, p := range parts {
		sum.Merge(p)
	}
	return sum
}

// Merge adds another summary's runs to this one (shards, workers).
func (s *Summary) Merge(o Summary) {
	s.Runs += o.Runs
	s.Events += o.Events
	s.Digest += o.Digest
	s.Failures = sortFailures(append(s.Failures, o.Failures...))
	s.Inconclusive = sortFailures(append(s.Inconclusive, o.Inconclusive...))
	for name, c := range o.Coverage {
		if s.Coverage == nil {
			s.Coverage = map[string]*CoverageCounts{}
		}
		if s.Coverage[name] == nil {
			s.Coverage[name] = &CoverageCounts{}
		}
		s.Coverage[name].merge(c)
	}
}

// Shard is the slice of the seed range [first, first+count) that shard i of
// n covers, 1 <= i <= n: a contiguous block, the blocks in order and their
// sizes differing by at most one, so that n shards cover the range exactly
// once. A shard may be empty when count < n.
func Shard(first, count, i, n uint64) (shardFirst, shardCount uint64) {
	if n == 0 || i == 0 || i > n {
		panic(fmt.Sprintf("scenarios: shard %d/%d", i, n))
	}
	lo, hi := blockEdge(count, i-1, n), blockEdge(count, i, n)
	return first + lo, hi - lo
}

// blockEdge is floor(count*k/n) without overflow.
func blockEdge(count, k, n uint64) uint64 {
	hi, lo := bits.Mul64(count, k)
	q, _ := bits.Div64(hi, lo, n)
	return q
}

func sortFailures(f []Failure) []Failure {
	sort.Slice(f, func(i, j int) bool {
		if f[i].Scenario != f[j].Scenario {
			return f[i].Scenario < f[j].Scenario
		}
		return f[i].Seed < f[j].Seed
	})
	return f
}

// runJob runs one (scenario, seed) job into part.
func (s *Sweep) runJob(job uint64, part *Summary) {
	sc := s.Scenarios[job/s.Count]
	seed := s.First + job%s.Count
	opts := Options{Bugs: s.Bugs, Set: s.Set}
	res := sc.Run(s.Strategy.Source(seed), opts)
	part.Runs++
	part.Events += res.Events
	part.Digest += RunDigest(sc.Name, seed, res.Digest)
	if len(sc.Features) > 0 {
		part.cover(sc.Name, res.Coverage)
	}
	if s.CheckDeterminism {
		if again := sc.Run(s.Strategy.Source(seed), opts); !SameRun(res, again) {
			d := explainDivergence(sc, seed, s.Strategy, opts, res, again)
			part.Failures = append(part.Failures, Failure{Scenario: sc.Name, Seed: seed, Divergence: d,
				Violation: &checker.Violation{Kind: KindNondeterminism, Time: int64(d.At), Message: d.Error()}})
			s.Violations.Add(1)
			s.Done.Add(1)
			return
		}
	}
	switch {
	case res.Violation != nil:
		part.Failures = append(part.Failures, Failure{Scenario: sc.Name, Seed: seed, Violation: res.Violation})
		s.Violations.Add(1)
	case res.Inconclusive != "":
		part.Inconclusive = append(part.Inconclusive, Failure{Scenario: sc.Name, Seed: seed, Inconclusive: res.Inconclusive})
	}
	s.Done.Add(1)
}

// runBounded is Run with MaxFailures: blocks of jobs run in parallel, then
// fold in job order, so the sweep stops at the same run whatever the
// workers.
func (s *Sweep) runBounded(workers int, total uint64) Summary {
	const block = 4096
	var sum Summary
	results := make([]Summary, block)
	for lo := uint64(0); lo < total; lo += block {
		hi := min(lo+block, total)
		var next atomic.Uint64
		next.Store(lo)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					job := next.Add(1) - 1
					if job >= hi {
						return
					}
					results[job-lo] = Summary{}
					s.runJob(job, &results[job-lo])
				}
			}()
		}
		wg.Wait()
		for i := range hi - lo {
			sum.Merge(results[i])
			if len(sum.Failures) >= s.MaxFailures {
				return sum
			}
		}
	}
	return sum
}
