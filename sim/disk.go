package sim

import "fmt"

// Disk is a node's simulated disk: an append-only log of records. Appends
// are volatile until Sync; a crash keeps only the synced prefix, the way a
// page cache loses what fsync never reached. Records are opaque to the
// kernel and must not be mutated after they are written.
type Disk struct {
	records []any
	synced  int
	// reported counts the durable records TakeDurable has handed out;
	// traced, those a trace's sync lines have shown.
	reported, traced int
	// shared marks records a snapshot of an untimed world also holds: the
	// disk copies them before its first change.
	shared bool
	// startOnly (the untimed view) allows Records only while starting:
	// the search then fingerprints a disk only while a restart can read it.
	startOnly, starting bool
	// clipped: records may still share their array with a snapshot (only
	// appends past the end are safe until the next reallocation).
	clipped bool

	// Writes and Syncs count operations, for assertions and statistics.
	Writes, Syncs uint64
	// rewrites counts Rewrite calls: the step memo replays appends only.
	rewrites uint64
	// unkept: records are counted, not kept (DisksUnread).
	unkept bool
}

// Append writes a record; it is lost on crash unless a Sync follows.
func (d *Disk) Append(r any) {
	if d.unkept {
		d.Writes++
		return
	}
	d.own()
	d.records = append(d.records, r)
	d.Writes++
}

// Sync makes every appended record durable.
func (d *Disk) Sync() {
	d.synced = len(d.records)
	d.Syncs++
}

// Records is everything on the disk, durable or not, oldest first. A node
// reads it in Start to rebuild its state.
func (d *Disk) Records() []any {
	if d.startOnly && !d.starting {
		panic("sim: a node read its disk outside Start: the untimed view (exhaustive search) allows disk reads only in Start")
	}
	return d.records
}

// TakeDurable returns the records that became durable since the last call,
// oldest first, for checkers that judge by what the disk holds rather than
// by what a node says. It is the kernel's view, not the node's: a node never
// calls it, so the untimed view allows it at any time. The slice is the
// disk's own: read it before the node steps again.
func (d *Disk) TakeDurable() []any {
	if d.unkept {
		panic("sim: TakeDurable in a world whose disks keep no records (DisksUnread)")
	}
	if d.reported > d.synced {
		d.reported = 0 // rewritten: everything on it is new
	}
	out := d.records[d.reported:d.synced]
	d.reported = d.synced
	return out
}

// newlyTraced returns the records that became durable since the trace
// last showed the disk.
func (d *Disk) newlyTraced() []any {
	if d.traced > d.synced {
		d.traced = 0
	}
	out := d.records[d.traced:d.synced]
	d.traced = d.synced
	return out
}

// Unsynced counts records a crash would lose now.
func (d *Disk) Unsynced() int { return len(d.records) - d.synced }

// Rewrite replaces the whole log with recs, durably: how a node compacts a
// long log into a snapshot.
func (d *Disk) Rewrite(recs []any) {
	d.own()
	if d.clipped {
		d.records, d.clipped = nil, false
	}
	d.rewrites++
	d.records = append(d.records[:0], recs...)
	d.synced, d.reported, d.traced = len(d.records), 0, 0
	d.Syncs++
}

func (d *Disk) crash() {
	d.own()
	if !d.clipped {
		clear(d.records[d.synced:]) // drop references; the array is ours
	}
	d.records = d.records[:d.synced:d.synced]
}

// own makes the disk safe to change while a snapshot shares its records:
// clipping the capacity makes the next append copy them, and Rewrite and
// crash never write into the shared array.
func (d *Disk) own() {
	if d.shared {
		d.records = d.records[:len(d.records):len(d.records)]
		d.shared = false
		d.clipped = true
	}
}

// hash fingerprints the disk for the exhaustive search: every record in
// order, and how many of them are synced.
func (d *Disk) hash() uint64 {
	h := Mix64(uint64(d.synced) ^ 0xd15c)
	for i, r := range d.records {
		hr, ok := r.(Hashable)
		if !ok {
			panic(fmt.Sprintf("sim: disk record %d (%T) cannot be fingerprinted: exhaustive search needs a Hash method", i, r))
		}
		h = Mix64(h ^ hr.Hash())
	}
	return h
}
