package multipaxos

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// Reconfiguration through the log (reconfig.go), scripted: membership
// changes chosen in slots, the α window, quorums of the configuration that
// governs each slot, and the planted reconfiguration bugs next to the
// correct replica.

// reconfigHarness builds replicas 0..initial-1 (started) and spares
// initial..max-1 (built, dormant until wake), and one client id after them
// (requests are injected, the client itself never runs).
func reconfigHarness(t *testing.T, initial, max int, cfg Config) *harness {
	cfg.Keys = 2
	h := newHarness(t, max, 1, cfg, ClientConfig{})
	h.cfg.Replicas, h.cfg.MaxReplicas = initial, max
	for i := 0; i < max; i++ {
		h.build(i)
	}
	for i := 0; i < max; i++ {
		if i < initial {
			h.nodes[i].Start()
		} else {
			h.nodes[i] = nil // dormant: messages to it are lost
		}
	}
	return h
}

// wake starts spare i with an empty disk.
func (h *harness) wake(i int) { h.restart(i) }

// hold takes the queued messages that match out of the queue.
func (h *harness) hold(match func(envelope) bool) []envelope {
	var held []envelope
	kept := h.queue[:0]
	for _, e := range h.queue {
		if match(e) {
			held = append(held, e)
		} else {
			kept = append(kept, e)
		}
	}
	h.queue = kept
	return held
}

// deliverOnly delivers the queued messages that match, and those sent
// meanwhile that match, in order; the rest stay queued.
func (h *harness) deliverOnly(match func(envelope) bool) {
	for n := 0; ; n++ {
		i := 0
		for i < len(h.queue) && !match(h.queue[i]) {
			i++
		}
		if i == len(h.queue) {
			return
		}
		e := h.queue[i]
		h.queue = append(h.queue[:i:i], h.queue[i+1:]...)
		if h.nodes[e.to] != nil {
			h.nodes[e.to].Receive(e.from, e.m)
		}
		if n > 100_000 {
			h.t.Fatal("messages keep flowing: a loop?")
		}
	}
}

// only returns a filter that delivers the messages among ids alone.
func only(ids ...int) func(envelope) bool {
	in := func(n paxos.NodeID) bool {
		for _, id := range ids {
			if int(n) == id {
				return true
			}
		}
		return false
	}
	return func(e envelope) bool { return in(e.from) && in(e.to) }
}

func confOf(ids ...int) Conf {
	var c Conf
	for _, id := range ids {
		c.Members |= 1 << uint(id)
	}
	return c
}

// accepts lists the (slot, to) of the Accepts in the queue.
func (h *harness) acceptsQueued() map[Slot][]int {
	out := map[Slot][]int{}
	for _, e := range h.queue {
		if e.m.Type == MsgAccept {
			out[e.m.Slot] = append(out[e.m.Slot], int(e.to))
		}
	}
	return out
}

// A replica added to the configuration catches up through the catch-up path
// and then counts in quorums: with four members, three acceptances decide,
// and two do not.
func TestScriptReconfigAddReplica(t *testing.T) {
	h := reconfigHarness(t, 3, 4, Config{Alpha: 3})
	h.wake(3)
	h.elect(0)
	s0 := h.server(0)
	require.Len(t, h.request(0, 0, put(1, 0, "a")), 1)
	require.Len(t, h.request(0, 0, put(2, 0, "b")), 1)
	require.Equal(t, Slot(2), s0.Commit())
	require.False(t, h.server(3).IsMember(), "a spare is no member")
	h.fire(3, timerElection)
	require.Empty(t, prepares(h.queue), "a spare does not campaign")
	h.queue = nil // it asks a replica for the slots it lacks; that can wait

	require.NoError(t, s0.Reconfigure(AddReplica(3)))
	h.deliver(nil)
	// Chosen in slot 3, it governs from slot 6: slots 4 and 5 were filled
	// with no-ops so that it takes effect without client traffic.
	want := Conf{Epoch: 1, Members: confOf(0, 1, 2, 3).Members}
	require.Equal(t, want, s0.Conf())
	require.Equal(t, Slot(6), s0.ConfFrom())
	require.Equal(t, Slot(5), s0.Commit())
	c, ok := s0.ConfAt(5)
	require.True(t, ok)
	require.Equal(t, confOf(0, 1, 2), c, "slot 5 is still the old configuration's")
	_, ok = s0.ConfAt(9)
	require.False(t, ok, "slot 9's configuration is not known before slot 6 is applied")

	// The new replica caught up through heartbeats and catch-up.
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	s3 := h.server(3)
	require.Equal(t, Slot(5), s3.Commit())
	require.Equal(t, want, s3.Conf())
	require.True(t, s3.IsMember())
	require.Equal(t, "b", s3.Services().Get(0))

	// Slot 6 goes to all four, and 0 and 1 alone do not decide it.
	h.requestVia(0, 0, put(3, 1, "c"), only(0, 1))
	_, ok = s0.Decided(6)
	require.False(t, ok, "two of four members are no quorum")
	// With 3's acceptance it is decided: 3 counts in the quorum.
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(only(0, 3))
	require.Equal(t, `put(k1, "c") c4#3`, h.decided(0, 6))

	// A restarted member recovers the configuration from its log.
	h.crash(1)
	h.restart(1)
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, want, h.server(1).Conf())
	require.Equal(t, Slot(6), h.server(1).Commit())
}

