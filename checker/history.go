package checker

import (
	"fmt"
	"math"
)

// OpKind names an operation of one of the two replicated services: the
// key-value store and the lock service.
type OpKind uint8

const (
	KVGet OpKind = iota + 1 // zero stays invalid, so a forgotten Kind is caught at Call
	KVPut
	KVAppend
	KVCAS
	LockAcquire
	LockRelease
)

func (k OpKind) isKV() bool   { return k >= KVGet && k <= KVCAS }
func (k OpKind) isLock() bool { return k == LockAcquire || k == LockRelease }

// Input is what a client asked for. Build it with Get, Put, Append, CAS,
// Acquire or Release.
type Input struct {
	Kind  OpKind
	Key   string // the key, or the name of the lock
	Value string // put and append: the value written; cas: the new value
	Old   string // cas: the value expected
	Owner int    // acquire and release: who takes or gives back the lock
}

// Get reads key; a key never written reads as "".
func Get(key string) Input { return Input{Kind: KVGet, Key: key} }

// Put sets key to value.
func Put(key, value string) Input { return Input{Kind: KVPut, Key: key, Value: value} }

// Append adds value to the end of key's value.
func Append(key, value string) Input { return Input{Kind: KVAppend, Key: key, Value: value} }

// CAS sets key to value if it holds old, and says whether it did.
func CAS(key, old, value string) Input { return Input{Kind: KVCAS, Key: key, Old: old, Value: value} }

// Acquire takes lock for owner if it is free (it is not reentrant: an owner
// that holds it fails too), and hands out a fencing token.
func Acquire(lock string, owner int) Input { return Input{Kind: LockAcquire, Key: lock, Owner: owner} }

// Release gives lock back if owner holds it.
func Release(lock string, owner int) Input { return Input{Kind: LockRelease, Key: lock, Owner: owner} }

// Output is what the service answered: Value for get, OK for cas, acquire
// and release, Token for a successful acquire. Put and append answer Output{}.
//
// Fencing tokens start at 1 and strictly increase across the successful
// acquires of one lock; 0 means no token.
type Output struct {
	Value string
	OK    bool
	Token uint64

	// pending marks an operation that never returned. Its output is unknown,
	// so the models accept any outcome for it; only Call sets it, so an
	// Output a client builds is always a real answer.
	pending bool
}

// OpID names a recorded operation, to pass back to Return.
type OpID int

// neverReturned is the return time of an operation that has not returned:
// porcupine then lets it take effect at any point after its call, or not at
// all.
const neverReturned = math.MaxInt64

// History records the operations simulated clients issue, for a
// linearizability check after the run.
//
// A client that gives up on an operation (timeout, crash, definite or
// indefinite error) simply never calls Return for it: the checker then lets
// the operation take effect or not, whichever fits. Retries of one request
// under an exactly-once session are one operation: Return the first id.
// A client that moves on after giving up should take a fresh client id, as
// Jepsen does, so each row of the visualization shows one operation at a time.
type History struct {
	ops []opRecord
}

type opRecord struct {
	client int
	call   int64
	ret    int64
	in     Input
	out    Output
}

// Call records that client asked for in at virtual time at (microseconds).
func (h *History) Call(client int, at int64, in Input) OpID {
	if client < 0 {
		panic(fmt.Sprintf("checker: History.Call: client %d is negative; porcupine numbers clients from 0", client))
	}
	if !in.Kind.isKV() && !in.Kind.isLock() {
		panic(fmt.Sprintf("checker: History.Call: client %d at t=%dµs: invalid op kind %d", client, at, in.Kind))
	}
	if at >= neverReturned {
		panic(fmt.Sprintf("checker: History.Call: client %d: time %d is reserved for ops that never return", client, at))
	}
	h.ops = append(h.ops, opRecord{client: client, call: at, ret: neverReturned, in: in, out: Output{pending: true}})
	return OpID(len(h.ops) - 1)
}

// Return records that operation id answered out at virtual time at.
func (h *History) Return(id OpID, at int64, out Output) {
	if id < 0 || int(id) >= len(h.ops) {
		panic(fmt.Sprintf("checker: History.Return: no op %d among %d", id, len(h.ops)))
	}
	r := &h.ops[id]
	if !r.out.pending {
		panic(fmt.Sprintf("checker: History.Return: op %d of client %d returned twice (at %dµs and %dµs)", id, r.client, r.ret, at))
	}
	if at < r.call || at >= neverReturned {
		panic(fmt.Sprintf("checker: History.Return: op %d of client %d returns at %dµs, outside [%dµs, never)", id, r.client, at, r.call))
	}
	r.ret = at
	r.out = out
	r.out.pending = false
}

// Len is the number of operations recorded, returned or not.
func (h *History) Len() int { return len(h.ops) }
