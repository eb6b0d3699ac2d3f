package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// clientScript drives one client (node 3 of 3 replicas) on a rigged
// environment.
type clientScript struct {
	t   *testing.T
	h   *harness
	env *riggedEnv
	c   *Client
}

func newClientScript(t *testing.T, cfg ClientConfig) *clientScript {
	h := newHarness(t, 3, 1, Config{}, ClientConfig{})
	h.now = 1000 * ms
	cs := &clientScript{t: t, h: h, env: &riggedEnv{fakeEnv: h.envs[3]}}
	cfg.Replicas = 3
	cs.c = NewClient(cs.env, cfg)
	h.nodes[3] = cs.c
	return cs
}

func (cs *clientScript) out() []envelope {
	q := cs.h.queue
	cs.h.queue = nil
	return q
}

func (cs *clientScript) timer(t paxos.TimerID) paxos.Time { return cs.env.timers[t] }

// issue fires the think timer with the given draws and returns the request
// sent and the bounds drawn below.
func (cs *clientScript) issue(vals ...uint64) (envelope, []uint64) {
	cs.env.draw, cs.env.asked = draws(vals...), nil
	cs.h.fire(3, timerThink)
	out := cs.out()
	require.Len(cs.t, out, 1)
	require.Equal(cs.t, MsgRequest, out[0].m.Type)
	return out[0], cs.env.asked
}

// answer replies to the waiting command from replica from.
func (cs *clientScript) answer(from int, r Result) {
	call, ok := cs.c.Waiting()
	require.True(cs.t, ok)
	cs.env.draw = nil
	cs.c.Receive(paxos.NodeID(from), reply(call.Cmd, r))
}

func req(to int, cmd Command) envelope {
	return envelope{from: 3, to: paxos.NodeID(to), m: Msg{Type: MsgRequest, Cmd: cmd}}
}

func TestScriptClientStartsAtHomeAndThinks(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 2, Workload: Workload{Ops: 2, Keys: 1, Think: 10 * paxos.Millisecond}})
	cs.env.draw = draws(3)
	cs.c.Start()
	require.Equal(t, []uint64{uint64(10*ms) + 1}, cs.env.asked, "no replica drawn, one pause in [0, Think]")
	require.Equal(t, cs.h.now+10*ms-3, cs.timer(timerThink), "the pause is Think less the draw")
	require.Empty(t, cs.out())
	require.False(t, cs.c.Done())
	_, waiting := cs.c.Waiting()
	require.False(t, waiting)

	cs.h.now += 10 * ms
	e, asked := cs.issue(0, 39)
	require.Equal(t, []uint64{1, 100}, asked)
	require.Equal(t, Command{Op: OpGet, Client: 3, Seq: 1}, e.m.Cmd)
	require.Equal(t, paxos.NodeID(1), e.to, "home is replica Home-1")
	require.Equal(t, cs.h.now+paxos.Time(100*paxos.Millisecond), cs.timer(timerRetry), "default retry")
	call, waiting := cs.c.Waiting()
	require.True(t, waiting)
	require.Equal(t, Call{Cmd: e.m.Cmd, Call: cs.h.now}, call)
	require.Equal(t, []Call{call}, cs.c.Calls())
	require.False(t, cs.c.Done())
}

func TestScriptClientDrawsItsHomeWithoutOne(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Workload: Workload{Ops: 1, Keys: 1}})
	cs.env.draw = drawMax
	cs.c.Start()
	require.Equal(t, []uint64{3, 1}, cs.env.asked)
	require.Equal(t, cs.h.now, cs.timer(timerThink), "Think 0: at once")
	e, _ := cs.issue(0, 0)
	require.Equal(t, paxos.NodeID(2), e.to)
}

func TestScriptClientWithNothingToDoIsDone(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 1})
	cs.c.Start()
	require.True(t, cs.c.Done())
	require.Equal(t, paxos.Time(-1), cs.timer(timerThink))
	require.Empty(t, cs.env.asked)
}

