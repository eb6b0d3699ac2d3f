package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

func testConfig() Config {
	return Config{Keys: 4, Locks: 2}
}

func TestLeaderCommitsAndEveryReplicaLearns(t *testing.T) {
	h := newHarness(t, 3, 1, testConfig(), ClientConfig{})
	h.startAll()
	h.elect(0)
	require.Equal(t, paxos.Ballot{Round: 1, Node: 0}, h.server(0).Ballot())

	replies := h.request(0, 0, put(1, 0, "a"))
	require.Len(t, replies, 1)
	require.Equal(t, MsgReply, replies[0].Type)
	require.True(t, replies[0].Result.OK)

	// Followers learn the decision from the next heartbeat's commit index.
	h.now += 50 * 1000
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	for i := 0; i < 3; i++ {
		require.Equal(t, `put(k0, "a") c3#1`, h.decided(i, 1), "replica %d", i)
		require.Equal(t, Slot(1), h.server(i).Applied(), "replica %d", i)
		require.Equal(t, "a", h.server(i).Services().Get(0))
	}
}

func TestFollowerRedirectsClientToLeader(t *testing.T) {
	h := newHarness(t, 3, 1, testConfig(), ClientConfig{})
	h.startAll()
	h.elect(0)
	h.fire(0, timerHeartbeat) // followers learn who leads
	h.deliver(nil)
	replies := h.request(0, 2, put(1, 0, "a"))
	require.Len(t, replies, 1)
	require.Equal(t, MsgRedirect, replies[0].Type)
	require.Equal(t, paxos.NodeID(0), replies[0].Leader)
}

// fiveWithHoles builds five replicas where leader 0 (ballot 1.0) decided
// slot 1 everywhere, got slot 2 accepted by nobody but itself, and slot 3 by
// itself and replica 1 only; then leader 0 crashes.
func fiveWithHoles(t *testing.T, bugs paxos.Bugs) *harness {
	cfg := testConfig()
	cfg.Bugs = bugs
	h := newHarness(t, 5, 1, cfg, ClientConfig{})
	h.startAll()
	h.elect(0)
	h.request(0, 0, put(1, 0, "one"))
	c := ClientID(5)
	h.queue = append(h.queue,
		envelope{from: 5, to: 0, m: Msg{Type: MsgRequest, Cmd: Command{Op: OpPut, Key: 1, Client: c, Seq: 2, Value: "two"}}},
		envelope{from: 5, to: 0, m: Msg{Type: MsgRequest, Cmd: Command{Op: OpPut, Key: 2, Client: c, Seq: 3, Value: "three"}}})
	h.deliver(func(e envelope) bool {
		if e.m.Type != MsgAccept {
			return int(e.to) < 5
		}
		return e.m.Slot == 3 && e.to == 1
	})
	h.crash(0)
	return h
}

func TestNewLeaderReproposesAcceptedValuesAndFillsGapsWithNoops(t *testing.T) {
	h := fiveWithHoles(t, 0)
	h.elect(1)
	require.Equal(t, `put(k0, "one") c5#1`, h.decided(1, 1))
	require.Equal(t, "noop", h.decided(1, 2), "the gap is filled with a no-op")
	require.Equal(t, `put(k2, "three") c5#3`, h.decided(1, 3), "the value accepted by a minority is proposed again")
	require.Equal(t, Slot(3), h.server(1).Applied())
	require.Equal(t, "", h.server(1).Services().Get(1), "the command no acceptor reported is not executed")
}

func TestNoGapFillBugExecutesPastTheHole(t *testing.T) {
	h := fiveWithHoles(t, paxos.NoGapFill)
	h.campaign(1)
	var accepts []Slot
	h.deliver(func(e envelope) bool {
		if e.m.Type == MsgAccept {
			accepts = append(accepts, e.m.Slot)
		}
		return true
	})
	require.True(t, h.server(1).IsLeader())
	require.NotContains(t, accepts, Slot(2), "the buggy leader never proposes anything for the hole")
	require.Equal(t, Slot(3), h.server(1).Applied(), "the buggy leader applies past the hole")
	_, ok := h.server(1).Decided(2)
	require.False(t, ok)
	h.fire(1, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, Slot(1), h.server(2).Applied(), "followers cannot pass the hole")
}

