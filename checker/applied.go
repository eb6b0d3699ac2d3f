package checker

import "fmt"

// AppliedLog checks any replicated log by what its replicas report they
// applied, knowing nothing of the protocol: per-index agreement (every
// replica applies the same command at an index), applied prefixes (a
// replica applies index i+1 right after i, from its start), and, given an
// id for commands, exactly-once (no operation applied at two indexes).
// Replicas are numbered 0..n-1; indexes from 1.
type AppliedLog[C comparable] struct {
	id    func(C) (string, bool)
	log   []C
	set   []bool
	next  []uint64          // by replica: the index it must apply next
	where map[string]uint64 // operation id -> the index it was applied at
}

// NewAppliedLog checks the log of n replicas. id names the operation a
// command carries (a client and sequence number, say); ok false for
// commands that are no operation (no-ops, configuration). nil: no
// exactly-once check.
func NewAppliedLog[C comparable](n int, id func(C) (string, bool)) *AppliedLog[C] {
	next := make([]uint64, n)
	for i := range next {
		next[i] = 1
	}
	return &AppliedLog[C]{id: id, next: next, where: map[string]uint64{}}
}

// Restarted says replica r starts applying again from index from: 1 when
// it rebuilds its state from the start of the log, or just past a
// snapshot it restored.
func (l *AppliedLog[C]) Restarted(r int, from uint64) {
	if from == 0 {
		from = 1
	}
	l.next[r] = from
}

// Applied checks that replica r applied cmd at index at time at (µs).
func (l *AppliedLog[C]) Applied(r int, index uint64, cmd C, at int64) *Violation {
	if r < 0 || r >= len(l.next) || index == 0 {
		return &Violation{Kind: "log-order", Time: at, Message: fmt.Sprintf("replica %d applied %v at index %d: no such replica or index", r, cmd, index)}
	}
	if index != l.next[r] {
		return &Violation{Kind: "log-order", Time: at, Message: fmt.Sprintf(
			"replica %d applied index %d (%v) where it should apply index %d: applied logs grow one index at a time", r, index, cmd, l.next[r])}
	}
	l.next[r] = index + 1
	for uint64(len(l.log)) < index {
		var zero C
		l.log, l.set = append(l.log, zero), append(l.set, false)
	}
	i := index - 1
	if l.set[i] {
		if l.log[i] != cmd {
			return &Violation{Kind: "log-agreement", Time: at, Message: fmt.Sprintf(
				"replica %d applied %v at index %d, where %v was applied before", r, cmd, index, l.log[i])}
		}
		return nil
	}
	l.log[i], l.set[i] = cmd, true
	if l.id == nil {
		return nil
	}
	if op, ok := l.id(cmd); ok {
		if first, dup := l.where[op]; dup {
			return &Violation{Kind: "exactly-once", Time: at, Message: fmt.Sprintf(
				"operation %s applied at index %d and again at index %d (replica %d)", op, first, index, r)}
		}
		l.where[op] = index
	}
	return nil
}
