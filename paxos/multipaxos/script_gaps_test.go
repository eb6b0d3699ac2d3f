package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// Scripted tests for behaviour the rest of the suite left unpinned (found
// by mutation testing: a changed comparison or bound that no test noticed).

// reconfigScript is started for reconfiguration: replica id of replica ids
// 0..max-1, of which 0..initial-1 form the first configuration, and one
// client (node max).
func reconfigScript(t *testing.T, initial, max, id int, cfg Config) *script {
	h := newHarness(t, max, 1, cfg, ClientConfig{})
	h.cfg.Replicas, h.cfg.MaxReplicas = initial, max
	h.now = 1000 * ms
	sc := &script{t: t, h: h, id: id, env: &riggedEnv{fakeEnv: h.envs[id]}}
	sc.s = NewServer(sc.env, h.cfg)
	h.nodes[id] = sc.s
	sc.s.Start()
	sc.clear()
	return sc
}

// With reconfiguration, a lease needs grants from a majority of every
// configuration that governs a slot of the window [applied+1, applied+α]:
// the old one while it still governs a slot there, the new one as soon as
// it does, and the old one no more once it governs none.
func TestScriptLeaseUnderReconfigurationCoversTheWindow(t *testing.T) {
	cfg := leaseConfig(0)
	cfg.Alpha = 2
	sc := reconfigScript(t, 3, 4, 0, cfg)
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	accepted := func(from int, slot Slot) { sc.recv(from, Msg{Type: MsgAccepted, Ballot: bal, Slot: slot}) }
	for seq := Seq(1); seq <= 3; seq++ {
		sc.request(cput(cl, seq, 0, "v"))
		accepted(1, Slot(seq))
	}
	require.Equal(t, Slot(3), sc.s.Applied())

	// 2 makes way for 3, chosen in slot 4: {0,1,3} governs from slot 6.
	require.NoError(t, sc.s.Reconfigure(ReplaceReplica(2, 3)))
	accepted(1, 4)
	require.Equal(t, Slot(4), sc.s.Applied())
	require.Equal(t, Slot(6), sc.s.ConfFrom())
	sc.clear()

	// The window is slots 5 (the old configuration's) and 6 (the new one's).
	sc.h.now += ms
	s1 := sc.h.now
	hb := func(to ...int) []envelope {
		var out []envelope
		for _, p := range to {
			out = append(out, sc.to(p, Msg{Type: MsgHeartbeat, Ballot: bal, Commit: sc.s.Commit(), Stamp: sc.h.now}))
		}
		return out
	}
	require.Equal(t, hb(1, 2, 3), sc.fire(timerHeartbeat), "heartbeats go to the members of both")
	require.Empty(t, sc.recv(2, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: s1}))
	require.False(t, sc.s.HoldsLease(), "0 and 2: a majority of {0,1,2} but not of {0,1,3}")
	require.Empty(t, sc.recv(3, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: s1}))
	require.True(t, sc.s.HoldsLease(), "0, 2 and 3: a majority of both")
	require.Equal(t, s1, sc.s.leaseFrom)

	// Slot 5 applied, the window is all the new configuration's: its
	// majority alone grants.
	accepted(1, 5)
	require.Equal(t, Slot(5), sc.s.Applied())
	sc.h.now += ms
	s2 := sc.h.now
	require.Equal(t, hb(1, 3), sc.fire(timerHeartbeat), "2 governs no slot from 6 on: it hears no more")
	require.Empty(t, sc.recv(3, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: s2}))
	require.Equal(t, s2, sc.s.leaseFrom, "0 and 3: a majority of {0,1,3}, which governs every slot from 6")
	sc.h.now = s1 + paxos.Time(scriptGuard)
	require.True(t, sc.s.HoldsLease(), "the lease runs from the second heartbeat")
}

