package multipaxos

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// Scripted interaction tests, in the style of etcd's raft: one node is driven
// through an exact sequence of messages and timer firings, and each step is
// checked for exactly what the node sends, writes to its disk and reports.
// The other nodes of the harness exist only as addresses: what the node under
// test sends stays in the harness queue, where the script reads and clears it.

// riggedEnv is a fakeEnv whose random draws the script chooses, and which
// records every bound it is asked to draw below.
type riggedEnv struct {
	*fakeEnv
	asked []uint64
	draw  func(n uint64) uint64 // nil: every draw is 0
}

func (e *riggedEnv) Rand(n uint64) uint64 {
	e.asked = append(e.asked, n)
	if e.draw == nil {
		return 0
	}
	v := e.draw(n)
	if v >= n {
		e.h.t.Fatalf("rigged draw %d out of [0, %d)", v, n)
	}
	return v
}

// drawMax answers every draw with its largest value.
func drawMax(n uint64) uint64 { return n - 1 }

// draws answers with the given values in order, then with 0.
func draws(vs ...uint64) func(uint64) uint64 {
	return func(uint64) uint64 {
		if len(vs) == 0 {
			return 0
		}
		v := vs[0]
		vs = vs[1:]
		return v
	}
}

type script struct {
	t    *testing.T
	h    *harness
	id   int
	env  *riggedEnv
	s    *Server
	seen int // disk records the script has looked at
}

const ms = paxos.Time(paxos.Millisecond)

// newScript builds replicas replicas and one client (node replicas) and puts
// replica id, on a rigged environment, under test. Nothing is started; the
// clock reads 1s.
func newScript(t *testing.T, replicas, id int, cfg Config) *script {
	h := newHarness(t, replicas, 1, cfg, ClientConfig{})
	h.now = 1000 * ms
	sc := &script{t: t, h: h, id: id, env: &riggedEnv{fakeEnv: h.envs[id]}}
	sc.s = NewServer(sc.env, h.cfg)
	h.nodes[id] = sc.s
	return sc
}

// started is newScript with the replica started and its first step cleared.
func started(t *testing.T, replicas, id int, cfg Config) *script {
	sc := newScript(t, replicas, id, cfg)
	sc.s.Start()
	sc.clear()
	return sc
}

func (sc *script) clear() {
	sc.out()
	sc.written()
	sc.s.TakeEvents()
	sc.env.asked = nil
}

// out returns what the node sent since the last look, and forgets it.
func (sc *script) out() []envelope {
	q := sc.h.queue
	sc.h.queue = nil
	return q
}

// written returns the records the node appended since the last look, and
// checks they are all synced except decisions.
func (sc *script) written() []any {
	d := &sc.env.disk
	recs := slices.Clone(d.recs[sc.seen:])
	sc.seen = len(d.recs)
	return recs
}

func (sc *script) events() []Event { return slices.Clone(sc.s.TakeEvents()) }

func (sc *script) recv(from int, m Msg) []envelope {
	sc.s.Receive(paxos.NodeID(from), m)
	return sc.out()
}

func (sc *script) fire(t paxos.TimerID) []envelope {
	sc.h.fire(sc.id, t)
	return sc.out()
}

func (sc *script) timer(t paxos.TimerID) paxos.Time { return sc.env.timers[t] }

func (sc *script) client() int { return sc.h.replicas }

// to is a message from the node under test.
func (sc *script) to(dst int, m Msg) envelope {
	return envelope{from: paxos.NodeID(sc.id), to: paxos.NodeID(dst), m: m}
}

// toPeers is m from the node under test to every other replica, in order.
func (sc *script) toPeers(m Msg) []envelope {
	var out []envelope
	for i := 0; i < sc.h.replicas; i++ {
		if i != sc.id {
			out = append(out, sc.to(i, m))
		}
	}
	return out
}

// peers lists the other replicas.
func (sc *script) peers() []int {
	var p []int
	for i := 0; i < sc.h.replicas; i++ {
		if i != sc.id {
			p = append(p, i)
		}
	}
	return p
}

