package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

func TestKeyValueStore(t *testing.T) {
	s := NewServices(2, 0, 0)
	seq := Seq(0)
	do := func(c Command) Result {
		seq++
		c.Client, c.Seq = 7, seq
		r, out := s.Apply(c)
		require.Equal(t, Executed, out)
		return r
	}
	require.Equal(t, Result{OK: true, Value: ""}, do(Command{Op: OpGet, Key: 0}))
	do(Command{Op: OpPut, Key: 0, Value: "a"})
	do(Command{Op: OpAppend, Key: 0, Value: "b"})
	require.Equal(t, "ab", do(Command{Op: OpGet, Key: 0}).Value)
	require.False(t, do(Command{Op: OpCAS, Key: 0, Old: "a", Value: "c"}).OK)
	require.True(t, do(Command{Op: OpCAS, Key: 0, Old: "ab", Value: "c"}).OK)
	require.Equal(t, "c", s.Get(0))
	require.Equal(t, "", s.Get(1))
	_, out := s.Apply(Noop)
	require.Equal(t, Skipped, out)
}

func TestLockServiceHandsOutIncreasingFencingTokens(t *testing.T) {
	s := NewServices(0, 2, 0)
	seqs := map[ClientID]Seq{}
	do := func(op Op, lock uint8, c ClientID) Result {
		seqs[c]++
		r, out := s.Apply(Command{Op: op, Key: lock, Client: c, Seq: seqs[c]})
		require.Equal(t, Executed, out)
		return r
	}
	require.Equal(t, Result{OK: true, Token: 1}, do(OpAcquire, 0, 5))
	require.False(t, do(OpAcquire, 0, 6).OK, "held by another")
	require.False(t, do(OpAcquire, 0, 5).OK, "not reentrant")
	require.False(t, do(OpRelease, 0, 6).OK, "only the holder releases")
	require.Equal(t, Result{OK: true, Token: 1}, do(OpAcquire, 1, 6), "locks are independent")
	require.True(t, do(OpRelease, 0, 5).OK)
	require.Equal(t, Result{OK: true, Token: 2}, do(OpAcquire, 0, 6))
}

func TestSessionsApplyEachCommandOnce(t *testing.T) {
	s := NewServices(1, 0, 0)
	app := Command{Op: OpAppend, Client: 4, Seq: 1, Value: "x"}
	r, out := s.Apply(app)
	require.Equal(t, Executed, out)
	r2, out := s.Apply(app)
	require.Equal(t, Duplicate, out)
	require.Equal(t, r, r2, "a duplicate answers with the cached result")
	_, out = s.Apply(Command{Op: OpGet, Client: 4, Seq: 2})
	require.Equal(t, Executed, out)
	_, out = s.Apply(app)
	require.Equal(t, Stale, out)
	require.Equal(t, "x", s.Get(0))

	buggy := NewServices(1, 0, paxos.NoDedup)
	buggy.Apply(app)
	_, out = buggy.Apply(app)
	require.Equal(t, Executed, out)
	require.Equal(t, "xx", buggy.Get(0), "bug no-dedup executes a retry again")
}