// The log holds slots 1..MaxSlots: the last one can be accepted, the one
// after it is a broken invariant.
func TestScriptLogHoldsExactlyMaxSlots(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 4})
	x := cput(3, 1, 0, "x")
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgAccepted, Ballot: b(1, 0), Slot: MaxSlots})},
		sc.recv(0, Msg{Type: MsgAccept, Ballot: b(1, 0), Slot: MaxSlots, Cmd: x}))
	require.Equal(t, []any{promiseRecord{B: b(1, 0)}, acceptRecord{S: MaxSlots, B: b(1, 0), C: x}}, sc.written())
	require.Panics(t, func() { sc.s.entry(MaxSlots + 1) })
	require.Panics(t, func() { sc.s.entry(0) })
}

// Session commands print their session (or, opening one, its terms); an op
// past the last known one prints as a key-value command would.
func TestScriptSessionCommandStrings(t *testing.T) {
	terms := SessionTerms{Lease: 500 * paxos.Millisecond, DriftPPM: 100, Skew: 7}
	for want, cmd := range map[string]Command{
		`open(lease=500000us drift=100ppm skew=7us) c4#1`: {Op: OpOpen, Client: 4, Seq: 1, Value: terms.String()},
		`keepalive(s2) c4#3`:                              {Op: OpKeepAlive, Client: 4, Seq: 3, Session: 2},
		`expire(s2 at beat 5)`:                            {Op: OpExpire, Client: -1, Session: 2, Beat: 5},
		`acquire(l1 s2) c4#4`:                             {Op: OpAcquire, Key: 1, Client: 4, Seq: 4, Session: 2},
		`release(l1 s2) c4#5`:                             {Op: OpRelease, Key: 1, Client: 4, Seq: 5, Session: 2},
		`op(11)(k1) c4#6`:                                 {Op: numOps, Key: 1, Client: 4, Seq: 6},
	} {
		require.Equal(t, want, cmd.String())
	}
}

// A message's hash sees the fields only some commands and messages carry:
// a membership change's change and configuration, a session command's
// session and beat, and the write a protected resource judges.
func TestScriptMessageHashesSeeSessionAndReconfigFields(t *testing.T) {
	seen := map[uint64]string{}
	add := func(m Msg) {
		t.Helper()
		h := m.Hash()
		prev, dup := seen[h]
		require.False(t, dup, "%v hashes like %v", m, prev)
		seen[h] = m.String()
	}
	accept := func(c Command) Msg { return Msg{Type: MsgAccept, Ballot: b(1, 0), Slot: 1, Cmd: c} }
	rc := Command{Op: OpReconfig, Client: 5, Seq: 2, Change: AddReplica(3), Conf: Conf{Epoch: 1, Members: 0b1111}}
	add(accept(rc))
	for _, mod := range []func(*Command){
		func(c *Command) { c.Change = AddReplica(4) },
		func(c *Command) { c.Change = ReplaceReplica(1, 3) },
		func(c *Command) { c.Conf.Members = 0b1011 },
		func(c *Command) { c.Conf.Epoch = 2 },
	} {
		c := rc
		mod(&c)
		add(accept(c))
	}
	for _, c := range []Command{
		{Op: OpKeepAlive, Client: 4, Seq: 3, Session: 2},
		{Op: OpKeepAlive, Client: 4, Seq: 3, Session: 3},
		{Op: OpExpire, Client: -1, Beat: 1},
		{Op: OpExpire, Client: -1, Beat: 2},
	} {
		add(accept(c))
	}
	w := Command{Client: 4, Seq: 1, Key: 0, Session: 2}
	for _, ty := range []MsgType{MsgWrite, MsgWriteAck} {
		add(Msg{Type: ty, Cmd: w, Result: Result{Token: 3}})
		w2 := w
		w2.Seq = 2
		add(Msg{Type: ty, Cmd: w2, Result: Result{Token: 3}})
	}
}