// campaign fires the election timer: the node asks for promises.
func (sc *script) campaign() []envelope {
	sc.h.now += 2 * paxos.Time(sc.s.cfg.ElectionTimeout)
	return sc.fire(timerElection)
}

// elect makes the node leader with the promises of the first quorum-1
// peers, none of which reports anything, and clears what that did.
func (sc *script) elect() {
	sc.campaign()
	for _, p := range sc.peers()[:sc.s.quorum-1] {
		if sc.s.IsLeader() {
			break
		}
		sc.recv(p, Msg{Type: MsgPromise, Ballot: sc.s.Ballot(), Slot: sc.s.p1From})
	}
	require.True(sc.t, sc.s.IsLeader())
	sc.clear()
}

// request is client command cmd (Client filled in) arriving at the node.
func (sc *script) request(cmd Command) []envelope {
	cmd.Client = ClientID(sc.client())
	return sc.recv(sc.client(), Msg{Type: MsgRequest, Cmd: cmd})
}

func b(round uint32, node paxos.NodeID) paxos.Ballot { return paxos.Ballot{Round: round, Node: node} }

// cput is a put by the harness's client (node c) with sequence number seq.
func cput(c int, seq Seq, key uint8, v string) Command {
	return Command{Op: OpPut, Key: key, Client: ClientID(c), Seq: seq, Value: v}
}

func types(out []envelope) []MsgType {
	var ts []MsgType
	for _, e := range out {
		ts = append(ts, e.m.Type)
	}
	return ts
}

// --- election timer ---

func TestScriptStartArmsElectionTimerWithinTAnd2T(t *testing.T) {
	for _, c := range []struct {
		draw func(uint64) uint64
		want paxos.Time
	}{
		{nil, 100 * ms},
		{drawMax, 200 * ms},
		{draws(7), 100*ms + 7},
	} {
		sc := newScript(t, 3, 1, Config{ElectionTimeout: 100 * paxos.Millisecond})
		sc.env.draw = c.draw
		sc.s.Start()
		require.Equal(t, []uint64{uint64(100*ms) + 1}, sc.env.asked, "one draw in [0, t]")
		require.Equal(t, sc.h.now+c.want, sc.timer(timerElection))
		require.Equal(t, paxos.Time(-1), sc.timer(timerHeartbeat))
		require.Empty(t, sc.out(), "a fresh replica says nothing")
		require.Empty(t, sc.written(), "nor writes anything")
		require.Equal(t, []Event{{Kind: EvStart}}, sc.events())
		require.Equal(t, "follower", sc.s.Role())
	}
}

func TestScriptElectionTimerWaitsWhileTheLeaderIsHeard(t *testing.T) {
	const et = 100 * ms
	sc := started(t, 3, 1, Config{ElectionTimeout: paxos.Duration(et)})
	heardAt := sc.h.now
	require.Empty(t, sc.recv(0, Msg{Type: MsgHeartbeat, Ballot: b(1, 0)}))

	// Quiet for t-1: not yet; the timer is re-armed for the rest of t plus
	// a draw in [0, t].
	sc.env.draw = draws(5)
	sc.h.now = heardAt + et - 1
	require.Empty(t, sc.fire(timerElection))
	require.Equal(t, []uint64{uint64(et) + 1}, sc.env.asked)
	require.Equal(t, sc.h.now+1+5, sc.timer(timerElection))
	require.Equal(t, "follower", sc.s.Role())

	// Quiet for exactly t: campaign.
	sc.h.now = heardAt + et
	out := sc.fire(timerElection)
	require.Equal(t, []MsgType{MsgPrepare, MsgPrepare}, types(out))
	require.Equal(t, "candidate", sc.s.Role())
}

func TestScriptNeverHeardCampaignsAtOnce(t *testing.T) {
	sc := started(t, 3, 1, Config{})
	// No time has passed, but no leader was ever heard.
	out := sc.fire(timerElection)
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: b(1, 1), Slot: 1}), out)
}

