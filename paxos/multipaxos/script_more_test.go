package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// A candidate this replica promised holds it off like a leader does; its own
// campaign does not.
func TestScriptPromisingToACandidateHoldsOffTheElection(t *testing.T) {
	const et = 100 * ms
	sc := started(t, 3, 1, Config{ElectionTimeout: paxos.Duration(et)})
	heardAt := sc.h.now
	sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: 1})
	sc.h.now = heardAt + et - 1
	require.Empty(t, sc.fire(timerElection))
	require.Equal(t, "follower", sc.s.Role())

	// Its own campaign: a stalled one is retried as soon as its timer
	// fires, whatever the time.
	sc = started(t, 3, 1, Config{ElectionTimeout: paxos.Duration(et)})
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0)})
	sc.h.now += et
	sc.fire(timerElection)
	require.Equal(t, b(2, 1), sc.s.Ballot())
	out := sc.fire(timerElection)
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: b(3, 1), Slot: 1}), out)
}

func TestScriptFollowerRedirectsToReplicaZero(t *testing.T) {
	sc := started(t, 3, 2, Config{Keys: 1})
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0)})
	require.Equal(t, []envelope{sc.to(3, Msg{Type: MsgRedirect, Leader: 0, Cmd: Command{Client: 3, Seq: 1}})},
		sc.request(get(3, 1, 0)))
}

// With a quorum of one, a leader's proposal is decided as it is made (but
// see TestScriptSingleReplicaDecidesAlone).
func TestScriptQuorumOfOneDecidesOnPropose(t *testing.T) {
	for _, c := range []struct {
		n    int
		bugs paxos.Bugs
	}{{1, 0}, {3, paxos.MinorityQuorum}} {
		sc := started(t, c.n, 0, Config{Keys: 1, Bugs: c.bugs})
		require.Equal(t, 1, sc.s.quorum)
		sc.campaign()
		require.True(t, sc.s.IsLeader())
		sc.clear()
		cmd := cput(sc.client(), 1, 0, "v")
		sc.request(cmd)
		got, ok := sc.s.Decided(1)
		require.True(t, ok, "n=%d", c.n)
		require.Equal(t, cmd, got)
	}
	// A quorum of two does not.
	sc := started(t, 3, 0, Config{Keys: 1})
	sc.elect()
	sc.request(cput(3, 1, 0, "v"))
	_, ok := sc.s.Decided(1)
	require.False(t, ok)
}

func TestScriptClusterSizeLimits(t *testing.T) {
	h := newHarness(t, 64, 1, Config{}, ClientConfig{})
	require.NotPanics(t, func() { NewServer(h.envs[0], Config{Replicas: 64}) })
	require.NotPanics(t, func() { NewServer(h.envs[0], Config{Replicas: 1}) })
	require.Panics(t, func() { NewServer(h.envs[0], Config{Replicas: 65}) })
	s := NewServices(1, 0, 0)
	s.Apply(Command{Op: OpGet, Client: 2, Seq: 1})
	seq, _ := s.LastSeq(3)
	require.Equal(t, Seq(0), seq, "one past the table")
	seq, _ = s.LastSeq(2)
	require.Equal(t, Seq(1), seq)
}

func TestScriptPromiseReportingAnAcceptanceAboveTheBallotIsABrokenPeer(t *testing.T) {
	sc := started(t, 3, 0, Config{})
	sc.campaign()
	bal := sc.s.Ballot()
	require.Panics(t, func() {
		sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 1, Ballot: b(bal.Round+1, 1), Cmd: Noop}}})
	})
}

func TestScriptFreshFollowerKnowsNoLeader(t *testing.T) {
	for id := 0; id < 3; id++ {
		sc := started(t, 3, id, Config{Keys: 1})
		require.Equal(t, paxos.NodeID(-1), sc.s.leader)
		require.Empty(t, sc.request(get(3, 1, 0)), "replica %d: nobody to redirect to", id)
	}
}

