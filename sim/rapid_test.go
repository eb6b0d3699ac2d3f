package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Every choice the rapid source makes is within its bound, and a world run
// from it is as deterministic as from any other source: the same rapid
// input gives the same run.
func TestRapidSourceStaysInBounds(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		src := NewRapid(rt)
		for _, n := range []uint64{1, 2, 3, 16, 17, 100, 4001, uint64(RateScale), 1 << 40, 1<<64 - 1} {
			v := src.Choose(n)
			require.Less(t, v, n)
		}
	})
}

// The rapid source is close enough to uniform that a fair coin is fair-ish
// and a 1-in-5 chance happens: rapid's bias toward small integers would
// otherwise switch fault families and message faults off almost always.
func TestRapidSourceIsRoughlyUniform(t *testing.T) {
	heads, fifth, runs := 0, 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		src := NewRapid(rt)
		for i := 0; i < 20; i++ {
			runs++
			if Chance(src, RateScale/2) {
				heads++
			}
			if Chance(src, RateScale/5) {
				fifth++
			}
		}
	})
	require.InDelta(t, 0.5, float64(heads)/float64(runs), 0.2, "coin: %d of %d", heads, runs)
	require.InDelta(t, 0.2, float64(fifth)/float64(runs), 0.12, "1-in-5: %d of %d", fifth, runs)
}

func TestRapidSourceLimit(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		src := NewRapid(rt)
		src.Limit = 3
		for i := 0; i < 10; i++ {
			src.Choose(1000)
		}
		require.Equal(t, 3, src.Drawn())
		require.Zero(t, src.Choose(1000), "past the limit every choice is plain")
	})
}

// EncodeBytes is the exact inverse of the Bytes source: any recorded run can
// become a fuzz input that replays it.
func TestBytesEncodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		bounds := rapid.SliceOf(rapid.OneOf(rapid.Uint64Range(1, 300), rapid.Uint64Range(1, 1<<40), rapid.Uint64Min(1))).Draw(rt, "bounds")
		var want []Choice
		for i, n := range bounds {
			v := rapid.Uint64Range(0, n-1).Draw(rt, "v"+string(rune('0'+i%10)))
			want = append(want, Choice{N: n, V: v})
		}
		data := EncodeBytes(want)
		src := &Bytes{Data: data}
		for _, c := range want {
			require.Equal(t, c.V, src.Choose(c.N), "bound %d", c.N)
		}
		require.Equal(t, len(data), src.Pos, "the encoding is no longer than needed")
	})
}

func TestBytesPastTheEndIsPlain(t *testing.T) {
	src := &Bytes{Data: []byte{0xff}}
	require.Equal(t, uint64(2), src.Choose(3))
	require.Zero(t, src.Choose(3))
	require.Zero(t, src.Choose(1<<30))
	require.Equal(t, 2, src.Exhausted)
	require.Empty(t, EncodeBytes([]Choice{{N: 5, V: 0}, {N: 1 << 20, V: 0}}))
}

func TestScaleChoiceIsMonotoneAndOnto(t *testing.T) {
	for _, n := range []uint64{2, 3, 5, 7, 200, 255, 256, 257} {
		seen := map[uint64]bool{}
		prev := uint64(0)
		for raw := uint64(0); raw < 1<<10; raw++ {
			v := scaleChoice(raw, 10, n)
			require.Less(t, v, n)
			require.GreaterOrEqual(t, v, prev)
			prev = v
			seen[v] = true
		}
		require.Len(t, seen, int(n), "every value of [0, %d) is reachable", n)
	}
}