func TestScriptTimersOfRoles(t *testing.T) {
	sc := started(t, 3, 0, Config{})
	// A follower's heartbeat timer does nothing.
	sc.s.Timeout(timerHeartbeat)
	require.Empty(t, sc.out())
	require.Panics(t, func() { sc.s.Timeout(7) })
	sc.elect()
	// A leader's election timer does nothing.
	sc.s.Timeout(timerElection)
	require.Empty(t, sc.out())
	require.True(t, sc.s.IsLeader())
	require.Equal(t, "leader", sc.s.Role())
}

// --- campaigns and ballots ---

func TestScriptCampaignPersistsTheRoundBeforeAsking(t *testing.T) {
	sc := started(t, 3, 1, Config{})
	sc.env.draw = drawMax
	out := sc.campaign()
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: b(1, 1), Slot: 1}), out)
	require.Equal(t, []any{roundRecord{R: 1}, promiseRecord{B: b(1, 1)}}, sc.written(),
		"the round, then its own acceptor's promise")
	require.Equal(t, len(sc.env.disk.recs), sc.env.disk.synced)
	require.Equal(t, "candidate", sc.s.Role())
	require.Equal(t, b(1, 1), sc.s.Ballot())
	require.Equal(t, b(1, 1), sc.s.Promised())
	require.Equal(t, sc.h.now+2*paxos.Time(sc.s.cfg.ElectionTimeout), sc.timer(timerElection),
		"a stalled campaign is retried")
	require.Empty(t, sc.events())
}

func TestScriptBallotIsAboveEveryPromise(t *testing.T) {
	sc := started(t, 3, 2, Config{})
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(5, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(5, 0), Slot: 1}))
	sc.written()
	sc.campaign()
	require.Equal(t, b(6, 2), sc.s.Ballot(), "round above the promise, node breaks ties")
	require.Equal(t, []any{roundRecord{R: 6}, promiseRecord{B: b(6, 2)}}, sc.written())
}

func TestScriptBallotIsAboveEveryRoundSeen(t *testing.T) {
	// A leader's accept and heartbeat raise the round too.
	sc := started(t, 3, 2, Config{})
	sc.recv(0, Msg{Type: MsgAccept, Ballot: b(4, 0), Slot: 1, Cmd: cput(3, 1, 0, "a")})
	sc.campaign()
	require.Equal(t, b(5, 2), sc.s.Ballot())

	sc = started(t, 3, 2, Config{})
	sc.recv(1, Msg{Type: MsgHeartbeat, Ballot: b(3, 1)})
	sc.campaign()
	require.Equal(t, b(4, 2), sc.s.Ballot())
}

func TestScriptNackRaisesTheRoundAndStepsDown(t *testing.T) {
	sc := started(t, 3, 2, Config{})
	sc.campaign()
	require.Equal(t, b(1, 2), sc.s.Ballot())
	sc.clear()

	// Nacks that do not outbid the campaign, or answer another ballot, are
	// ignored.
	for _, m := range []Msg{
		{Type: MsgNack, Ballot: b(1, 2), Promised: b(1, 1)},
		{Type: MsgNack, Ballot: b(1, 2), Promised: b(1, 2)},
		{Type: MsgNack, Ballot: b(1, 1), Promised: b(9, 0)},
	} {
		require.Empty(t, sc.recv(0, m))
		require.Equal(t, "candidate", sc.s.Role(), "%v", m)
	}
	require.Empty(t, sc.recv(0, Msg{Type: MsgNack, Ballot: b(1, 2), Promised: b(7, 0)}))
	require.Equal(t, "follower", sc.s.Role())
	require.Empty(t, sc.written(), "a nack changes nothing durable")

	sc.campaign()
	require.Equal(t, b(8, 2), sc.s.Ballot(), "the next ballot is above the nack's promise")
}

