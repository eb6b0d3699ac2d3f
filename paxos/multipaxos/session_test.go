package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

// The two sides of a session's lease bound it from either end: the client
// counts less than Lease of true time however its clock errs, the leader
// more, and expire-early is the leader trusting its clock.
func TestSessionTermsBoundTheLease(t *testing.T) {
	terms := SessionTerms{Lease: 300 * paxos.Millisecond, DriftPPM: 200_000, Skew: 10 * paxos.Millisecond}
	require.True(t, terms.valid())
	// A client clock running 20% slow, stepping back 2*skew: its view of
	// ClientView local µs spans at most Lease of true time.
	require.LessOrEqual(t, int64(terms.ClientView()+2*terms.Skew)*1_000_000/(1_000_000-terms.DriftPPM), int64(terms.Lease))
	// A leader clock running 20% fast, stepping forward 2*skew: ServiceWait
	// local µs span at least Lease of true time.
	require.GreaterOrEqual(t, int64(terms.ServiceWait(0)-2*terms.Skew)*1_000_000/(1_000_000+terms.DriftPPM), int64(terms.Lease))
	require.Equal(t, terms.Lease, terms.ServiceWait(paxos.ExpireEarly))
	parsed, ok := parseTerms(terms.String())
	require.True(t, ok)
	require.Equal(t, terms, parsed)
	_, ok = parseTerms("lease=1us drift=0ppm skew=5us")
	require.False(t, ok, "a lease shorter than the skew margin leaves the client nothing")
}

// Sessions in the replicated state: a keep-alive renews, an expire applies
// only at the beat it was decided on and frees the session's locks, and an
// expired session can neither renew nor lock.
func TestSessionsApplyInLogOrder(t *testing.T) {
	svc := NewServices(0, 2, 0)
	terms := SessionTerms{Lease: 300 * paxos.Millisecond, DriftPPM: 100_000, Skew: 10 * paxos.Millisecond}
	apply := func(c Command) Result {
		r, out := svc.Apply(c)
		require.Equal(t, Executed, out, "%v", c)
		return r
	}
	open := apply(Command{Op: OpOpen, Client: 5, Seq: 1, Value: terms.String()})
	require.Equal(t, Result{OK: true, Token: 1}, open)
	s := SessionID(open.Token)
	require.True(t, svc.SessionLive(s))
	require.Equal(t, Result{OK: true, Token: 1}, apply(Command{Op: OpAcquire, Key: 1, Client: 5, Seq: 2, Session: s}))
	require.Equal(t, Result{OK: true}, apply(Command{Op: OpKeepAlive, Client: 5, Seq: 3, Session: s}))
	// An expire decided at beat 1 comes after the keep-alive: a no-op.
	require.Equal(t, Result{}, apply(Command{Op: OpExpire, Client: -1, Session: s, Beat: 1}))
	require.True(t, svc.SessionLive(s))
	held, by, _, token := svc.LockHolder(1)
	require.True(t, held)
	require.Equal(t, s, by)
	require.Equal(t, uint64(1), token)
	// At beat 2 it ends the session and frees the lock.
	require.Equal(t, Result{OK: true}, apply(Command{Op: OpExpire, Client: -1, Session: s, Beat: 2}))
	require.False(t, svc.SessionLive(s))
	held, _, _, _ = svc.LockHolder(1)
	require.False(t, held)
	require.Equal(t, Result{Value: Expired}, apply(Command{Op: OpKeepAlive, Client: 5, Seq: 4, Session: s}))
	require.Equal(t, Result{Value: Expired}, apply(Command{Op: OpAcquire, Key: 0, Client: 5, Seq: 5, Session: s}))
	// A new session takes the lock with the next token.
	s2 := SessionID(apply(Command{Op: OpOpen, Client: 6, Seq: 1, Value: terms.String()}).Token)
	require.Equal(t, Result{OK: true, Token: 2}, apply(Command{Op: OpAcquire, Key: 1, Client: 6, Seq: 2, Session: s2}))
	require.Equal(t, Result{Value: Expired}, apply(Command{Op: OpRelease, Key: 1, Client: 5, Seq: 6, Session: s}))
	require.Equal(t, Result{}, apply(Command{Op: OpRelease, Key: 0, Client: 6, Seq: 3, Session: s2}), "a lock it does not hold")
	require.Panics(t, func() { svc.Apply(Command{Op: OpExpire, Client: -1, Session: s2, Beat: 9}) }, "an expire beyond the beats applied")
	require.Equal(t, 2, svc.Sessions())
}

// The resource refuses a token below the highest it accepted, and keeps
// that across a restart; with no-fencing-check it takes every write.
func TestResourceFences(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoFencingCheck} {
		env := newHarness(t, 3, 5, Config{}, ClientConfig{}).envs[7]
		res := NewResource(env, ResourceConfig{Locks: 1, Bugs: bugs})
		res.Start()
		write := func(from paxos.NodeID, token uint64) bool {
			res.Receive(from, Msg{Type: MsgWrite, Cmd: Command{Client: ClientID(from), Seq: 1}, Result: Result{Token: token}})
			ev := res.TakeEvents()
			require.Len(t, ev, 1)
			return ev[0].Accepted
		}
		require.True(t, write(4, 1))
		require.True(t, write(5, 2))
		require.Equal(t, bugs != 0, write(4, 1))
		require.True(t, write(5, 2))
		res = NewResource(env, ResourceConfig{Locks: 1, Bugs: bugs})
		res.Start()
		require.Equal(t, uint64(2), res.Highest(0))
	}
}
