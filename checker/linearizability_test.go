package checker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkBudget is generous: every history here but the deliberately hard one
// is decided in microseconds.
const checkBudget = 10 * time.Second

// linOp is one line of a hand-written history: client, call and return times,
// what was asked and what came back. ret < 0 means it never returned.
type linOp struct {
	client    int
	call, ret int64
	in        Input
	out       Output
}

func linHistory(ops ...linOp) *History {
	h := &History{}
	for _, o := range ops {
		id := h.Call(o.client, o.call, o.in)
		if o.ret >= 0 {
			h.Return(id, o.ret, o.out)
		}
	}
	return h
}

const neverReturns = -1

func answered(v string) Output { return Output{Value: v} }

var ack = Output{}

func TestKVConcurrentLinearizableHistoryPasses(t *testing.T) {
	// Three clients overlap on two keys. The get of x overlaps both puts, so
	// it may see either; cas on y succeeds once only.
	h := linHistory(
		linOp{0, 0, 10, Put("x", "1"), ack},
		linOp{1, 5, 30, Put("x", "2"), ack},
		linOp{2, 8, 25, Get("x"), answered("1")},
		linOp{2, 31, 40, Get("x"), answered("2")},
		linOp{0, 12, 20, Append("y", "a"), ack},
		linOp{1, 32, 50, CAS("y", "a", "b"), Output{OK: true}},
		linOp{0, 35, 45, CAS("y", "a", "c"), Output{OK: false}},
		linOp{2, 41, 60, Get("y"), answered("b")},
		linOp{0, 46, 70, Append("y", "d"), ack},
		linOp{1, 71, 80, Get("y"), answered("bd")},
		linOp{1, 81, 90, Get("never-written"), answered("")},
	)

	res := CheckKV(h, checkBudget)

	require.Equal(t, LinOk, res.Verdict, res.Message)
	require.Nil(t, res.Violation())
}

func TestKVStaleReadIsIllegalAndNamesTheKey(t *testing.T) {
	// put x=2 completed at 30; a get that starts at 40 still sees 1.
	h := linHistory(
		linOp{0, 0, 10, Put("x", "1"), ack},
		linOp{0, 20, 30, Put("x", "2"), ack},
		linOp{1, 5, 15, Put("y", "unrelated"), ack},
		linOp{1, 40, 50, Get("x"), answered("1")},
	)

	res := CheckKV(h, checkBudget)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `key "x" is not linearizable`)
	require.Contains(t, res.Message, `state "2"`)
	require.Contains(t, res.Message, `client 1 get("x") -> "1" [40µs, 50µs]`)
	require.NotContains(t, res.Message, "\n")
	v := res.Violation()
	require.NotNil(t, v)
	require.Equal(t, "linearizability", v.Kind)
	require.Equal(t, res.Message, v.Message)
	require.Equal(t, int64(50), v.Time, "the history is stuck once the stale get has returned")
}

func TestKVLostUpdateIsIllegal(t *testing.T) {
	// Two appends both acknowledged, but a later read shows only one.
	h := linHistory(
		linOp{0, 0, 10, Append("log", "a"), ack},
		linOp{1, 2, 12, Append("log", "b"), ack},
		linOp{2, 20, 30, Get("log"), answered("b")},
	)

	res := CheckKV(h, checkBudget)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `key "log"`)
	require.Contains(t, res.Message, `get("log") -> "b"`)
}

func TestKVDoubleAppliedAppendIsIllegal(t *testing.T) {
	// A retried append applied twice: exactly-once sessions failed.
	h := linHistory(
		linOp{0, 0, 10, Append("log", "a"), ack},
		linOp{1, 20, 30, Get("log"), answered("aa")},
	)

	res := CheckKV(h, checkBudget)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `get("log") -> "aa"`)
}

func TestKVCASMustAgreeWithTheValue(t *testing.T) {
	// Both cas calls from the same old value succeed: one of them saw a value
	// that was already gone.
	h := linHistory(
		linOp{0, 0, 10, Put("k", "0"), ack},
		linOp{1, 20, 30, CAS("k", "0", "1"), Output{OK: true}},
		linOp{2, 25, 35, CAS("k", "0", "2"), Output{OK: true}},
	)

	res := CheckKV(h, checkBudget)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `cas("k", "0", `)
}