func TestScriptClientRetriesRedirectsAndReplies(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 3, Retry: 50 * paxos.Millisecond, MaxRedirects: 2,
		Workload: Workload{Ops: 2, Keys: 1, Think: 4 * paxos.Millisecond}})
	cs.c.Start()
	e, _ := cs.issue(0, 0)
	cmd := e.m.Cmd
	require.Equal(t, Command{Op: OpGet, Client: 3, Seq: 1}, cmd)
	require.Equal(t, paxos.NodeID(2), e.to)

	// Retry: the same command to the next replica, wrapping around.
	cs.h.now += 50 * ms
	cs.h.fire(3, timerRetry)
	require.Equal(t, []envelope{req(0, cmd)}, cs.out())
	require.Equal(t, cs.h.now+50*ms, cs.timer(timerRetry))

	redirect := func(from int, leader paxos.NodeID, seq Seq) []envelope {
		cs.c.Receive(paxos.NodeID(from), Msg{Type: MsgRedirect, Leader: leader, Cmd: Command{Client: 3, Seq: seq}})
		return cs.out()
	}
	require.Empty(t, redirect(0, -1, 1), "no leader named")
	require.Empty(t, redirect(0, 3, 1), "not a replica")
	require.Empty(t, redirect(0, 0, 1), "the replica it asked")
	require.Empty(t, redirect(0, 1, 7), "another command's")
	require.Equal(t, []envelope{req(1, cmd)}, redirect(0, 1, 1))
	require.Equal(t, []envelope{req(2, cmd)}, redirect(1, 2, 1))
	require.Empty(t, redirect(2, 0, 1), "MaxRedirects followed: wait for the retry")
	cs.h.fire(3, timerRetry)
	require.Equal(t, []envelope{req(0, cmd)}, cs.out(), "a retry moves on from the last replica it asked")
	require.Equal(t, []envelope{req(1, cmd)}, redirect(0, 1, 1), "and resets the redirect count")

	// Replies to other commands are ignored; the reply completes the call.
	cs.c.Receive(1, Msg{Type: MsgReply, Cmd: Command{Client: 3, Seq: 2}})
	_, waiting := cs.c.Waiting()
	require.True(t, waiting)
	require.Panics(t, func() {
		cs.c.Receive(1, Msg{Type: MsgReply, Cmd: Command{Op: OpPut, Client: 3, Seq: 1}})
	}, "a reply for another op under this sequence number")
	require.Panics(t, func() {
		cs.c.Receive(1, Msg{Type: MsgReply, Cmd: Command{Op: OpGet, Key: 1, Client: 3, Seq: 1}})
	})
	require.Panics(t, func() {
		cs.c.Receive(1, Msg{Type: MsgReply, Cmd: Command{Op: OpGet, Client: 4, Seq: 1}})
	})
	require.Panics(t, func() { cs.c.Receive(1, Msg{Type: MsgAccept, Cmd: Command{Seq: 1}}) })
	cs.h.now += 3
	cs.env.draw = draws(1)
	cs.c.Receive(2, reply(cmd, Result{OK: true, Value: "v"}))
	require.Equal(t, []Call{{Cmd: cmd, Call: cs.c.Calls()[0].Call, Return: cs.h.now, Result: Result{OK: true, Value: "v"}, Returned: true}}, cs.c.Calls())
	require.Equal(t, paxos.Time(-1), cs.timer(timerRetry))
	require.Equal(t, cs.h.now+4*ms-1, cs.timer(timerThink))
	require.False(t, cs.c.Done())
	// Late answers and a stale retry timer change nothing.
	cs.c.Receive(1, reply(cmd, Result{}))
	cs.c.Receive(1, Msg{Type: MsgAccept})
	cs.c.Timeout(timerRetry)
	require.Empty(t, cs.out())
	require.Equal(t, "v", cs.c.seen[0])

	// The next command goes to the replica that answered.
	e, _ = cs.issue(0, 0)
	require.Equal(t, paxos.NodeID(2), e.to)
	require.Equal(t, Seq(2), e.m.Cmd.Seq)
	cs.answer(2, Result{OK: true})
	require.True(t, cs.c.Done())
	require.Equal(t, paxos.Time(-1), cs.timer(timerThink), "nothing more to issue")
	cs.c.Timeout(timerThink)
	require.Empty(t, cs.out())
	require.Len(t, cs.c.Calls(), 2)
	require.Panics(t, func() { cs.c.Timeout(9) })
}