func TestSkipPhase1BugLeadsWithoutPrepare(t *testing.T) {
	cfg := testConfig()
	cfg.Bugs = paxos.SkipPhase1
	h := newHarness(t, 3, 0, cfg, ClientConfig{})
	h.startAll()
	h.campaign(2)
	require.True(t, h.server(2).IsLeader())
	for _, e := range h.queue {
		require.NotEqual(t, MsgPrepare, e.m.Type)
	}
}

func TestRetriedCommandIsAppliedOnce(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoDedup} {
		cfg := testConfig()
		cfg.Bugs = bugs
		h := newHarness(t, 3, 1, cfg, ClientConfig{})
		h.startAll()
		h.elect(0)
		app := Command{Op: OpAppend, Key: 0, Seq: 1, Value: "x"}
		r1 := h.request(0, 0, app)
		r2 := h.request(0, 0, app) // the reply was lost; the client retries
		require.Len(t, r1, 1)
		require.Len(t, r2, 1)
		if bugs == 0 {
			require.Equal(t, "x", h.server(0).Services().Get(0))
			require.Equal(t, Slot(1), h.server(0).Commit(), "a retry of an applied command is answered from the session table")
		} else {
			require.Equal(t, "xx", h.server(0).Services().Get(0), "bug no-dedup applies the retry again")
		}
	}
}

func TestPromiseSurvivesCrash(t *testing.T) {
	h := newHarness(t, 3, 0, testConfig(), ClientConfig{})
	h.startAll()
	h.elect(1)
	promised := h.server(2).Promised()
	require.Equal(t, paxos.Ballot{Round: 1, Node: 1}, promised)
	h.crash(2)
	h.restart(2)
	require.Equal(t, promised, h.server(2).Promised())
	// A stale candidate is refused.
	h.queue = append(h.queue, envelope{from: 0, to: 2, m: Msg{Type: MsgPrepare, Ballot: paxos.Ballot{Round: 1, Node: 0}, Slot: 1}})
	var nack *Msg
	h.deliver(func(e envelope) bool {
		if e.m.Type == MsgNack {
			nack = &e.m
		}
		return true
	})
	require.NotNil(t, nack)
	require.Equal(t, promised, nack.Promised)
}

func TestRestartedReplicaCatchesUpFromTheLeader(t *testing.T) {
	h := newHarness(t, 3, 1, testConfig(), ClientConfig{})
	h.startAll()
	h.elect(0)
	h.crash(2)
	for seq := Seq(1); seq <= 5; seq++ {
		require.Len(t, h.request(0, 0, put(seq, uint8(seq%4), "v")), 1)
	}
	h.restart(2)
	require.Equal(t, Slot(0), h.server(2).Applied())
	h.now += 100 * 1000
	h.fire(0, timerHeartbeat)
	h.deliver(nil)
	require.Equal(t, Slot(5), h.server(2).Applied())
	for s := Slot(1); s <= 5; s++ {
		require.Equal(t, h.decided(0, s), h.decided(2, s))
	}
}

func TestStaleLeaderReadBugAnswersFromADeposedLeader(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.StaleLeaderRead} {
		cfg := testConfig()
		cfg.Bugs = bugs
		h := newHarness(t, 3, 2, cfg, ClientConfig{})
		h.startAll()
		h.elect(0)
		require.Len(t, h.request(0, 0, put(1, 0, "old")), 1)
		// Replica 0 is cut off; replica 1 takes over and a write commits.
		h.campaign(1)
		h.deliver(isolated(0))
		require.True(t, h.server(1).IsLeader())
		require.True(t, h.server(0).IsLeader(), "the cut-off leader does not know it was deposed")
		require.Len(t, h.requestVia(1, 1, put(1, 0, "new"), isolated(0)), 1)
		// A client still talking to replica 0 reads.
		replies := h.requestVia(0, 0, Command{Op: OpGet, Key: 0, Seq: 2}, isolated(0))
		if bugs == 0 {
			require.Empty(t, replies, "a deposed leader cannot commit the read")
		} else {
			require.Len(t, replies, 1)
			require.Equal(t, "old", replies[0].Result.Value, "bug stale-leader-read answers from stale state")
		}
	}
}

