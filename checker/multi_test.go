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

func TestMultiLogAcceptsAConsistentLog(t *testing.T) {
	c := NewMultiLog[cmd](3)
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
	require.Nil(t, c.Decided(0, 4, b1, putA, 10))
	v := c.Decided(2, 4, b2, putB, 11)
	require.NotNil(t, v)
	require.Equal(t, "agreement", v.Kind)
	require.Equal(t, int64(11), v.Time)
	require.Equal(t, "slot 4: node 2 decided put b c6#1 at ballot 2.1, but node 0 decided put a c5#1 at ballot 1.0", v.Message)

	c = NewMultiLog[cmd](3)
	require.Nil(t, c.Applied(1, 1, noop, false, 5))
	v = c.Decided(0, 1, b2, putA, 6)
	require.NotNil(t, v)
	require.Contains(t, v.Message, "but node 1 applied noop")
}

func TestMultiLogAppliesInOrder(t *testing.T) {
	c := NewMultiLog[cmd](2)
	require.Nil(t, c.Applied(0, 1, putA, true, 1))
	v := c.Applied(0, 3, putB, true, 2)
	require.NotNil(t, v)
	require.Equal(t, "log-order", v.Kind)
	require.Contains(t, v.Message, "node 0 applied slot 3")
	v = NewMultiLog[cmd](2).Applied(1, 1, putA, true, 1)
	require.Nil(t, v)
}

func TestMultiLogExactlyOnce(t *testing.T) {
	c := NewMultiLog[cmd](2)
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