// Without leases a restarted replica refuses nobody, even if its clock
// jumps back.
func TestScriptRestartWithoutLeasesGrantsNothing(t *testing.T) {
	sc := newScript(t, 3, 1, Config{})
	sc.env.disk.recs = []any{promiseRecord{B: b(1, 0)}}
	sc.env.disk.synced = 1
	sc.s.Start()
	sc.clear()
	sc.env.offset = -ms
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgPromise, Ballot: b(2, 2), Slot: 1})},
		sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(2, 2), Slot: 1}))
}

// A candidate has forgotten the leader it followed: it redirects nobody.
func TestScriptCandidateKnowsNoLeader(t *testing.T) {
	sc := started(t, 3, 2, Config{Keys: 1})
	sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0)})
	sc.campaign()
	sc.clear()
	require.Equal(t, "candidate", sc.s.Role())
	require.Empty(t, sc.request(get(3, 1, 0)))
}

// The log holds exactly the slots written to it.
func TestScriptLogGrowsToTheSlotWritten(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 1})
	require.Equal(t, Slot(0), sc.s.top)
	for _, slot := range []Slot{1, 3, pageSlots, pageSlots + 1, 2} {
		sc.recv(0, Msg{Type: MsgAccept, Ballot: b(1, 0), Slot: slot, Cmd: cput(3, Seq(slot), 0, "v")})
	}
	require.Equal(t, Slot(pageSlots+1), sc.s.top)
	require.Len(t, sc.s.pages, 2)
}

// A candidate whose own acceptor is held back by a lease it granted wins on
// the promises of others alone, and takes the ballot itself when it leads.
// What its own acceptor holds and no promise reported is not proposed again.
func TestScriptCandidateHeldBackByItsOwnGrant(t *testing.T) {
	sc := started(t, 3, 0, leaseConfig(0))
	x := cput(3, 1, 0, "x")
	sc.recv(1, Msg{Type: MsgHeartbeat, Ballot: b(1, 1), Stamp: 1})
	sc.recv(1, Msg{Type: MsgAccept, Ballot: b(1, 1), Slot: 2, Cmd: x})
	sc.clear()
	out := sc.campaign()
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}), out)
	require.Equal(t, b(1, 1), sc.s.Promised(), "its own acceptor did not promise")
	require.Empty(t, sc.recv(1, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1}))
	out = sc.recv(2, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})
	require.True(t, sc.s.IsLeader())
	require.Equal(t, b(2, 0), sc.s.Promised())
	require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: b(2, 0), Stamp: sc.h.now}), out)
	require.Equal(t, []Event{{Kind: EvLeader, Ballot: b(2, 0)}}, sc.events())
	require.Equal(t, Slot(1), sc.s.next)
}

func TestScriptDiskRecordsPrint(t *testing.T) {
	cmd := cput(3, 2, 1, "v")
	require.Equal(t, "promise b=3.1", promiseRecord{B: b(3, 1)}.String())
	require.Equal(t, "round 12", roundRecord{R: 12}.String())
	require.Equal(t, `accept s=7 b=3.1 put(k1, "v") c3#2`, acceptRecord{S: 7, B: b(3, 1), C: cmd}.String())
	require.Equal(t, `decide s=17 noop`, decideRecord{S: 17, C: Noop}.String())
}

func TestScriptHoldsLease(t *testing.T) {
	sc, stamp := leasingLeader(t, 3, 0, 0)
	require.False(t, sc.s.HoldsLease(), "no grant but its own")
	sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: sc.s.Ballot(), Stamp: stamp})
	require.True(t, sc.s.HoldsLease())
	sc.h.now = stamp + paxos.Time(scriptGuard)
	require.False(t, sc.s.HoldsLease(), "the guard has run out")
	f := started(t, 3, 1, leaseConfig(0))
	require.False(t, f.s.HoldsLease())
}