// A removed replica no longer counts: after {0,1,2} -> {0,1}, acceptances of
// 0 and 2 do not decide a slot, and the leader sends it no Accept.
func TestScriptReconfigRemoveReplica(t *testing.T) {
	h := reconfigHarness(t, 3, 3, Config{Alpha: 2})
	h.elect(0)
	s0 := h.server(0)
	require.NoError(t, s0.Reconfigure(RemoveReplica(2)))
	h.deliver(nil)
	require.Equal(t, Conf{Epoch: 1, Members: confOf(0, 1).Members}, s0.Conf())
	require.Equal(t, Slot(3), s0.ConfFrom())
	require.Equal(t, Slot(2), s0.Commit(), "slot 2 filled with a no-op")

	h.queue = append(h.queue, envelope{from: 3, to: 0, m: Msg{Type: MsgRequest, Cmd: Command{Op: OpPut, Key: 0, Client: 3, Seq: 1, Value: "x"}}})
	h.deliverOnly(func(e envelope) bool { return e.to == 0 && e.from == 3 })
	require.Equal(t, map[Slot][]int{3: {1}}, h.acceptsQueued(), "slot 3's Accept goes to the members alone")
	// 2 accepts it anyway (a leader's message is a leader's message); its
	// acceptance is not counted.
	h.queue = append(h.queue[:0], envelope{from: 0, to: 2, m: Msg{Type: MsgAccept, Ballot: s0.Ballot(), Slot: 3, Cmd: s0.peek(3).cmd, Commit: 2}})
	h.deliver(nil)
	_, ok := s0.Decided(3)
	require.False(t, ok, "a removed replica's acceptance decides nothing")
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, `put(k0, "x") c3#1`, h.decided(0, 3))

	// The removed replica does not campaign.
	s2 := h.server(2)
	require.False(t, s2.IsMember())
	h.queue = nil
	h.fire(2, timerElection)
	require.Empty(t, prepares(h.queue))
	require.Equal(t, paxos.NodeID(-1), s2.Leader(), "outside the configuration, its belief would only go stale")
}

// prepares are the Prepares among queued messages: a campaign.
func prepares(q []envelope) []envelope {
	var out []envelope
	for _, e := range q {
		if e.m.Type == MsgPrepare {
			out = append(out, e)
		}
	}
	return out
}

// A leader that removes itself leads until every slot of its configuration
// is decided, then steps down; a member is elected by the new configuration.
func TestScriptReconfigRemoveLeader(t *testing.T) {
	h := reconfigHarness(t, 3, 3, Config{Alpha: 2})
	h.elect(0)
	require.NoError(t, h.server(0).Reconfigure(RemoveReplica(0)))
	h.deliver(nil)
	s0 := h.server(0)
	require.False(t, s0.IsLeader(), "removed and in effect: it stepped down")
	require.False(t, s0.IsMember())
	require.Equal(t, Slot(2), s0.Commit())
	h.elect(1)
	require.Len(t, h.request(0, 1, put(1, 0, "y")), 1)
	require.Equal(t, `put(k0, "y") c3#1`, h.decided(1, 3))
}

