package multipaxos

import (
	"sync/atomic"

	"github.com/synod-sim/synod/paxos"
)

// The log: pages of slots, grown a page at a time and shared copy-on-write
// between copies of a replica.

// entry is one slot of a replica's log. It holds one command: the one the
// acceptor accepted at accBallot or, once decided, the decided one. (Reporting
// a decided command with an older ballot is safe: a promise flags the slot as
// decided, and the candidate takes the decision as it is.) A leader accepts
// its own proposals before it sends them, so in a slot where accBallot is
// the ballot it leads with, cmd is its proposal.
type entry struct {
	accBallot paxos.Ballot
	cmd       Command
	acks      uint64     // leader: the acceptors that accepted cmd at accBallot
	sentAt    paxos.Time // leader: when it last sent the slot
	decided   bool
	// skipped: bug no-gap-fill's leader executed past this undecided slot.
	skipped bool
}

// pageSlots is the size of a log page. The log grows a page at a time and
// never moves, so growing it copies nothing. Pages are small because the
// exhaustive search copies a replica (every page) before each of its steps,
// and its logs are a few slots long.
const pageSlots = 16

// page is a page of the log. Copies of a replica share pages copy-on-write:
// Clone freezes every page it shares, a frozen page is never written again,
// and a replica about to write into one (at) takes a private copy first. An
// unfrozen page belongs to one replica alone. frozen is atomic because
// parallel searches clone one saved replica from several goroutines.
type page struct {
	frozen atomic.Bool
	e      [pageSlots]entry
}

// entry returns slot's entry, growing the log as needed.
func (s *Server) entry(slot Slot) *entry {
	if slot < 1 || slot > MaxSlots {
		s.fail(slot, "slot out of range 1..%d", MaxSlots)
	}
	for slot > s.top {
		if s.top%pageSlots == 0 {
			s.pages = append(s.pages, new(page))
		}
		s.top++
	}
	return s.at(slot)
}

// at returns the entry of a slot the log holds, for writing: a page shared
// with a copy (frozen by Clone) is replaced by a private copy first.
func (s *Server) at(slot Slot) *entry {
	i := (slot - 1) / pageSlots
	p := s.pages[i]
	if p.frozen.Load() {
		p = &page{e: p.e}
		s.pages[i] = p
	}
	return &p.e[(slot-1)%pageSlots]
}

// peek returns the entry of a slot the log holds, for reading only: the page
// may be shared with copies of the replica.
func (s *Server) peek(slot Slot) *entry {
	return &s.pages[(slot-1)/pageSlots].e[(slot-1)%pageSlots]
}
