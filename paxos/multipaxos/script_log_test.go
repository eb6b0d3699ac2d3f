package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// --- commit propagation ---

func TestScriptFollowerLearnsCommitFromHeartbeatsAndAccepts(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4})
	bal := b(1, 0)
	cmds := []Command{cput(3, 1, 0, "a"), cput(3, 2, 1, "b"), cput(3, 3, 2, "c"), cput(3, 4, 3, "d")}
	for i, c := range cmds[:3] {
		sc.recv(0, Msg{Type: MsgAccept, Ballot: bal, Slot: Slot(i + 1), Cmd: c})
	}
	sc.clear()

	// Commit 2: slots 1 and 2 are decided and applied, in order; slot 3 is
	// not.
	require.Empty(t, sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: bal, Commit: 2}))
	require.Equal(t, []any{decideRecord{S: 1, C: cmds[0]}, decideRecord{S: 2, C: cmds[1]}}, sc.written())
	require.Equal(t, []Event{
		{Kind: EvDecided, Slot: 1, Ballot: bal, Cmd: cmds[0]},
		{Kind: EvDecided, Slot: 2, Ballot: bal, Cmd: cmds[1]},
		{Kind: EvApplied, Slot: 1, Cmd: cmds[0], Outcome: Executed, Result: Result{OK: true}},
		{Kind: EvApplied, Slot: 2, Cmd: cmds[1], Outcome: Executed, Result: Result{OK: true}},
	}, sc.events())
	require.Equal(t, Slot(2), sc.s.Commit())
	require.Equal(t, Slot(2), sc.s.Applied())
	_, ok := sc.s.Decided(3)
	require.False(t, ok)
	// The same commit index again changes nothing.
	require.Empty(t, sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: bal, Commit: 2}))
	require.Empty(t, sc.events())

	// An accept carries the commit index too; a follower replies to no
	// client.
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgAccepted, Ballot: bal, Slot: 4})},
		sc.recv(0, Msg{Type: MsgAccept, Ballot: bal, Slot: 4, Cmd: cmds[3], Commit: 3}))
	require.Equal(t, Slot(3), sc.s.Commit())
	require.Equal(t, "c", sc.s.Services().Get(2))
	require.Equal(t, paxos.NodeID(0), sc.s.leader)
}

func TestScriptFollowerAsksForWhatItDidNotAcceptAtTheLeadersBallot(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4, Retransmit: 60 * paxos.Millisecond})
	a, x, y := cput(3, 1, 0, "a"), cput(3, 2, 0, "x"), cput(3, 3, 1, "y")
	sc.recv(0, Msg{Type: MsgAccept, Ballot: b(1, 0), Slot: 1, Cmd: a})
	sc.clear()
	// Leader 2.2 decided slot 1 (maybe something else) and slot 2, which
	// this replica never saw.
	req := []envelope{sc.to(2, Msg{Type: MsgCatchupReq, Ballot: b(2, 2), Slot: 1})}
	require.Equal(t, req, sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(2, 2), Commit: 2}))
	require.Equal(t, Slot(0), sc.s.Commit(), "an acceptance at another ballot is not the leader's decision")
	// Asked already: not again until the retransmit time has passed.
	sc.h.now += 60*ms - 1
	require.Empty(t, sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(2, 2), Commit: 2}))
	sc.h.now++
	require.Equal(t, req, sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(2, 2), Commit: 2}))

	// The catch-up brings the decisions; it overrides the acceptance.
	require.Empty(t, sc.recv(2, Msg{Type: MsgCatchup, Ballot: b(2, 2), Slot: 1, Commit: 2, Entries: []Entry{
		{Slot: 1, Cmd: x, Decided: true},
	}}))
	require.Equal(t, Slot(1), sc.s.Commit())
	got, _ := sc.s.Decided(1)
	require.Equal(t, x, got)
	// An answer resets the wait: the next gap is asked for at once.
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgCatchupReq, Ballot: b(2, 2), Slot: 2})},
		sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(2, 2), Commit: 2}))
	require.Empty(t, sc.recv(2, Msg{Type: MsgCatchup, Ballot: b(2, 2), Slot: 2, Commit: 3, Entries: []Entry{
		{Slot: 2, Cmd: y, Decided: true},
	}}))
	require.Equal(t, Slot(2), sc.s.Commit())
	require.Equal(t, "y", sc.s.Services().Get(1))
	require.Equal(t, "x", sc.s.Services().Get(0))
}

