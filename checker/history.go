package checker

import (
	"fmt"
	"math"
	"time"
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

// opKindNames spell OpKind in saved histories.
var opKindNames = map[OpKind]string{KVGet: "get", KVPut: "put", KVAppend: "append", KVCAS: "cas", LockAcquire: "acquire", LockRelease: "release"}

// SavedOp is one operation of a saved history.
type SavedOp struct {
	Client int    `json:"client"`
	Call   int64  `json:"call_us"`
	Return *int64 `json:"return_us"` // null: it never returned
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Old    string `json:"old,omitempty"`
	Owner  int    `json:"owner,omitempty"`
	Out    *struct {
		Value string `json:"value,omitempty"`
		OK    bool   `json:"ok,omitempty"`
		Token uint64 `json:"token,omitempty"`
	} `json:"out,omitempty"`
}

// SavedHistory is a history on disk (history.json), with the models it is
// checked against ("kv", "lock"): simrun reeval checks it again, with a
// larger budget or a newer checker.
type SavedHistory struct {
	Models []string  `json:"models"`
	Ops    []SavedOp `json:"ops"`
}

// Save is h as a SavedHistory.
func (h *History) Save(models ...string) SavedHistory {
	out := SavedHistory{Models: models, Ops: make([]SavedOp, 0, len(h.ops))}
	for _, r := range h.ops {
		op := SavedOp{Client: r.client, Call: r.call, Kind: opKindNames[r.in.Kind], Key: r.in.Key, Value: r.in.Value, Old: r.in.Old, Owner: r.in.Owner}
		if !r.out.pending {
			ret := r.ret
			op.Return = &ret
			op.Out = &struct {
				Value string `json:"value,omitempty"`
				OK    bool   `json:"ok,omitempty"`
				Token uint64 `json:"token,omitempty"`
			}{r.out.Value, r.out.OK, r.out.Token}
		}
		out.Ops = append(out.Ops, op)
	}
	return out
}

// Load rebuilds the history, refusing what Call and Return would: an error
// of one line names the first bad operation.
func (s SavedHistory) Load() (*History, error) {
	for _, m := range s.Models {
		if m != "kv" && m != "lock" {
			return nil, fmt.Errorf("history: unknown model %q (want kv or lock)", clipLine(m))
		}
	}
	h := &History{}
	for i, op := range s.Ops {
		kind := OpKind(0)
		for k, name := range opKindNames {
			if name == op.Kind {
				kind = k
			}
		}
		switch {
		case kind == 0:
			return nil, fmt.Errorf("history op %d: unknown kind %q", i, clipLine(op.Kind))
		case op.Client < 0 || op.Call < 0 || op.Call >= neverReturned:
			return nil, fmt.Errorf("history op %d: bad client %d or call time %d", i, op.Client, op.Call)
		case (op.Return == nil) != (op.Out == nil):
			return nil, fmt.Errorf("history op %d: a return time needs an output and an output a return time", i)
		case op.Return != nil && (*op.Return < op.Call || *op.Return >= neverReturned):
			return nil, fmt.Errorf("history op %d: returns at %d, before its call at %d", i, *op.Return, op.Call)
		}
		id := h.Call(op.Client, op.Call, Input{Kind: kind, Key: op.Key, Value: op.Value, Old: op.Old, Owner: op.Owner})
		if op.Return != nil {
			h.Return(id, *op.Return, Output{Value: op.Out.Value, OK: op.Out.OK, Token: op.Out.Token})
		}
	}
	return h, nil
}

// Check runs the saved history's models on h, within budget each: the
// first illegal result, else the first undecided one, else ok.
func (s SavedHistory) Check(h *History, budget time.Duration) LinResult {
	res := LinResult{Verdict: LinOk}
	for _, m := range s.Models {
		check := CheckKV
		if m == "lock" {
			check = CheckLock
		}
		switch r := check(h, budget); r.Verdict {
		case LinIllegal:
			return r
		case LinUnknown:
			if res.Verdict == LinOk {
				res = r
			}
		}
	}
	return res
}
