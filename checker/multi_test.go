package checker

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// cmd is a log command for these tests: client 0 means a no-op.
type cmd struct {
	client int
	seq    uint64
	op     string
}

func (c cmd) String() string {
	if c.client == 0 {
		return "noop"
	}
	return c.op + " c" + strconv.Itoa(c.client) + "#" + strconv.FormatUint(c.seq, 10)
}

func (c cmd) Request() (int, uint64, bool) { return c.client, c.seq, c.client != 0 }

var (
	b1   = paxos.Ballot{Round: 1, Node: 0}
	b2   = paxos.Ballot{Round: 2, Node: 1}
	noop = cmd{}
	putA = cmd{client: 5, seq: 1, op: "put a"}
	putB = cmd{client: 6, seq: 1, op: "put b"}
)

// choose records that a majority of acceptors durably accepted c in slot
// at ballot b, as the acceptors' disks would tell the checker.
func choose(t *testing.T, log *MultiLog[cmd], slot uint64, b paxos.Ballot, c cmd) {
	t.Helper()
	for node := 0; node <= len(log.replicas)/2; node++ {
		require.Nil(t, log.Accepted(paxos.NodeID(node), slot, b, c, 0))
	}
}

func TestMultiLogAcceptsAConsistentLog(t *testing.T) {
	c := NewMultiLog[cmd](3)
	choose(t, c, 1, b1, putA)
	choose(t, c, 2, b1, noop)
	for node := paxos.NodeID(0); node < 3; node++ {
		require.Nil(t, c.Decided(node, 1, b1, putA, 10))
		require.Nil(t, c.Decided(node, 2, b1, noop, 11))
		require.Nil(t, c.Applied(node, 1, putA, true, 12))
		require.Nil(t, c.Applied(node, 2, noop, false, 13))
	}
	// A restarted replica applies its log again from the start.
	c.Restarted(1)
	require.Nil(t, c.Applied(1, 1, putA, true, 20))
	require.Nil(t, c.Granted(1, 1, 0, 1, 20))
	require.Nil(t, c.Granted(0, 1, 0, 1, 21))
	require.Equal(t, uint64(1), c.AppliedUpTo(1))
	require.Equal(t, uint64(2), c.Slots())
}

func TestMultiLogAgreement(t *testing.T) {
	c := NewMultiLog[cmd](3)
	choose(t, c, 4, b1, putA)
	require.Nil(t, c.Decided(0, 4, b1, putA, 10))
	v := c.Decided(2, 4, b2, putB, 11)
	require.NotNil(t, v)
	require.Equal(t, "agreement", v.Kind)
	require.Equal(t, int64(11), v.Time)
	require.Equal(t, "slot 4: node 2 decided put b c6#1 at ballot 2.1, but node 0 decided put a c5#1 at ballot 1.0", v.Message)

	c = NewMultiLog[cmd](3)
	choose(t, c, 1, b1, noop)
	require.Nil(t, c.Applied(1, 1, noop, false, 5))
	v = c.Decided(0, 1, b2, putA, 6)
	require.NotNil(t, v)
	require.Contains(t, v.Message, "but node 1 applied noop")
}

func TestMultiLogAppliesInOrder(t *testing.T) {
	c := NewMultiLog[cmd](2)
	choose(t, c, 1, b1, putA)
	choose(t, c, 3, b1, putB)
	require.Nil(t, c.Applied(0, 1, putA, true, 1))
	v := c.Applied(0, 3, putB, true, 2)
	require.NotNil(t, v)
	require.Equal(t, "log-order", v.Kind)
	require.Contains(t, v.Message, "node 0 applied slot 3")
	d := NewMultiLog[cmd](2)
	choose(t, d, 1, b1, putA)
	require.Nil(t, d.Applied(1, 1, putA, true, 1))
}

func TestMultiLogExactlyOnce(t *testing.T) {
	c := NewMultiLog[cmd](2)
	choose(t, c, 1, b1, putA)
	choose(t, c, 2, b1, putA)
	require.Nil(t, c.Applied(0, 1, putA, true, 1))
	require.Nil(t, c.Applied(0, 2, putA, false, 2), "a duplicate filtered by the session table is fine")
	require.Nil(t, c.Applied(1, 1, putA, true, 3), "the same slot on another replica is fine")
	v := c.Applied(1, 2, putA, true, 4)
	require.NotNil(t, v)
	require.Equal(t, "exactly-once", v.Kind)
	require.Equal(t, "client 5 seq 1 executed twice: in slot 1 and, by node 1, again in slot 2 (put a c5#1)", v.Message)
}

