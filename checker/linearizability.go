package checker

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// LinVerdict is the outcome of a linearizability check.
type LinVerdict uint8

const (
	// LinUnknown is the zero value, so a check that did not finish can never
	// be mistaken for a pass.
	LinUnknown LinVerdict = iota
	LinOk
	LinIllegal
)

func (v LinVerdict) String() string {
	switch v {
	case LinUnknown:
		return "unknown"
	case LinOk:
		return "ok"
	case LinIllegal:
		return "illegal"
	}
	return "LinVerdict(" + strconv.Itoa(int(v)) + ")"
}

// LinResult is the verdict on a history. Message is one line: for LinIllegal
// it names the key or lock and the operations that cannot be ordered, for
// LinUnknown what was left undecided; for LinOk it is empty.
type LinResult struct {
	Verdict LinVerdict
	Message string

	at      int64 // when an illegal history became stuck, for the Violation
	model   porcupine.Model
	history []porcupine.Operation
	budget  time.Duration
}

// CheckKV checks that the key-value operations in h are linearizable; lock
// porcupineOps are left to CheckLock. Keys are checked one at a time, in the
// order they first appear, within budget of wall-clock time in all.
func CheckKV(h *History, budget time.Duration) LinResult {
	return checkLinearizable(kvModel, "key", h, OpKind.isKV, budget)
}

// CheckLock checks that the lock operations in h are linearizable: at most
// one holder per lock, and fencing tokens that strictly increase. Key-value
// porcupineOps are left to CheckKV.
func CheckLock(h *History, budget time.Duration) LinResult {
	return checkLinearizable(lockModel, "lock", h, OpKind.isLock, budget)
}

// Violation is the result as a broken property, or nil unless it is
// LinIllegal: whether an undecided check fails a run is the caller's policy.
func (r LinResult) Violation() *Violation {
	if r.Verdict != LinIllegal {
		return nil
	}
	return &Violation{Kind: "linearizability", Message: r.Message, Time: r.at}
}

// Annotation marks a span or a moment (End = Start) of a history page:
// faults, leader changes, which replica served a client.
type Annotation struct {
	Client     int    // the client's row, when Tag is empty
	Tag        string // a row of its own
	Start, End int64  // µs
	Text       string
	Details    string // the tooltip
	Color      string // CSS background, optional
}

// HTML renders the whole checked history, every key or lock, as porcupine's
// interactive page, with the longest linearizations found. It checks the
// history again, with the same budget, because porcupine cannot merge the
// per-key results that the verdict came from.
//
// Notes are drawn on the page as porcupine's annotations: a client's row
// (Client, with Tag empty) or a row of their own (Tag: "faults", "leader").
func (r LinResult) HTML(notes ...Annotation) ([]byte, error) {
	if r.model.Init == nil {
		return nil, fmt.Errorf("checker: LinResult.HTML: no history; use the result of CheckKV or CheckLock")
	}
	_, info := porcupine.CheckOperationsVerbose(r.model, r.history, r.budget)
	anns := make([]porcupine.Annotation, 0, len(notes))
	for _, n := range notes {
		anns = append(anns, porcupine.Annotation{ClientId: n.Client, Tag: n.Tag, Start: n.Start, End: n.End,
			Description: n.Text, Details: n.Details, BackgroundColor: n.Color})
	}
	info.AddAnnotations(anns)
	var buf bytes.Buffer
	if err := porcupine.Visualize(r.model, info, &buf); err != nil {
		return nil, fmt.Errorf("checker: rendering the linearizability view: %w", err)
	}
	return buf.Bytes(), nil
}

func checkLinearizable(model porcupine.Model, noun string, h *History, keep func(OpKind) bool, budget time.Duration) LinResult {
	return checkOperations(model, noun, func(part []porcupine.Operation, _ int) string { return strconv.Quote(keyOf(part[0])) }, porcupineOps(h, keep), budget)
}

// CheckOperations checks a history of a user's own porcupine model the way
// CheckKV checks the key-value store: partition by partition (when the
// model partitions) within budget of wall-clock time in all; an illegal
// partition is explained (the longest linearizable prefix, the state it
// reaches, the operations none of which can come next), a partition out of
// time makes the verdict LinUnknown, never a pass, and HTML draws
// porcupine's page. Operations that never returned have Return =
// math.MaxInt64 and an output the model must accept whatever it is.
func CheckOperations(model porcupine.Model, history []porcupine.Operation, budget time.Duration) LinResult {
	if model.Partition == nil {
		model.Partition = func(h []porcupine.Operation) [][]porcupine.Operation { return [][]porcupine.Operation{h} }
	}
	if model.DescribeOperation == nil {
		model.DescribeOperation = func(in, out any) string { return fmt.Sprintf("%v -> %v", in, out) }
	}
	if model.DescribeState == nil {
		model.DescribeState = func(state any) string { return fmt.Sprintf("%v", state) }
	}
	return checkOperations(model, "partition", func(_ []porcupine.Operation, i int) string { return "#" + strconv.Itoa(i+1) }, history, budget)
}