// A leader's window stops before a configuration it has no majority of
// promises from: it asks that configuration's members for promises and
// proposes there once they answer. An acceptance counts from a member that
// promised or reports it has caught up to the slot that chose its
// configuration (for the first configuration, slot 0: everyone).
func TestScriptReconfigWindowStopsAtAConfigurationWithoutPromises(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 2, Keys: 2})
	sc.elect() // promises from 0 and 1; 2 was asked and did not answer
	bal := sc.s.Ballot()
	cl := sc.client()
	require.NoError(t, sc.s.Reconfigure(ReplaceReplica(1, 3)))
	sc.clear()

	// {0,2,3} chosen in slot 1 governs from slot 3: slot 2 is the old
	// configuration's (a no-op brings the new one into effect), slot 3 the
	// new one's, of which only 0 promised.
	noop := Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: Noop, Commit: 1}
	require.Equal(t, []envelope{
		sc.to(3, Msg{Type: MsgPrepare, Ballot: bal, Slot: 1}),
		sc.to(1, noop), sc.to(2, noop),
	}, sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}))
	require.Equal(t, Slot(3), sc.s.ConfFrom())
	rc := Command{Op: OpReconfig, Client: -1, Change: ReplaceReplica(1, 3), Conf: Conf{Epoch: 1, Members: confOf(0, 2, 3).Members}}
	got, ok := sc.s.Decided(1)
	require.True(t, ok)
	require.Equal(t, rc, got, "an operator's change is logged as no client's")
	require.Equal(t, []Event{{Kind: EvConfig, Slot: 1, From: 3, Cmd: rc, Outcome: Executed}}, configEvents(sc.events()))
	x := cput(cl, 1, 0, "x")
	require.Empty(t, sc.request(x), "slot 3 waits for promises from {0,2,3}")

	px := Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: x, Commit: 1}
	require.Equal(t, []envelope{sc.to(2, px), sc.to(3, px)}, sc.recv(3, Msg{Type: MsgPromise, Ballot: bal, Slot: 1}))

	// 2 never promised, but everyone has caught up to slot 0, which chose
	// the first configuration: its acceptance decides slot 2.
	require.Empty(t, sc.recv(2, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2}))
	_, ok = sc.s.Decided(2)
	require.True(t, ok)
	// In slot 3 it counts once it reports slot 1 (which chose {0,2,3}).
	require.Equal(t, []envelope{sc.to(cl, reply(x, Result{OK: true}))},
		sc.recv(2, Msg{Type: MsgAccepted, Ballot: bal, Slot: 3, Commit: 1}))
	require.Equal(t, Slot(3), sc.s.Applied())
}

// A replica that may not campaign asks a replica drawn at random for the
// decided slots after its commit index, and forgets who it thought led;
// drawing itself, it asks nobody.
func TestScriptNonMemberSeeksCatchupFromADrawnReplica(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 3, Config{Alpha: 2, Keys: 2})
	x := cput(sc.client(), 1, 0, "x")
	sc.recv(0, Msg{Type: MsgCatchup, Ballot: b(1, 0), Slot: 1, Commit: 2,
		Entries: []Entry{{Slot: 1, Cmd: Noop, Decided: true}, {Slot: 2, Cmd: x, Decided: true}}})
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Commit: 2})
	require.Equal(t, Slot(2), sc.s.Commit())
	require.Equal(t, paxos.NodeID(0), sc.s.Leader())
	require.False(t, sc.s.IsMember())

	sc.env.draw = draws(1)
	require.Equal(t, []envelope{sc.to(1, Msg{Type: MsgCatchupReq, Ballot: b(1, 0), Slot: 3})}, sc.fire(timerElection))
	require.Equal(t, paxos.NodeID(-1), sc.s.Leader())
	require.Equal(t, uint64(4), sc.env.asked[0], "any of the 4 replica ids")
	require.True(t, sc.timer(timerElection) > sc.h.now, "and looks again later")

	sc.env.draw = draws(3)
	require.Empty(t, sc.fire(timerElection))
}

func configEvents(evs []Event) []Event {
	var out []Event
	for _, e := range evs {
		if e.Kind == EvConfig {
			out = append(out, e)
		}
	}
	return out
}

