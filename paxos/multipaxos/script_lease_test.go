package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// leaseConfig's lease: 1s, drift 10%, skew 50ms. Its guard, worked by hand:
// (1000000-2*50000) * (1000000-100000) / (1000000+100000) - 2*50000 =
// 736363 - 100000 µs.
const scriptGuard = paxos.Duration(636363)

func TestScriptLeaseGuardArithmetic(t *testing.T) {
	l := leaseConfig(0).Lease
	require.Equal(t, scriptGuard, l.Guard(0))
	require.Equal(t, l.Duration, l.Guard(paxos.LeaseIgnoresSkew), "bug lease-ignores-skew takes the lease as it is")
	require.Equal(t, 1000*paxos.Millisecond, Lease{Duration: 1000 * paxos.Millisecond}.Guard(0))
	require.Equal(t, paxos.Duration(960000), Lease{Duration: 1000 * paxos.Millisecond, SkewMax: 10 * paxos.Millisecond}.Guard(0))
	require.Equal(t, paxos.Duration(999600), Lease{Duration: 1000 * paxos.Millisecond, DriftMaxPPM: 200}.Guard(0))

	// A lease the margins eat up entirely is refused at construction.
	h := newHarness(t, 3, 0, Config{}, ClientConfig{})
	for _, c := range []struct {
		l  Lease
		ok bool
	}{
		{Lease{Duration: 200*paxos.Millisecond + 1, SkewMax: 50 * paxos.Millisecond}, true},
		{Lease{Duration: 200 * paxos.Millisecond, SkewMax: 50 * paxos.Millisecond}, false},
		{Lease{Duration: 100 * paxos.Millisecond, SkewMax: 50 * paxos.Millisecond}, false},
	} {
		build := func() { NewServer(h.envs[0], Config{Replicas: 3, Lease: c.l}) }
		if c.ok {
			require.NotPanics(t, build, "%+v", c.l)
		} else {
			require.Panics(t, build, "%+v", c.l)
		}
	}
	require.NotPanics(t, func() {
		NewServer(h.envs[0], Config{Replicas: 3, Lease: Lease{Duration: 200 * paxos.Millisecond, SkewMax: 50 * paxos.Millisecond}, Bugs: paxos.LeaseIgnoresSkew})
	})
}

// leasingLeader is replica 0 of n, leader with leases on, its clock off by
// offset; it returns the stamp of its first heartbeat.
func leasingLeader(t *testing.T, n int, bugs paxos.Bugs, offset paxos.Time) (*script, paxos.Time) {
	sc := started(t, n, 0, leaseConfig(bugs))
	sc.env.offset = offset
	sc.campaign()
	bal := sc.s.Ballot()
	var out []envelope
	for _, p := range sc.peers()[:sc.s.quorum-1] {
		out = sc.recv(p, Msg{Type: MsgPromise, Ballot: bal, Slot: 1})
	}
	require.True(t, sc.s.IsLeader())
	stamp := sc.h.now + offset
	require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal, Stamp: stamp}), out)
	sc.clear()
	return sc, stamp
}

func get(c int, seq Seq, key uint8) Command {
	return Command{Op: OpGet, Key: key, Client: ClientID(c), Seq: seq}
}

func TestScriptLeaseReadsWithinTheGuard(t *testing.T) {
	off := 7 * ms
	sc, stamp := leasingLeader(t, 3, 0, off)
	bal := sc.s.Ballot()
	cl := sc.client()

	// Only its own grant: no lease, the read goes through the log.
	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: get(cl, 1, 0)}), sc.request(get(cl, 1, 0)))
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	sc.clear()

	// Acks that answer no heartbeat of this leader, or another ballot's,
	// grant nothing.
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp + 1}))
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: b(bal.Round+1, 1), Stamp: stamp}))
	require.False(t, sc.s.leaseOK)
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp}))
	require.True(t, sc.s.leaseOK)
	require.Equal(t, stamp, sc.s.leaseFrom)

	// Until the guard runs out on the leader's own clock, reads are local.
	sc.h.now = stamp - off + paxos.Time(scriptGuard) - 1
	c2 := get(cl, 2, 0)
	r := Result{OK: true, Value: ""}
	require.Equal(t, []envelope{sc.to(cl, reply(c2, r))}, sc.request(c2))
	require.Equal(t, []Event{{Kind: EvLeaseRead, Slot: 1, Ballot: bal, Cmd: c2, Result: r}}, sc.events())
	require.Empty(t, sc.written())
	sc.h.now++
	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: get(cl, 3, 0), Commit: 1}), sc.request(get(cl, 3, 0)))
}

func TestScriptLeaseNeedsAQuorumOfGrants(t *testing.T) {
	sc, stamp := leasingLeader(t, 5, 0, 0)
	bal := sc.s.Ballot()
	cl := sc.client()
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp}))
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp}), "twice from one")
	require.False(t, sc.s.leaseValid(), "2 of 5")
	require.Equal(t, MsgAccept, sc.request(get(cl, 1, 0))[0].m.Type)
	require.Empty(t, sc.recv(3, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp}))
	require.True(t, sc.s.leaseValid(), "3 of 5")
}