func checkOperations(model porcupine.Model, noun string, name func(part []porcupine.Operation, i int) string, history []porcupine.Operation, budget time.Duration) LinResult {
	if budget <= 0 {
		// porcupine reads 0 as "no limit", which would let one hard history
		// hang a sweep.
		panic(fmt.Sprintf("checker: linearizability budget %v must be positive", budget))
	}
	// The one wall clock in the checker, and justified: this check runs
	// after the simulation has ended, porcupine only takes a time budget,
	// and running out is reported as inconclusive, never as a pass.
	deadline := time.Now().Add(budget)
	res := LinResult{Verdict: LinOk, model: model, history: history, budget: budget}
	// Checking partitions one by one, rather than handing porcupine the whole
	// history, tells exactly which key failed or ran out of time.
	parts := model.Partition(history)
	undecided, proved := -1, 0
	for i, part := range parts {
		// Each key gets a fair share of what is left, so one hard key
		// cannot use up the time of a later key that is plainly illegal:
		// illegal on any key wins over undecided on another.
		share := time.Until(deadline) / time.Duration(len(parts)-i)
		verdict := porcupine.Unknown
		if share > 0 {
			// The plain check keeps no partial linearizations; only an
			// illegal partition pays for the verbose one that explains it.
			verdict = porcupine.CheckOperationsTimeout(model, part, share)
		}
		switch verdict {
		case porcupine.Ok:
			proved++
			continue
		case porcupine.Illegal:
			res.Verdict = LinIllegal
			res.Message, res.at = fmt.Sprintf("%s %s is not linearizable (the explanation ran out of the budget)", noun, name(part, i)), 0
			// The explanation, too, stays within the budget (with a floor,
			// so that a verdict found at the deadline is still explained).
			again, info := porcupine.CheckOperationsVerbose(model, part, max(time.Until(deadline), budget/10))
			if partials := info.PartialLinearizations(); again == porcupine.Illegal && len(partials) > 0 {
				res.Message, res.at = explainIllegal(model, noun+" "+name(part, i), part, partials[0])
			}
			return res
		}
		if undecided < 0 {
			undecided = i
		}
	}
	if undecided >= 0 {
		part := parts[undecided]
		res.Verdict = LinUnknown
		res.Message = fmt.Sprintf("%s %s (%d ops) undecided within the %v budget, %d of %d %ss proved linearizable",
			noun, name(part, undecided), len(part), budget, proved, len(parts), noun)
	}
	return res
}

// porcupineOps converts the records that keep selects into porcupine's form.
// It copies them, so the caller may keep recording into h.
func porcupineOps(h *History, keep func(OpKind) bool) []porcupine.Operation {
	recs := make([]opRecord, 0, len(h.ops))
	for _, r := range h.ops {
		if keep(r.in.Kind) {
			recs = append(recs, r)
		}
	}
	ops := make([]porcupine.Operation, len(recs))
	for i := range recs {
		r := &recs[i]
		// Pointers into recs box without allocating.
		ops[i] = porcupine.Operation{ClientId: r.client, Input: &r.in, Call: r.call, Output: &r.out, Return: r.ret}
	}
	return ops
}

func keyOf(op porcupine.Operation) string { return op.Input.(*Input).Key }