func TestScriptFollowerIgnoresNacks(t *testing.T) {
	sc := started(t, 3, 2, Config{})
	require.Empty(t, sc.recv(0, Msg{Type: MsgNack, Promised: b(9, 0)}))
	sc.campaign()
	require.Equal(t, b(1, 2), sc.s.Ballot())
}

func TestScriptRoundSurvivesRestart(t *testing.T) {
	h := newHarness(t, 3, 0, Config{}, ClientConfig{})
	h.startAll()
	h.campaign(1)
	h.queue = nil
	h.campaign(1)
	h.queue = nil
	require.Equal(t, b(2, 1), h.server(1).Ballot())
	h.crash(1)
	h.restart(1)
	require.Equal(t, b(2, 1), h.server(1).Promised())
	h.campaign(1)
	require.Equal(t, b(3, 1), h.server(1).Ballot())

	// A round on disk above the promise (the campaign's own promise was
	// lost): the round alone keeps the next ballot new.
	sc := newScript(t, 3, 1, Config{})
	sc.env.disk.recs = []any{promiseRecord{B: b(2, 0)}, roundRecord{R: 6}, roundRecord{R: 4}}
	sc.env.disk.synced = 3
	sc.seen = 3
	sc.s.Start()
	require.Equal(t, b(2, 0), sc.s.Promised())
	sc.campaign()
	require.Equal(t, b(7, 1), sc.s.Ballot())
}

func TestScriptStartRebuildsAcceptorFromDisk(t *testing.T) {
	sc := newScript(t, 3, 1, Config{Keys: 2})
	a, x := cput(3, 1, 0, "a"), cput(3, 2, 1, "x")
	sc.env.disk.recs = []any{
		promiseRecord{B: b(3, 0)},
		promiseRecord{B: b(2, 0)}, // an older promise does not lower it
		acceptRecord{S: 1, B: b(1, 0), C: a},
		decideRecord{S: 1, C: a},
		acceptRecord{S: 2, B: b(4, 2), C: x}, // an acceptance above the promise raises it
	}
	sc.env.disk.synced = len(sc.env.disk.recs)
	sc.seen = len(sc.env.disk.recs)
	sc.s.Start()
	require.Equal(t, b(4, 2), sc.s.Promised())
	require.Empty(t, sc.written(), "replaying writes nothing back")
	require.Equal(t, Slot(1), sc.s.Commit())
	require.Equal(t, Slot(1), sc.s.Applied())
	require.Equal(t, "a", sc.s.Services().Get(0))
	require.Equal(t, []Event{
		{Kind: EvStart},
		{Kind: EvDecided, Slot: 1, Cmd: a},
		{Kind: EvApplied, Slot: 1, Cmd: a, Outcome: Executed, Result: Result{OK: true}},
	}, sc.events())
	// The acceptance is reported to the next candidate.
	out := sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(5, 0), Slot: 1})
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(5, 0), Slot: 1, Commit: 1, Entries: []Entry{
		{Slot: 1, Ballot: b(1, 0), Cmd: a, Decided: true},
		{Slot: 2, Ballot: b(4, 2), Cmd: x},
	}})}, out)
	sc.campaign()
	require.Equal(t, b(6, 1), sc.s.Ballot())

	// An acceptance after a decision keeps the decided command.
	sc = newScript(t, 3, 1, Config{Keys: 2})
	sc.env.disk.recs = []any{decideRecord{S: 1, C: a}, acceptRecord{S: 1, B: b(2, 0), C: x}}
	sc.s.Start()
	c, ok := sc.s.Decided(1)
	require.True(t, ok)
	require.Equal(t, a, c)

	// A disk with an acceptance below an earlier one, or a record it does
	// not know, is a broken replica.
	sc = newScript(t, 3, 1, Config{})
	sc.env.disk.recs = []any{acceptRecord{S: 1, B: b(2, 0), C: a}, acceptRecord{S: 1, B: b(1, 0), C: a}}
	require.Panics(t, sc.s.Start)
	sc = newScript(t, 3, 1, Config{})
	sc.env.disk.recs = []any{"junk"}
	require.Panics(t, sc.s.Start)
}

