package checker

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The generators below run clients against a real sequential service: each
// operation takes effect at one instant inside its [call, return] interval,
// so every history they make is linearizable by construction, with as much
// overlap as the latencies give. A few clients time out: their operation
// never returns, took effect or not, and they carry on under a fresh client
// id.

const (
	genClients    = 8
	genThinkMax   = 20   // µs between a return and the client's next call
	genLatencyMax = 300  // µs from call to return
	genTimeout    = 1000 // µs after which a client gives up on an operation
	genCrashPct   = 2    // of operations that never return
)

// genService is the sequential object the generated clients talk to.
type genService interface {
	next(r *rand.Rand, owner int) Input // what a client asks next
	apply(in Input) Output              // its effect, at one instant
	saw(owner int, in Input, out Output, returned bool)
}

type genClient struct {
	id       int // porcupine's client row; fresh after a timeout
	owner    int // stable identity, for lock ownership
	inFlight bool
	op       OpID
	in       Input
	out      Output
	callAt   int64
	applyAt  int64 // -1: this operation never takes effect
	returnAt int64 // for a timed-out operation, when the client gives up
	crashed  bool
	nextCall int64
}

func generateHistory(seed uint64, n int, svc genService) *History {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	h := &History{}
	clients := make([]genClient, genClients)
	for i := range clients {
		clients[i] = genClient{id: i, owner: i, nextCall: int64(r.IntN(genThinkMax))}
	}
	freshID := genClients
	issued := 0
	for {
		// The earliest event runs next: effects before returns before calls
		// at equal times, then the lowest client.
		best, bestAt, bestKind := -1, int64(0), 0
		for i := range clients {
			c := &clients[i]
			at, kind := c.nextCall, 2
			switch {
			case c.inFlight && c.applyAt >= 0:
				at, kind = c.applyAt, 0
			case c.inFlight:
				at, kind = c.returnAt, 1
			case issued == n:
				continue
			}
			if best < 0 || at < bestAt || (at == bestAt && kind < bestKind) {
				best, bestAt, bestKind = i, at, kind
			}
		}
		if best < 0 {
			return h
		}
		c := &clients[best]
		switch bestKind {
		case 0:
			c.out = svc.apply(c.in)
			c.applyAt = -1
		case 1:
			c.inFlight = false
			if c.crashed {
				svc.saw(c.owner, c.in, Output{}, false)
				c.id = freshID
				freshID++
			} else {
				h.Return(c.op, c.returnAt, c.out)
				svc.saw(c.owner, c.in, c.out, true)
			}
			c.nextCall = c.returnAt + int64(r.IntN(genThinkMax+1))
		case 2:
			issued++
			c.in = svc.next(r, c.owner)
			c.op = h.Call(c.id, c.nextCall, c.in)
			c.inFlight, c.callAt = true, c.nextCall
			latency := int64(1 + r.IntN(genLatencyMax))
			c.applyAt = c.callAt + r.Int64N(latency+1)
			c.returnAt = c.callAt + latency
			c.crashed = r.IntN(100) < genCrashPct
			if c.crashed {
				c.returnAt = c.callAt + genTimeout
				if r.IntN(2) == 0 {
					c.applyAt = -1 // lost before it reached the service
				}
			}
		}
	}
}

// genRegisters is a key-value store over a few keys.
type genRegisters struct {
	values   map[string]string
	lastRead map[int]map[string]string // per owner, what it last saw: cas expects it
	appended int
}

var genKeys = []string{"a", "b", "c", "d"}

func newGenRegisters() *genRegisters {
	return &genRegisters{values: map[string]string{}, lastRead: map[int]map[string]string{}}
}

func (s *genRegisters) next(r *rand.Rand, owner int) Input {
	key := genKeys[r.IntN(len(genKeys))]
	switch p := r.IntN(100); {
	case p < 40:
		return Get(key)
	case p < 65:
		return Put(key, strconv.Itoa(r.IntN(10)))
	case p < 80:
		s.appended++
		return Append(key, strconv.Itoa(s.appended)+",")
	default:
		old, seen := s.lastRead[owner][key]
		if !seen || r.IntN(4) == 0 {
			old = strconv.Itoa(r.IntN(10))
		}
		return CAS(key, old, strconv.Itoa(r.IntN(10)))
	}
}

func (s *genRegisters) apply(in Input) Output {
	v := s.values[in.Key]
	switch in.Kind {
	case KVGet:
		return Output{Value: v}
	case KVPut:
		s.values[in.Key] = in.Value
	case KVAppend:
		s.values[in.Key] = v + in.Value
	case KVCAS:
		if v != in.Old {
			return Output{OK: false}
		}
		s.values[in.Key] = in.Value
		return Output{OK: true}
	}
	return Output{}
}