// One change at a time means one change in the window: client commands in
// flight do not hold a change back.
func TestScriptReconfigChangeGoesOutWithCommandsInFlight(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 4, Keys: 2})
	sc.elect()
	bal := sc.s.Ballot()
	x := cput(sc.client(), 1, 0, "x")
	sc.request(x)
	require.NoError(t, sc.s.Reconfigure(RemoveReplica(2)))
	rc := Command{Op: OpReconfig, Client: -1, Change: RemoveReplica(2), Conf: Conf{Epoch: 1, Members: confOf(0, 1).Members}}
	m := Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: rc}
	require.Equal(t, []envelope{sc.to(1, m), sc.to(2, m)}, sc.out())
}

// With reconfiguration off the membership is fixed: a logged change is
// refused whatever configuration it carries, with the bug
// reconfig-concurrent too.
func TestScriptReconfigOffRefusesALoggedChange(t *testing.T) {
	for _, bug := range []string{"", "reconfig-concurrent"} {
		sc := started(t, 3, 0, Config{Keys: 2, ReconfigBug: bug})
		sc.elect()
		bal := sc.s.Ballot()
		cl := sc.client()
		c := Command{Op: OpReconfig, Client: ClientID(cl), Seq: 1, Change: RemoveReplica(2), Conf: Conf{Epoch: 1, Members: 0b011}}
		sc.request(c)
		require.Equal(t, []envelope{sc.to(cl, reply(c, Result{}))}, sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}), bug)
		require.Equal(t, []Event{{Kind: EvConfig, Slot: 1, Cmd: c, Outcome: Stale}}, configEvents(sc.events()), bug)
		require.Equal(t, initialConf(3), sc.s.Conf(), bug)
	}
}

// Bug reconfig-immediate: the leader uses a change from the slot after its
// own as soon as it proposes it; applying it later reports it installed,
// from that slot.
func TestScriptReconfigBugImmediateInstallsAtProposal(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 4, Keys: 2, ReconfigBug: "reconfig-immediate"})
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	// A change the leader refuses (3 is no member) is logged, refused, and
	// used for nothing.
	sc.request(Command{Op: OpReconfig, Client: ClientID(cl), Seq: 1, Change: RemoveReplica(3)})
	require.Equal(t, initialConf(3), sc.s.Conf())
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, initialConf(3), sc.s.Conf())
	require.NoError(t, sc.s.Reconfigure(RemoveReplica(2)))
	want := Conf{Epoch: 1, Members: confOf(0, 1).Members}
	require.Equal(t, want, sc.s.Conf())
	require.Equal(t, Slot(3), sc.s.ConfFrom(), "in use from the next slot, before it is chosen")
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
	rc := Command{Op: OpReconfig, Client: -1, Change: RemoveReplica(2), Conf: want}
	require.Equal(t, []Event{
		{Kind: EvConfig, Slot: 1, Cmd: Command{Op: OpReconfig, Client: ClientID(cl), Seq: 1, Change: RemoveReplica(3)}, Outcome: Stale},
		{Kind: EvConfig, Slot: 2, From: 3, Cmd: rc, Outcome: Executed},
	}, configEvents(sc.events()))
	require.Equal(t, want, sc.s.Conf())
}

// Bug reconfig-concurrent: a change waits for none in flight, is computed
// against the configuration in effect, not the newest, and is installed
// with the next epoch whatever epoch it was logged with.
func TestScriptReconfigBugConcurrentComputesAgainstTheOneInEffect(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 2, Keys: 2, ReconfigBug: "reconfig-concurrent"})
	sc.elect()
	bal := sc.s.Ballot()
	require.NoError(t, sc.s.Reconfigure(RemoveReplica(2)))
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}) // {0,1} governs from slot 3; a no-op goes to slot 2
	require.Equal(t, Conf{Epoch: 1, Members: confOf(0, 1).Members}, sc.s.Conf())
	sc.clear()
	require.NoError(t, sc.s.Reconfigure(AddReplica(3)))
	add := Command{Op: OpReconfig, Client: -1, Change: AddReplica(3), Conf: Conf{Epoch: 1, Members: confOf(0, 1, 2, 3).Members}}
	require.Equal(t, []envelope{sc.to(1, Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: add, Commit: 1})}, sc.out(),
		"computed against {0,1,2}, in effect at slot 2, and logged in slot 3")
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 3})
	require.Equal(t, Slot(3), sc.s.Applied())
	require.Equal(t, Conf{Epoch: 2, Members: confOf(0, 1, 2, 3).Members}, sc.s.Conf(), "installed as epoch 2")
}

