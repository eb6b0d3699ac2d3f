package multipaxos

import (
	"math/bits"

	"github.com/synod-sim/synod/paxos"
)

// --- leases ---

// Lease configures leader leases. A follower that acknowledges a leader's
// heartbeat promises, for Duration on its own clock, to refuse every other
// candidate; the leader serves reads locally while a quorum's promises
// surely still hold. Clocks may drift by up to DriftMaxPPM and sit up to
// SkewMax from true time (so a clock may jump by 2*SkewMax), and the leader
// must shorten its lease by that much.
type Lease struct {
	Duration    paxos.Duration
	DriftMaxPPM int64
	SkewMax     paxos.Duration
}

// Guard is how long after sending a heartbeat, on its own clock, a leader may
// serve lease reads once a quorum acknowledged that heartbeat. A follower's
// promise runs for at least (Duration-2*SkewMax)/(1+drift) of true time from
// when it received the heartbeat; the leader's clock may run fast or jump back
// by as much, so the leader counts at most that span scaled by (1-drift),
// less a jump of its own. Bug lease-ignores-skew trusts the clocks and uses
// Duration as it is.
func (l Lease) Guard(bugs paxos.Bugs) paxos.Duration {
	if bugs.Has(paxos.LeaseIgnoresSkew) {
		return l.Duration
	}
	d := int64(l.Duration - 2*l.SkewMax)
	rho := l.DriftMaxPPM
	return paxos.Duration(d*(1_000_000-rho)/(1_000_000+rho)) - 2*l.SkewMax
}

// hbRound is one heartbeat whose acknowledgements a leasing leader counts.
type hbRound struct {
	stamp paxos.Time
	acks  uint64
}

const hbRing = 4

// HoldsLease reports whether this replica leads under a lease it may serve
// reads from.
func (s *Server) HoldsLease() bool { return s.role == leader && s.leaseValid() }

// leaseBlocks reports whether a lease this acceptor granted forbids it to
// promise ballot b now.
func (s *Server) leaseBlocks(b paxos.Ballot) bool {
	return s.granting && b.Node != s.grantee && s.env.LocalNow() < s.grantUntil
}

// grant promises leader b a lease: no other candidate for a lease duration
// on this replica's clock.
func (s *Server) grant(b paxos.Ballot) {
	if s.grantee != b.Node {
		s.grantUntil = 0 // the earlier grantee's grant has expired, or it could not have been elected
	}
	s.granting, s.grantee = true, b.Node
	s.grantUntil = max(s.grantUntil, s.env.LocalNow()+paxos.Time(s.cfg.Lease.Duration))
}

func (s *Server) onHeartbeatAck(from paxos.NodeID, m Msg) {
	if s.role != leader || m.Ballot != s.ballot {
		return
	}
	for i := range s.hb {
		if r := &s.hb[i]; r.stamp == m.Stamp && r.acks != 0 {
			r.acks |= 1 << uint(from)
			s.leaseGranted(r.stamp, r.acks)
			return
		}
	}
}

func (s *Server) leaseGranted(stamp paxos.Time, acks uint64) {
	if s.alpha == 0 && bits.OnesCount64(acks) < s.quorum ||
		s.alpha > 0 && !s.phase1Covers(acks, s.applied+1, s.applied+s.alpha) {
		// With reconfiguration, grants must hold a majority of every
		// configuration the window may write to.
		return
	}
	if !s.leaseOK || s.leaseFrom < stamp {
		s.leaseFrom, s.leaseOK = stamp, true
	}
}

// leaseValid reports whether the leader may answer a read from its own state:
// a quorum's grants surely hold, and everything recovered by phase 1 (which
// includes every write that completed under an earlier leader) is applied.
func (s *Server) leaseValid() bool {
	return s.role == leader && s.leaseOK && s.applied >= s.readyAt &&
		s.env.LocalNow() < s.leaseFrom+paxos.Time(s.guard)
}