func (s *genRegisters) saw(owner int, in Input, out Output, returned bool) {
	if returned && in.Kind == KVGet {
		if s.lastRead[owner] == nil {
			s.lastRead[owner] = map[string]string{}
		}
		s.lastRead[owner][in.Key] = out.Value
	}
}

// genLockService is a lock service over a few locks, handing out fencing tokens.
type genLockService struct {
	holder  map[string]int // absent: free
	token   map[string]uint64
	mayHold map[int]map[string]bool // per owner: release next, not acquire
}

var genLockNames = []string{"leader", "shard-1", "shard-2"}

func newGenLockService() *genLockService {
	return &genLockService{holder: map[string]int{}, token: map[string]uint64{}, mayHold: map[int]map[string]bool{}}
}

func (s *genLockService) next(r *rand.Rand, owner int) Input {
	lock := genLockNames[r.IntN(len(genLockNames))]
	if s.mayHold[owner][lock] || r.IntN(10) == 0 {
		return Release(lock, owner)
	}
	return Acquire(lock, owner)
}

func (s *genLockService) apply(in Input) Output {
	holder, held := s.holder[in.Key]
	switch in.Kind {
	case LockAcquire:
		if held {
			return Output{OK: false}
		}
		s.holder[in.Key] = in.Owner
		s.token[in.Key]++
		return Output{OK: true, Token: s.token[in.Key]}
	case LockRelease:
		if !held || holder != in.Owner {
			return Output{OK: false}
		}
		delete(s.holder, in.Key)
		return Output{OK: true}
	}
	return Output{}
}

func (s *genLockService) saw(owner int, in Input, out Output, returned bool) {
	if s.mayHold[owner] == nil {
		s.mayHold[owner] = map[string]bool{}
	}
	switch {
	case in.Kind == LockAcquire:
		// An acquire that timed out may hold the lock: release it to be sure.
		s.mayHold[owner][in.Key] = out.OK || !returned
	case returned:
		s.mayHold[owner][in.Key] = false
	}
}

func TestGeneratedHistoriesAreLinearizable(t *testing.T) {
	for seed := range uint64(5) {
		kv := generateHistory(seed, 1000, newGenRegisters())
		require.Equal(t, 1000, kv.Len())
		res := CheckKV(kv, 10*time.Second)
		require.Equal(t, LinOk, res.Verdict, "seed %d: %s", seed, res.Message)

		lk := generateHistory(seed, 1000, newGenLockService())
		res = CheckLock(lk, 10*time.Second)
		require.Equal(t, LinOk, res.Verdict, "seed %d: %s", seed, res.Message)
	}
}

func TestOneCorruptedReadAmongAThousandOpsIsCaught(t *testing.T) {
	h := generateHistory(1, 1000, newGenRegisters())
	var victim *opRecord
	for i := len(h.ops) / 2; i < len(h.ops); i++ {
		if r := &h.ops[i]; r.in.Kind == KVGet && !r.out.pending {
			victim = r
			break
		}
	}
	require.NotNil(t, victim)
	victim.out.Value = "never written"

	res := CheckKV(h, 10*time.Second)

	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `key "`+victim.in.Key+`" is not linearizable`)
	require.Contains(t, res.Message, `-> "never written"`)
}

func TestGeneratorIsDeterministic(t *testing.T) {
	require.Equal(t, generateHistory(7, 300, newGenRegisters()).ops, generateHistory(7, 300, newGenRegisters()).ops)
	require.Equal(t, generateHistory(7, 300, newGenLockService()).ops, generateHistory(7, 300, newGenLockService()).ops)
}

func benchmarkLinearizability(b *testing.B, h *History, check func(*History, time.Duration) LinResult) {
	pending := 0
	for _, r := range h.ops {
		if r.out.pending {
			pending++
		}
	}
	for b.Loop() {
		if res := check(h, time.Minute); res.Verdict != LinOk {
			b.Fatalf("%v: %s", res.Verdict, res.Message)
		}
	}
	// After the loop: b.Loop's first call resets the timer, which drops
	// metrics reported earlier.
	b.ReportMetric(float64(h.Len()), "ops/history")
	b.ReportMetric(float64(pending), "pending/history")
}

func BenchmarkLinearizabilityKV(b *testing.B) {
	benchmarkLinearizability(b, generateHistory(1, 1000, newGenRegisters()), CheckKV)
}

func BenchmarkLinearizabilityLock(b *testing.B) {
	benchmarkLinearizability(b, generateHistory(1, 1000, newGenLockService()), CheckLock)
}