// A new leader behind an acceptor: the acceptance of a slot phase 1 found
// comes with the news that the acceptor knows it decided (it learned it from
// the old leader). The leader counts it at once, from its commit index on.
func TestScriptReconfigRecountFromTheFirstUndecidedSlot(t *testing.T) {
	sc := reconfigScript(t, 3, 3, 0, Config{Alpha: 2, Keys: 2})
	cl := sc.client()
	x := cput(cl, 1, 0, "x")
	sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(1, 2)})
	sc.campaign()
	bal := sc.s.Ballot()
	require.Equal(t, b(2, 0), bal)
	sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 1, Ballot: b(1, 2), Cmd: x}}})
	require.True(t, sc.s.IsLeader())
	require.Equal(t, Slot(0), sc.s.Commit())
	sc.clear()
	require.Equal(t, []envelope{sc.to(cl, reply(x, Result{OK: true}))}, sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1, Commit: 1}))
	require.Equal(t, Slot(1), sc.s.Commit())
}

// A leader holds at most maxChanges membership changes back while one is in
// flight; a client's change beyond them is dropped (the client retries).
func TestScriptReconfigChangeQueueIsBounded(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 2, Keys: 2})
	sc.elect()
	require.NoError(t, sc.s.Reconfigure(AddReplica(3))) // in flight in slot 1
	sc.clear()
	cl := sc.client()
	for seq := Seq(1); seq <= maxChanges+1; seq++ {
		require.Empty(t, sc.request(Command{Op: OpReconfig, Client: ClientID(cl), Seq: seq, Change: RemoveReplica(2)}))
	}
	require.Len(t, sc.s.changes, maxChanges)
	require.Equal(t, Seq(maxChanges), sc.s.changes[maxChanges-1].Seq)
	require.ErrorIs(t, sc.s.Reconfigure(RemoveReplica(1)), ErrChangeQueue)
}

// A member's report that it caught up, when every slot the leader proposed
// is decided and they fill the log's pages exactly: nothing to recount, and
// nothing past the log read.
func TestScriptReconfigRecountWithAFullLogPage(t *testing.T) {
	sc := reconfigScript(t, 3, 3, 0, Config{Alpha: pageSlots, Window: pageSlots, Keys: 2})
	sc.elect()
	bal := sc.s.Ballot()
	for seq := Seq(1); seq <= pageSlots; seq++ {
		sc.request(cput(sc.client(), seq, 0, "v"))
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: Slot(seq)})
	}
	require.Equal(t, Slot(pageSlots), sc.s.Commit())
	require.Equal(t, Slot(pageSlots), sc.s.top)
	sc.clear()
	require.NotPanics(t, func() { sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: pageSlots, Commit: pageSlots}) })
	require.Empty(t, sc.out())
	require.Equal(t, Slot(pageSlots), sc.s.Commit())
}

