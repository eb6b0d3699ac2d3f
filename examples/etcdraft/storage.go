package etcdraft

import (
	"strconv"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// What a replica writes to its simulated disk, one record per Ready part.
// A restart replays them in order into a fresh MemoryStorage: raft's
// MemoryStorage is the in-memory half, the disk the durable half, and
// whatever was appended but not synced when the node crashed is gone.

// hardState is raft's HardState (term, vote, commit).
type hardState struct{ term, vote, commit uint64 }

// entries is a batch of log entries; a later batch overwrites any entries
// at the same indexes (MemoryStorage.Append truncates the conflict).
type entries []*raftpb.Entry

// snapshot is a raft snapshot. These scenarios never compact the log, but a
// Ready that carries one is persisted like the rest.
type snapshot struct{ snap *raftpb.Snapshot }

func (h hardState) String() string {
	return "hardstate term=" + strconv.FormatUint(h.term, 10) + " vote=" + strconv.FormatUint(h.vote, 10) +
		" commit=" + strconv.FormatUint(h.commit, 10)
}

func (e entries) String() string {
	first, last := e[0], e[len(e)-1]
	return "entries " + strconv.FormatUint(first.GetIndex(), 10) + "-" + strconv.FormatUint(last.GetIndex(), 10) +
		" (term " + strconv.FormatUint(last.GetTerm(), 10) + ")"
}

func (s snapshot) String() string {
	return "snapshot index=" + strconv.FormatUint(s.snap.GetMetadata().GetIndex(), 10)
}

// bootSnapshot is where every replica's log begins: a snapshot at index 1
// holding the static membership (raft ids 1..n), the same on every replica,
// so a fresh node needs no bootstrap entries and a restart rebuilds it.
func bootSnapshot(n int) *raftpb.Snapshot {
	voters := make([]uint64, n)
	for i := range voters {
		voters[i] = uint64(i + 1)
	}
	return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: new(uint64(1)), Term: new(uint64(1)), ConfState: &raftpb.ConfState{Voters: voters},
	}}
}

// recover rebuilds a replica's MemoryStorage from the boot snapshot and the
// records on its disk, oldest first.
func recoverStorage(n int, records []any) *raft.MemoryStorage {
	st := raft.NewMemoryStorage()
	must(st.ApplySnapshot(bootSnapshot(n)))
	for _, r := range records {
		switch r := r.(type) {
		case hardState:
			must(st.SetHardState(&raftpb.HardState{Term: new(r.term), Vote: new(r.vote), Commit: new(r.commit)}))
		case entries:
			must(st.Append(r))
		case snapshot:
			must(st.ApplySnapshot(r.snap))
		default:
			panic("etcdraft: unknown disk record " + strconv.Quote(stringOf(r)))
		}
	}
	return st
}

func must(err error) {
	if err != nil {
		panic("etcdraft: " + err.Error())
	}
}

func stringOf(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return "?"
}