func leaseConfig(bugs paxos.Bugs) Config {
	cfg := testConfig()
	cfg.Lease = Lease{Duration: 1000 * paxos.Millisecond, DriftMaxPPM: 100_000, SkewMax: 50 * paxos.Millisecond}
	cfg.Bugs = bugs
	return cfg
}

func TestLeaseReadIsLocalWhileTheLeaseHolds(t *testing.T) {
	h := newHarness(t, 3, 1, leaseConfig(0), ClientConfig{})
	h.startAll()
	h.elect(0) // becoming leader sends a heartbeat; the acks grant the lease
	require.Len(t, h.request(0, 0, put(1, 0, "v")), 1)
	commit := h.server(0).Commit()

	replies := h.request(0, 0, Command{Op: OpGet, Key: 0, Seq: 2})
	require.Len(t, replies, 1)
	require.Equal(t, "v", replies[0].Result.Value)
	require.Equal(t, commit, h.server(0).Commit(), "a lease read takes no slot")

	// Past the guard (measured on the leader's clock) without a new
	// heartbeat, the read goes through the log.
	h.now += paxos.Time(h.cfg.Lease.Guard(0))
	replies = h.request(0, 0, Command{Op: OpGet, Key: 0, Seq: 3})
	require.Len(t, replies, 1)
	require.Equal(t, commit+1, h.server(0).Commit(), "an expired lease reads through the log")
}

func TestLeaseGrantHoldsOffOtherCandidates(t *testing.T) {
	h := newHarness(t, 3, 0, leaseConfig(0), ClientConfig{})
	h.startAll()
	h.elect(0)
	// Replica 1 campaigns while its and replica 2's grants to replica 0 run:
	// nobody promises.
	h.campaign(1)
	h.deliver(isolated(0))
	require.False(t, h.server(1).IsLeader())
	// Once the grants run out (on the followers' own clocks), it wins.
	h.now += paxos.Time(h.cfg.Lease.Duration) + 1
	h.campaign(1)
	h.deliver(isolated(0))
	require.True(t, h.server(1).IsLeader())
}

func TestRestartedReplicaWaitsOutLeasesItMayHaveGranted(t *testing.T) {
	h := newHarness(t, 3, 0, leaseConfig(0), ClientConfig{})
	h.startAll()
	h.elect(0)
	h.crash(2)
	h.restart(2)
	h.crash(0)
	h.campaign(1)
	h.deliver(nil)
	require.False(t, h.server(1).IsLeader(), "replica 2 forgot its grant to 0, so it refuses everyone for a lease")
	h.now += paxos.Time(h.cfg.Lease.Duration) + 1
	h.campaign(1)
	h.deliver(nil)
	require.True(t, h.server(1).IsLeader())
}

