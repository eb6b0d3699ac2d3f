package checker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMultiLogCloneIsIndependent(t *testing.T) {
	c := NewMultiLog[cmd](3)
	choose(t, c, 1, b1, putA)
	require.Nil(t, c.Accepted(0, 2, b2, putB, 1))
	require.Nil(t, c.Decided(0, 1, b1, putA, 1))
	require.Nil(t, c.Applied(0, 1, putA, true, 2))
	require.Nil(t, c.Granted(0, 1, 0, 1, 2))
	fp := c.Fingerprint()

	d := c.Clone()
	require.Equal(t, fp, d.Fingerprint())
	require.Nil(t, d.Applied(1, 1, putA, true, 3))
	require.Nil(t, d.Granted(1, 1, 0, 1, 3))
	require.Nil(t, d.Accepted(1, 2, b2, putB, 4))
	require.Nil(t, d.Decided(2, 2, b2, putB, 4))
	require.Nil(t, d.Applied(0, 2, putB, true, 5))
	d.Restarted(0)
	require.NotEqual(t, fp, d.Fingerprint())
	require.Equal(t, fp, c.Fingerprint(), "recording into a clone changed the original")
	require.Equal(t, uint64(1), c.AppliedUpTo(0))
	require.Equal(t, uint64(2), c.Slots())
	require.NotNil(t, c.Decided(2, 2, b2, putB, 4), "the clone's acceptance of slot 2 leaked into the original")

	// The clone still checks against what it saw before the copy.
	require.NotNil(t, d.Decided(1, 1, b2, putB, 6))
}

func TestMultiLogFingerprintIgnoresReportOrder(t *testing.T) {
	a, b := NewMultiLog[cmd](2), NewMultiLog[cmd](2)
	require.Nil(t, a.Accepted(0, 1, b1, putA, 0))
	require.Nil(t, a.Accepted(1, 1, b2, putA, 0))
	require.Nil(t, a.Accepted(1, 1, b1, putA, 0))
	require.Nil(t, b.Accepted(1, 1, b1, putA, 0))
	require.Nil(t, b.Accepted(1, 1, b2, putA, 0))
	require.Nil(t, b.Accepted(0, 1, b1, putA, 0))
	require.Nil(t, a.Decided(0, 1, b1, putA, 1))
	require.Nil(t, a.Decided(1, 1, b2, putA, 2))
	require.Nil(t, b.Decided(1, 1, b2, putA, 1))
	require.Nil(t, b.Decided(0, 1, b1, putA, 2))
	require.Equal(t, a.Fingerprint(), b.Fingerprint())
	require.Nil(t, a.Applied(0, 1, putA, true, 3))
	require.NotEqual(t, a.Fingerprint(), b.Fingerprint())
}

func TestHistoryCloneAndFingerprint(t *testing.T) {
	h := &History{}
	w := h.Call(0, 1, Put("k", "v"))
	r := h.Call(1, 2, Get("k"))
	fp := h.Fingerprint()

	d := h.Clone()
	require.Equal(t, fp, d.Fingerprint())
	d.Return(w, 3, Output{})
	require.NotEqual(t, fp, d.Fingerprint())
	require.Equal(t, fp, h.Fingerprint(), "returning in a clone changed the original")

	// The same operations recorded in the other order hash alike.
	o := &History{}
	r2 := o.Call(1, 2, Get("k"))
	o.Call(0, 1, Put("k", "v"))
	require.Equal(t, fp, o.Fingerprint())
	o.Return(r2, 4, Output{Value: "v"})
	h.Return(r, 4, Output{Value: "v"})
	require.Equal(t, h.Fingerprint(), o.Fingerprint())
	h2 := h.Clone()
	h2.ops[0].out.Value = "x"
	require.NotEqual(t, h.Fingerprint(), h2.Fingerprint())
}
