package paxos

import (
	"math/bits"
	"strings"

	"github.com/synod-sim/synod/planted"
)

// Bugs is a set of deliberate protocol mistakes, each a faithful copy of one
// that real implementations made. The harness must find every one. It is
// the harness's generic bug set: the catalogue below registers its names
// there (planted.Register), so that nothing generic needs this package.
type Bugs = planted.Set

// The catalogue. Single-decree bugs first, then Multi-Paxos ones.
const (
	// NoPersist: an acceptor answers before its promise or acceptance is
	// synced; the sync happens later, so a crash in between forgets a
	// promise that a proposer already counted.
	NoPersist Bugs = 1 << iota
	// IgnoreAccepted: a proposer proposes its own value even when a promise
	// reports an accepted one.
	IgnoreAccepted
	// DupBallot: ballots are the round alone, not (round, node), so two
	// proposers can run the same ballot with different values.
	DupBallot
	// CountDuplicates: a learner counts Accepted messages, not distinct
	// acceptors, so a duplicated message makes a false majority.
	CountDuplicates
	// MinorityQuorum: quorums of n/2 instead of n/2+1, which need not
	// intersect.
	MinorityQuorum
	// AcceptLowerBallot: an acceptor accepts a proposal below the ballot it
	// promised.
	AcceptLowerBallot
	// SkipPhase1: a new Multi-Paxos leader goes straight to phase 2.
	SkipPhase1
	// NoGapFill: a new leader executes past a slot it has not decided, or
	// never fills it.
	NoGapFill
	// StaleLeaderRead: a deposed leader serves reads from its local state.
	StaleLeaderRead
	// NoDedup: a client's retried command is applied twice.
	NoDedup
	// EvenQuorum: with an even cluster, half the nodes count as a quorum.
	EvenQuorum
	// LeaseIgnoresSkew: lease reads trust the local clock without the drift
	// margin.
	LeaseIgnoresSkew
	// LowestAccepted: a proposer adopts the first accepted value it hears
	// of, not the one with the highest ballot.
	LowestAccepted
	// StalePromise: a proposer counts promises made to its earlier ballots
	// toward its current one.
	StalePromise
	// NoPersistAccept: an acceptor syncs promises but not acceptances.
	NoPersistAccept
	// NackQuorum: a proposer abandons a ballot only when a quorum of
	// acceptors refused it, and its retry timer only sends the same ballot
	// again: with a minority down, promises and refusals can split so that
	// neither reaches a quorum, and the proposer waits forever. The stall
	// reported against cocagne/multi-paxos-example (issue 4), whose
	// proposer retried only on a quorum of nacks.
	NackQuorum
	// NoRetransmit: a Multi-Paxos leader sends each Accept once and sends
	// it again only along with a new proposal, so a lost Accept stalls its
	// slot until a client happens to propose something: etcd raft's leader
	// did not resend MsgApp unless it received a new proposal
	// (etcd-io/etcd#13951).
	NoRetransmit
	// ReconfigImmediate: a membership change governs the slots after its
	// own as soon as the leader logs it, before it is chosen and without
	// waiting α slots (Raft's "use a configuration once it is in the log",
	// without Raft's one-server restriction): a replacement's new majority
	// and the old one need not meet.
	ReconfigImmediate
	// ReconfigConcurrent: a second membership change starts before the
	// first is chosen, computed against the configuration in effect and
	// installed whatever its epoch, each used as soon as it is logged
	// (copycat issue 26; Ongaro's single-server-change bug, raft-dev 2015):
	// two configurations in effect at once, with disjoint majorities.
	ReconfigConcurrent
	// ReconfigJoinUncaught: a replica that joined counts in quorums before
	// it caught up: a replacement takes its predecessor's seat in the
	// quorums of slots the predecessor was an acceptor of, with none of
	// what it accepted, so a candidate's phase 1 misses a chosen value
	// (Cassandra's replacement nodes answered Paxos before Paxos repair
	// gave them the ranges' state).
	ReconfigJoinUncaught
	// ReconfigOldQuorum: a leader keeps counting the quorum of the
	// configuration it was elected in after a change took effect: it
	// decides slots the new configuration governs with a majority of the
	// old one (a removed replica's acceptance completing it), which need
	// not meet a majority of the new one that elects another leader and
	// chooses something else there. A quorum set computed at election and
	// not refreshed when the membership changes.
	ReconfigOldQuorum
)

// Reconfig is the reconfiguration bugs: the protocol switches them on by
// name (ReconfigNames), since they live with the reconfiguration code.
const Reconfig = ReconfigImmediate | ReconfigConcurrent | ReconfigJoinUncaught | ReconfigOldQuorum

// ReconfigNames are the names the Multi-Paxos replica's ReconfigBug takes
// for the reconfiguration bugs in s: reconfig-concurrent is both its own
// mistake and using a change as soon as it is logged, since the second
// change only splits the cluster when the first is already in use.
func ReconfigNames(s Bugs) string {
	var names []string
	if s.Has(ReconfigImmediate) || s.Has(ReconfigConcurrent) {
		names = append(names, "reconfig-immediate")
	}
	if s.Has(ReconfigConcurrent) {
		names = append(names, "reconfig-concurrent")
	}
	if s.Has(ReconfigJoinUncaught) {
		names = append(names, "reconfig-join-uncaught")
	}
	if s.Has(ReconfigOldQuorum) {
		names = append(names, "reconfig-old-quorum")
	}
	return strings.Join(names, ",")
}