func TestKVPendingPutMayOrMayNotTakeEffect(t *testing.T) {
	// Client 0 crashes while its put is in flight. Later reads may see the
	// put or not; but once one read has seen it, it has happened. A read
	// that never returned constrains nothing.
	base := []linOp{
		{0, 0, 10, Put("x", "old"), ack},
		{0, 20, neverReturns, Put("x", "new"), Output{}},
		{2, 30, neverReturns, Get("x"), Output{}},
	}
	for _, tc := range []struct {
		name  string
		reads []linOp
		want  LinVerdict
	}{
		{"took effect", []linOp{{1, 100, 110, Get("x"), answered("new")}}, LinOk},
		{"never took effect", []linOp{{1, 100, 110, Get("x"), answered("old")}}, LinOk},
		{"took effect late", []linOp{{1, 100, 110, Get("x"), answered("old")}, {1, 120, 130, Get("x"), answered("new")}}, LinOk},
		{"undone after taking effect", []linOp{{1, 100, 110, Get("x"), answered("new")}, {1, 120, 130, Get("x"), answered("old")}}, LinIllegal},
		{"seen before it was called", []linOp{{1, 11, 15, Get("x"), answered("new")}}, LinIllegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := linHistory(append(append([]linOp{}, base...), tc.reads...)...)

			res := CheckKV(h, checkBudget)

			require.Equal(t, tc.want, res.Verdict, res.Message)
		})
	}
}

func TestLockTwoHoldersAtOnceIsIllegal(t *testing.T) {
	// Client 0 holds "leader" and never releases; client 1 acquires it anyway.
	h := linHistory(
		linOp{0, 0, 10, Acquire("leader", 0), Output{OK: true, Token: 1}},
		linOp{1, 20, 30, Acquire("leader", 1), Output{OK: true, Token: 2}},
	)

	res := CheckLock(h, checkBudget)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `lock "leader" is not linearizable`)
	require.Contains(t, res.Message, "held by 0")
	require.Contains(t, res.Message, `client 1 acquire("leader", 1) -> token 2 [20µs, 30µs]`)
	require.Equal(t, "linearizability", res.Violation().Kind)
}

func TestLockFencingTokenThatDoesNotIncreaseIsIllegal(t *testing.T) {
	for _, second := range []uint64{1, 0} {
		t.Run(fmt.Sprintf("token %d after 1", second), func(t *testing.T) {
			h := linHistory(
				linOp{0, 0, 10, Acquire("L", 0), Output{OK: true, Token: 1}},
				linOp{0, 20, 30, Release("L", 0), Output{OK: true}},
				linOp{1, 40, 50, Acquire("L", 1), Output{OK: true, Token: second}},
			)

			res := CheckLock(h, checkBudget)

			require.Equal(t, LinIllegal, res.Verdict)
			require.Contains(t, res.Message, fmt.Sprintf(`acquire("L", 1) -> token %d`, second))
		})
	}
}

func TestLockContentionPasses(t *testing.T) {
	// Concurrent acquires: exactly one wins; a release by a non-holder fails;
	// tokens may skip values but always rise.
	h := linHistory(
		linOp{0, 0, 10, Acquire("L", 0), Output{OK: true, Token: 1}},
		linOp{1, 2, 12, Acquire("L", 1), Output{OK: false}},
		linOp{1, 15, 18, Release("L", 1), Output{OK: false}},
		linOp{0, 20, 30, Release("L", 0), Output{OK: true}},
		linOp{1, 31, 40, Acquire("L", 1), Output{OK: true, Token: 7}},
		linOp{2, 0, 5, Acquire("other", 2), Output{OK: true, Token: 1}},
	)

	res := CheckLock(h, checkBudget)

	require.Equal(t, LinOk, res.Verdict, res.Message)
}

func TestLockPendingAcquireMayOrMayNotTakeEffect(t *testing.T) {
	// Owner 0 times out during acquire. If it took the lock, owner 1 cannot;
	// either answer to owner 1 is linearizable. When owner 0, back under a
	// fresh client id, releases the lock, the lost acquire did take effect,
	// and its unseen token was at least 1: the next one must exceed it.
	lost := linOp{0, 0, neverReturns, Acquire("L", 0), Output{}}
	releasedByOwner0 := linOp{3, 100, 110, Release("L", 0), Output{OK: true}}
	for _, tc := range []struct {
		name  string
		later []linOp
		want  LinVerdict
	}{
		{"it took the lock", []linOp{{1, 100, 110, Acquire("L", 1), Output{OK: false}}}, LinOk},
		{"it did not", []linOp{{1, 100, 110, Acquire("L", 1), Output{OK: true, Token: 1}}}, LinOk},
		{"its token is exceeded", []linOp{releasedByOwner0, {1, 120, 130, Acquire("L", 1), Output{OK: true, Token: 2}}}, LinOk},
		{"its token is reused", []linOp{releasedByOwner0, {1, 120, 130, Acquire("L", 1), Output{OK: true, Token: 1}}}, LinIllegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := linHistory(append([]linOp{lost}, tc.later...)...)

			res := CheckLock(h, checkBudget)

			require.Equal(t, tc.want, res.Verdict, res.Message)
		})
	}
}