// partitionByKey groups operations by key or lock name, in order of first
// appearance, so results never depend on map order.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := make(map[string]int)
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := keyOf(op)
		i, seen := index[k]
		if !seen {
			i = len(parts)
			index[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// explainIllegal names what went wrong in an illegal partition. porcupine's
// longest partial linearization is maximal, so from the state it reaches,
// every operation that could come next (called before the earliest remaining
// return) fails to step: those are the operations to name.
func explainIllegal(model porcupine.Model, what string, part []porcupine.Operation, partials [][]int) (string, int64) {
	// porcupine collects partials through a map; order them so the message
	// is the same on every run.
	slices.SortFunc(partials, func(a, b []int) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return slices.Compare(a, b)
	})
	var prefix []int
	if len(partials) > 0 {
		prefix = partials[0]
	}
	state := model.Init()
	done := make([]bool, len(part))
	for _, id := range prefix {
		var ok bool
		ok, state = model.Step(state, part[id].Input, part[id].Output)
		if !ok {
			panic(fmt.Sprintf("checker: porcupine's partial linearization of %s does not replay at op %d", what, id))
		}
		done[id] = true
	}
	stuckAt := int64(neverReturned)
	for id, op := range part {
		if !done[id] {
			stuckAt = min(stuckAt, op.Return)
		}
	}
	if stuckAt == neverReturned {
		panic(fmt.Sprintf("checker: %s is illegal but every remaining op is pending, and pending ops always step", what))
	}
	var next []int
	for id, op := range part {
		if !done[id] && op.Call <= stuckAt {
			next = append(next, id)
		}
	}
	slices.SortStableFunc(next, func(a, b int) int { return cmp.Compare(part[a].Call, part[b].Call) })

	var b strings.Builder
	fmt.Fprintf(&b, "%s is not linearizable: after %d of %d ops (state %s", what, len(prefix), len(part), clipLine(model.DescribeState(state)))
	if len(prefix) > 0 {
		fmt.Fprintf(&b, ", last %s", describeOp(model, part[prefix[len(prefix)-1]]))
	}
	b.WriteString(") none of these can come next: ")
	const shown = 3
	for i, id := range next[:min(len(next), shown)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(describeOp(model, part[id]))
	}
	if len(next) > shown {
		fmt.Fprintf(&b, "; and %d more", len(next)-shown)
	}
	return b.String(), stuckAt
}

func describeOp(model porcupine.Model, op porcupine.Operation) string {
	end := "never"
	if op.Return != neverReturned {
		end = strconv.FormatInt(op.Return, 10) + "µs"
	}
	return fmt.Sprintf("client %d %s [%dµs, %s]", op.ClientId, clipLine(model.DescribeOperation(op.Input, op.Output)), op.Call, end)
}

// clipLine keeps messages to one readable line: appended values grow without
// bound, and the HTML view has them in full.
func clipLine(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// kvModel is a register per key, holding a string; a missing key holds "".
var kvModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		value, in, out := state.(string), input.(*Input), output.(*Output)
		switch in.Kind {
		case KVGet:
			return out.pending || out.Value == value, state
		case KVPut:
			return true, in.Value
		case KVAppend:
			return true, value + in.Value
		case KVCAS:
			if value == in.Old {
				return out.pending || out.OK, in.Value
			}
			return out.pending || !out.OK, state
		}
		panic(fmt.Sprintf("checker: key-value model given %s", describeInput(in)))
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	Hash:  func(state any) uint64 { return fnvString(fnvOffset64, state.(string)) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(*Input), output.(*Output)
		if out.pending {
			return describeInput(in) + " -> ?"
		}
		switch in.Kind {
		case KVGet:
			return describeInput(in) + " -> " + strconv.Quote(out.Value)
		case KVCAS:
			return describeInput(in) + " -> " + strconv.FormatBool(out.OK)
		}
		return describeInput(in)
	},
	DescribeState: func(state any) string { return strconv.Quote(state.(string)) },
}

// lockState is one lock. lastToken is the highest fencing token handed out
// so far, or the least it can be when an acquire that never returned took
// effect: assuming the smallest possible token is what lets every later
// legal token through, so the model stays deterministic and exact.
type lockState struct {
	held      bool
	holder    int
	lastToken uint64
}

var lockModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return lockState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(lockState), input.(*Input), output.(*Output)
		switch in.Kind {
		case LockAcquire:
			if s.held {
				return out.pending || !out.OK, state
			}
			if out.pending {
				if s.lastToken < math.MaxUint64 {
					s.lastToken++
				}
			} else {
				if !out.OK || out.Token <= s.lastToken {
					return false, state
				}
				s.lastToken = out.Token
			}
			s.held, s.holder = true, in.Owner
			return true, s
		case LockRelease:
			if !s.held || s.holder != in.Owner {
				return out.pending || !out.OK, state
			}
			s.held, s.holder = false, 0
			return out.pending || out.OK, s
		}
		panic(fmt.Sprintf("checker: lock model given %s", describeInput(in)))
	},
	Equal: func(a, b any) bool { return a.(lockState) == b.(lockState) },
	Hash: func(state any) uint64 {
		s := state.(lockState)
		h := fnvUint64(fnvOffset64, s.lastToken)
		if s.held {
			h = fnvUint64(h, uint64(s.holder)+1)
		}
		return h
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(*Input), output.(*Output)
		switch {
		case out.pending:
			return describeInput(in) + " -> ?"
		case in.Kind == LockAcquire && out.OK:
			return describeInput(in) + " -> token " + strconv.FormatUint(out.Token, 10)
		}
		return describeInput(in) + " -> " + strconv.FormatBool(out.OK)
	},
	DescribeState: func(state any) string {
		s := state.(lockState)
		if !s.held {
			return fmt.Sprintf("free, last token %d", s.lastToken)
		}
		return fmt.Sprintf("held by %d, token %d", s.holder, s.lastToken)
	},
}

func describeInput(in *Input) string {
	switch in.Kind {
	case KVGet:
		return fmt.Sprintf("get(%q)", in.Key)
	case KVPut:
		return fmt.Sprintf("put(%q, %q)", in.Key, in.Value)
	case KVAppend:
		return fmt.Sprintf("append(%q, %q)", in.Key, in.Value)
	case KVCAS:
		return fmt.Sprintf("cas(%q, %q, %q)", in.Key, in.Old, in.Value)
	case LockAcquire:
		return fmt.Sprintf("acquire(%q, %d)", in.Key, in.Owner)
	case LockRelease:
		return fmt.Sprintf("release(%q, %d)", in.Key, in.Owner)
	}
	return fmt.Sprintf("op(kind %d, %q)", in.Kind, in.Key)
}

// FNV-1a, written out so hashing a state neither allocates nor depends on a
// per-process seed as hash/maphash does.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime64
	}
	return h
}

func fnvUint64(h, w uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (w & 0xff)) * fnvPrime64
		w >>= 8
	}
	return h
}
