package multipaxos

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

func TestScriptSessionTable(t *testing.T) {
	s := NewServices(2, 1, 0)
	seq, r := s.LastSeq(9)
	require.Equal(t, Seq(0), seq)
	require.Equal(t, Result{}, r, "an unknown client has no session")

	// A client id far past the table grows it.
	cas := Command{Op: OpCAS, Key: 0, Client: 9, Seq: 3, Old: "x", Value: "y"}
	r, out := s.Apply(cas)
	require.Equal(t, Executed, out)
	require.Equal(t, Result{}, r)
	seq, last := s.LastSeq(9)
	require.Equal(t, Seq(3), seq)
	require.Equal(t, Result{}, last)
	seq, _ = s.LastSeq(8)
	require.Equal(t, Seq(0), seq)

	// The duplicate answers the cached result, even if executing it again
	// would now succeed.
	s.Apply(Command{Op: OpPut, Key: 0, Client: 2, Seq: 1, Value: "x"})
	r, out = s.Apply(cas)
	require.Equal(t, Duplicate, out)
	require.Equal(t, Result{}, r)
	require.Equal(t, "x", s.Get(0))
	// Older: stale, nothing changes.
	r, out = s.Apply(Command{Op: OpPut, Key: 0, Client: 9, Seq: 2, Value: "old"})
	require.Equal(t, Stale, out)
	require.Equal(t, Result{}, r)
	require.Equal(t, "x", s.Get(0))
	// Newer: executed, the session moves on, a gap in sequence numbers is
	// fine.
	r, out = s.Apply(Command{Op: OpGet, Key: 0, Client: 9, Seq: 7})
	require.Equal(t, Executed, out)
	require.Equal(t, Result{OK: true, Value: "x"}, r)
	seq, last = s.LastSeq(9)
	require.Equal(t, Seq(7), seq)
	require.Equal(t, Result{OK: true, Value: "x"}, last)
	seq, _ = s.LastSeq(2)
	require.Equal(t, Seq(1), seq)

	// Bug no-dedup: everything executes, but the session keeps the newest.
	bug := NewServices(1, 0, paxos.NoDedup)
	app := func(seq Seq) Command { return Command{Op: OpAppend, Client: 0, Seq: seq, Value: fmt.Sprint(seq)} }
	for _, q := range []Seq{2, 1, 2} {
		_, out := bug.Apply(app(q))
		require.Equal(t, Executed, out)
	}
	require.Equal(t, "212", bug.Get(0))
	seq, _ = bug.LastSeq(0)
	require.Equal(t, Seq(2), seq)

	require.Panics(t, func() { s.Apply(Command{Op: OpGet, Client: -1, Seq: 1}) })
	require.Panics(t, func() { s.Apply(Command{Op: OpGet, Client: 1, Seq: 0}) })
	require.Panics(t, func() { s.Apply(Command{Op: numOps, Client: 1, Seq: 1}) })
	require.NotPanics(t, func() { s.Apply(Command{Op: OpGet, Client: 0, Seq: 1}) })
}

func TestScriptLocks(t *testing.T) {
	s := NewServices(0, 2, 0)
	seq := map[ClientID]Seq{}
	do := func(op Op, l uint8, c ClientID) Result {
		seq[c]++
		r, out := s.Apply(Command{Op: op, Key: l, Client: c, Seq: seq[c]})
		require.Equal(t, Executed, out)
		return r
	}
	require.Equal(t, Result{}, do(OpRelease, 1, 0), "a free lock")
	require.Equal(t, Result{}, do(OpRelease, 1, 4), "a free lock")
	require.Equal(t, Result{OK: true, Token: 1}, do(OpAcquire, 1, 0), "client 0 is a client like any other")
	require.Equal(t, Result{}, do(OpRelease, 1, 4))
	require.Equal(t, Result{OK: true}, do(OpRelease, 1, 0))
	require.Equal(t, Result{}, do(OpRelease, 1, 0), "released already")
	require.Equal(t, Result{OK: true, Token: 2}, do(OpAcquire, 1, 4))
	require.Equal(t, Result{OK: true}, do(OpRelease, 1, 4))
	require.Equal(t, Result{OK: true, Token: 3}, do(OpAcquire, 1, 0))
	require.Equal(t, Result{OK: true, Token: 1}, do(OpAcquire, 0, 4))
}

func TestScriptServicesBounds(t *testing.T) {
	for _, c := range []struct {
		keys, locks int
		ok          bool
	}{
		{0, 0, true}, {256, 256, true}, {257, 0, false}, {0, 257, false}, {-1, 0, false}, {0, -1, false},
	} {
		if c.ok {
			s := NewServices(c.keys, c.locks, 0)
			require.Len(t, s.kv, c.keys)
			require.Len(t, s.locks, c.locks)
		} else {
			require.Panics(t, func() { NewServices(c.keys, c.locks, 0) }, "%d keys %d locks", c.keys, c.locks)
		}
	}
	require.Equal(t, []string{"?", "executed", "duplicate", "stale", "skipped", "outcome(5)"},
		[]string{Outcome(0).String(), Executed.String(), Duplicate.String(), Stale.String(), Skipped.String(), Outcome(5).String()})
}

// The exactly-once table is replicated state: a replica that restarts and
// replays its decided log rebuilds it, and answers a retry from it.
func TestScriptSessionsSurviveReplay(t *testing.T) {
	sc := newScript(t, 3, 0, Config{Keys: 1})
	app := Command{Op: OpAppend, Key: 0, Client: 3, Seq: 1, Value: "x"}
	sc.env.disk.recs = []any{decideRecord{S: 1, C: app}, decideRecord{S: 2, C: app}}
	sc.s.Start()
	require.Equal(t, "x", sc.s.Services().Get(0))
	ev := sc.events()
	require.Equal(t, Duplicate, ev[len(ev)-1].Outcome)
	sc.elect()
	require.Equal(t, []envelope{sc.to(3, reply(app, Result{OK: true}))}, sc.request(app))
}