// Replace: replica 2 dies with its disk; spare 3, empty, takes its place.
// Then 0 and 3 decide without 1, and a new leader is elected by 1 and 3.
func TestScriptReconfigReplaceDeadReplica(t *testing.T) {
	h := reconfigHarness(t, 3, 4, Config{Alpha: 2})
	h.elect(0)
	require.Len(t, h.request(0, 0, put(1, 0, "a")), 1)
	h.crash(2) // for good
	h.wake(3)
	require.NoError(t, h.server(0).Reconfigure(ReplaceReplica(2, 3)))
	h.deliver(nil)
	want := Conf{Epoch: 1, Members: confOf(0, 1, 3).Members}
	require.Equal(t, want, h.server(0).Conf())
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, want, h.server(3).Conf())

	require.Len(t, h.requestVia(0, 0, put(2, 1, "b"), only(0, 3)), 1, "0 and 3 are a quorum of {0,1,3}")
	slot := h.server(0).Commit()
	require.Equal(t, `put(k1, "b") c4#2`, h.decided(0, slot))

	// 0 dies too: 1 and 3 elect 1, which recovers the put only 0 and 3 hold.
	h.crash(0)
	h.elect(1)
	require.Equal(t, `put(k1, "b") c4#2`, h.decided(1, slot))
	require.Len(t, h.request(0, 1, put(3, 0, "c")), 1)
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(1, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, "c", h.server(3).Services().Get(0))
}

// The α window: with α=2 and nothing decided, the leader proposes slots 1
// and 2 and no more; a change chosen in slot 1 governs slot 3, whose Accept
// goes to the new configuration.
func TestScriptReconfigAlphaWindow(t *testing.T) {
	h := reconfigHarness(t, 3, 4, Config{Alpha: 2, Window: 8})
	h.wake(3)
	h.elect(0)
	s0 := h.server(0)
	require.NoError(t, s0.Reconfigure(AddReplica(3)))
	for seq := Seq(1); seq <= 4; seq++ {
		h.queue = append(h.queue, envelope{from: 4, to: 0, m: Msg{Type: MsgRequest, Cmd: Command{Op: OpPut, Client: 4, Seq: seq, Value: "v"}}})
	}
	h.deliverOnly(func(e envelope) bool { return e.to == 0 && e.from == 4 })
	require.Equal(t, map[Slot][]int{1: {1, 2}, 2: {1, 2}}, h.acceptsQueued(), "slot 3 waits until slot 1 is decided")
	require.Equal(t, Slot(3), s0.next)
	require.Len(t, s0.queue, 3)
	require.PanicsWithValue(t, "multipaxos invariant broken at node 0 slot 3 ballot "+s0.Ballot().String()+
		": proposing beyond the α window: applied 0, α 2", func() { s0.Clone(h.envs[0]).propose(3, Noop) })

	// Slot 1 (the change) decided: slot 3 is the new configuration's.
	h.deliverOnly(func(e envelope) bool {
		return (e.m.Type == MsgAccept || e.m.Type == MsgAccepted) && e.m.Slot == 1
	})
	require.Equal(t, Slot(1), s0.Applied())
	require.Equal(t, map[Slot][]int{2: {1, 2}, 3: {1, 2, 3}}, h.acceptsQueued(), "slot 3 goes to the new configuration")
	h.deliver(nil)
	require.Equal(t, Slot(5), s0.Commit())
	require.Empty(t, s0.queue)
}

// One change in flight: a second change waits until the first governs, and
// is then computed against it. A change whose epoch does not follow the
// newest is refused in the log.
func TestScriptReconfigOneChangeInFlight(t *testing.T) {
	h := reconfigHarness(t, 3, 5, Config{Alpha: 2})
	h.wake(3)
	h.wake(4)
	h.elect(0)
	s0 := h.server(0)
	require.NoError(t, s0.Reconfigure(ReplaceReplica(2, 3)))
	require.NoError(t, s0.Reconfigure(ReplaceReplica(1, 4)))
	require.Equal(t, map[Slot][]int{1: {1, 2}}, h.acceptsQueued(), "the second change waits")
	h.deliver(nil)
	require.Equal(t, Conf{Epoch: 2, Members: confOf(0, 3, 4).Members}, s0.Conf(), "both changes, in order")
	cmd, _ := s0.Decided(3)
	require.Equal(t, OpReconfig, cmd.Op, "the second change is logged once the first governs (slot 3)")

	s0.TakeEvents()
	require.False(t, s0.install(9, Command{Op: OpReconfig, Client: -1, Conf: Conf{Epoch: 2, Members: confOf(0, 1).Members}}))
	require.Equal(t, []Event{{Kind: EvConfig, Slot: 9, Cmd: Command{Op: OpReconfig, Client: -1, Conf: Conf{Epoch: 2, Members: confOf(0, 1).Members}}, Outcome: Stale}}, s0.TakeEvents())
	require.ErrorIs(t, s0.Reconfigure(AddReplica(3)), ErrBadChange)
	require.ErrorIs(t, h.server(3).Reconfigure(AddReplica(1)), ErrNotLeader)
}

