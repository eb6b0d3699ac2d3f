package paxos

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// A Single node's dead-letter promises, checked against its own handlers:
// random walks feed a node messages from a small universe, and once the
// node promises to ignore or refuse a message, or abandons one it sent,
// every later state must keep the promise. The exhaustive search removes
// such messages on the strength of these promises (sim.World.CollectDead).

type letterOf struct {
	from NodeID
	m    Msg
}

// letterUniverse is every message two proposers of two rounds could send
// a node of a three-node cluster.
func letterUniverse() []letterOf {
	ballots := []Ballot{ballot(1, 0), ballot(1, 1), ballot(2, 0), ballot(2, 1)}
	accs := append([]Ballot{{}}, ballots...)
	values := []Value{101, 102}
	var msgs []Msg
	for _, b := range ballots {
		msgs = append(msgs, Msg{Type: MsgPrepare, Ballot: b})
		for _, v := range values {
			msgs = append(msgs, Msg{Type: MsgAccept, Ballot: b, Value: v}, Msg{Type: MsgAccepted, Ballot: b, Value: v})
		}
		// What acceptors can send: promises report acceptances below the
		// ballot, nacks a promise not below it.
		for _, a := range accs {
			switch {
			case a.IsZero():
				msgs = append(msgs, Msg{Type: MsgPromise, Ballot: b})
			case a.Less(b):
				for _, v := range values {
					msgs = append(msgs, Msg{Type: MsgPromise, Ballot: b, AccBallot: a, Value: v})
				}
			default:
				msgs = append(msgs, Msg{Type: MsgNack, Ballot: b, AccBallot: a})
			}
		}
	}
	msgs = append(msgs, Msg{Type: MsgQuery}, Msg{Type: MsgDecided, Value: 101}, Msg{Type: MsgDecided, Value: 102})
	var out []letterOf
	for from := NodeID(0); from < 3; from++ {
		for _, m := range msgs {
			out = append(out, letterOf{from, m})
		}
	}
	return out
}

// answersTo are the answers node to could give to m in the universe.
func answersTo(m Msg, universe []letterOf) []Msg {
	var out []Msg
	for _, l := range universe {
		if l.from == 0 && l.m.Ballot == m.Ballot && (l.m.Type == MsgNack || (m.Type == MsgPrepare && l.m.Type == MsgPromise)) {
			out = append(out, l.m)
		}
	}
	return out
}

// tryDeliver delivers m to a copy of s and returns what the copy did and
// whether its state changed.
func tryDeliver(s *Single, from NodeID, m Msg) (ops []op, changed bool) {
	env := &scriptEnv{id: s.id, n: s.n, timers: map[TimerID]Duration{}}
	c := s.CloneInto(env, nil)
	before := c.Fingerprint()
	func() {
		defer func() { recover() }() // a panicking handler did something: changed
		changed = true
		c.Receive(from, m)
		changed = false
	}()
	return env.ops, changed || c.Fingerprint() != before
}

func TestDeadLetterPromisesKept(t *testing.T) {
	universe := letterUniverse()
	configs := []struct {
		id   NodeID
		cfg  SingleConfig
		name string
	}{
		{0, SingleConfig{Propose: 101}, "proposer"},
		{1, SingleConfig{Propose: 102}, "proposer 1"},
		{2, SingleConfig{}, "acceptor and learner"},
		{0, SingleConfig{Propose: 101, Bugs: StalePromise}, "stale-promise"},
		{2, SingleConfig{Bugs: AcceptLowerBallot}, "accept-lower-ballot"},
		{0, SingleConfig{Propose: 101, Bugs: NackQuorum}, "nack-quorum"},
		{0, SingleConfig{Propose: 101, Bugs: DupBallot}, "dup-ballot"},
		{2, SingleConfig{Bugs: CountDuplicates}, "count-duplicates"},
	}
	checked := 0
	for _, c := range configs {
		rng := rand.New(rand.NewPCG(uint64(c.id)+7, uint64(len(c.name))))
		for walk := 0; walk < 150; walk++ {
			env := &scriptEnv{id: c.id, n: 3, timers: map[TimerID]Duration{}}
			node := NewSingle(env, c.cfg)
			node.Start()
			ignored := map[letterOf]bool{}
			refused := map[letterOf]bool{}
			var sent []letterOf // prepares and accepts the node sent, as (to, m)
			abandoned := map[letterOf]bool{}
			for step := 0; step < 25; step++ {
				// The promises made so far hold here.
				for l := range ignored {
					ops, changed := tryDeliver(node, l.from, l.m)
					require.False(t, changed || len(ops) != 0, "%s: node %d promised to ignore %v from %d, then: changed=%v did %v (%s)",
						c.name, c.id, l.m, l.from, changed, ops, node.Describe())
					checked++
				}
				for l := range refused {
					ops, changed := tryDeliver(node, l.from, l.m)
					require.False(t, changed, "%s: node %d promised to refuse %v from %d, then changed (%s)", c.name, c.id, l.m, l.from, node.Describe())
					for _, o := range ops {
						require.True(t, o.kind == opSend && o.to == l.from, "%s: node %d refused %v from %d by %v", c.name, c.id, l.m, l.from, o)
					}
					checked++
				}
				for l := range abandoned {
					for _, a := range answersTo(l.m, universe) {
						require.True(t, node.Ignores(l.from, a), "%s: node %d abandoned %v to %d but does not ignore %v (%s)",
							c.name, c.id, l.m, l.from, a, node.Describe())
						ops, changed := tryDeliver(node, l.from, a)
						require.False(t, changed || len(ops) != 0, "%s: node %d abandoned %v to %d, yet %v changed it", c.name, c.id, l.m, l.from, a)
						checked++
					}
				}
				// New promises.
				for _, l := range universe {
					if l.from == c.id {
						continue
					}
					if node.Ignores(l.from, l.m) {
						ignored[l] = true
					} else if node.Refuses(l.from, l.m) {
						refused[l] = true
					}
				}
				for _, l := range sent {
					if node.Abandoned(l.from, l.m) {
						abandoned[l] = true
					}
				}
				// A step: a timer or a message from the universe.
				if rng.IntN(4) == 0 {
					node.Timeout(TimerPropose)
				} else {
					l := universe[rng.IntN(len(universe))]
					if l.from == c.id {
						continue
					}
					node.Receive(l.from, l.m)
				}
				for _, o := range env.ops {
					if o.kind == opSend && o.to != c.id && (o.m.Type == MsgPrepare || o.m.Type == MsgAccept) {
						sent = append(sent, letterOf{o.to, o.m})
					}
				}
				env.ops = nil
			}
		}
	}
	require.Greater(t, checked, 100_000)
	t.Logf("%d promises checked", checked)
}