// --- quorums ---

func TestScriptPromiseQuorumBoundary(t *testing.T) {
	for _, c := range []struct {
		n, quorum int
		bugs      paxos.Bugs
	}{
		{3, 2, 0}, {4, 3, 0}, {5, 3, 0},
		{4, 2, paxos.EvenQuorum}, {3, 2, paxos.EvenQuorum}, {5, 3, paxos.EvenQuorum},
	} {
		sc := started(t, c.n, 0, Config{Bugs: c.bugs})
		require.Equal(t, c.quorum, sc.s.quorum)
		sc.campaign()
		bal := sc.s.Ballot()
		peers := sc.peers()
		// Its own promise counts; quorum-2 more peers still leave it one
		// short, whatever is repeated or misaddressed.
		for _, p := range peers[:c.quorum-2] {
			require.Empty(t, sc.recv(p, Msg{Type: MsgPromise, Ballot: bal, Slot: 1}))
		}
		if c.quorum >= 3 {
			require.Empty(t, sc.recv(peers[0], Msg{Type: MsgPromise, Ballot: bal, Slot: 1}), "a duplicate promise")
		}
		require.Empty(t, sc.recv(peers[c.quorum-2], Msg{Type: MsgPromise, Ballot: b(bal.Round-1, 0), Slot: 1}), "an older ballot's promise")
		require.False(t, sc.s.IsLeader(), "n=%d bugs=%v: quorum-1 promises", c.n, c.bugs)
		require.Empty(t, sc.events())

		out := sc.recv(peers[c.quorum-2], Msg{Type: MsgPromise, Ballot: bal, Slot: 1})
		require.True(t, sc.s.IsLeader(), "n=%d bugs=%v: quorum promises", c.n, c.bugs)
		require.Equal(t, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal}), out, "a new leader announces itself")
		require.Equal(t, []Event{{Kind: EvLeader, Ballot: bal}}, sc.events())
		require.Equal(t, paxos.Time(-1), sc.timer(timerElection))
		require.Equal(t, sc.h.now+paxos.Time(sc.s.cfg.Heartbeat), sc.timer(timerHeartbeat))
		// Late promises change nothing.
		require.Empty(t, sc.recv(peers[len(peers)-1], Msg{Type: MsgPromise, Ballot: bal, Slot: 1}))
	}
}

func TestScriptAcceptedQuorumBoundary(t *testing.T) {
	for _, c := range []struct {
		n, quorum int
		bugs      paxos.Bugs
	}{
		{3, 2, 0}, {4, 3, 0}, {5, 3, 0}, {4, 2, paxos.EvenQuorum},
	} {
		sc := started(t, c.n, 0, Config{Keys: 1, Bugs: c.bugs})
		sc.elect()
		bal := sc.s.Ballot()
		cmd := cput(c.n, 1, 0, "v")
		out := sc.request(cmd)
		require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: cmd}), out)
		require.Equal(t, []any{acceptRecord{S: 1, B: bal, C: cmd}}, sc.written(), "the leader accepts its own proposal, durably")
		peers := sc.peers()
		for _, p := range peers[:c.quorum-2] {
			require.Empty(t, sc.recv(p, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}))
		}
		if c.quorum >= 3 {
			require.Empty(t, sc.recv(peers[0], Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}), "a duplicate")
		}
		last := peers[c.quorum-2]
		require.Empty(t, sc.recv(last, Msg{Type: MsgAccepted, Ballot: b(bal.Round+1, 0), Slot: 1}), "another ballot")
		require.Empty(t, sc.recv(last, Msg{Type: MsgAccepted, Ballot: bal, Slot: 2}), "a slot beyond the log")
		_, ok := sc.s.Decided(1)
		require.False(t, ok, "n=%d bugs=%v: quorum-1 acceptances", c.n, c.bugs)
		require.Equal(t, Slot(0), sc.s.Commit())
		require.Empty(t, sc.events())

		out = sc.recv(last, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
		got, ok := sc.s.Decided(1)
		require.True(t, ok, "n=%d bugs=%v: quorum acceptances", c.n, c.bugs)
		require.Equal(t, cmd, got)
		require.Equal(t, []envelope{sc.to(c.n, Msg{Type: MsgReply, Cmd: Command{Op: OpPut, Client: ClientID(c.n), Seq: 1}, Result: Result{OK: true}})}, out)
		require.Equal(t, []any{decideRecord{S: 1, C: cmd}}, sc.written())
		require.Equal(t, []Event{
			{Kind: EvDecided, Slot: 1, Ballot: bal, Cmd: cmd},
			{Kind: EvApplied, Slot: 1, Cmd: cmd, Outcome: Executed, Result: Result{OK: true}},
		}, sc.events())
		require.Equal(t, Slot(1), sc.s.Commit())
		require.Empty(t, sc.recv(peers[len(peers)-1], Msg{Type: MsgAccepted, Ballot: bal, Slot: 1}), "late")
		require.Empty(t, sc.events())
	}
}