func TestEachCheckSeesOnlyItsOwnService(t *testing.T) {
	// A key and a lock with the same name are different objects.
	h := linHistory(
		linOp{0, 0, 10, Acquire("x", 0), Output{OK: true, Token: 1}},
		linOp{1, 20, 30, Get("x"), answered("")},
	)

	require.Equal(t, LinOk, CheckKV(h, checkBudget).Verdict)
	require.Equal(t, LinOk, CheckLock(h, checkBudget).Verdict)
}

// hardHistory makes porcupine search every order of n concurrent appends:
// each order gives a different value, so memoization cannot help, and the
// final read matches none of them. n = 14 is 14! ≈ 8.7e10 orders.
func hardHistory(n int) *History {
	h := &History{}
	want := ""
	for c := range n {
		v := string(rune('a' + c))
		h.Return(h.Call(c, 0, Append("x", v)), 100, Output{})
		want += v
	}
	h.Return(h.Call(n, 200, Get("x")), 210, answered(want[1:])) // one append lost
	return h
}

func TestOutOfBudgetIsUnknownNeverOk(t *testing.T) {
	// The hard history cannot be decided in any of these budgets, so the
	// verdict does not depend on the machine: the 1ns budget runs out before
	// or just as porcupine starts, the 20ms one deep inside its search.
	for _, tiny := range []time.Duration{time.Nanosecond, 20 * time.Millisecond} {
		t.Run(tiny.String(), func(t *testing.T) {
			res := CheckKV(hardHistory(14), tiny)

			require.Equal(t, LinUnknown, res.Verdict)
			require.Nil(t, res.Violation(), "an undecided check is not a violation, and never a pass")
			require.Contains(t, res.Message, `key "x" (15 ops) undecided within the `+tiny.String()+` budget`)
		})
	}
}

func TestZeroResultIsUnknown(t *testing.T) {
	var res LinResult
	require.Equal(t, LinUnknown, res.Verdict)
	require.Equal(t, "unknown", res.Verdict.String())
	_, err := res.HTML()
	require.Error(t, err)
}

func TestIllegalMessageIsTheSameEveryRun(t *testing.T) {
	// Many concurrent ops give porcupine many partial linearizations, which it
	// returns in map order.
	h := &History{}
	for c := range 6 {
		h.Return(h.Call(c, 0, Put("x", fmt.Sprint(c))), 100, Output{})
	}
	h.Return(h.Call(6, 200, Get("x")), 210, answered("9"))
	first := CheckKV(h, checkBudget).Message
	for range 20 {
		require.Equal(t, first, CheckKV(h, checkBudget).Message)
	}
}

func TestHTMLShowsTheFailingHistory(t *testing.T) {
	h := linHistory(
		linOp{0, 0, 10, Put("x", "1"), ack},
		linOp{0, 20, 30, Put("x", "2"), ack},
		linOp{1, 40, 50, Get("x"), answered("1")},
		linOp{2, 0, neverReturns, Put("y", "lost"), Output{}},
	)
	res := CheckKV(h, checkBudget)
	require.Equal(t, LinIllegal, res.Verdict)

	page, err := res.HTML()

	require.NoError(t, err)
	html := string(page)
	require.True(t, strings.HasPrefix(html, "<!doctype html>"), html[:min(len(html), 80)])
	// porcupine embeds the history as JSON, which escapes quotes and '>'.
	require.Contains(t, html, `get(\"x\") -\u003e \"1\"`)
	require.Contains(t, html, `put(\"y\", \"lost\") -\u003e ?`)
}

func TestHistoryRejectsMisuse(t *testing.T) {
	h := &History{}
	id := h.Call(0, 10, Get("x"))
	require.Equal(t, 1, h.Len())

	require.Panics(t, func() { h.Return(id, 9, answered("")) }, "returns before its call")
	h.Return(id, 10, answered(""))
	require.Panics(t, func() { h.Return(id, 11, answered("")) }, "returns twice")
	require.Panics(t, func() { h.Return(OpID(1), 11, answered("")) }, "no such op")
	require.Panics(t, func() { h.Call(-1, 0, Get("x")) }, "negative client")
	require.Panics(t, func() { h.Call(0, 0, Input{Key: "x"}) }, "no kind")
	require.Panics(t, func() { CheckKV(h, 0) }, "zero budget would mean no limit to porcupine")
}

// One key that no budget decides must not hide another key that is plainly
// not linearizable: illegal on any key wins over undecided on another, and
// the whole check, explanation included, stays near its budget.
func TestIllegalKeyWinsOverAnUndecidedOne(t *testing.T) {
	h := hardHistory(14)
	h.Return(h.Call(20, 300, Put("y", "1")), 310, Output{})
	h.Return(h.Call(21, 320, Get("y")), 330, answered("2")) // a value never written
	budget := 200 * time.Millisecond
	start := time.Now()
	res := CheckKV(h, budget)
	require.Equal(t, LinIllegal, res.Verdict, res.Message)
	require.Contains(t, res.Message, `"y"`)
	require.Less(t, time.Since(start), 3*budget)
}