// The promises are the ones the search needs, and no more: a proposer
// collecting promises for its ballot reads them, a proposer that moved on
// ignores them, a refusal needs a promise above the ballot.
func TestDeadLetterPromisesScripted(t *testing.T) {
	s := newScript(t, 3, 0, SingleConfig{Propose: 101})
	require.Equal(t, "promised=0.0 accepted=-", s.node.Describe(), "idle: no phase shown")
	s.fire(TimerPropose) // ballot 1.0, phase 1
	require.Equal(t, "promised=0.0 accepted=- phase1 b=1.0", s.node.Describe())
	require.False(t, s.node.Ignores(1, Msg{Type: MsgPromise, Ballot: ballot(1, 0)}))
	require.False(t, s.node.Ignores(1, Msg{Type: MsgNack, Ballot: ballot(1, 0), AccBallot: ballot(1, 1)}))
	require.False(t, s.node.Abandoned(1, Msg{Type: MsgPrepare, Ballot: ballot(1, 0)}))
	require.False(t, s.node.Ignores(1, Msg{Type: MsgPromise, Ballot: ballot(2, 0)}), "a ballot it may still start")
	s.fire(TimerPropose)                                   // ballot 2.0: 1.0 is left
	s.recv(0, Msg{Type: MsgPrepare, Ballot: ballot(2, 0)}) // its own acceptor's part
	require.True(t, s.node.Ignores(1, Msg{Type: MsgPromise, Ballot: ballot(1, 0)}))
	require.True(t, s.node.Ignores(1, Msg{Type: MsgNack, Ballot: ballot(1, 0), AccBallot: ballot(1, 1)}))
	require.True(t, s.node.Abandoned(1, Msg{Type: MsgPrepare, Ballot: ballot(1, 0)}))
	require.True(t, s.node.Abandoned(1, Msg{Type: MsgAccept, Ballot: ballot(1, 0), Value: 101}))
	require.False(t, s.node.Abandoned(1, Msg{Type: MsgPrepare, Ballot: ballot(2, 0)}))
	require.False(t, s.node.Ignores(1, Msg{Type: MsgAccepted, Ballot: ballot(2, 0), Value: 101}), "undecided: it counts acceptances")
	// Its own acceptor promised 2.0: prepares and accepts below are refused.
	require.True(t, s.node.Refuses(1, Msg{Type: MsgPrepare, Ballot: ballot(1, 1)}))
	require.True(t, s.node.Refuses(1, Msg{Type: MsgAccept, Ballot: ballot(1, 1), Value: 102}))
	require.False(t, s.node.Refuses(1, Msg{Type: MsgPrepare, Ballot: ballot(2, 1)}))
	require.False(t, s.node.Refuses(1, Msg{Type: MsgAccept, Ballot: ballot(2, 0), Value: 101}), "its own ballot is accepted")
	require.False(t, s.node.Ignores(1, Msg{Type: MsgPrepare, Ballot: ballot(1, 1)}), "a refusal answers")

	// With the bugs that read old promises or accept below a promise, the
	// node promises less.
	st := newScript(t, 3, 0, SingleConfig{Propose: 101, Bugs: StalePromise})
	st.fire(TimerPropose)
	st.fire(TimerPropose)
	require.False(t, st.node.Ignores(1, Msg{Type: MsgPromise, Ballot: ballot(1, 0)}))
	require.False(t, st.node.Abandoned(1, Msg{Type: MsgPrepare, Ballot: ballot(1, 0)}))
	al := newScript(t, 3, 2, SingleConfig{Bugs: AcceptLowerBallot})
	al.recv(0, Msg{Type: MsgPrepare, Ballot: ballot(2, 0)})
	require.True(t, al.node.Refuses(0, Msg{Type: MsgPrepare, Ballot: ballot(1, 1)}))
	require.False(t, al.node.Refuses(1, Msg{Type: MsgAccept, Ballot: ballot(1, 1), Value: 102}))

	// A decided learner ignores acceptances and decisions.
	l := newScript(t, 3, 2, SingleConfig{})
	l.recv(2, Msg{Type: MsgPrepare, Ballot: ballot(1, 0)})
	l.recv(0, Msg{Type: MsgDecided, Value: 101})
	require.True(t, l.node.Ignores(0, Msg{Type: MsgAccepted, Ballot: ballot(1, 0), Value: 101}))
	require.True(t, l.node.Ignores(0, Msg{Type: MsgDecided, Value: 102}))
	require.False(t, l.node.Ignores(0, Msg{Type: MsgQuery}), "a decided node answers queries")
}