func TestScriptCatchupRequestIsAnsweredWithDecidedSlots(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 4, CatchupMax: 2})
	c := []Command{cput(3, 1, 0, "1"), cput(3, 2, 0, "2"), cput(3, 3, 0, "3"), cput(3, 4, 0, "4")}
	sc.recv(1, Msg{Type: MsgCatchup, Ballot: b(1, 1), Entries: []Entry{
		{Slot: 1, Cmd: c[0], Decided: true}, {Slot: 2, Cmd: c[1], Decided: true},
		{Slot: 4, Cmd: c[3], Decided: true}, {Slot: 5, Cmd: c[2], Decided: true},
	}})
	require.Equal(t, Slot(2), sc.s.Commit())
	sc.clear()
	bal := b(3, 1)
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgCatchup, Ballot: bal, Slot: 1, Commit: 2, Entries: []Entry{
		{Slot: 1, Cmd: c[0], Decided: true}, {Slot: 2, Cmd: c[1], Decided: true},
	}})}, sc.recv(2, Msg{Type: MsgCatchupReq, Ballot: bal, Slot: 1}), "at most CatchupMax entries")
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgCatchup, Ballot: bal, Slot: 2, Commit: 2, Entries: []Entry{
		{Slot: 2, Cmd: c[1], Decided: true}, {Slot: 4, Cmd: c[3], Decided: true},
	}})}, sc.recv(2, Msg{Type: MsgCatchupReq, Ballot: bal, Slot: 2}), "undecided slots are skipped")
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgCatchup, Ballot: bal, Slot: 5, Commit: 2, Entries: []Entry{
		{Slot: 5, Cmd: c[2], Decided: true},
	}})}, sc.recv(2, Msg{Type: MsgCatchupReq, Ballot: bal, Slot: 5}), "up to the top of the log")
	require.Empty(t, sc.recv(2, Msg{Type: MsgCatchupReq, Ballot: bal, Slot: 6}), "nothing to say")
	require.Empty(t, sc.written(), "answering writes nothing")
	require.Equal(t, b(0, 0), sc.s.Promised(), "nor promises anything")
}

// --- the leader: requests, window, heartbeats ---

func reply(c Command, r Result) Msg {
	return Msg{Type: MsgReply, Cmd: Command{Op: c.Op, Key: c.Key, Client: c.Client, Seq: c.Seq}, Result: r}
}

func TestScriptLeaderWindowQueueAndDuplicates(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 4, Window: 2, MaxQueue: 2})
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	c := []Command{{}, cput(cl, 1, 0, "1"), cput(cl, 2, 1, "2"), cput(cl, 3, 2, "3"), cput(cl, 4, 3, "4"), cput(cl, 5, 3, "5")}

	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: c[1]}), sc.request(c[1]))
	require.Empty(t, sc.request(c[1]), "in flight already")
	require.Empty(t, sc.s.queue)
	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: c[2]}), sc.request(c[2]))
	require.Empty(t, sc.request(c[3]), "beyond the window: queued")
	require.Equal(t, []Command{c[3]}, sc.s.queue)
	require.Empty(t, sc.request(c[3]), "queued already")
	require.Equal(t, []Command{c[3]}, sc.s.queue)
	require.Empty(t, sc.request(c[4]), "queued too")
	require.Equal(t, []Command{c[3], c[4]}, sc.s.queue)
	require.Empty(t, sc.request(c[5]), "the queue is full: dropped")
	require.Equal(t, []Command{c[3], c[4]}, sc.s.queue)
	require.Len(t, sc.written(), 2)
	require.Equal(t, Slot(3), sc.s.next)

	// Slot 1 decided: it is applied and answered, and the first queued
	// command takes the slot the window frees.
	out := sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, append([]envelope{sc.to(cl, reply(c[1], Result{OK: true}))},
		sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: c[3], Commit: 1})...), out)
	require.Equal(t, []Command{c[4]}, sc.s.queue)
	require.Empty(t, sc.request(c[5]), "the queue has room again, but the window is full")
	require.Equal(t, []Command{c[4], c[5]}, sc.s.queue)

	// A retry of an applied command is answered from the session table,
	// without a slot; an older one is ignored.
	require.Equal(t, []envelope{sc.to(cl, reply(c[1], Result{OK: true}))}, sc.request(c[1]))
	out = sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
	require.Equal(t, append([]envelope{sc.to(cl, reply(c[2], Result{OK: true}))},
		sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 4, Cmd: c[4], Commit: 2})...), out)
	sc.clear()
	require.Empty(t, sc.request(c[1]), "the client has moved on")
	require.Equal(t, Slot(5), sc.s.next)
	require.Equal(t, []Command{c[5]}, sc.s.queue)
}

