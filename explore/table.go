package explore

import "math/bits"

// visited is the set of fingerprints seen, as an open-addressing hash table
// from fingerprint to state id: 16 bytes a slot, at most 70% full, so about
// 23 bytes a state plus the per-state arrays the search keeps beside it.
// Fingerprints are already well mixed, so the table indexes by their high
// bits directly.
type visited struct {
	slots []slot
	shift uint
	n     int
}

// slot is a fingerprint and its state's id side by side: a lookup costs
// one cache miss, not two.
type slot struct {
	key uint64 // 0 means empty; fingerprint 0 is stored as 1
	id  uint32
}

func newVisited() *visited {
	v := &visited{}
	v.alloc(1 << 16)
	return v
}

func (v *visited) alloc(slots int) {
	v.slots = make([]slot, slots)
	v.shift = uint(64 - bits.TrailingZeros(uint(slots)))
}

func normal(fp uint64) uint64 {
	if fp == 0 {
		return 1
	}
	return fp
}

// get returns the id stored for fp.
func (v *visited) get(fp uint64) (uint32, bool) {
	fp = normal(fp)
	mask := uint64(len(v.slots) - 1)
	for i := fp >> v.shift; ; i = (i + 1) & mask {
		switch s := &v.slots[i]; s.key {
		case fp:
			return s.id, true
		case 0:
			return 0, false
		}
	}
}

// put stores fp with id; fp must not be present.
func (v *visited) put(fp uint64, id uint32) {
	if (v.n+1)*10 > len(v.slots)*7 {
		v.grow()
	}
	v.insert(normal(fp), id)
	v.n++
}

func (v *visited) insert(fp uint64, id uint32) {
	mask := uint64(len(v.slots) - 1)
	i := fp >> v.shift
	for v.slots[i].key != 0 {
		i = (i + 1) & mask
	}
	v.slots[i] = slot{fp, id}
}

func (v *visited) grow() {
	old := v.slots
	v.alloc(2 * len(old))
	for _, s := range old {
		if s.key != 0 {
			v.insert(s.key, s.id)
		}
	}
}

// bytes is the table's memory.
func (v *visited) bytes() int { return len(v.slots) * 16 }