// A quorum of one decides a slot the moment the leader proposes it, so the
// leader should apply it and answer at once. It does not: propose learns the
// slot but nothing advances the commit index afterwards, and the Accepted
// messages that would (with more replicas) find the slot decided already.
// This is a real bug of server.go (see the report); the test is kept,
// skipped, for whoever fixes it.
func TestScriptSingleReplicaDecidesAlone(t *testing.T) {
	h := newHarness(t, 1, 1, Config{Keys: 1}, ClientConfig{})
	h.startAll()
	h.campaign(0)
	require.True(t, h.server(0).IsLeader())
	replies := h.request(0, 0, put(1, 0, "solo"))
	require.Len(t, replies, 1)
	require.Equal(t, Slot(1), h.server(0).Applied())
}

// --- phase 1 recovery ---

func TestScriptNewLeaderReproposesHighestAcceptedAndFillsHoles(t *testing.T) {
	sc := started(t, 5, 0, Config{Keys: 4})
	sc.recv(3, Msg{Type: MsgPrepare, Ballot: b(4, 3), Slot: 1})
	sc.clear()
	sc.campaign()
	bal := b(5, 0)
	require.Equal(t, bal, sc.s.Ballot())
	a, bb, c0, c1, d := cput(5, 1, 0, "a"), cput(5, 2, 0, "b"), cput(5, 3, 1, "c0"), cput(5, 4, 1, "c1"), cput(5, 5, 2, "d")
	require.Empty(t, sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{
		{Slot: 1, Ballot: b(2, 1), Cmd: a},
		{Slot: 3, Ballot: b(3, 2), Cmd: c1},
	}}))
	out := sc.recv(2, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{
		{Slot: 1, Ballot: b(4, 3), Cmd: bb},
		{Slot: 3, Ballot: b(2, 1), Cmd: c0},
		{Slot: 4, Ballot: b(1, 1), Cmd: d},
	}})
	require.True(t, sc.s.IsLeader())
	var want []envelope
	for s, cmd := range []Command{bb, Noop, c1, d} {
		want = append(want, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: Slot(s + 1), Cmd: cmd})...)
	}
	want = append(want, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal})...)
	require.Equal(t, want, out)
	require.Equal(t, []any{
		roundRecord{R: 5},
		promiseRecord{B: bal},
		acceptRecord{S: 1, B: bal, C: bb},
		acceptRecord{S: 2, B: bal, C: Noop},
		acceptRecord{S: 3, B: bal, C: c1},
		acceptRecord{S: 4, B: bal, C: d},
	}, sc.written())
	require.Equal(t, []Event{{Kind: EvLeader, Slot: 4, Ballot: bal}}, sc.events())
	require.Equal(t, Slot(5), sc.s.next)
	require.Equal(t, Slot(4), sc.s.readyAt)

	// A new command goes after the recovered slots.
	e := cput(5, 6, 3, "e")
	require.Equal(t, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 5, Cmd: e}), sc.request(e))
}