func TestScriptLeaderAppliesInSlotOrder(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 4})
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	app := func(seq Seq, v string) Command {
		return Command{Op: OpAppend, Key: 0, Client: ClientID(cl), Seq: seq, Value: v}
	}
	sc.request(app(1, "a"))
	sc.request(app(2, "b"))
	sc.clear()
	require.Empty(t, sc.recv(2, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2}))
	require.Equal(t, Slot(0), sc.s.Applied(), "slot 2 waits for slot 1")
	require.Equal(t, []Event{{Kind: EvDecided, Slot: 2, Ballot: bal, Cmd: app(2, "b")}}, sc.events())
	out := sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, []envelope{
		sc.to(cl, reply(app(1, ""), Result{OK: true})),
		sc.to(cl, reply(app(2, ""), Result{OK: true})),
	}, out)
	require.Equal(t, "ab", sc.s.Services().Get(0))
	ev := sc.events()
	require.Len(t, ev, 3)
	require.Equal(t, EvApplied, ev[1].Kind)
	require.Equal(t, Slot(1), ev[1].Slot)
	require.Equal(t, Slot(2), ev[2].Slot)
}

func TestScriptLeaderAnswersDuplicatesNotStaleCommands(t *testing.T) {
	// Two slots hold the same command (a retry that reached a new leader
	// before the first was known decided), and one an older command of
	// the same client: the duplicate is answered from the session, the
	// stale one not at all.
	sc := started(t, 3, 0, Config{Keys: 4})
	sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: 1})
	sc.campaign()
	bal := sc.s.Ballot()
	cl := sc.client()
	c1, c2 := cput(cl, 1, 0, "1"), cput(cl, 2, 0, "2")
	sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{
		{Slot: 1, Ballot: b(1, 2), Cmd: c2}, {Slot: 2, Ballot: b(1, 2), Cmd: c2}, {Slot: 3, Ballot: b(1, 2), Cmd: c1},
	}})
	sc.clear()
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
	out := sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 3})
	require.Empty(t, out, "a stale command is answered to nobody")
	ev := sc.events()
	var outcomes []Outcome
	for _, e := range ev {
		if e.Kind == EvApplied {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	require.Equal(t, []Outcome{Executed, Duplicate, Stale}, outcomes)
}

func TestScriptHeartbeatsAndRetransmits(t *testing.T) {
	hb, rt := 30*ms, 60*ms
	sc := started(t, 5, 0, Config{Keys: 4, Heartbeat: paxos.Duration(hb), Retransmit: paxos.Duration(rt)})
	sc.elect()
	bal := sc.s.Ballot()
	t0 := sc.h.now
	require.Equal(t, t0+hb, sc.timer(timerHeartbeat))

	// Nothing new and not yet a heartbeat period: silence, timer re-armed.
	sc.h.now = t0 + hb - 1
	require.Empty(t, sc.fire(timerHeartbeat))
	require.Equal(t, sc.h.now+hb, sc.timer(timerHeartbeat))
	sc.h.now = t0 + hb
	require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal}), sc.fire(timerHeartbeat))

	// A proposal counts as a heartbeat.
	t1 := sc.h.now + 5*ms
	sc.h.now = t1
	cmd := cput(sc.client(), 1, 0, "v")
	sc.request(cmd)
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	sc.written()
	require.Equal(t, Slot(0), sc.s.Commit(), "2 of a quorum of 3")
	sc.h.now = t1 + hb - 1
	require.Empty(t, sc.fire(timerHeartbeat))
	// The retransmit time passes: the slot goes again to those that have
	// not answered, and a heartbeat since the last send is due.
	sc.h.now = t1 + rt - 1
	require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal}), sc.fire(timerHeartbeat))
	sc.h.now = t1 + rt
	acc := Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: cmd}
	require.Equal(t, []envelope{sc.to(2, acc), sc.to(3, acc), sc.to(4, acc)}, sc.fire(timerHeartbeat))
	require.Empty(t, sc.written(), "a retransmission writes nothing")

	// Decided: the commit index changed, so a heartbeat goes at once with
	// the next tick, and the slot is not sent again.
	sc.recv(3, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, Slot(1), sc.s.Commit())
	sc.clear()
	sc.h.now += rt
	require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal, Commit: 1}), sc.fire(timerHeartbeat))
	sc.h.now++
	require.Empty(t, sc.fire(timerHeartbeat))
}