func TestMultiLogFencingTokens(t *testing.T) {
	c := NewMultiLog[cmd](2)
	require.Nil(t, c.Granted(0, 3, 0, 1, 1))
	require.Nil(t, c.Granted(0, 5, 1, 1, 1), "locks count separately")
	v := c.Granted(0, 7, 0, 1, 2)
	require.NotNil(t, v)
	require.Equal(t, "fencing", v.Kind)

	c = NewMultiLog[cmd](2)
	require.Nil(t, c.Granted(0, 3, 0, 1, 1))
	require.Nil(t, c.Granted(0, 7, 0, 2, 1))
	v = c.Granted(1, 3, 0, 2, 2)
	require.NotNil(t, v, "another replica granted a different token in the same slot")
	c = NewMultiLog[cmd](2)
	require.Nil(t, c.Granted(0, 7, 0, 5, 1))
	v = c.Granted(1, 9, 0, 4, 2)
	require.NotNil(t, v, "a later slot handed out a lower token")
	require.Contains(t, v.Message, "slot 7 granted it token 5 already")
}

func TestMultiLogDecidedMeansChosen(t *testing.T) {
	c := NewMultiLog[cmd](3)
	v := c.Decided(1, 1, b1, putA, 7)
	require.NotNil(t, v, "nothing accepted yet")
	require.Equal(t, "unchosen-decision", v.Kind)
	require.Equal(t, int64(7), v.Time)
	require.Contains(t, v.Message, "no acceptor accepted anything in that slot")

	c = NewMultiLog[cmd](3)
	require.Nil(t, c.Accepted(2, 1, b1, putA, 1))
	v = c.Decided(0, 1, b1, putA, 2)
	require.NotNil(t, v, "one acceptor of three is no majority")
	require.Equal(t, "unchosen-decision", v.Kind)
	require.Contains(t, v.Message, "put a c5#1 at ballot 1.0 by acceptors {n2}")

	c = NewMultiLog[cmd](3)
	require.Nil(t, c.Accepted(0, 1, b1, putA, 1))
	require.Nil(t, c.Accepted(1, 1, b2, putA, 1))
	require.NotNil(t, c.Applied(0, 1, putA, true, 2), "a majority across two ballots chooses nothing")
	require.Nil(t, c.Accepted(2, 1, b2, putA, 3))
	require.Nil(t, c.Decided(0, 1, b2, putA, 4))
	require.Nil(t, c.Applied(1, 1, putA, true, 4))
	v = c.Decided(2, 2, b2, putB, 5)
	require.NotNil(t, v, "chosen in another slot only")
	require.Equal(t, "unchosen-decision", v.Kind)

	c = NewMultiLog[cmd](3)
	choose(t, c, 1, b1, putA)
	require.Nil(t, c.Accepted(2, 1, b1, putA, 1), "a third acceptance of the chosen command")
	v = c.Decided(0, 1, b1, noop, 2)
	require.NotNil(t, v, "the no-op was never chosen, only put a")
	require.Equal(t, "unchosen-decision", v.Kind)
	require.Contains(t, v.Message, "(chosen: put a c5#1 at ballot 1.0)")
}

func TestMultiLogAcceptanceInvariants(t *testing.T) {
	c := NewMultiLog[cmd](3)
	choose(t, c, 1, b2, putA)
	require.Nil(t, c.Accepted(2, 1, b1, putB, 1), "below the chosen ballot anything goes")
	v := c.Accepted(2, 1, paxos.Ballot{Round: 3}, putB, 2)
	require.NotNil(t, v)
	require.Equal(t, "accepted-above-chosen", v.Kind)
	require.Contains(t, v.Message, "above ballot 2.1 where put a c5#1 was chosen")
	require.Nil(t, c.Accepted(2, 1, paxos.Ballot{Round: 3}, putA, 3), "above it, the chosen command is fine")

	c = NewMultiLog[cmd](3)
	require.Nil(t, c.Accepted(0, 1, b1, putA, 1))
	v = c.Accepted(1, 1, b1, putB, 2)
	require.NotNil(t, v)
	require.Equal(t, "one-value-per-ballot", v.Kind)
	require.Contains(t, v.Message, "where acceptors {n0} accepted put a c5#1")

	// Two commands chosen: the lower ballot's majority completes after the
	// higher one's (a checker that only compared upward would miss it).
	c = NewMultiLog[cmd](3)
	choose(t, c, 1, b2, putA)
	require.Nil(t, c.Accepted(2, 1, b1, putB, 1))
	v = c.Accepted(1, 1, b1, putB, 2)
	require.NotNil(t, v)
	require.Equal(t, "chosen-twice", v.Kind)
	require.Contains(t, v.Message, "put b c6#1 is chosen at ballot 1.0 (acceptors {n1,n2}), but put a c5#1 was chosen at ballot 2.1")

	// The chosen ballot moves down to the lowest majority, so P2b is asked
	// from there.
	c = NewMultiLog[cmd](3)
	choose(t, c, 1, b2, putA)
	choose(t, c, 1, b1, putA)
	v = c.Accepted(2, 1, paxos.Ballot{Round: 1, Node: 5}, putB, 3)
	require.NotNil(t, v)
	require.Equal(t, "accepted-above-chosen", v.Kind)

	for _, bad := range []struct {
		node paxos.NodeID
		slot uint64
	}{{-1, 1}, {3, 1}, {0, 0}} {
		v = NewMultiLog[cmd](3).Accepted(bad.node, bad.slot, b1, putA, 9)
		require.NotNil(t, v)
		require.Equal(t, "acceptor", v.Kind)
	}
}