func TestScriptLeaseRunsFromTheNewestAcknowledgedHeartbeat(t *testing.T) {
	sc, s1 := leasingLeader(t, 3, 0, 0)
	bal := sc.s.Ballot()
	hb := paxos.Time(sc.s.cfg.Heartbeat)
	stamps := []paxos.Time{s1}
	for i := 0; i < 4; i++ {
		sc.h.now += hb
		out := sc.fire(timerHeartbeat)
		require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal, Stamp: sc.h.now}), out, "with leases every tick is a heartbeat")
		stamps = append(stamps, sc.h.now)
	}
	// The ring holds the last four heartbeats: the first is forgotten.
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamps[0]}))
	require.False(t, sc.s.leaseOK)
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamps[3]}))
	require.Equal(t, stamps[3], sc.s.leaseFrom)
	require.Empty(t, sc.recv(2, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamps[2]}))
	require.Equal(t, stamps[3], sc.s.leaseFrom, "an older heartbeat does not move the lease back")
	require.Empty(t, sc.recv(2, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamps[4]}))
	require.Equal(t, stamps[4], sc.s.leaseFrom, "its own grant and one more make a quorum of 3")
	require.Empty(t, sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamps[1]}))
	require.Equal(t, stamps[4], sc.s.leaseFrom)
	sc.h.now = stamps[4] + paxos.Time(scriptGuard) - 1
	require.True(t, sc.s.leaseValid())
	sc.h.now++
	require.False(t, sc.s.leaseValid())
}

func TestScriptLeaseReadsWaitForTheRecoveredLog(t *testing.T) {
	sc := started(t, 3, 0, leaseConfig(0))
	sc.recv(1, Msg{Type: MsgPrepare, Ballot: b(1, 1), Slot: 1})
	sc.campaign()
	bal := sc.s.Ballot()
	x := cput(3, 5, 0, "x")
	sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 1, Ballot: b(1, 1), Cmd: x}}})
	require.True(t, sc.s.IsLeader())
	stamp := sc.h.now
	sc.clear()
	sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp})
	require.True(t, sc.s.leaseOK)
	require.Equal(t, Slot(1), sc.s.readyAt)
	// Slot 1, perhaps a completed write, is not applied yet: no local read.
	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: get(3, 6, 0)}), sc.request(get(3, 6, 0)))
	sc.recv(2, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, Slot(1), sc.s.Applied())
	sc.clear()
	require.Equal(t, []envelope{sc.to(3, reply(get(3, 7, 0), Result{OK: true, Value: "x"}))}, sc.request(get(3, 7, 0)))
}

func TestScriptFollowerGrantsLeases(t *testing.T) {
	sc := started(t, 3, 1, leaseConfig(0))
	d := paxos.Time(leaseConfig(0).Lease.Duration)
	off := -3 * ms
	sc.env.offset = off
	t0 := sc.h.now
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgHeartbeatAck, Ballot: b(1, 0), Stamp: 42})},
		sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Stamp: 42}))
	require.Equal(t, t0+off+d, sc.s.grantUntil)

	// Another candidate is ignored (not even nacked) while the grant runs
	// on this replica's clock; the grantee itself is not.
	sc.h.now = t0 + d - 1
	require.Empty(t, sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(5, 2), Slot: 1}))
	require.Equal(t, b(1, 0), sc.s.Promised())
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}))
	sc.h.now = t0 + d
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgPromise, Ballot: b(5, 2), Slot: 1})},
		sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(5, 2), Slot: 1}))
}

func TestScriptLeaseGrantsAcrossClockJumps(t *testing.T) {
	d := paxos.Time(leaseConfig(0).Lease.Duration)
	// The same grantee: a clock jump back does not shorten its grant.
	sc := started(t, 3, 1, leaseConfig(0))
	t0 := sc.h.now
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Stamp: 1})
	sc.env.offset = -500 * ms
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Stamp: 2})
	require.Equal(t, t0+d, sc.s.grantUntil)

	// A new grantee: the old grant is void, the new one runs from now on
	// this clock.
	sc = started(t, 3, 1, leaseConfig(0))
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Stamp: 1})
	sc.env.offset = -500 * ms
	sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(2, 2), Stamp: 2})
	require.Equal(t, paxos.NodeID(2), sc.s.grantee)
	require.Equal(t, t0-500*ms+d, sc.s.grantUntil)

	// Without leases a heartbeat is not acknowledged and grants nothing.
	sc = started(t, 3, 1, Config{})
	require.Empty(t, sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0), Stamp: 1}))
	require.False(t, sc.s.granting)
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgPromise, Ballot: b(2, 2), Slot: 1})},
		sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(2, 2), Slot: 1}))
}

func TestScriptRestartedReplicaRefusesEveryoneForALease(t *testing.T) {
	d := paxos.Time(leaseConfig(0).Lease.Duration)
	sc := newScript(t, 3, 1, leaseConfig(0))
	sc.env.disk.recs = []any{promiseRecord{B: b(1, 0)}}
	sc.env.disk.synced = 1
	sc.env.offset = 11 * ms
	t0 := sc.h.now
	sc.s.Start()
	sc.clear()
	require.Equal(t, paxos.NodeID(-1), sc.s.grantee)
	require.Equal(t, t0+11*ms+d, sc.s.grantUntil)
	sc.h.now = t0 + d - 1
	require.Empty(t, sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}), "not even the old leader")
	sc.h.now++
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}))

	// An empty disk granted nothing.
	sc = started(t, 3, 1, leaseConfig(0))
	require.False(t, sc.s.granting)
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}))
}

func TestScriptOutbidLeasingLeaderCampaignsAgainAtOnce(t *testing.T) {
	sc, _ := leasingLeader(t, 3, 0, 0)
	bal := sc.s.Ballot()
	out := sc.recv(1, Msg{Type: MsgNack, Ballot: bal, Promised: b(6, 2)})
	require.Equal(t, "candidate", sc.s.Role())
	require.Equal(t, b(7, 0), sc.s.Ballot())
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: b(7, 0), Slot: 1}), out)
	require.Equal(t, paxos.Time(-1), sc.timer(timerHeartbeat))
}