func TestScriptRequestsToFollowersAreRedirected(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4})
	cl := sc.client()
	cmd := cput(cl, 3, 0, "v")
	require.Empty(t, sc.request(cmd), "no leader known: the client retries")
	sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(1, 2)})
	require.Equal(t, []any{promiseRecord{B: b(1, 2)}}, sc.written())
	require.Equal(t, []envelope{sc.to(cl, Msg{Type: MsgRedirect, Leader: 2, Cmd: Command{Client: ClientID(cl), Seq: 3}})}, sc.request(cmd))
	require.Empty(t, sc.written())

	// A leader that a nack deposed knows no other leader: silence, not a
	// redirect to itself.
	sc = started(t, 3, 0, Config{Keys: 4})
	sc.elect()
	sc.recv(1, Msg{Type: MsgNack, Ballot: sc.s.Ballot(), Promised: b(5, 1)})
	require.Equal(t, "follower", sc.s.Role())
	require.Equal(t, paxos.Time(-1), sc.timer(timerHeartbeat))
	require.NotEqual(t, paxos.Time(-1), sc.timer(timerElection), "a deposed leader waits to campaign")
	require.Empty(t, sc.request(cmd))
}

func TestScriptLeaderStepsDownForAHigherBallot(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 4, Window: 1})
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	sc.request(cput(cl, 1, 0, "1"))
	sc.request(cput(cl, 2, 0, "2"))
	require.Len(t, sc.s.queue, 1)
	sc.clear()
	// A higher ballot's accept deposes it: it follows the new leader.
	require.Equal(t, []envelope{sc.to(1, Msg{Type: MsgAccepted, Ballot: b(2, 1), Slot: 2, Commit: 0})},
		sc.recv(1, Msg{Type: MsgAccept, Ballot: b(2, 1), Slot: 2, Cmd: cput(cl, 9, 1, "x")}))
	require.False(t, sc.s.IsLeader())
	require.Empty(t, sc.s.queue, "its queue is dropped")
	require.Equal(t, paxos.NodeID(1), sc.s.leader)
	// Late acceptances of its old ballot are ignored.
	require.Empty(t, sc.recv(2, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}))
	_, ok := sc.s.Decided(1)
	require.False(t, ok)
	// A prepare at its own old ballot is nacked.
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgNack, Ballot: bal, Promised: b(2, 1)})},
		sc.recv(2, Msg{Type: MsgPrepare, Ballot: bal, Slot: 1}))
}

// --- malformed messages and the disk decoder ---

