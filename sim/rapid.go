package sim

import (
	"fmt"
	"math/bits"

	"pgregory.net/rapid"
)

// Rapid is a Source that draws every choice from a rapid property test, so
// that rapid's shrinker minimizes a whole run — cluster size, fault plan and
// every scheduling decision — by pushing choices toward 0 (the plain
// outcome) and deleting them.
//
// rapid's own integer generators are biased toward small values, which would
// turn every Chance into "never" and every latency into the shortest. So a
// choice under a bound n > 16 is assembled from base-16 digits, each one a
// small rapid integer (nearly uniform at that width), read as a binary
// fraction and scaled to [0, n). The result is close to uniform, monotone in
// the digits, and 0 when every digit is 0: rapid's shrinker still lowers a
// choice by lowering its digits. A bound of 16 or less is one rapid integer.
type Rapid struct {
	t *rapid.T
	// Limit caps the choices drawn from rapid; past it every choice is the
	// plain outcome 0, so a run that goes on and on cannot exhaust rapid's
	// buffer. NewRapid sets DefaultRapidLimit.
	Limit   int
	drawn   int
	stopped any
}

// DefaultRapidLimit is the default cap on the choices one run draws from rapid.
const DefaultRapidLimit = 1 << 16

// Digits of a large choice, and the small bounds drawn directly. Built once:
// rapid generators are immutable and safe to share.
const rapidDigitBits = 4

var (
	rapidDigit = rapid.Uint64Range(0, 1<<rapidDigitBits-1)
	rapidSmall [1<<rapidDigitBits + 1]*rapid.Generator[uint64]
)

func init() {
	for n := 2; n < len(rapidSmall); n++ {
		rapidSmall[n] = rapid.Uint64Range(0, uint64(n-1))
	}
}

// NewRapid returns a source that draws from t.
func NewRapid(t *rapid.T) *Rapid {
	if t == nil {
		panic("sim: NewRapid(nil)")
	}
	return &Rapid{t: t, Limit: DefaultRapidLimit}
}

// Drawn counts the choices drawn from rapid so far (forced choices, under a
// bound of 1, and choices past Limit are not drawn).
func (r *Rapid) Drawn() int { return r.drawn }

// Stopped is the panic rapid raised inside a draw, or nil. rapid stops a
// test case by panicking (when a replayed buffer runs out, say) and must
// see that panic. A run that turns panics into violations swallows it, so
// whoever runs a world on this source re-raises it afterwards:
//
//	res := scenario.Run(src, opts)
//	if p := src.Stopped(); p != nil {
//		panic(p)
//	}
func (r *Rapid) Stopped() any { return r.stopped }

func (r *Rapid) Choose(n uint64) uint64 {
	if n == 0 {
		panic("sim: Choose(0)")
	}
	if n == 1 || r.drawn >= r.Limit {
		return 0
	}
	if r.stopped != nil {
		panic(r.stopped)
	}
	r.drawn++
	defer func() {
		if p := recover(); p != nil {
			r.stopped = p
			panic(p)
		}
	}()
	if n < uint64(len(rapidSmall)) {
		return rapidSmall[n].Draw(r.t, "")
	}
	// Two spare bits beyond the bound keep the scaling within 25% of
	// uniform; digits are whole, so round the width up.
	width := min(64, roundUp(bits.Len64(n-1)+2, rapidDigitBits))
	var raw uint64
	for w := 0; w < width; w += rapidDigitBits {
		raw = raw<<rapidDigitBits | rapidDigit.Draw(r.t, "")
	}
	return scaleChoice(raw, width, n)
}

// Bytes is a Source that reads its choices from a byte string: the source
// behind go test -fuzz targets, whose coverage-guided mutations then steer
// the run directly. A choice under bound n takes just enough whole bytes to
// hold n-1, read big-endian as a binary fraction and scaled to [0, n), so
// zero bytes are the plain outcome. Past the end of the data every choice is
// 0, so a short input is a plain run with a few decisions set.
type Bytes struct {
	Data      []byte
	Pos       int
	Exhausted int // choices asked for after the data ran out
}

func (b *Bytes) Choose(n uint64) uint64 {
	if n == 0 {
		panic("sim: Choose(0)")
	}
	if n == 1 {
		return 0
	}
	k := (bits.Len64(n-1) + 7) / 8
	if b.Pos >= len(b.Data) {
		b.Exhausted++
		return 0
	}
	var raw uint64
	for i := 0; i < k; i++ {
		raw <<= 8
		if b.Pos < len(b.Data) {
			raw |= uint64(b.Data[b.Pos])
			b.Pos++
		}
	}
	return scaleChoice(raw, 8*k, n)
}

// EncodeBytes is the inverse of Bytes: the shortest input from which Bytes
// draws exactly the given choices, so that any recorded run (a PRNG seed, a
// failing trace) can seed a fuzz corpus.
func EncodeBytes(choices []Choice) []byte {
	var out []byte
	for _, c := range choices {
		if c.N == 0 || c.V >= c.N {
			panic(fmt.Sprintf("sim: EncodeBytes: choice %d under bound %d", c.V, c.N))
		}
		if c.N == 1 {
			continue
		}
		k := (bits.Len64(c.N-1) + 7) / 8
		raw := unscaleChoice(c.V, 8*k, c.N)
		for i := k - 1; i >= 0; i-- {
			out = append(out, byte(raw>>(8*i)))
		}
	}
	// Trailing zero bytes read the same as no bytes at all.
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	return out
}

// scaleChoice maps a width-bit raw value, read as a fraction of 2^width, to
// [0, n): floor(raw * n / 2^width). It is monotone and maps 0 to 0.
func scaleChoice(raw uint64, width int, n uint64) uint64 {
	if width <= 0 || width > 64 {
		panic(fmt.Sprintf("sim: scaleChoice width %d", width))
	}
	hi, _ := bits.Mul64(raw<<(64-width), n)
	return hi
}

// unscaleChoice is the least raw value that scaleChoice maps to v:
// ceil(v * 2^width / n).
func unscaleChoice(v uint64, width int, n uint64) uint64 {
	// v * 2^width as a 128-bit number, then a ceiling division by n.
	hi, lo := v>>(64-width), v<<width
	if width == 64 {
		hi, lo = v, 0
	}
	q, r := bits.Div64(hi, lo, n)
	if r != 0 {
		q++
	}
	return q
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }
