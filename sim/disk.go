package sim

// Disk is a node's simulated disk: an append-only log of records. Appends
// are volatile until Sync; a crash keeps only the synced prefix, the way a
// page cache loses what fsync never reached. Records are opaque to the
// kernel and must not be mutated after they are written.
type Disk struct {
	records []any
	synced  int

	// Writes and Syncs count operations, for assertions and statistics.
	Writes, Syncs uint64
}

// Append writes a record; it is lost on crash unless a Sync follows.
func (d *Disk) Append(r any) {
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
func (d *Disk) Records() []any { return d.records }

// Unsynced counts records a crash would lose now.
func (d *Disk) Unsynced() int { return len(d.records) - d.synced }

// Rewrite replaces the whole log with recs, durably: how a node compacts a
// long log into a snapshot.
func (d *Disk) Rewrite(recs []any) {
	d.records = append(d.records[:0], recs...)
	d.synced = len(d.records)
	d.Syncs++
}

func (d *Disk) crash() {
	clear(d.records[d.synced:])
	d.records = d.records[:d.synced]
}