// The lease guard keeps the leader's lease inside every follower's grant, in
// true time, for any clocks within the bounds: drift rates in [-ρ, ρ] and
// offsets that may jump by up to 2*skew. Bug lease-ignores-skew does not.
func TestLeaseGuardCoversDriftAndSkew(t *testing.T) {
	for _, l := range []Lease{
		{Duration: 1000 * paxos.Millisecond},
		{Duration: 1000 * paxos.Millisecond, DriftMaxPPM: 200},
		{Duration: 1000 * paxos.Millisecond, DriftMaxPPM: 100_000, SkewMax: 100 * paxos.Millisecond},
		{Duration: 3000 * paxos.Millisecond, DriftMaxPPM: 50_000, SkewMax: 300 * paxos.Millisecond},
	} {
		guard := l.Guard(0)
		require.Positive(t, guard)
		require.LessOrEqual(t, guard, l.Duration)
		rho := float64(l.DriftMaxPPM) / 1e6
		skew := float64(2 * l.SkewMax)
		// Worst case: the leader's clock runs slow and jumps back, the
		// follower's runs fast and jumps ahead.
		leaderEnd := (float64(guard) + skew) / (1 - rho)
		followerEnd := (float64(l.Duration) - skew) / (1 + rho)
		require.LessOrEqual(t, leaderEnd, followerEnd, "lease %+v: guard %d", l, guard)
		if l.DriftMaxPPM > 0 || l.SkewMax > 0 {
			buggy := float64(l.Guard(paxos.LeaseIgnoresSkew)+paxos.Duration(skew)) / (1 - rho)
			require.Greater(t, buggy, followerEnd, "bug lease-ignores-skew outlives a grant")
		}
	}
}

func TestMessagesHashEveryField(t *testing.T) {
	base := Msg{Type: MsgAccept, Ballot: paxos.Ballot{Round: 2, Node: 1}, Slot: 7, Commit: 6,
		Cmd: Command{Op: OpCAS, Key: 1, Client: 4, Seq: 9, Value: "new", Old: "old"}}
	seen := map[uint64]string{base.Hash(): base.String()}
	for _, m := range []Msg{
		func() Msg { m := base; m.Slot = 8; return m }(),
		func() Msg { m := base; m.Commit = 5; return m }(),
		func() Msg { m := base; m.Ballot.Node = 2; return m }(),
		func() Msg { m := base; m.Cmd.Old = "olf"; return m }(),
		func() Msg { m := base; m.Cmd.Value = "nex"; return m }(),
		func() Msg { m := base; m.Cmd.Seq = 10; return m }(),
		func() Msg { m := base; m.Type = MsgPromise; m.Entries = []Entry{{Slot: 7, Cmd: Noop}}; return m }(),
		func() Msg {
			m := base
			m.Type = MsgPromise
			m.Entries = []Entry{{Slot: 7, Cmd: Noop, Decided: true}}
			return m
		}(),
	} {
		h := m.Hash()
		_, dup := seen[h]
		require.False(t, dup, "%v hashes like %v", m, seen[h])
		seen[h] = m.String()
	}
	require.Equal(t, `accept b=2.1 s=7 commit=6 cas(k1, "old", "new") c4#9`, base.String())
}

// A peer's malformed message is refused and counted, never a panic, and
// changes nothing else: a real transport delivers garbage too.
func TestMalformedMessagesAreRefusedAndCounted(t *testing.T) {
	h := newHarness(t, 3, 1, Config{}, ClientConfig{})
	h.startAll()
	s := h.server(0)
	before := s.Fingerprint()
	client := paxos.NodeID(3)
	bad := []struct {
		from paxos.NodeID
		m    Msg
	}{
		{1, Msg{Type: 0}},
		{1, Msg{Type: MsgReply}},
		{1, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: 1, Seq: 1}}},
		{client, Msg{Type: MsgPrepare, Slot: 1}},
		{client, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: 2, Seq: 1}}},
		{client, Msg{Type: MsgRequest, Cmd: Command{Op: OpGet, Client: 3, Seq: 0}}},
		{1, Msg{Type: MsgAccept, Slot: 0}},
		{1, Msg{Type: MsgAccept, Slot: MaxSlots + 1}},
		{1, Msg{Type: MsgCatchup, Entries: []Entry{{Slot: 1, Decided: false}}}},
		{1, Msg{Type: MsgPromise, Slot: 1, Entries: []Entry{{Slot: 0}}}},
		{-1, Msg{Type: MsgHeartbeat}},
	}
	for i, b := range bad {
		require.NotPanics(t, func() { s.Receive(b.from, b.m) }, "message %d", i)
		require.Equal(t, uint64(i+1), s.Refused(), "message %d was not refused", i)
	}
	require.Equal(t, before, s.Fingerprint(), "a refused message changed the replica")
}
