package explore

import "math/bits"

// visited is the set of fingerprints seen, as an open-addressing hash table
// from fingerprint to state id: 12 bytes a slot, at most 70% full, so about
// 17 bytes a state plus the per-state arrays the search keeps beside it.
// Fingerprints are already well mixed, so the table indexes by their high
// bits directly.
type visited struct {
	keys  []uint64 // 0 means empty; fingerprint 0 is stored as 1
	ids   []uint32
	shift uint
	n     int
}

func newVisited() *visited {
	v := &visited{}
	v.alloc(1 << 16)
	return v
}

func (v *visited) alloc(slots int) {
	v.keys = make([]uint64, slots)
	v.ids = make([]uint32, slots)
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
	mask := uint64(len(v.keys) - 1)
	for i := fp >> v.shift; ; i = (i + 1) & mask {
		switch v.keys[i] {
		case fp:
			return v.ids[i], true
		case 0:
			return 0, false
		}
	}
}

// put stores fp with id; fp must not be present.
func (v *visited) put(fp uint64, id uint32) {
	if (v.n+1)*10 > len(v.keys)*7 {
		v.grow()
	}
	v.insert(normal(fp), id)
	v.n++
}

func (v *visited) insert(fp uint64, id uint32) {
	mask := uint64(len(v.keys) - 1)
	i := fp >> v.shift
	for v.keys[i] != 0 {
		i = (i + 1) & mask
	}
	v.keys[i], v.ids[i] = fp, id
}

func (v *visited) grow() {
	keys, ids := v.keys, v.ids
	v.alloc(2 * len(keys))
	for i, k := range keys {
		if k != 0 {
			v.insert(k, ids[i])
		}
	}
}

// bytes is the table's memory.
func (v *visited) bytes() int { return len(v.keys) * 12 }