// The resource's bounds: 1..64 locks; a write for a lock it does not guard
// is no write; a write at the highest token is accepted without a second
// record; a disk record for a lock it does not guard is named as such.
func TestScriptResourceBounds(t *testing.T) {
	h := newHarness(t, 3, 2, Config{}, ClientConfig{})
	env := h.envs[4]
	for locks, ok := range map[int]bool{0: false, 1: true, 64: true, 65: false} {
		build := func() { NewResource(env, ResourceConfig{Locks: locks}) }
		if ok {
			require.NotPanics(t, build, "%d locks", locks)
		} else {
			require.Panics(t, build, "%d locks", locks)
		}
	}
	res := NewResource(env, ResourceConfig{Locks: 2})
	res.Start()
	write := func(lock uint8, token uint64) []envelope {
		h.queue = nil
		res.Receive(3, Msg{Type: MsgWrite, Cmd: Command{Client: 3, Seq: 1, Key: lock}, Result: Result{Token: token}})
		return h.queue
	}
	require.Empty(t, write(2, 1), "lock 2 of 2")
	require.Empty(t, res.TakeEvents())
	require.Len(t, write(1, 5), 1)
	require.Equal(t, []any{fenceRecord{Lock: 1, Token: 5}}, env.disk.recs)
	ack := write(1, 5)
	require.Equal(t, []envelope{{from: 4, to: 3, m: Msg{Type: MsgWriteAck, Cmd: Command{Client: 3, Seq: 1, Key: 1}, Result: Result{OK: true, Token: 5}}}}, ack)
	require.Len(t, env.disk.recs, 1, "the same token again: nothing new to remember")

	env.disk.recs = append(env.disk.recs, fenceRecord{Lock: 2, Token: 1})
	require.PanicsWithValue(t, "multipaxos: resource at node 4: unknown disk record fence l2 token=1",
		func() { NewResource(env, ResourceConfig{Locks: 2}).Start() })
}

// The leader expires a session whose lease ran out by its clock: it looks
// at every request, measures from the newest beat it saw (or its own first
// look), waits ServiceWait, and logs one expire naming the beats it saw.
func TestScriptLeaderExpiresALapsedSession(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2, Locks: 2})
	sc.elect()
	bal := sc.s.Ballot()
	cl := sc.client()
	terms := SessionTerms{Lease: 100 * paxos.Millisecond, DriftPPM: 100_000, Skew: 5 * paxos.Millisecond}
	wait := paxos.Time(terms.ServiceWait(0)) // 120ms
	open := Command{Op: OpOpen, Client: ClientID(cl), Seq: 1, Value: terms.String()}
	sc.request(open)
	require.Equal(t, []envelope{sc.to(cl, reply(open, Result{OK: true, Token: 1}))}, sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}))
	sc.clear()

	// The first look anchors the lease: now.
	t0 := sc.h.now
	g := func(seq Seq) Command { return get(cl, seq, 0) }
	sc.request(g(2))
	sc.h.now = t0 + wait - 1
	sc.request(g(2)) // a retry, in flight already: a look all the same
	require.Empty(t, configEvents(sc.events()))
	require.False(t, sc.s.ExpiryPending())
	sc.h.now = t0 + wait
	sc.request(g(2)) // the look that finds the lease lapsed queues the expire
	exp := Command{Op: OpExpire, Client: -1, Session: 1, Beat: 1}
	require.Equal(t, []Event{{Kind: EvExpiring, Slot: 3, Ballot: bal, Cmd: exp}}, sc.events())
	require.True(t, sc.s.ExpiryPending())
	m := Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: exp, Commit: 1}
	require.Equal(t, append(sc.toPeers(m), sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 4, Cmd: g(3), Commit: 1})...), sc.request(g(3)))
	sc.request(g(4))
	require.Empty(t, sc.events(), "one expire per lapse")

	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 3})
	require.False(t, sc.s.Services().SessionLive(1))
	require.False(t, sc.s.ExpiryPending())
}

// α reaches from 0 to the whole log.
func TestScriptAlphaBounds(t *testing.T) {
	h := newHarness(t, 3, 0, Config{}, ClientConfig{})
	for alpha, ok := range map[int]bool{-1: false, 0: true, MaxSlots: true, MaxSlots + 1: false} {
		build := func() { NewServer(h.envs[0], Config{Replicas: 3, Alpha: alpha}) }
		if ok {
			require.NotPanics(t, build, "α=%d", alpha)
		} else {
			require.Panics(t, build, "α=%d", alpha)
		}
	}
}

