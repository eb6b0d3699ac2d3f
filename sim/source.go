package sim

import (
	"fmt"
	"math/bits"
)

// Source supplies every nondeterministic decision a world makes. Swapping the
// source turns the same world into a different tool: a seeded PRNG for swarm
// runs, a recorded list for replay, *rapid.T for property runs and shrinking,
// an enumerator for exhaustive search.
//
// Choose returns a value in [0, n) for n >= 1. By convention 0 is the
// uneventful outcome (no drop, no crash, shortest latency), so a shrinker that
// pushes choices toward zero simplifies the run.
type Source interface {
	Choose(n uint64) uint64
}

// Rate is a probability in parts per million: integer so that rates print,
// parse and compare exactly, and so that a trace never depends on float
// rounding.
type Rate uint32

// RateScale is the denominator of a Rate.
const RateScale Rate = 1_000_000

// Chance reports whether an event with probability r happens. It draws
// nothing when r is 0, so a disabled fault family leaves no choices behind,
// and it maps the choice 0 to "does not happen".
func Chance(s Source, r Rate) bool {
	if r == 0 {
		return false
	}
	if r >= RateScale {
		return true
	}
	return s.Choose(uint64(RateScale)) >= uint64(RateScale-r)
}

// Between returns a value in [lo, hi], with lo as the plain outcome.
func Between(s Source, lo, hi uint64) uint64 {
	if hi < lo {
		panic(fmt.Sprintf("sim: Between(%d, %d): empty range", lo, hi))
	}
	if hi == lo {
		return lo
	}
	return lo + s.Choose(hi-lo+1)
}

// PRNG is the seeded source for swarm runs: PCG-XSL-RR 128/64 (the generator
// of math/rand/v2's PCG) inlined so that one draw costs one call, not two
// interface hops.
type PRNG struct {
	hi, lo uint64
}

// NewPRNG returns a source seeded from seed. Seeds that differ in one bit give
// unrelated streams.
func NewPRNG(seed uint64) *PRNG {
	p := &PRNG{}
	p.Reset(seed)
	return p
}

// Reset reseeds the generator in place, so workers can reuse one.
func (p *PRNG) Reset(seed uint64) {
	p.hi = Mix64(seed ^ 0x9e3779b97f4a7c15)
	p.lo = Mix64(seed + 0x632be59bd9b4e019)
}

const (
	pcgMulHi = 2549297995355413924
	pcgMulLo = 4865540595714422341
	pcgIncHi = 6364136223846793005
	pcgIncLo = 1442695040888963407
)

func (p *PRNG) next() uint64 {
	hi, lo := bits.Mul64(p.lo, pcgMulLo)
	hi += p.hi*pcgMulLo + p.lo*pcgMulHi
	lo, c := bits.Add64(lo, pcgIncLo, 0)
	hi, _ = bits.Add64(hi, pcgIncHi, c)
	p.lo, p.hi = lo, hi
	// XSL-RR output as in math/rand/v2 (DXSM variant).
	hi ^= hi >> 32
	hi *= 0xda942042e4dd58b5
	hi ^= hi >> 48
	hi *= lo | 1
	return hi
}

// Choose draws uniformly from [0, n) by Lemire's multiply-shift with
// rejection, so there is no modulo bias.
func (p *PRNG) Choose(n uint64) uint64 {
	if n == 0 {
		panic("sim: Choose(0)")
	}
	if n == 1 {
		return 0
	}
	hi, lo := bits.Mul64(p.next(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(p.next(), n)
		}
	}
	return hi
}

// Mix64 is the SplitMix64 finalizer: a cheap bijective scrambler.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Choice is one recorded decision: the bound it was drawn under and the value.
type Choice struct {
	N, V uint64
}

// Recorder wraps a source and remembers every choice it hands out, so that a
// run from any source can be written down and replayed.
type Recorder struct {
	Inner   Source
	Choices []Choice
}

func (r *Recorder) Choose(n uint64) uint64 {
	v := r.Inner.Choose(n)
	r.Choices = append(r.Choices, Choice{N: n, V: v})
	return v
}

// Replay hands out a recorded list of choice values. A value out of range for
// the bound asked is clamped and counted, and so is a draw past the end (which
// gets the plain outcome 0): a shrinker edits lists freely, a strict replay
// checks Clamped and Exhausted afterwards.
type Replay struct {
	Values    []uint64
	Pos       int
	Clamped   int
	Exhausted int
}

func (r *Replay) Choose(n uint64) uint64 {
	if n == 0 {
		panic("sim: Choose(0)")
	}
	if r.Pos >= len(r.Values) {
		r.Exhausted++
		return 0
	}
	v := r.Values[r.Pos]
	r.Pos++
	if v >= n {
		r.Clamped++
		v = n - 1
	}
	return v
}

// Edge draws lo or hi, lo at the plain outcome: a value at an edge of the
// range, for the boundary-timing adversary.
func Edge(s Source, lo, hi uint64) uint64 {
	if s.Choose(2) == 0 {
		return lo
	}
	return hi
}