func TestScriptPromisesReportingDecisionsAreLearned(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2})
	sc.campaign()
	bal := sc.s.Ballot()
	x := cput(3, 1, 0, "x")
	out := sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1, Entries: []Entry{
		{Slot: 2, Ballot: b(7, 2), Cmd: x, Decided: true}, // a decision is taken whatever its ballot
	}})
	require.True(t, sc.s.IsLeader())
	got, ok := sc.s.Decided(2)
	require.True(t, ok)
	require.Equal(t, x, got)
	want := append(sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: Noop}),
		sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: x})...)
	want = append(want, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal})...)
	require.Equal(t, want, out)
	require.Equal(t, []Event{
		{Kind: EvDecided, Slot: 2, Ballot: bal, Cmd: x},
		{Kind: EvLeader, Slot: 2, Ballot: bal},
	}, sc.events())
	// Slot 2 waits for the no-op in slot 1.
	require.Equal(t, Slot(0), sc.s.Applied())
	sc.recv(1, Msg{Type: MsgAccepted, Ballot: bal, Slot: 1})
	require.Equal(t, Slot(2), sc.s.Applied())
	require.Equal(t, "x", sc.s.Services().Get(0))
}

func TestScriptPhase1StartsAfterTheCommitIndex(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2})
	x, y := cput(3, 1, 0, "x"), cput(3, 2, 0, "y")
	sc.recv(1, Msg{Type: MsgCatchup, Ballot: b(1, 1), Entries: []Entry{{Slot: 1, Cmd: x, Decided: true}, {Slot: 2, Cmd: y, Decided: true}}})
	require.Equal(t, Slot(2), sc.s.Commit())
	sc.clear()
	out := sc.campaign()
	bal := sc.s.Ballot()
	require.Equal(t, sc.toPeers(Msg{Type: MsgPrepare, Ballot: bal, Slot: 3}), out)
	require.Panics(t, func() { sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1}) }, "a promise for other slots than asked")
}

func TestScriptPhase1IgnoresEntriesBeforeItsFirstSlot(t *testing.T) {
	sc := started(t, 3, 0, Config{Keys: 2})
	x, y, z := cput(3, 1, 0, "x"), cput(3, 2, 0, "y"), cput(3, 3, 1, "z")
	sc.recv(1, Msg{Type: MsgCatchup, Ballot: b(1, 1), Entries: []Entry{{Slot: 1, Cmd: x, Decided: true}}})
	sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(2, 2), Slot: 1})
	sc.campaign()
	bal := sc.s.Ballot()
	sc.clear()
	out := sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 2, Entries: []Entry{
		{Slot: 1, Ballot: b(2, 2), Cmd: y}, // below the first slot asked: dropped
		{Slot: 2, Ballot: b(2, 2), Cmd: z},
	}})
	require.True(t, sc.s.IsLeader())
	want := append(sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: z, Commit: 1}),
		sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal, Commit: 1})...)
	require.Equal(t, want, out)
	require.Equal(t, Slot(3), sc.s.next)
	got, _ := sc.s.Decided(1)
	require.Equal(t, x, got)
}

func TestScriptNewLeaderReproposesItsOwnDecisionsPastTheReports(t *testing.T) {
	// The candidate knows slot 3 decided (a catch-up with a hole); no
	// promise reports anything: slots 1 and 2 get no-ops, slot 3 its
	// decision.
	sc := started(t, 3, 0, Config{Keys: 2})
	x := cput(3, 1, 0, "x")
	sc.recv(1, Msg{Type: MsgCatchup, Ballot: b(1, 1), Entries: []Entry{{Slot: 3, Cmd: x, Decided: true}}})
	require.Equal(t, Slot(0), sc.s.Commit())
	sc.campaign()
	bal := sc.s.Ballot()
	sc.clear()
	out := sc.recv(1, Msg{Type: MsgPromise, Ballot: bal, Slot: 1})
	want := append(sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 1, Cmd: Noop}),
		sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 2, Cmd: Noop})...)
	want = append(want, sc.toPeers(Msg{Type: MsgAccept, Ballot: bal, Slot: 3, Cmd: x})...)
	want = append(want, sc.toPeers(Msg{Type: MsgHeartbeat, Ballot: bal})...)
	require.Equal(t, want, out)
	require.Equal(t, []Event{{Kind: EvLeader, Slot: 3, Ballot: bal}}, sc.events())
}

