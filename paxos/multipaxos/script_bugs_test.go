package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// Each catalogued Multi-Paxos bug, scripted next to the correct replica: the
// same steps, and the one difference the bug's comment in paxos/bugs.go
// promises.

// SkipPhase1: a new leader goes straight to phase 2.
func TestScriptBugSkipPhase1(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.SkipPhase1} {
		sc := started(t, 3, 0, Config{Keys: 2, Bugs: bugs})
		a, c := cput(3, 1, 0, "a"), cput(3, 2, 1, "c")
		sc.recv(1, Msg{Type: MsgAccept, Ballot: b(1, 1), Slot: 1, Cmd: a})
		sc.recv(1, Msg{Type: MsgAccept, Ballot: b(1, 1), Slot: 2, Cmd: c, Commit: 1})
		require.Equal(t, Slot(1), sc.s.Commit())
		sc.clear()
		out := sc.campaign()
		bal := b(2, 0)
		require.Equal(t, bal, sc.s.Ballot())
		require.Equal(t, b(2, 0), sc.s.Promised())
		if bugs == 0 {
			require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: bal, Slot: 2}), out)
			require.False(t, sc.s.IsLeader())
			continue
		}
		require.True(t, sc.s.IsLeader(), "no promise asked for")
		// It re-proposes what its own acceptor holds past its commit
		// index, and nothing from anyone else.
		want := append(sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: c, Commit: 1}),
			sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal, Commit: 1})...)
		require.Equal(t, want, out)
		require.Equal(t, []any{roundRecord{R: 2}, promiseRecord{B: bal}, acceptRecord{S: 2, B: bal, C: c}}, sc.written())
		require.Equal(t, []Event{{Kind: EvLeader, Slot: 2, Ballot: bal}}, sc.events())
		require.Equal(t, Slot(3), sc.s.next)
	}
}

// NoGapFill: a new leader executes past a slot it has not decided, and never
// fills it.
func TestScriptBugNoGapFill(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoGapFill} {
		sc := started(t, 3, 0, Config{Keys: 2, Bugs: bugs})
		sc.recv(1, Msg{Type: MsgPrepare, Ballot: b(1, 1), Slot: 1})
		sc.campaign()
		bal := sc.s.Ballot()
		x := cput(3, 2, 1, "x")
		out := sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{{Slot: 2, Ballot: b(1, 1), Cmd: x}}})
		require.True(t, sc.s.IsLeader())
		var slots []Slot
		for _, e := range out {
			if e.m.Type == MsgAccept {
				slots = append(slots, e.m.Slot)
			}
		}
		ev := sc.events()
		sc.clear()
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
		if bugs == 0 {
			require.Equal(t, []Slot{1, 1, 2, 2}, slots, "the hole gets a no-op")
			require.Equal(t, Slot(0), sc.s.Applied(), "slot 2 waits for the hole")
			sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
			got, _ := sc.s.Decided(1)
			require.Equal(t, Noop, got)
			require.Equal(t, Slot(2), sc.s.Applied())
			continue
		}
		require.Equal(t, []Slot{2, 2}, slots, "nothing is proposed for the hole")
		require.Equal(t, []Event{
			{Kind: EvLeader, Slot: 2, Ballot: bal},
			{Kind: EvApplied, Slot: 1, Cmd: Noop, Outcome: Skipped},
		}, ev, "the hole is executed as a no-op at once")
		_, ok := sc.s.Decided(1)
		require.False(t, ok)
		require.Equal(t, Slot(2), sc.s.Commit(), "it executes past the hole")
		require.Equal(t, Slot(2), sc.s.Applied())
		require.Equal(t, "x", sc.s.Services().Get(1))
	}
}

// StaleLeaderRead: a (possibly deposed) leader serves reads from its local
// state.
func TestScriptBugStaleLeaderRead(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.StaleLeaderRead} {
		sc := started(t, 3, 0, Config{Keys: 2, Bugs: bugs})
		sc.elect()
		bal := sc.s.Ballot()
		g := get(3, 1, 0)
		out := sc.request(g)
		if bugs == 0 {
			require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: g}), out, "a read goes through the log")
			continue
		}
		require.Equal(t, []envelope{sc.to(3, reply(g, Result{OK: true}))}, out, "answered locally, with no lease")
		require.Equal(t, []Event{{Kind: EvLeaseRead, Slot: 0, Ballot: bal, Cmd: g, Result: Result{OK: true}}}, sc.events())
		require.Equal(t, Slot(1), sc.s.next)
		// Only a read: a write still goes through the log.
		require.Equal(t, MsgAccept, sc.request(cput(3, 2, 0, "w"))[0].m.Type)
	}
}