// The session bugs (session.go, session_client.go, resource.go) sit in a
// block of their own, from bit 48 up, so that bugs added to the block above
// never move them.
const (
	// NoFencingCheck: the protected resource takes every write whatever
	// its fencing token, so a holder that was paused past its lease writes
	// over its successor's writes (Kleppmann, "How to do distributed
	// locking", 2016).
	NoFencingCheck Bugs = 1 << (48 + iota)
	// ExpireEarly: the lock service expires a session when its own clock
	// says the lease ran out, without the margin for clock drift and steps,
	// while the client's lease may still run.
	ExpireEarly
	// ClientIgnoresJeopardy: a client keeps acting as a lock holder after
	// its own view of its lease lapsed, until the grace period ends
	// (Chubby's jeopardy, ignored).
	ClientIgnoresJeopardy
	// KeepaliveNotReplicated: the leader answers keep-alives from memory
	// without logging them; a new leader never hears of those extensions
	// and expires sessions whose clients were told they were live.
	KeepaliveNotReplicated
)

// SplitLog is the Multi-Paxos bugs that can get two commands decided in one
// slot. A replica's own assertions that one slot holds one command are
// switched off under these alone, so that the checker, not the replica,
// names what they break; every other bug leaves them on.
const SplitLog = SkipPhase1 | NoGapFill | EvenQuorum | MinorityQuorum | Reconfig

// BugInfo describes one catalogued bug.
type BugInfo = planted.Info

func init() { planted.Register(Catalogue...) }

// Catalogue lists every bug that can be switched on by name.
var Catalogue = []BugInfo{
	{Name: "no-persist", Bug: NoPersist, Summary: "acceptor answers before its promise or accepted value is synced to disk"},
	{Name: "ignore-accepted", Bug: IgnoreAccepted, Summary: "proposer proposes its own value despite accepted values in the promises"},
	{Name: "dup-ballot", Bug: DupBallot, Summary: "ballots are not unique across proposers (round only, no node id)"},
	{Name: "count-duplicates", Bug: CountDuplicates, Summary: "learner counts duplicate Accepted messages from one acceptor"},
	{Name: "minority-quorum", Bug: MinorityQuorum, Summary: "quorum of n/2 instead of n/2+1"},
	{Name: "accept-lower-ballot", Bug: AcceptLowerBallot, Summary: "acceptor accepts a proposal below its promised ballot"},
	{Name: "skip-phase1", Bug: SkipPhase1, Summary: "a new Multi-Paxos leader goes straight to phase 2"},
	{Name: "no-gap-fill", Bug: NoGapFill, Summary: "a new leader executes past an undecided slot instead of filling it with a no-op"},
	{Name: "stale-leader-read", Bug: StaleLeaderRead, Summary: "a deposed leader serves reads locally"},
	{Name: "no-dedup", Bug: NoDedup, Summary: "client retries are applied twice"},
	{Name: "even-quorum", Bug: EvenQuorum, Summary: "with an even cluster size, n/2 nodes count as a quorum"},
	{Name: "lease-ignores-skew", Bug: LeaseIgnoresSkew, Summary: "lease reads ignore clock drift and skew"},
	{Name: "lowest-accepted", Bug: LowestAccepted, Summary: "proposer adopts the first accepted value reported, not the highest-ballot one"},
	{Name: "stale-promise", Bug: StalePromise, Summary: "proposer counts promises for its earlier ballots toward the current one"},
	{Name: "no-persist-accept", Bug: NoPersistAccept, Summary: "acceptor syncs its promises but not its accepted values"},
	{Name: "nack-quorum", Bug: NackQuorum, Summary: "liveness: a proposer gives up a ballot only on a quorum of nacks, so a split with a minority down stalls it (cocagne/multi-paxos-example#4)"},
	{Name: "no-retransmit", Bug: NoRetransmit, Summary: "liveness: a leader resends a lost Accept only with a new proposal (etcd-io/etcd#13951)"},
	{Name: "reconfig-immediate", Bug: ReconfigImmediate, Summary: "a membership change governs later slots as soon as it is logged, before it is chosen and before α slots"},
	{Name: "reconfig-concurrent", Bug: ReconfigConcurrent, Summary: "a second membership change starts before the first is chosen, each used once logged: two disjoint majorities (copycat#26)"},
	{Name: "reconfig-join-uncaught", Bug: ReconfigJoinUncaught, Summary: "a joining replica counts in quorums before it caught up, in its predecessor's seat"},
	{Name: "reconfig-old-quorum", Bug: ReconfigOldQuorum, Summary: "a leader keeps counting the quorum of the configuration it was elected in after a change took effect"},
	{Name: "no-fencing-check", Bug: NoFencingCheck, Summary: "the protected resource ignores fencing tokens: a paused holder's zombie write lands after its successor's"},
	{Name: "expire-early", Bug: ExpireEarly, Summary: "the lock service expires a session by its own clock without the drift and skew margin"},
	{Name: "client-ignores-jeopardy", Bug: ClientIgnoresJeopardy, Summary: "a client keeps acting as lock holder after its own lease view lapsed"},
	{Name: "keepalive-not-replicated", Bug: KeepaliveNotReplicated, Summary: "the leader answers keep-alives from memory, unlogged: a new leader expires sessions still live"},
}

// ParseBugs turns a comma-separated list of bug names into a set. The empty
// string and "none" mean no bug.
func ParseBugs(s string) (Bugs, error) { return planted.Parse(s) }

// LookupBug finds a catalogued bug by name.
func LookupBug(name string) (BugInfo, bool) { return planted.Lookup(name) }

// QuorumSize is the quorum a node uses for n nodes under the bugs it has.
func QuorumSize(n int, bugs Bugs) int {
	switch {
	case bugs.Has(MinorityQuorum):
		return max(1, n/2)
	case bugs.Has(EvenQuorum) && n%2 == 0:
		return n / 2
	}
	return Majority(n)
}

// count is the number of distinct nodes in a bit set of node ids.
func count(set uint64) int { return bits.OnesCount64(set) }