// --- acceptor ---

func TestScriptAcceptorRules(t *testing.T) {
	sc := started(t, 3, 1, Config{Keys: 2})
	a, a2 := cput(3, 1, 0, "a"), cput(3, 2, 0, "a2")

	// Prepare: promise, durably.
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}))
	require.Equal(t, []any{promiseRecord{B: b(2, 0)}}, sc.written())
	// The same prepare again: the same promise, no second record.
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(2, 0), Slot: 1}))
	require.Empty(t, sc.written())
	// Below the promise: nacked with the promise.
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgNack, Ballot: b(1, 2), Promised: b(2, 0)})},
		sc.recv(2, Msg{Type: MsgPrepare, Ballot: b(1, 2), Slot: 1}))
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgNack, Ballot: b(1, 2), Promised: b(2, 0)})},
		sc.recv(2, Msg{Type: MsgAccept, Ballot: b(1, 2), Slot: 1, Cmd: a}))
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgNack, Ballot: b(1, 2), Promised: b(2, 0)})},
		sc.recv(2, Msg{Type: MsgHeartbeat, Ballot: b(1, 2)}))
	require.Empty(t, sc.written(), "a refusal writes nothing")
	require.Equal(t, b(2, 0), sc.s.Promised())

	// Accept at the promise: accepted, durably, before the answer.
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgAccepted, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgAccept, Ballot: b(2, 0), Slot: 1, Cmd: a}))
	require.Equal(t, []any{acceptRecord{S: 1, B: b(2, 0), C: a}}, sc.written())
	require.Equal(t, len(sc.env.disk.recs), sc.env.disk.synced)
	// The same accept again: answered again, no second record.
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgAccepted, Ballot: b(2, 0), Slot: 1})},
		sc.recv(0, Msg{Type: MsgAccept, Ballot: b(2, 0), Slot: 1, Cmd: a}))
	require.Empty(t, sc.written())
	// A higher ballot's accept: the promise and the acceptance, in order.
	require.Equal(t, []envelope{sc.to(2, Msg{Type: MsgAccepted, Ballot: b(3, 2), Slot: 1})},
		sc.recv(2, Msg{Type: MsgAccept, Ballot: b(3, 2), Slot: 1, Cmd: a2}))
	require.Equal(t, []any{promiseRecord{B: b(3, 2)}, acceptRecord{S: 1, B: b(3, 2), C: a2}}, sc.written())
	require.Equal(t, b(3, 2), sc.s.Promised())

	// A promise reports the acceptances from the slot asked on.
	sc.recv(2, Msg{Type: MsgAccept, Ballot: b(3, 2), Slot: 3, Cmd: a})
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(4, 0), Slot: 1, Entries: []Entry{
		{Slot: 1, Ballot: b(3, 2), Cmd: a2},
		{Slot: 3, Ballot: b(3, 2), Cmd: a},
	}})}, sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(4, 0), Slot: 1}))
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(4, 0), Slot: 2, Entries: []Entry{
		{Slot: 3, Ballot: b(3, 2), Cmd: a},
	}})}, sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(4, 0), Slot: 2}))
	require.Equal(t, []envelope{sc.to(0, Msg{Type: MsgPromise, Ballot: b(4, 0), Slot: 4})},
		sc.recv(0, Msg{Type: MsgPrepare, Ballot: b(4, 0), Slot: 4}))
}
