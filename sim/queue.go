package sim

// entry is what the heap orders: small and pointer-free, so sifting moves 24
// bytes and the garbage collector never scans the queue. The payload lives in
// the world's slab at index slot.
type entry struct {
	at   Time
	seq  uint64
	slot int32
}

func (a entry) before(b entry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// queue is a binary min-heap of entries ordered by (time, insertion sequence):
// ties break by the order events were scheduled, which is itself
// deterministic, so the queue never needs randomness of its own.
type queue struct {
	items []entry
}

func (q *queue) len() int { return len(q.items) }

func (q *queue) push(e entry) {
	q.items = append(q.items, e)
	i := len(q.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !q.items[i].before(q.items[parent]) {
			break
		}
		q.items[i], q.items[parent] = q.items[parent], q.items[i]
		i = parent
	}
}

func (q *queue) pop() entry {
	items := q.items
	top := items[0]
	last := len(items) - 1
	items[0] = items[last]
	q.items = items[:last]
	items = q.items
	i := 0
	for {
		l := 2*i + 1
		if l >= len(items) {
			break
		}
		m := l
		if r := l + 1; r < len(items) && items[r].before(items[l]) {
			m = r
		}
		if !items[m].before(items[i]) {
			break
		}
		items[i], items[m] = items[m], items[i]
		i = m
	}
	return top
}
