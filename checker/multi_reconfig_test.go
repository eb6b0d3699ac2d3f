package checker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// rcmd is a log command that may be a membership change.
type rcmd struct {
	cmd
	epoch   uint32
	members uint64
	change  bool
}

func (c rcmd) Membership() (uint32, uint64, bool) { return c.epoch, c.members, c.change }

func (c rcmd) String() string {
	if c.change {
		return "reconfig e" + string(rune('0'+c.epoch)) + nodeSet(c.members)
	}
	return c.cmd.String()
}

func set(ids ...int) uint64 {
	var m uint64
	for _, id := range ids {
		m |= 1 << uint(id)
	}
	return m
}

var (
	rA    = rcmd{cmd: putA}
	rB    = rcmd{cmd: putB}
	rNoop = rcmd{}
	// {0,1,2} -> {0,1,3}: replica 2 replaced by 3.
	replace23 = rcmd{cmd: cmd{client: 9, seq: 1, op: "reconfig"}, epoch: 1, members: set(0, 1, 3), change: true}
)

func accept(t *testing.T, c *MultiLog[rcmd], slot uint64, b paxos.Ballot, x rcmd, by ...int) {
	t.Helper()
	for _, n := range by {
		require.Nil(t, c.Accepted(paxos.NodeID(n), slot, b, x, 0))
	}
}

// A slot is chosen by a majority of the configuration that governs it:
// the initial one until slot 1's change takes effect at slot 1+α, the
// new one from there. A removed replica's acceptances no longer count, a
// spare's never did until it was added.
func TestMultiLogJudgesEachSlotByItsConfiguration(t *testing.T) {
	c := NewMultiLog[rcmd](5)
	c.EnableReconfig(2, set(0, 1, 2))
	accept(t, c, 1, b1, replace23, 0, 1)
	require.Nil(t, c.Decided(0, 1, b1, replace23, 1))
	// Slot 2 is still the old configuration's: 0 and 2 choose it, 0 and 3 would not.
	accept(t, c, 2, b1, rA, 0, 3)
	v := c.Decided(0, 2, b1, rA, 2)
	require.NotNil(t, v)
	require.Equal(t, "unchosen-decision", v.Kind)
	require.Contains(t, v.Message, "slot 2's acceptors are e0{n0,n1,n2} (the initial one)")
	accept(t, c, 2, b1, rA, 2)
	require.Nil(t, c.Decided(0, 2, b1, rA, 3))
	// Slot 3 is the new configuration's: 2 was removed and does not count.
	accept(t, c, 3, b1, rB, 0, 2)
	v = c.Decided(0, 3, b1, rB, 4)
	require.NotNil(t, v)
	require.Contains(t, v.Message, "e1{n0,n1,n3} (chosen in slot 1)")
	accept(t, c, 3, b1, rB, 3)
	require.Nil(t, c.Decided(0, 3, b1, rB, 5))
	ep, m, ok := c.Conf(3)
	require.True(t, ok)
	require.Equal(t, uint32(1), ep)
	require.Equal(t, set(0, 1, 3), m)
}

// Votes for a slot whose configuration is not known yet (an earlier slot
// within α is not chosen) wait, and are judged once it is.
func TestMultiLogJudgesLateVotesOnceTheConfigurationIsKnown(t *testing.T) {
	c := NewMultiLog[rcmd](5)
	c.EnableReconfig(2, set(0, 1, 2))
	accept(t, c, 3, b1, rB, 0, 3)
	v := c.Decided(0, 3, b1, rB, 1)
	require.NotNil(t, v)
	require.Contains(t, v.Message, "not known yet")
	accept(t, c, 2, b1, rA, 0, 1)
	accept(t, c, 1, b1, replace23, 0, 1) // now slots 1 and 2 are chosen: slot 3 is judged
	require.Nil(t, c.Decided(1, 3, b1, rB, 2))
}

// Two majorities of different configurations for one slot are a split the
// checker names: chosen-twice, with the slot's acceptors.
func TestMultiLogChosenTwiceAcrossConfigurations(t *testing.T) {
	c := NewMultiLog[rcmd](5)
	c.EnableReconfig(2, set(0, 1, 2))
	accept(t, c, 1, b1, replace23, 0, 1)
	accept(t, c, 2, b1, rNoop, 0, 1)
	accept(t, c, 3, b1, rA, 0, 3)
	v := c.Accepted(1, 3, b2, rB, 0)
	require.NotNil(t, v)
	require.Equal(t, "accepted-above-chosen", v.Kind)
	require.Contains(t, v.Message, "e1{n0,n1,n3}")
}

// A replica that installs a configuration the log does not (from another
// slot, or one the log refused) has two configurations in effect.
func TestMultiLogConfigInstalledMustBeTheLogs(t *testing.T) {
	c := NewMultiLog[rcmd](5)
	c.EnableReconfig(3, set(0, 1, 2))
	accept(t, c, 1, b1, replace23, 0, 1)
	require.Nil(t, c.ConfigInstalled(0, 1, 4, 1, set(0, 1, 3), true, 1))
	v := c.ConfigInstalled(1, 1, 2, 1, set(0, 1, 3), true, 2)
	require.NotNil(t, v)
	require.Equal(t, "config-split", v.Kind)
	require.Contains(t, v.Message, "installed e1{n0,n1,n3} from slot 2")
	require.Contains(t, v.Message, "slot 2 is governed by e0{n0,n1,n2}")
	// A second change with the same epoch is refused by the log.
	again := rcmd{cmd: cmd{client: 9, seq: 2, op: "reconfig"}, epoch: 1, members: set(0, 3), change: true}
	accept(t, c, 2, b1, again, 0, 1)
	require.Nil(t, c.ConfigInstalled(0, 2, 5, 0, 0, false, 3))
	v = c.ConfigInstalled(2, 2, 5, 2, set(0, 3), true, 4)
	require.NotNil(t, v)
	require.Contains(t, v.Message, "the log refuses it")
}

// Without EnableReconfig every replica is an acceptor of every slot, as
// before.
func TestMultiLogWithoutReconfigIsUnchanged(t *testing.T) {
	c := NewMultiLog[rcmd](3)
	accept(t, c, 1, b1, replace23, 0, 1)
	require.Nil(t, c.Decided(0, 1, b1, replace23, 1))
	require.Nil(t, c.ConfigInstalled(0, 1, 4, 1, set(0, 1, 3), true, 1))
	_, _, ok := c.Conf(1)
	require.False(t, ok)
}
