package checker

import (
	"slices"
	"time"

	"github.com/synod-sim/synod/paxos"
)

// Copies and fingerprints of the Multi-Paxos checkers' memory, for the
// exhaustive search (scenario multi/check): the search keeps a checker's
// state with every world state it saves, copies it before a step changes
// it, and merges two states whose fingerprints (world and checker) agree.

// Clone returns an independent copy of the checker: recording into one never
// changes the other.
func (c *MultiLog[C]) Clone() *MultiLog[C] {
	d := &MultiLog[C]{
		slots:    slices.Clone(c.slots),
		replicas: slices.Clone(c.replicas),
		executed: slices.Clone(c.executed),
		locks:    slices.Clone(c.locks),
		alpha:    c.alpha,
		confs:    slices.Clone(c.confs),
		prefix:   c.prefix,
	}
	for i := range d.replicas {
		d.replicas[i].tokens = slices.Clone(d.replicas[i].tokens)
	}
	for i := range d.slots {
		d.slots[i].votes = slices.Clone(d.slots[i].votes)
	}
	for i := range d.executed {
		d.executed[i] = slices.Clone(d.executed[i])
	}
	return d
}

// Fingerprint hashes everything that can change a later verdict: what each
// slot holds (command and lock token), how far each replica has applied and
// the tokens it granted, which slot executed each request, and each lock's
// highest grant. Who first reported a slot, at which ballot and how, only
// words a violation's message, and is left out, so that two schedules that
// learned the same log in different orders are one state. Slots, clients
// and locks are positions, hashed with their index; records not yet set
// hash as if absent.
//
// Commands are hashed with their Hash method if they have one (multipaxos
// commands do), and by their String otherwise.
func (c *MultiLog[C]) Fingerprint() uint64 {
	h := uint64(0x6d756c74696c6f67)
	for i := range c.slots {
		r := &c.slots[i]
		if !r.set && r.token == 0 && len(r.votes) == 0 {
			continue
		}
		h = paxos.Mix64(h ^ uint64(i+1)<<32 ^ r.token ^ b2u(r.set)<<63)
		h = paxos.Mix64(h ^ hashCommand(r.cmd))
		var votes uint64 // a set: arrival order does not matter
		for _, v := range r.votes {
			votes += paxos.Mix64(paxos.Mix64(paxos.Mix64(uint64(v.ballot.Round)<<32^uint64(uint32(v.ballot.Node)))^v.by) ^ hashCommand(v.cmd))
		}
		// chosen and chosenAt follow from the votes (the lowest ballot with
		// a majority), so they need no hashing of their own.
		h = paxos.Mix64(h + votes)
	}
	for i := range c.replicas {
		r := &c.replicas[i]
		h = paxos.Mix64(h ^ uint64(i)<<48 ^ r.applied)
		for l, tok := range r.tokens {
			if tok != 0 {
				h = paxos.Mix64(h ^ uint64(l)<<48 ^ tok)
			}
		}
	}
	for client, seqs := range c.executed {
		for seq, slot := range seqs {
			if slot != 0 {
				h = paxos.Mix64(h ^ uint64(client)<<48 ^ uint64(seq)<<24 ^ slot)
			}
		}
	}
	for l, rec := range c.locks {
		if rec != (lockRecord{}) {
			h = paxos.Mix64(h ^ uint64(l)<<48 ^ rec.slot<<24 ^ rec.token)
		}
	}
	return h
}

func hashCommand[C LogCommand](cmd C) uint64 {
	if hc, ok := any(cmd).(interface{ Hash() uint64 }); ok {
		return hc.Hash()
	}
	return fnvString(fnvOffset64, cmd.String())
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Clone returns an independent copy of the history.
func (h *History) Clone() *History {
	return &History{ops: slices.Clone(h.ops)}
}

// Fingerprint hashes the history as a set of operations: client, call and
// return times, input and output. Two histories with the same operations
// hash alike whatever order they were recorded in. Times enter as they are:
// a caller that wants schedules with the same real-time order of calls and
// returns to hash alike records logical times (ranks), not step counts.
func (h *History) Fingerprint() uint64 {
	var sum uint64
	for i := range h.ops {
		r := &h.ops[i]
		x := fnvUint64(fnvOffset64, uint64(r.client))
		x = fnvUint64(x, uint64(r.call))
		x = fnvUint64(x, uint64(r.ret))
		x = fnvUint64(x, uint64(r.in.Kind)|uint64(uint32(r.in.Owner))<<8)
		x = fnvString(fnvUint64(x, uint64(len(r.in.Key))), r.in.Key)
		x = fnvString(fnvUint64(x, uint64(len(r.in.Value))), r.in.Value)
		x = fnvString(fnvUint64(x, uint64(len(r.in.Old))), r.in.Old)
		x = fnvUint64(x, r.out.Token<<2|b2u(r.out.OK)<<1|b2u(r.out.pending))
		x = fnvString(fnvUint64(x, uint64(len(r.out.Value))), r.out.Value)
		sum += paxos.Mix64(x)
	}
	return paxos.Mix64(sum ^ uint64(len(h.ops)))
}

// KVMemo remembers CheckKV's verdicts by the exact history checked (the
// same operations, recorded in the same order), for the exhaustive search,
// which checks the same small history at the end of many schedules. A
// verdict is a function of the operations alone, so a remembered one is the
// one CheckKV would give again; an inconclusive check (out of budget) is
// not remembered. Not safe for concurrent use: one per search worker.
type KVMemo struct {
	byHash map[uint64][]kvMemoEntry
	n      int
}

type kvMemoEntry struct {
	ops []opRecord
	res LinResult
}

// kvMemoMax bounds the histories a KVMemo keeps; past it, it starts over.
const kvMemoMax = 1 << 16

// CheckKV is CheckKV(h, budget), remembered.
func (k *KVMemo) CheckKV(h *History, budget time.Duration) LinResult {
	fp := h.Fingerprint()
	for _, e := range k.byHash[fp] {
		if slices.Equal(e.ops, h.ops) {
			return e.res
		}
	}
	r := CheckKV(h, budget)
	if r.Verdict != LinOk && r.Verdict != LinIllegal {
		return r
	}
	if k.byHash == nil || k.n >= kvMemoMax {
		k.byHash, k.n = map[uint64][]kvMemoEntry{}, 0
	}
	k.byHash[fp] = append(k.byHash[fp], kvMemoEntry{ops: slices.Clone(h.ops), res: r})
	k.n++
	return r
}
