package checker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The session checks, each shown broken once.
func TestSessionsJudgeExpiryAgainstThePromise(t *testing.T) {
	c := NewSessions(300, 1)
	c.Opened(1, 5)
	require.Nil(t, c.Renewed(5, 1, 100, 120)) // promised to 400
	v := c.Expired(1, 350)
	require.NotNil(t, v)
	require.Equal(t, "session-expiry", v.Kind)

	c = NewSessions(300, 1)
	c.Opened(1, 5)
	require.Nil(t, c.Expired(1, 500))
	// An acknowledgement that arrives late still binds: sent at 250, it
	// promised the lease to 550.
	require.Equal(t, "session-expiry", c.Renewed(5, 1, 250, 600).Kind)
}

func TestSessionsJudgeWritesByWhatTheResourceAccepted(t *testing.T) {
	c := NewSessions(300, 1)
	c.Opened(1, 5)
	c.Opened(2, 6)
	require.Nil(t, c.Granted(0, 1, 1, 10))
	c.Decided(5, 1, 1, 0, 1, 20)
	require.Equal(t, "double-grant", c.Granted(0, 2, 2, 30).Kind)
	require.Nil(t, c.Expired(1, 400))
	require.Nil(t, c.Granted(0, 2, 2, 410))
	c.Decided(6, 1, 2, 0, 2, 420)
	c.Decided(5, 2, 1, 0, 1, 430) // after its session expired: jeopardy ignored
	require.Nil(t, c.Written(6, 1, 0, 2, true, 425))
	require.Nil(t, c.Written(5, 1, 0, 1, false, 440), "refused by fencing: fine")
	require.Equal(t, "zombie-write", c.Written(5, 1, 0, 1, true, 441).Kind)

	c = NewSessions(300, 1)
	c.Opened(1, 5)
	require.Nil(t, c.Granted(0, 1, 1, 10))
	require.Nil(t, c.Expired(1, 400))
	c.Decided(5, 1, 1, 0, 1, 450)
	require.Equal(t, "expired-holder-write", c.Written(5, 1, 0, 1, true, 460).Kind)
}

// The lock history with sessions: an expiry frees the lock for the next
// session; a grant to a second session while the first lives is illegal.
func TestSessionLockHistory(t *testing.T) {
	h := &SessionHistory{}
	a := h.Call(5, 0, SessAcquire, "l0", 1)
	h.Return(a, 10, Output{OK: true, Token: 1})
	h.Expire(5, 1, 100, 120)
	b := h.Call(6, 130, SessAcquire, "l0", 2)
	h.Return(b, 140, Output{OK: true, Token: 2})
	r := h.Call(5, 150, SessRelease, "l0", 1)
	h.Return(r, 160, Output{Value: ExpiredValue})
	require.Equal(t, LinOk, CheckSessionLocks(h, time.Second).Verdict)

	h = &SessionHistory{}
	a = h.Call(5, 0, SessAcquire, "l0", 1)
	h.Return(a, 10, Output{OK: true, Token: 1})
	b = h.Call(6, 130, SessAcquire, "l0", 2)
	h.Return(b, 140, Output{OK: true, Token: 2})
	h.Expire(5, 1, 150, 160)
	res := CheckSessionLocks(h, time.Second)
	require.Equal(t, LinIllegal, res.Verdict, res.Message)
}
