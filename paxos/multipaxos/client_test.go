package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

func TestClientRetriesTheSameCommandElsewhere(t *testing.T) {
	h := newHarness(t, 3, 1, testConfig(), ClientConfig{Workload: Workload{Ops: 2, Keys: 2, Think: 10 * paxos.Millisecond}})
	c := h.client(0)
	c.Start()
	h.fire(3, timerThink)
	require.Len(t, h.queue, 1)
	first := h.queue[0]
	require.Equal(t, MsgRequest, first.m.Type)
	require.Equal(t, Seq(1), first.m.Cmd.Seq)
	h.queue = nil // lost

	h.fire(3, timerRetry)
	require.Len(t, h.queue, 1)
	retry := h.queue[0]
	require.Equal(t, first.m.Cmd, retry.m.Cmd, "a retry resends the same command, same sequence number")
	require.Equal(t, (first.to+1)%3, retry.to, "to the next replica")
	h.queue = nil

	// A redirect is followed at once.
	c.Receive(retry.to, Msg{Type: MsgRedirect, Leader: 2, Cmd: Command{Client: 3, Seq: 1}})
	if retry.to != 2 {
		require.Len(t, h.queue, 1)
		require.Equal(t, paxos.NodeID(2), h.queue[0].to)
		h.queue = nil
	}

	// The reply completes the call; a duplicate reply changes nothing.
	reply := Msg{Type: MsgReply, Cmd: first.m.Cmd, Result: Result{OK: true}}
	h.now = 42
	c.Receive(2, reply)
	c.Receive(2, reply)
	calls := c.Calls()
	require.Len(t, calls, 1)
	require.True(t, calls[0].Returned)
	require.Equal(t, paxos.Time(42), calls[0].Return)
	require.False(t, c.Done(), "one more op to go")
	_, waiting := c.Waiting()
	require.False(t, waiting)
}

func TestClientsAndReplicasRunAWorkloadToTheEnd(t *testing.T) {
	h := newHarness(t, 3, 2, testConfig(), ClientConfig{Workload: Workload{Ops: 20, Keys: 2, Locks: 2, Think: paxos.Millisecond}})
	h.startAll()
	// Run timers in deadline order, delivering messages after each.
	for step := 0; step < 10_000; step++ {
		h.deliver(nil)
		if h.client(0).Done() && h.client(1).Done() {
			break
		}
		next, who, which := paxos.Time(-1), -1, paxos.TimerID(0)
		for i, e := range h.envs {
			for t, d := range e.timers {
				if d >= 0 && (next < 0 || d < next) {
					next, who, which = d, i, paxos.TimerID(t)
				}
			}
		}
		require.GreaterOrEqual(t, who, 0, "nothing left to run")
		h.now = max(h.now, next)
		h.fire(who, which)
	}
	for i := 0; i < 2; i++ {
		require.True(t, h.client(i).Done(), "client %d", i)
		for _, call := range h.client(i).Calls() {
			require.True(t, call.Returned)
			require.GreaterOrEqual(t, call.Return, call.Call)
		}
	}
}