// A step may send itself up to 1024 messages more than the one it handles;
// beyond that it is a loop, and a broken invariant.
func TestScriptMessagesToItselfAreBounded(t *testing.T) {
	for _, c := range []struct {
		queued int
		panics bool
	}{{1024, false}, {1025, true}} {
		sc := started(t, 3, 1, Config{Keys: 2})
		sc.s.self = make([]Msg, c.queued) // type 0: refused and counted, nothing else
		step := func() { sc.s.Receive(0, Msg{}) }
		if c.panics {
			require.Panics(t, step, "%d queued", c.queued)
			continue
		}
		require.NotPanics(t, step, "%d queued", c.queued)
		require.Equal(t, uint64(c.queued+1), sc.s.Refused())
		require.Empty(t, sc.s.self)
	}
}

// Session terms are valid when the client's own view of the lease is some
// time: perfect clocks (no drift, no skew) are fine, a view of nothing is not.
func TestScriptSessionTermsValidity(t *testing.T) {
	for _, c := range []struct {
		terms SessionTerms
		ok    bool
	}{
		{SessionTerms{Lease: 100_000}, true},
		{SessionTerms{Lease: 100_000, DriftPPM: 10, Skew: 49_999}, true},
		{SessionTerms{Lease: 100_000, Skew: 50_000}, false},
		{SessionTerms{Lease: 100_000, Skew: -1}, false},
		{SessionTerms{Lease: 100_000, DriftPPM: -1}, false},
		{SessionTerms{Lease: 0}, false},
	} {
		got, ok := parseTerms(c.terms.String())
		require.Equal(t, c.ok, ok, "%v", c.terms)
		if ok {
			require.Equal(t, c.terms, got)
		}
	}
}

// A session releases a lock it holds, not one another session holds; the
// service opens at most 1<<20 sessions.
func TestScriptSessionLocksAndTheSessionBound(t *testing.T) {
	svc := NewServices(0, 2, 0)
	terms := SessionTerms{Lease: 300 * paxos.Millisecond}.String()
	r, _ := svc.Apply(Command{Op: OpOpen, Client: 5, Seq: 1, Value: terms})
	s1 := SessionID(r.Token)
	r, _ = svc.Apply(Command{Op: OpOpen, Client: 6, Seq: 1, Value: terms})
	s2 := SessionID(r.Token)
	r, _ = svc.Apply(Command{Op: OpAcquire, Key: 1, Client: 5, Seq: 2, Session: s1})
	require.Equal(t, Result{OK: true, Token: 1}, r)
	r, _ = svc.Apply(Command{Op: OpRelease, Key: 1, Client: 6, Seq: 2, Session: s2})
	require.Equal(t, Result{}, r, "held by the other session")
	r, _ = svc.Apply(Command{Op: OpRelease, Key: 1, Client: 5, Seq: 3, Session: s1})
	require.Equal(t, Result{OK: true}, r)
	held, _, _, _ := svc.LockHolder(1)
	require.False(t, held)

	svc.sess.recs = make([]sessionRec, 1<<20-1)
	require.NotPanics(t, func() { svc.Apply(Command{Op: OpOpen, Client: 5, Seq: 4, Value: terms}) })
	require.Panics(t, func() { svc.Apply(Command{Op: OpOpen, Client: 5, Seq: 5, Value: terms}) })
}

// An Accept for a slot the acceptor knows decided, with the decided
// command (a retransmission that crossed the decision), is accepted.
func TestScriptAcceptOfADecidedSlotWithItsCommand(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 2})
	x := cput(sc.client(), 1, 0, "x")
	sc.recv(0, Msg{Type: MsgCatchup, Ballot: b(1, 0), Slot: 1, Commit: 1, Entries: []Entry{{Slot: 1, Cmd: x, Decided: true}}})
	require.Equal(t, Slot(1), sc.s.Commit())
	sc.clear()
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgAccepted, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgAccept, Ballot: b(2, 0), Slot: 1, Cmd: x, Commit: 1}))
	require.Equal(t, []any{promiseRecord{B: b(2, 0)}, acceptRecord{S: 1, B: b(2, 0), C: x}}, sc.written())
}