func TestScriptRefusedMessagesAtTheBoundaries(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4})
	cl := paxos.NodeID(sc.client())
	for i, c := range []struct {
		from    paxos.NodeID
		m       Msg
		refused bool
	}{
		{cl, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: ClientID(cl), Seq: 1}}, false},
		{cl, Msg{Type: MsgRequest, Cmd: Command{Op: OpNoop, Client: ClientID(cl), Seq: 1}}, true},
		{cl, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: ClientID(cl)}}, true},
		{cl, Msg{Type: MsgReply, Cmd: Command{Op: OpGet, Client: ClientID(cl), Seq: 1}}, true},
		{2, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: 2, Seq: 1}}, true},
		{2, Msg{Type: MsgCatchup + 1}, true},
		{2, Msg{Type: MsgCatchup}, false},
		{2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: 0}, true},
		{2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: MaxSlots + 2}, true},
		{2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: MaxSlots + 1}, false},
		{2, Msg{Type: MsgCatchupReq, Slot: 0}, true},
		{2, Msg{Type: MsgPromise, Slot: MaxSlots + 2}, true},
		{2, Msg{Type: MsgAccepted, Ballot: b(1, 2), Slot: MaxSlots + 1}, true},
		{2, Msg{Type: MsgAccepted, Ballot: b(1, 2), Slot: MaxSlots}, false},
		{2, Msg{Type: MsgAccepted, Ballot: b(1, 2), Slot: 0}, true},
		{2, Msg{Type: MsgCatchup, Entries: []Entry{{Slot: MaxSlots + 1, Decided: true}}}, true},
		{2, Msg{Type: MsgPromise, Slot: 1, Entries: []Entry{{Slot: MaxSlots + 1}}}, true},
		{2, Msg{Type: MsgPromise, Slot: 1, Entries: []Entry{{Slot: MaxSlots}}}, false},
		{2, Msg{Type: MsgHeartbeat, Ballot: b(1, 2)}, false},
	} {
		before := sc.s.Refused()
		require.NotPanics(t, func() { sc.s.Receive(c.from, c.m) }, "case %d", i)
		sc.clear()
		if c.refused {
			require.Equal(t, before+1, sc.s.Refused(), "case %d: %v should be refused", i, c.m)
		} else {
			require.Equal(t, before, sc.s.Refused(), "case %d: %v should be taken", i, c.m)
		}
	}
}

func TestScriptAcceptanceDecodesAcceptRecordsOnly(t *testing.T) {
	cmd := cput(3, 1, 2, "v")
	slot, bal, c, ok := Acceptance(acceptRecord{S: 7, B: b(3, 1), C: cmd})
	require.True(t, ok)
	require.Equal(t, Slot(7), slot)
	require.Equal(t, b(3, 1), bal)
	require.Equal(t, cmd, c)
	for _, rec := range []any{promiseRecord{B: b(3, 1)}, roundRecord{R: 3}, decideRecord{S: 7, C: cmd}, nil, "x"} {
		_, _, _, ok := Acceptance(rec)
		require.False(t, ok, "%#v", rec)
	}
	// What a replica writes decodes to what it accepted.
	sc := started(t, 3, 1, Config{Keys: 4})
	sc.recv(0, Msg{Type: MsgAccept, Ballot: b(2, 0), Slot: 5, Cmd: cmd})
	var found []Slot
	for _, rec := range sc.env.disk.recs {
		if s, bb, c, ok := Acceptance(rec); ok {
			require.Equal(t, b(2, 0), bb)
			require.Equal(t, cmd, c)
			found = append(found, s)
		}
	}
	require.Equal(t, []Slot{5}, found)
}

func TestScriptServerAccessorsAndConstruction(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4})
	_, ok := sc.s.Decided(0)
	require.False(t, ok)
	_, ok = sc.s.Decided(1)
	require.False(t, ok, "beyond the log")
	require.Equal(t, "follower", follower.String())
	require.Equal(t, "candidate", candidate.String())

	d := Config{}.Defaults()
	require.Equal(t, Config{ElectionTimeout: 150 * paxos.Millisecond, Heartbeat: 30 * paxos.Millisecond,
		Retransmit: 60 * paxos.Millisecond, Window: 8, MaxQueue: 64, CatchupMax: 64}, d)
	keep := Config{ElectionTimeout: 1, Heartbeat: 2, Retransmit: 3, Window: 4, MaxQueue: 5, CatchupMax: 6}
	require.Equal(t, keep, keep.Defaults())

	h := newHarness(t, 3, 1, Config{}, ClientConfig{})
	require.Panics(t, func() { NewServer(h.envs[3], Config{Replicas: 3}) }, "a client's node")
	require.Panics(t, func() { NewServer(h.envs[0], Config{Replicas: 5}) }, "more replicas than nodes")
	require.Panics(t, func() { NewServer(h.envs[0], Config{Replicas: 0}) })
	require.NotPanics(t, func() { NewServer(h.envs[0], Config{Replicas: 4}) })
	require.NotPanics(t, func() { NewServer(h.envs[2], Config{Replicas: 3}) })
}