func TestScriptClientStopsIssuingAtUntil(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 5, Keys: 1, Until: 2000 * ms}})
	cs.c.Start()
	cs.h.now = 2000*ms - 1
	cs.issue(0, 0)
	cs.answer(0, Result{OK: true})
	require.False(t, cs.c.Done())
	cs.h.now++
	require.True(t, cs.c.Done(), "time is up")
	cs.h.fire(3, timerThink)
	require.Empty(t, cs.out())
	require.Len(t, cs.c.Calls(), 1)
	// Waiting for an answer is not done, time up or not.
	cs = newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 5, Keys: 1, Until: 2000 * ms}})
	cs.c.Start()
	cs.issue(0, 0)
	cs.h.now = 3000 * ms
	require.False(t, cs.c.Done())
}

func TestScriptClientDrawsItsWorkload(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 20, Keys: 3, Locks: 2}})
	cs.c.Start()
	check := func(want Command, wantAsked []uint64, vals ...uint64) {
		t.Helper()
		e, asked := cs.issue(vals...)
		want.Client, want.Seq = 3, cs.c.seq
		require.Equal(t, want, e.m.Cmd)
		require.Equal(t, wantAsked, asked)
	}
	lock := []uint64{2, 2}
	check(Command{Op: OpAcquire, Key: 1}, lock, 1, 1)
	cs.answer(0, Result{OK: true, Token: 1})
	check(Command{Op: OpRelease, Key: 1}, lock, 1, 1)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpAcquire, Key: 1}, lock, 1, 1)
	cs.answer(0, Result{})
	check(Command{Op: OpAcquire, Key: 1}, lock, 1, 1) // refused: still not held
	cs.answer(0, Result{})
	check(Command{Op: OpAcquire, Key: 0}, lock, 1, 0)
	cs.answer(0, Result{OK: true, Token: 4})
	check(Command{Op: OpRelease, Key: 0}, lock, 1, 0)
	cs.answer(0, Result{})

	kv := []uint64{2, 3, 100}
	write := []uint64{2, 3, 100, 12}
	check(Command{Op: OpGet, Key: 2}, kv, 0, 2, 39)
	cs.answer(0, Result{OK: true, Value: "zz"})
	check(Command{Op: OpCAS, Key: 2, Old: "zz", Value: "c3.8;"}, write, 0, 2, 40, 11)
	cs.answer(0, Result{})
	check(Command{Op: OpCAS, Key: 2, Old: "zz", Value: "c3.9;"}, write, 0, 2, 99, 9)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpCAS, Key: 2, Old: "c3.9;", Value: "c3.10;"}, write, 0, 2, 99, 9)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpPut, Key: 1, Value: "c3.11;"}, write, 0, 1, 40, 3)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpAppend, Key: 1, Value: "c3.12;"}, write, 0, 1, 40, 4)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpAppend, Key: 1, Value: "c3.13;"}, write, 0, 1, 40, 8)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpCAS, Key: 1, Old: "c3.11;c3.12;c3.13;", Value: "c3.14;"}, write, 0, 1, 40, 9)
	cs.answer(0, Result{})
	check(Command{Op: OpCAS, Key: 0, Old: "", Value: "c3.15;"}, write, 0, 0, 40, 9)
	cs.answer(0, Result{})
	require.Equal(t, []string{"", "c3.11;c3.12;c3.13;", "c3.10;"}, cs.c.seen)

	// Keys alone, or locks alone: no coin between them.
	cs = newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 3, Keys: 2, ReadPct: 10}})
	cs.c.Start()
	check(Command{Op: OpGet, Key: 1}, []uint64{2, 100}, 1, 9)
	cs.answer(0, Result{OK: true})
	check(Command{Op: OpPut, Key: 1, Value: "c3.2;"}, []uint64{2, 100, 12}, 1, 10, 0)
	cs.answer(0, Result{OK: true})
	cs = newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 3, Keys: 2, ReadPct: 100}})
	cs.c.Start()
	check(Command{Op: OpGet, Key: 0}, []uint64{2, 100}, 0, 99)
	cs = newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Ops: 3, Locks: 3}})
	cs.c.Start()
	check(Command{Op: OpAcquire, Key: 2}, []uint64{3}, 2)
}

