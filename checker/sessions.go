package checker

import (
	"fmt"
)

// Sessions judges a lock service with leased sessions by what its clients
// were promised, what the replicated state did, and what the protected
// resource accepted (the resource's side is in resource.go):
//
//   - session-expiry: a session is never expired while a lease it was
//     promised still runs. The promise is the service's: once it
//     acknowledged a renewal (an open or a keep-alive) the client sent at
//     true time T, it does not expire the session before T+Lease.
//   - double-grant: the replicated lock table never grants a lock that a
//     live session holds (judged at the first application of each command,
//     which every replica's log agrees on).
//
// Times are true virtual microseconds; the checker never trusts a node's
// clock. Sessions are numbered from 1, clients and locks from 0.
type Sessions struct {
	lease   int64
	promise []int64 // by session: the latest T+Lease of an acknowledged renewal
	expired []int64 // by session: when its expiry was first applied, or -1
	owner   []int   // by session: its client, or -1 unknown
	holder  []int   // by lock: the session holding it in the replicated state, 0 if free
	token   []uint64
	grants  [][]grant // by lock, by token-1
	writes  resourceState
}

type grant struct {
	session int
	at      int64
}

// NewSessions builds a checker for sessions promised lease µs of true time
// from each acknowledged renewal, over locks locks.
func NewSessions(lease int64, locks int) *Sessions {
	if lease <= 0 || locks <= 0 || locks > 64 {
		panic(fmt.Sprintf("checker: NewSessions(lease %dµs, %d locks)", lease, locks))
	}
	c := &Sessions{lease: lease, holder: make([]int, locks), token: make([]uint64, locks), grants: make([][]grant, locks)}
	c.writes.init(locks)
	return c
}

func (c *Sessions) session(s int) {
	if s <= 0 || s > 1<<20 {
		panic(fmt.Sprintf("checker: session %d out of range", s))
	}
	for len(c.promise) < s {
		c.promise = append(c.promise, 0)
		c.expired = append(c.expired, -1)
		c.owner = append(c.owner, -1)
	}
}

// Opened records that session s belongs to client (its open was applied).
func (c *Sessions) Opened(s, client int) {
	c.session(s)
	if o := c.owner[s-1]; o >= 0 && o != client {
		panic(fmt.Sprintf("checker: session %d opened by client %d and by client %d", s, o, client))
	}
	c.owner[s-1] = client
}

// Renewed records that client learned at true time at that session s was
// renewed by a request it first sent at sent.
func (c *Sessions) Renewed(client, s int, sent, at int64) *Violation {
	c.session(s)
	if sent > at {
		panic(fmt.Sprintf("checker: client %d: renewal of session %d sent at %dµs, acknowledged before, at %dµs", client, s, sent, at))
	}
	c.promise[s-1] = max(c.promise[s-1], sent+c.lease)
	return c.judgeExpiry(s, at)
}

// Expired records that the expiry of session s was first applied at at.
func (c *Sessions) Expired(s int, at int64) *Violation {
	c.session(s)
	if c.expired[s-1] >= 0 {
		return &Violation{Kind: "session-expiry", Time: at, Message: fmt.Sprintf("session %d expired twice, at %dµs and %dµs", s, c.expired[s-1], at)}
	}
	c.expired[s-1] = at
	for l := range c.holder {
		if c.holder[l] == s {
			c.holder[l] = 0
		}
	}
	return c.judgeExpiry(s, at)
}

func (c *Sessions) judgeExpiry(s int, at int64) *Violation {
	exp := c.expired[s-1]
	if exp < 0 || exp >= c.promise[s-1] {
		return nil
	}
	return &Violation{Kind: "session-expiry", Time: at, Message: fmt.Sprintf(
		"session %d of client %d expired at t=%dµs, but the service had promised its lease to t=%dµs (%dµs early): a renewal sent at t=%dµs was acknowledged",
		s, c.owner[s-1], exp, c.promise[s-1], c.promise[s-1]-exp, c.promise[s-1]-c.lease)}
}

// ExpiredAt is when session s's expiry was first applied, or -1.
func (c *Sessions) ExpiredAt(s int) int64 {
	if s <= 0 || s > len(c.expired) {
		return -1
	}
	return c.expired[s-1]
}

// Granted records the first application of a grant of lock to session s
// with token.
func (c *Sessions) Granted(lock, s int, token uint64, at int64) *Violation {
	c.session(s)
	if h := c.holder[lock]; h != 0 {
		return &Violation{Kind: "double-grant", Time: at, Message: fmt.Sprintf(
			"lock %d granted to session %d (token %d) while session %d holds it (token %d)", lock, s, token, h, c.token[lock])}
	}
	if c.expired[s-1] >= 0 {
		return &Violation{Kind: "double-grant", Time: at, Message: fmt.Sprintf(
			"lock %d granted to session %d (token %d), which expired at %dµs", lock, s, token, c.expired[s-1])}
	}
	if token <= c.token[lock] {
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"lock %d granted with token %d after token %d: tokens must strictly increase", lock, token, c.token[lock])}
	}
	c.holder[lock], c.token[lock] = s, token
	for uint64(len(c.grants[lock])) < token {
		c.grants[lock] = append(c.grants[lock], grant{})
	}
	c.grants[lock][token-1] = grant{session: s, at: at}
	return nil
}

// Released records the first application of session s giving lock back.
func (c *Sessions) Released(lock, s int, at int64) *Violation {
	if c.holder[lock] != s {
		return &Violation{Kind: "double-grant", Time: at, Message: fmt.Sprintf(
			"session %d released lock %d, held by session %d", s, lock, c.holder[lock])}
	}
	c.holder[lock] = 0
	return nil
}

// grantOf is who was granted lock with token, and when.
func (c *Sessions) grantOf(lock int, token uint64) (grant, bool) {
	if token == 0 || token > uint64(len(c.grants[lock])) || c.grants[lock][token-1].session == 0 {
		return grant{}, false
	}
	return c.grants[lock][token-1], true
}

// nextGrant is when lock was first granted with a token above token, or -1.
func (c *Sessions) nextGrant(lock int, token uint64) int64 {
	for t := token; t < uint64(len(c.grants[lock])); t++ {
		if g := c.grants[lock][t]; g.session != 0 {
			return g.at
		}
	}
	return -1
}