// A client's membership change is logged and answered exactly once.
func TestScriptReconfigClientRequest(t *testing.T) {
	h := reconfigHarness(t, 3, 4, Config{Alpha: 2})
	h.elect(0)
	req := Command{Op: OpReconfig, Change: AddReplica(3), Seq: 1}
	replies := h.request(0, 0, req)
	require.Len(t, replies, 1)
	require.True(t, replies[0].Result.OK)
	require.Equal(t, confOf(0, 1, 2, 3).Members, h.server(0).Conf().Members)
	replies = h.request(0, 0, req)
	require.Len(t, replies, 1, "a retry is answered from the session")
	require.Equal(t, uint32(1), h.server(0).Conf().Epoch, "and not applied again")
	replies = h.request(0, 0, Command{Op: OpReconfig, Change: AddReplica(3), Seq: 2})
	require.False(t, replies[0].Result.OK, "adding a member again is refused in the log")
}

// With reconfiguration off (Alpha 0) a change is refused.
func TestScriptReconfigOff(t *testing.T) {
	h := reconfigHarness(t, 3, 3, Config{})
	h.elect(0)
	require.ErrorIs(t, h.server(0).Reconfigure(AddReplica(1)), ErrReconfigOff)
	replies := h.request(0, 0, Command{Op: OpReconfig, Change: RemoveReplica(2), Seq: 1})
	require.False(t, replies[0].Result.OK)
	require.Equal(t, Conf{Members: 0b111}, h.server(0).Conf())
}

// Bug reconfig-immediate: the leader uses the replacement configuration
// {0,1,3} for slot 2 while slot 1, which holds it, is not chosen; 0 and 3
// "decide" slot 2. The old members, who never saw the change, elect 1 and
// decide another command in slot 2.
func TestScriptReconfigBugImmediate(t *testing.T) {
	for _, bug := range []string{"", "reconfig-immediate"} {
		h := reconfigHarness(t, 3, 4, Config{Alpha: 4, ReconfigBug: bug})
		h.wake(3)
		h.elect(0)
		require.NoError(t, h.server(0).Reconfigure(ReplaceReplica(2, 3)))
		h.queue = nil // slot 1's Accepts are lost
		h.requestVia(0, 0, put(1, 0, "x"), func(e envelope) bool { return e.from == 3 || e.to == 3 })
		h.campaign(1)
		h.deliver(isolated(0))
		require.True(t, h.server(1).IsLeader())
		h.requestVia(0, 1, put(2, 0, "y"), isolated(0))
		h.requestVia(0, 1, put(3, 0, "z"), isolated(0))
		at0, at1 := h.decided(0, 2), h.decided(1, 2)
		if bug == "" {
			require.Equal(t, "?", at0, "0 and 3 are no quorum of slot 2's configuration")
			require.NotEqual(t, "?", at1)
			continue
		}
		require.Equal(t, `put(k0, "x") c4#1`, at0)
		require.Equal(t, `put(k0, "z") c4#3`, at1, "two commands decided in slot 2")
	}
}

// Bug reconfig-old-quorum: leader 1 logs {0,1,2} -> {0,1,3} (3 replaces
// 2), chosen in slot 1 and governing from slot 3 (α=2); everyone learns it.
// Then {1,2} and {0,3} are cut apart. With the bug, 1 keeps counting the
// quorum it was elected with, {0,1,2}'s: 2, removed, accepts slot 3 and 1
// decides a put there with 1 and 2, one member of slot 3's configuration.
// 0 and 3, a majority of {0,1,3} that never heard of that put, elect 0,
// which decides another put in slot 3: two commands decided in one slot.
// The correct leader does not count 2 (nor send it slot 3), decides
// nothing, and 0's put is the one decision, which 1 learns at the heal.
func TestScriptReconfigBugOldQuorum(t *testing.T) {
	for _, bug := range []string{"", "reconfig-old-quorum"} {
		h := reconfigHarness(t, 3, 4, Config{Alpha: 2, ReconfigBug: bug})
		h.wake(3)
		h.elect(1)
		s1 := h.server(1)
		require.NoError(t, s1.Reconfigure(ReplaceReplica(2, 3)))
		h.deliver(nil)
		require.Equal(t, Slot(2), s1.Commit(), "the change in slot 1, a no-op in slot 2")
		h.now += paxos.Time(Config{}.Defaults().Heartbeat)
		h.fire(1, timerHeartbeat)
		h.deliver(nil)
		want := Conf{Epoch: 1, Members: confOf(0, 1, 3).Members}
		for _, i := range []int{0, 3} {
			require.Equal(t, want, h.server(i).Conf())
			require.Equal(t, Slot(2), h.server(i).Commit())
		}

		// {1,2} | {0,3}: 1 proposes a put in slot 3.
		replies := h.requestVia(0, 1, put(1, 0, "x"), only(1, 2))
		require.Equal(t, "x", s1.peek(3).cmd.Value)
		// 0 and 3 elect 0: only {0,1,3} governs from slot 3 on, and
		// they are a majority of it.
		h.campaign(0)
		h.deliver(only(0, 3))
		require.True(t, h.server(0).IsLeader())
		require.Len(t, h.requestVia(0, 0, put(2, 0, "y"), only(0, 3)), 1)
		require.Equal(t, `put(k0, "y") c4#2`, h.decided(0, 3))

		if bug == "" {
			require.Empty(t, replies)
			require.Equal(t, "?", h.decided(1, 3), "1 and 2 are no majority of {0,1,3}")
			require.Zero(t, h.server(2).peek(3).accBallot, "2 is no acceptor of slot 3")
			h.now += paxos.Time(Config{}.Defaults().Retransmit)
			h.fire(0, timerHeartbeat)
			h.deliver(nil)
			require.Equal(t, `put(k0, "y") c4#2`, h.decided(1, 3), "one command in slot 3")
			continue
		}
		require.Len(t, replies, 1, "the client is told its put is in")
		require.Equal(t, `put(k0, "x") c4#1`, h.decided(1, 3), "two commands decided in slot 3")
	}
}