func TestScriptClientSpelledOutWorkload(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 1, Workload: Workload{Keys: 2, Locks: 2, Commands: []Command{
		{Op: OpPut, Key: 1},
		{Op: OpCAS, Key: 0, Old: "o", Value: "n"},
		{Op: OpAppend, Key: 1},
		{Op: OpGet, Key: 1},
		{Op: OpAcquire, Key: 1},
	}}})
	require.Equal(t, 5, cs.c.cfg.Workload.Ops, "Ops is the number of commands")
	require.Equal(t, 100*paxos.Millisecond, cs.c.cfg.Retry)
	require.Equal(t, 3, cs.c.cfg.MaxRedirects)
	cs.c.Start()
	var got []Command
	for i := 0; i < 5; i++ {
		e, asked := cs.issue()
		require.Empty(t, asked, "nothing is drawn")
		got = append(got, e.m.Cmd)
		cs.answer(0, Result{OK: true})
	}
	require.Equal(t, []Command{
		{Op: OpPut, Key: 1, Client: 3, Seq: 1, Value: "c3.1;"},
		{Op: OpCAS, Key: 0, Client: 3, Seq: 2, Old: "o", Value: "n"},
		{Op: OpAppend, Key: 1, Client: 3, Seq: 3, Value: "c3.3;"},
		{Op: OpGet, Key: 1, Client: 3, Seq: 4},
		{Op: OpAcquire, Key: 1, Client: 3, Seq: 5},
	}, got)
	require.True(t, cs.c.Done())
}

func TestScriptClientRefusesBadConfigurations(t *testing.T) {
	h := newHarness(t, 3, 1, Config{}, ClientConfig{})
	env := h.envs[3]
	ok := func(cfg ClientConfig) {
		t.Helper()
		cfg.Replicas = 3
		require.NotPanics(t, func() { NewClient(env, cfg) }, "%+v", cfg)
	}
	bad := func(cfg ClientConfig) {
		t.Helper()
		cfg.Replicas = 3
		require.Panics(t, func() { NewClient(env, cfg) }, "%+v", cfg)
	}
	require.Panics(t, func() { NewClient(h.envs[2], ClientConfig{Replicas: 3}) }, "a replica's node")
	ok(ClientConfig{})
	ok(ClientConfig{Home: 3})
	bad(ClientConfig{Home: 4})
	bad(ClientConfig{Home: -1})
	ok(ClientConfig{Workload: Workload{Ops: 1, Keys: 1, ReadPct: 100}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Keys: 1, ReadPct: 101}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Keys: 1, ReadPct: -1}})
	bad(ClientConfig{Workload: Workload{Ops: -1, Keys: 1}})
	ok(ClientConfig{Workload: Workload{Ops: 1, Keys: 256}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Keys: 257}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Keys: -1, Locks: 1}})
	ok(ClientConfig{Workload: Workload{Ops: 1, Locks: 64}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Locks: 65}})
	bad(ClientConfig{Workload: Workload{Ops: 1, Keys: 1, Locks: -1}})
	bad(ClientConfig{Workload: Workload{Ops: 1}})
	ok(ClientConfig{Workload: Workload{Ops: 1, Locks: 1}})
	ok(ClientConfig{Workload: Workload{Keys: 2, Locks: 2, Commands: []Command{{Op: OpGet, Key: 1}, {Op: OpRelease, Key: 1}}}})
	bad(ClientConfig{Workload: Workload{Keys: 2, Commands: []Command{{Op: OpGet, Key: 2}}}})
	bad(ClientConfig{Workload: Workload{Keys: 2, Locks: 2, Commands: []Command{{Op: OpAcquire, Key: 2}}}})
	bad(ClientConfig{Workload: Workload{Keys: 2, Commands: []Command{{Op: OpNoop}}}})
	bad(ClientConfig{Workload: Workload{Keys: 2, Commands: []Command{{Op: numOps}}}})
	bad(ClientConfig{Workload: Workload{Ops: 2, Keys: 2, Commands: []Command{{Op: OpGet}}}})
}

func TestScriptClientFollowsARedirectToReplicaZero(t *testing.T) {
	cs := newClientScript(t, ClientConfig{Home: 2, Workload: Workload{Ops: 1, Keys: 1}})
	cs.c.Start()
	e, _ := cs.issue(0, 0)
	require.Equal(t, paxos.NodeID(1), e.to)
	cs.c.Receive(1, Msg{Type: MsgRedirect, Leader: 0, Cmd: e.m.Cmd})
	require.Equal(t, []envelope{req(0, e.m.Cmd)}, cs.out())
}
