package checker

import "fmt"

// The protected resource, judged by what it accepted:
//
//   - zombie-write: with fencing, the resource never accepts a write whose
//     token is lower than one it already accepted for the lock;
//   - token-writer: the writes accepted under one token come from the one
//     session the lock service granted that token to;
//   - expired-holder-write: no accepted write was decided by a holder whose
//     session the service had already expired, or whose lock the service
//     had already granted to someone else, when it decided it. (A write
//     decided in time and delivered late, after a pause, is what fencing
//     is for: it must not be accepted after a newer token, the first rule.)

type resourceState struct {
	highest   []uint64 // by lock: the highest token accepted
	decisions map[[2]int64]decision
}

type decision struct {
	session int
	lock    int
	token   uint64
	at      int64
}

func (r *resourceState) init(locks int) {
	r.highest = make([]uint64, locks)
	r.decisions = make(map[[2]int64]decision)
}

// Decided records that client, holding lock with token under session s,
// decided at true time at to make write number write.
func (c *Sessions) Decided(client int, write uint64, s, lock int, token uint64, at int64) {
	key := [2]int64{int64(client), int64(write)}
	if _, dup := c.writes.decisions[key]; dup {
		panic(fmt.Sprintf("checker: client %d decided write %d twice", client, write))
	}
	c.writes.decisions[key] = decision{session: s, lock: lock, token: token, at: at}
}

// Written records the resource's verdict on client's write number write,
// carrying token for lock, at true time at.
func (c *Sessions) Written(client int, write uint64, lock int, token uint64, accepted bool, at int64) *Violation {
	if !accepted {
		return nil
	}
	name := fmt.Sprintf("write w%d.%d on lock %d with token %d", client, write, lock, token)
	hi := c.writes.highest[lock]
	c.writes.highest[lock] = max(hi, token)
	if token < hi {
		return &Violation{Kind: "zombie-write", Time: at, Message: fmt.Sprintf(
			"the resource accepted %s after accepting token %d: a deposed holder wrote over its successor", name, hi)}
	}
	d, ok := c.writes.decisions[[2]int64{int64(client), int64(write)}]
	if !ok || d.lock != lock || d.token != token {
		return &Violation{Kind: "token-writer", Time: at, Message: fmt.Sprintf("the resource accepted %s, which client %d never decided", name, client)}
	}
	g, ok := c.grantOf(lock, token)
	if !ok || g.session != d.session {
		return &Violation{Kind: "token-writer", Time: at, Message: fmt.Sprintf(
			"the resource accepted %s from session %d, but the service granted token %d to session %d", name, d.session, token, g.session)}
	}
	if exp := c.ExpiredAt(d.session); exp >= 0 && exp <= d.at {
		return &Violation{Kind: "expired-holder-write", Time: at, Message: fmt.Sprintf(
			"the resource accepted %s, decided at t=%dµs by a holder whose session %d the service had expired at t=%dµs", name, d.at, d.session, exp)}
	}
	if next := c.nextGrant(lock, token); next >= 0 && next <= d.at {
		return &Violation{Kind: "expired-holder-write", Time: at, Message: fmt.Sprintf(
			"the resource accepted %s, decided at t=%dµs by session %d after the service had granted the lock anew at t=%dµs", name, d.at, d.session, next)}
	}
	return nil
}