// Bug reconfig-concurrent: two replacements proposed back to back, the
// second computed against the configuration in effect and installed without
// the epoch check, undo each other: the dead replica 2 is a member again and
// its replacement 3 is out. The correct leader logs the second after the
// first governs and ends with both.
func TestScriptReconfigBugConcurrent(t *testing.T) {
	for _, bug := range []string{"", "reconfig-concurrent"} {
		h := reconfigHarness(t, 3, 5, Config{Alpha: 2, ReconfigBug: bug})
		h.wake(3)
		h.wake(4)
		h.elect(0)
		s0 := h.server(0)
		require.NoError(t, s0.Reconfigure(ReplaceReplica(2, 3)))
		require.NoError(t, s0.Reconfigure(ReplaceReplica(1, 4)))
		h.deliver(nil)
		if bug == "" {
			require.Equal(t, confOf(0, 3, 4).Members, s0.Conf().Members)
			continue
		}
		require.Equal(t, confOf(0, 2, 4).Members, s0.Conf().Members, "the replaced replica is back")
	}
}

func TestReconfigBugNames(t *testing.T) {
	b, err := parseReconfigBugs("reconfig-old-quorum, reconfig-immediate")
	require.NoError(t, err)
	require.Equal(t, reconfigOldQuorum|reconfigImmediate, b)
	_, err = parseReconfigBugs("reconfig-nope")
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "reconfig-concurrent"))
}

// A joining member's acceptance counts only once it has caught up to the
// slot that chose its configuration (or promised the leader's ballot): 3
// accepts slot 4 before it has learned slot 1, and 0, 1 and 3 do not decide
// it until 3 reports it caught up.
func TestScriptReconfigJoinerCountsOnceCaughtUp(t *testing.T) {
	h := reconfigHarness(t, 3, 4, Config{Alpha: 2})
	h.wake(3)
	h.elect(0)
	s0 := h.server(0)
	require.NoError(t, s0.Reconfigure(AddReplica(3)))
	noCatchup := func(e envelope) bool { return e.m.Type != MsgCatchup && e.m.Type != MsgCatchupReq }
	h.deliver(noCatchup)
	require.Equal(t, Slot(2), s0.Commit())
	require.Equal(t, Slot(0), h.server(3).Commit(), "3 has not caught up")
	h.requestVia(0, 0, put(1, 0, "a"), func(e envelope) bool { return e.to != 2 && e.from != 2 && noCatchup(e) })
	require.True(t, s0.peek(3).acks&(1<<3) != 0, "3 accepted slot 3")
	_, ok := s0.Decided(3)
	require.False(t, ok, "3 has not caught up: 0, 1 and 3 are not yet a quorum")
	// 3 catches up (from the heartbeat); its acceptance of the slot sent
	// again next time says so, and slot 3 is decided.
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(isolated(2))
	require.Equal(t, Slot(2), h.server(3).Commit())
	_, ok = s0.Decided(3)
	require.False(t, ok)
	h.now += paxos.Time(Config{}.Defaults().Retransmit)
	h.fire(0, timerHeartbeat)
	h.deliver(isolated(2))
	require.Equal(t, `put(k0, "a") c4#1`, h.decided(0, 3))
}