// With reconfiguration off, phase 1 ends at the election: a promise that
// comes after it changes nothing (with reconfiguration on, a late promise
// can be one the leader asked for, see TestScriptReconfigWindowStopsAt...).
func TestScriptLatePromiseIsIgnoredWithoutReconfiguration(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2})
	sc.elect()
	bal := sc.s.Ballot()
	before := sc.s.Fingerprint()
	x := cput(sc.client(), 1, 0, "x")
	require.Empty(t, sc.recv(2, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 1, Cmd: x, Decided: true}}}))
	_, ok := sc.s.Decided(1)
	require.False(t, ok)
	require.Equal(t, before, sc.s.Fingerprint())
}

// A candidate needs promises from a majority of every configuration that
// governs a slot of [p1From, applied+α]: here {0,1,2} for slot 5 and
// {0,1,3} (chosen in slot 4) for slot 6.
func TestScriptReconfigCandidateNeedsEveryConfigurationOfItsWindow(t *testing.T) {
	sc := reconfigScript(t, 3, 4, 0, Config{Alpha: 2, Keys: 2})
	rc := Command{Op: OpReconfig, Client: -1, Change: ReplaceReplica(2, 3), Conf: Conf{Epoch: 1, Members: confOf(0, 1, 3).Members}}
	sc.recv(1, Msg{Type: MsgCatchup, Ballot: b(1, 1), Slot: 1, Commit: 4, Entries: []Entry{
		{Slot: 1, Cmd: Noop, Decided: true}, {Slot: 2, Cmd: Noop, Decided: true},
		{Slot: 3, Cmd: Noop, Decided: true}, {Slot: 4, Cmd: rc, Decided: true}}})
	require.Equal(t, Slot(4), sc.s.Applied())
	require.Equal(t, Slot(6), sc.s.ConfFrom())
	sc.campaign()
	bal := sc.s.Ballot()
	sc.recv(2, Msg{Type: MsgPromise, Ballot: bal, Slot: 5})
	require.False(t, sc.s.IsLeader(), "0 and 2: a majority of {0,1,2}, not of {0,1,3}")
	sc.recv(3, Msg{Type: MsgPromise, Ballot: bal, Slot: 5})
	require.True(t, sc.s.IsLeader())
}

// A promise entry with no ballot (no correct acceptor sends one) pads the
// candidate's findings with nothing: the new leader recovers no slot for it.
func TestScriptPromiseEntryWithoutABallotRecoversNothing(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2})
	sc.campaign()
	bal := sc.s.Ballot()
	x := cput(sc.client(), 1, 0, "x")
	var out []envelope
	require.NotPanics(t, func() {
		out = sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 2, Cmd: x}}})
	})
	require.True(t, sc.s.IsLeader())
	require.Equal(t, []MsgType{MsgHeartbeat, MsgHeartbeat}, types(out), "no slot to propose again")
}

// A new leader proposes again what phase 1 found up to the edge of its α
// window, the edge included.
func TestScriptReconfigRecoveryReachesTheWindowEdge(t *testing.T) {
	sc := reconfigScript(t, 3, 3, 0, Config{Alpha: 2, Keys: 2})
	sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(1, 2)})
	sc.campaign()
	bal := sc.s.Ballot()
	x, y := cput(sc.client(), 1, 0, "x"), cput(sc.client(), 2, 0, "y")
	out := sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 1, Ballot: b(1, 2), Cmd: x}, {Slot: 2, Ballot: b(1, 2), Cmd: y}}})
	require.True(t, sc.s.IsLeader())
	var slots []Slot
	for _, e := range out {
		if e.m.Type == MsgAccept {
			slots = append(slots, e.m.Slot)
		}
	}
	require.Equal(t, []Slot{1, 1, 2, 2}, slots, "slots 1 and 2 (α=2) to 1 and 2")
}
