package checker

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability of the lock service with sessions: acquire and release
// under a session, and the service's own expiries as operations of their
// own (an expiry takes effect at one point of the log, between the first
// time a leader proposed it and the first time a replica applied it). An
// expired session's acquire and release fail with Output.Value "expired";
// an expiry frees the session's locks.

// Operation kinds of the session lock history.
const (
	SessAcquire OpKind = 16 + iota // Owner: the session
	SessRelease
	SessExpire
)

// ExpiredValue is Output.Value of a session operation refused because its
// session is over.
const ExpiredValue = "expired"

// SessionHistory records the operations of a lock service with sessions.
type SessionHistory struct {
	ops []opRecord
}

// Call records that client asked, at true time at, for kind (SessAcquire or
// SessRelease) of lock under session.
func (h *SessionHistory) Call(client int, at int64, kind OpKind, lock string, session int) OpID {
	if kind != SessAcquire && kind != SessRelease || client < 0 || session <= 0 || at >= neverReturned {
		panic(fmt.Sprintf("checker: SessionHistory.Call(client %d, at %d, kind %d, %q, session %d)", client, at, kind, lock, session))
	}
	h.ops = append(h.ops, opRecord{client: client, call: at, ret: neverReturned, in: Input{Kind: kind, Key: lock, Owner: session}, out: Output{pending: true}})
	return OpID(len(h.ops) - 1)
}

// Return records the answer to operation id.
func (h *SessionHistory) Return(id OpID, at int64, out Output) {
	r := &h.ops[id]
	if !r.out.pending || at < r.call || at >= neverReturned {
		panic(fmt.Sprintf("checker: SessionHistory.Return: op %d of client %d at %dµs (called %dµs, pending %v)", id, r.client, at, r.call, r.out.pending))
	}
	r.ret, r.out = at, out
}

// Expire records that the service expired session somewhere in [from, to].
// client is the row it is shown on.
func (h *SessionHistory) Expire(client, session int, from, to int64) {
	if from > to || session <= 0 {
		panic(fmt.Sprintf("checker: SessionHistory.Expire(session %d, [%d, %d])", session, from, to))
	}
	h.ops = append(h.ops, opRecord{client: client, call: from, ret: to, in: Input{Kind: SessExpire, Key: "*", Owner: session}, out: Output{OK: true}})
}

// Len is the number of operations recorded.
func (h *SessionHistory) Len() int { return len(h.ops) }

// CheckSessionLocks checks that h is linearizable, lock by lock, within
// budget of wall-clock time in all.
func CheckSessionLocks(h *SessionHistory, budget time.Duration) LinResult {
	recs := h.ops
	history := make([]porcupine.Operation, len(recs))
	for i := range recs {
		r := &recs[i]
		history[i] = porcupine.Operation{ClientId: r.client, Input: &r.in, Call: r.call, Output: &r.out, Return: r.ret}
	}
	// The same per-partition budget, explanation and verdicts as CheckKV.
	return checkOperations(sessionLockModel, "lock", func(part []porcupine.Operation, _ int) string { return strconv.Quote(keyOf(part[0])) }, history, budget)
}

// partitionSessionLocks groups the operations by lock, in order of first
// appearance; each lock's group also gets the expiries of the sessions
// that touch it.
func partitionSessionLocks(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var parts [][]porcupine.Operation
	var touches []map[int]bool
	for _, op := range history {
		in := op.Input.(*Input)
		if in.Kind == SessExpire {
			continue
		}
		i, seen := index[in.Key]
		if !seen {
			i = len(parts)
			index[in.Key] = i
			parts = append(parts, nil)
			touches = append(touches, map[int]bool{})
		}
		parts[i] = append(parts[i], op)
		touches[i][in.Owner] = true
	}
	for _, op := range history {
		in := op.Input.(*Input)
		if in.Kind != SessExpire {
			continue
		}
		for i := range parts {
			if touches[i][in.Owner] {
				parts[i] = append(parts[i], op)
			}
		}
	}
	return parts
}

// sessionLockState is one lock and the sessions known expired, as a bit
// string (a string so that the state is comparable).
type sessionLockState struct {
	holder    int
	lastToken uint64
	expired   string
}

func (s sessionLockState) isExpired(session int) bool {
	i := session >> 3
	return i < len(s.expired) && s.expired[i]&(1<<(session&7)) != 0
}

func (s sessionLockState) expire(session int) sessionLockState {
	b := []byte(s.expired)
	for len(b) <= session>>3 {
		b = append(b, 0)
	}
	b[session>>3] |= 1 << (session & 7)
	s.expired = string(b)
	if s.holder == session {
		s.holder = 0
	}
	return s
}

var sessionLockModel = porcupine.Model{
	Partition: partitionSessionLocks,
	Init:      func() any { return sessionLockState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(sessionLockState), input.(*Input), output.(*Output)
		refusedExpired := !out.OK && out.Value == ExpiredValue
		switch in.Kind {
		case SessExpire:
			if s.isExpired(in.Owner) {
				return false, state
			}
			return true, s.expire(in.Owner)
		case SessAcquire:
			switch {
			case s.isExpired(in.Owner):
				return out.pending || refusedExpired, state
			case s.holder != 0:
				return out.pending || (!out.OK && !refusedExpired), state
			case out.pending:
				if s.lastToken < math.MaxUint64 {
					s.lastToken++
				}
			default:
				if !out.OK || out.Token <= s.lastToken {
					return false, state
				}
				s.lastToken = out.Token
			}
			s.holder = in.Owner
			return true, s
		case SessRelease:
			switch {
			case s.isExpired(in.Owner):
				return out.pending || refusedExpired, state
			case s.holder != in.Owner:
				return out.pending || (!out.OK && !refusedExpired), state
			}
			s.holder = 0
			return out.pending || out.OK, s
		}
		panic(fmt.Sprintf("checker: session lock model given kind %d", in.Kind))
	},
	Equal: func(a, b any) bool { return a.(sessionLockState) == b.(sessionLockState) },
	Hash: func(state any) uint64 {
		s := state.(sessionLockState)
		return fnvString(fnvUint64(fnvUint64(fnvOffset64, uint64(s.holder)), s.lastToken), s.expired)
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(*Input), output.(*Output)
		var what string
		switch in.Kind {
		case SessExpire:
			return "expire(s" + strconv.Itoa(in.Owner) + ")"
		case SessAcquire:
			what = fmt.Sprintf("acquire(%q, s%d)", in.Key, in.Owner)
		case SessRelease:
			what = fmt.Sprintf("release(%q, s%d)", in.Key, in.Owner)
		}
		switch {
		case out.pending:
			return what + " -> ?"
		case !out.OK && out.Value != "":
			return what + " -> " + out.Value
		case in.Kind == SessAcquire && out.OK:
			return what + " -> token " + strconv.FormatUint(out.Token, 10)
		}
		return what + " -> " + strconv.FormatBool(out.OK)
	},
	DescribeState: func(state any) string {
		s := state.(sessionLockState)
		if s.holder == 0 {
			return fmt.Sprintf("free, last token %d", s.lastToken)
		}
		return fmt.Sprintf("held by s%d, token %d", s.holder, s.lastToken)
	},
}