// NoDedup: a client's retried command is applied twice.
func TestScriptBugNoDedup(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoDedup} {
		sc := started(t, 3, 0, Config{Keys: 2, Bugs: bugs})
		sc.elect()
		bal := sc.s.Ballot()
		app := func(seq Seq) Command { return Command{Op: OpAppend, Key: 0, Client: 3, Seq: seq, Value: "x"} }
		sc.request(app(1))
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
		sc.request(app(2))
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2})
		require.Equal(t, "xx", sc.s.Services().Get(0))
		sc.clear()
		retry, old := sc.request(app(2)), sc.request(app(1))
		if bugs == 0 {
			require.Equal(t, []envelope{sc.to(3, reply(app(2), Result{OK: true}))}, retry, "answered from the session table")
			require.Empty(t, old)
			require.Equal(t, Slot(3), sc.s.next)
			continue
		}
		require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: app(2), Commit: 2}), retry, "proposed again")
		require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 4, Cmd: app(1), Commit: 2}), old)
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 3})
		sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 4})
		require.Equal(t, "xxxx", sc.s.Services().Get(0), "and applied again")
		seq, _ := sc.s.Services().LastSeq(3)
		require.Equal(t, Seq(2), seq)
	}
}

// EvenQuorum: with an even cluster, half the nodes count as a quorum. (The
// boundary tests run it for promises and acceptances; here two disjoint
// halves each elect a leader.)
func TestScriptBugEvenQuorum(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.EvenQuorum} {
		h := newHarness(t, 4, 0, Config{Bugs: bugs}, ClientConfig{})
		h.startAll()
		h.campaign(0)
		h.campaign(2)
		// {0,1} and {2,3} cannot hear each other.
		h.deliver(func(e envelope) bool { return (e.from < 2) == (e.to < 2) })
		both := h.server(0).IsLeader() && h.server(2).IsLeader()
		require.Equal(t, bugs != 0, both, "bugs=%v", bugs)
		require.False(t, bugs == 0 && (h.server(0).IsLeader() || h.server(2).IsLeader()))
	}
	require.Equal(t, 2, NewServer(newHarness(t, 3, 0, Config{}, ClientConfig{}).envs[0], Config{Replicas: 3, Bugs: paxos.EvenQuorum}).quorum,
		"an odd cluster is unaffected")
}

// LeaseIgnoresSkew: lease reads trust the local clock without the drift
// margin.
func TestScriptBugLeaseIgnoresSkew(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.LeaseIgnoresSkew} {
		sc, stamp := leasingLeader(t, 3, bugs, 0)
		bal := sc.s.Ballot()
		sc.recv(1, Msg{Type: MsgHeartbeatAck, Ballot: bal, Stamp: stamp})
		// Past the guard, inside the bare lease duration.
		sc.h.now = stamp + paxos.Time(scriptGuard)
		out := sc.request(get(3, 1, 0))
		if bugs == 0 {
			require.Equal(t, MsgAccept, out[0].m.Type, "the margin is used up: through the log")
			continue
		}
		require.Equal(t, []envelope{sc.to(3, reply(get(3, 1, 0), Result{OK: true}))}, out, "still served locally")
		sc.h.now = stamp + paxos.Time(leaseConfig(0).Lease.Duration) - 1
		require.Equal(t, MsgReply, sc.request(get(3, 2, 0))[0].m.Type)
		sc.h.now++
		require.Equal(t, MsgAccept, sc.request(get(3, 3, 0))[0].m.Type)
	}
}

// NoRetransmit: a leader sends each Accept once, and again only along with
// a new proposal.
func TestScriptBugNoRetransmit(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoRetransmit} {
		sc := started(t, 3, 0, Config{Keys: 2, Bugs: bugs})
		sc.elect()
		bal := sc.s.Ballot()
		first := cput(3, 1, 0, "a")
		sc.request(first)
		sc.h.now += paxos.Time(sc.s.cfg.Retransmit)
		out := sc.fire(timerHeartbeat)
		resent := Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: first}
		if bugs == 0 {
			require.Equal(t, append(sc.toPeers(resent), sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal})...), out,
				"the tick resends the lost accept")
			continue
		}
		require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal}), out, "the tick resends nothing")
		second := Command{Op: OpPut, Key: 1, Client: 4, Seq: 1, Value: "b"}
		out = sc.recv(4, Msg{Type: MsgRequest, Cmd: second})
		require.Equal(t, append(sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: second}), sc.toPeers(resent)...), out,
			"only a new proposal takes the lost accept along")
	}
}
