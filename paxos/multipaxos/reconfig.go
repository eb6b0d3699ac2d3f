package multipaxos

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/paxos"
)

// --- reconfiguration ---
//
// The configuration (which replicas are acceptors, and an epoch) is a command
// chosen in a log slot like any other: OpReconfig. The rule for when it
// takes effect is Lamport's α window ("Paxos Made Simple" §3, "Reconfiguring
// a State Machine" §4): a configuration chosen in slot i governs every slot
// from i+α on, until the next one takes over. So the configuration of slot s
// is a function of the chosen log up to s-α, the same at every replica, and
// a leader knows it once every slot up to s-α is decided: a leader never
// proposes slot s before that (applied+α is its window edge).
//
// Quorums follow from it. Phase 2 of slot s is decided by a majority of the
// configuration governing s, whichever configuration the leader was elected
// in (bug reconfig-old-quorum keeps counting that one). Phase 1 is run once for all slots from p1From on,
// so it must gather, for every configuration governing a slot the leader may
// propose in, a majority of that configuration: a value chosen in slot s was
// accepted by a majority of config(s), and only a majority of config(s)
// promising is sure to report it. A majority of the newest configuration
// alone is not enough: a replaced replica set can have majorities disjoint
// from the old one's. The configurations a leader
// can know are those chosen up to applied; the candidate needs promises
// covering every one of them that governs a slot in [p1From, applied+α], and
// as the window moves into a configuration it has no majority of yet (one
// chosen after the election), the leader sends its Prepare to that
// configuration's members and proposes nothing there until they answer. What
// promises report is merged per slot, highest ballot first, as in the
// election; reports from a superset of a quorum cannot change the choice.
//
// One change is in flight at a time: a leader proposes a change only when
// the newest configuration is in effect (every slot before it governs is
// decided) and no other change waits in its window. A change is logged as
// the whole new configuration with the next epoch, and applied only if that
// epoch follows the newest one (a compare-and-set on the epoch), so a change
// computed against a configuration that has since been replaced is refused
// in the log, where every replica sees the same answer.
//
// A replica acts (campaigns, leads) only while it is a member of the
// configuration of the first slot it has not applied: a joining replica
// catches up (heartbeats name the commit index, the catch-up path sends the
// decided slots) before it knows it is a member, and a removed leader steps
// down once every slot its configuration governs is decided. A leader counts
// a member's acceptance only if that member promised its ballot or has
// caught up to the slot that chose the configuration in question.
//
// With Config.Alpha 0 (the default) the configuration is fixed at replicas
// 0..Replicas-1 and none of this runs: every run is as before.

// Conf is a configuration: the replicas that are acceptors, and its epoch
// (0 for the initial one, one more for each change).
type Conf struct {
	Epoch   uint32
	Members uint64 // bit i set: replica i is a member
}

// Has reports whether replica id is a member.
func (c Conf) Has(id paxos.NodeID) bool { return id >= 0 && id < 64 && c.Members&(1<<uint(id)) != 0 }

// Size is the number of members.
func (c Conf) Size() int { return bits.OnesCount64(c.Members) }

// IDs lists the members in order.
func (c Conf) IDs() []paxos.NodeID {
	var ids []paxos.NodeID
	for m := c.Members; m != 0; m &= m - 1 {
		ids = append(ids, paxos.NodeID(bits.TrailingZeros64(m)))
	}
	return ids
}

func (c Conf) String() string {
	return "e" + strconv.FormatUint(uint64(c.Epoch), 10) + maskString(c.Members)
}

// Change is a membership change, as a client or an operator asks for it:
// at most one replica to add and one to remove (bit sets). Replace is both:
// a new id with an empty disk takes the place of a dead replica.
type Change struct {
	Add, Remove uint64
}

// AddReplica adds replica id. RemoveReplica removes it. ReplaceReplica
// removes old and adds new.
func AddReplica(id paxos.NodeID) Change    { return Change{Add: 1 << uint(id)} }
func RemoveReplica(id paxos.NodeID) Change { return Change{Remove: 1 << uint(id)} }
func ReplaceReplica(old, new paxos.NodeID) Change {
	return Change{Add: 1 << uint(new), Remove: 1 << uint(old)}
}

func (c Change) String() string {
	var parts []string
	if c.Add != 0 {
		parts = append(parts, "+"+maskString(c.Add))
	}
	if c.Remove != 0 {
		parts = append(parts, "-"+maskString(c.Remove))
	}
	return strings.Join(parts, " ")
}

func maskString(m uint64) string {
	var b strings.Builder
	b.WriteByte('{')
	for first := true; m != 0; m &= m - 1 {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Itoa(bits.TrailingZeros64(m)))
	}
	b.WriteByte('}')
	return b.String()
}

// apply returns the configuration change c makes of base, or ok false if c
// is not a valid change of base within a space of n replica ids: one
// replica added (not a member yet), one removed (a member), or both, and
// someone left.
func (c Change) apply(base Conf, n int) (Conf, bool) {
	space := uint64(1)<<uint(n) - 1
	switch {
	case c.Add == 0 && c.Remove == 0,
		bits.OnesCount64(c.Add) > 1 || bits.OnesCount64(c.Remove) > 1,
		c.Add&^space != 0, c.Add&base.Members != 0, c.Remove&^base.Members != 0:
		return Conf{}, false
	}
	next := Conf{Epoch: base.Epoch + 1, Members: base.Members&^c.Remove | c.Add}
	return next, next.Members != 0
}

// span says that conf governs the slots from from on, until the next span;
// it was chosen in slot at (0 for the initial configuration).
type span struct {
	from, at Slot
	conf     Conf
}

// Planted reconfiguration bugs, switched on by Config.ReconfigBug. They live
// here until the catalogue (paxos/bugs.go) names them.
type reconfigBugs uint8

const (
	// reconfigImmediate: a configuration governs the slots after its own
	// as soon as the leader proposes it, before it is chosen and without
	// waiting α slots; the leader pipelines past it (Raft's "use a
	// configuration once it is in the log", without Raft's one-server
	// restriction).
	reconfigImmediate reconfigBugs = 1 << iota
	// reconfigOldQuorum: a replica takes the configuration in effect when
	// it campaigns (the one governing p1From) for its quorum, and keeps
	// counting that configuration's majority, in phase 1 and phase 2,
	// for every slot it proposes in until it steps down, though a newer
	// configuration governs them: the leader learns the change, applies
	// it and sends its Accepts to the new members as well, but its quorum
	// set is the one it was elected with. A removed replica's acceptance
	// completes a majority of the old configuration that is none of the
	// new one, so the leader decides what the new configuration never
	// chose, and a leader elected by a new majority (which need not meet
	// the old one) chooses something else in the same slot. (A quorum set
	// computed at election and not refreshed at a membership change: the
	// mistake Raft's rule "a server uses the newest configuration in its
	// log, whether or not it is committed" guards against for commitment.)
	reconfigOldQuorum
	// reconfigConcurrent: a second change is proposed while the first is in
	// flight, computed against the configuration in effect, and installed
	// whatever its epoch: the later change silently undoes the earlier.
	reconfigConcurrent
	// reconfigJoinUncaught: a replica that joined counts in quorums at once,
	// before it has caught up: a replacement takes its predecessor's seat in
	// the quorums of every slot the predecessor was an acceptor of, as
	// though it held what the predecessor had accepted there, and its
	// acceptances count before it reported the change that added it. Its
	// empty acceptor state then lets a candidate's phase 1 miss a value
	// the predecessor helped choose. (The mistake Cassandra's Paxos repair
	// on topology changes was built to close: a new replica answering Paxos
	// for ranges before it received their Paxos state.)
	reconfigJoinUncaught
)

// ReconfigBugs names the planted reconfiguration bugs Config.ReconfigBug
// accepts (comma-separated).
var ReconfigBugs = []string{"reconfig-immediate", "reconfig-old-quorum", "reconfig-concurrent", "reconfig-join-uncaught"}

func parseReconfigBugs(s string) (reconfigBugs, error) {
	var out reconfigBugs
	if s == "" || s == "none" {
		return 0, nil
	}
	for _, name := range strings.Split(s, ",") {
		found := false
		for i, n := range ReconfigBugs {
			if strings.TrimSpace(name) == n {
				out |= 1 << uint(i)
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown reconfiguration bug %q (one of %s)", name, strings.Join(ReconfigBugs, ", "))
		}
	}
	return out, nil
}

// --- what a replica knows of the configurations ---

// initialConf is epoch 0: replicas 0..Replicas-1.
func initialConf(replicas int) Conf { return Conf{Members: uint64(1)<<uint(replicas) - 1} }

// newest is the newest configuration chosen (it may not govern yet).
func (s *Server) newest() span { return s.spans[len(s.spans)-1] }

// known reports whether the configuration governing slot is known here:
// every slot up to slot-α is applied. (Always, with reconfiguration off.)
func (s *Server) known(slot Slot) bool {
	return s.alpha == 0 || slot <= s.applied+s.alpha || s.rbugs&reconfigImmediate != 0
}

// spanOf returns the index of the span governing slot, which must be known.
func (s *Server) spanOf(slot Slot) int {
	if !s.known(slot) {
		s.fail(slot, "configuration of slot %d asked with slots up to %d applied and α=%d", slot, s.applied, s.alpha)
	}
	i := len(s.spans) - 1
	for i > 0 && s.spans[i].from > slot {
		i--
	}
	return i
}

// members is the set of replicas that are acceptors for slot.
func (s *Server) members(slot Slot) uint64 {
	if s.alpha == 0 {
		return s.spans[0].conf.Members
	}
	return s.confMembers(s.spanOf(slot))
}

// confMembers is the members of span i: the acceptors of the slots it
// governs. Bug reconfig-join-uncaught seats each later replacement in its
// predecessor's place.
func (s *Server) confMembers(i int) uint64 {
	m := s.spans[i].conf.Members
	if s.rbugs&reconfigJoinUncaught == 0 {
		return m
	}
	for j := i + 1; j < len(s.spans); j++ {
		prev, cur := s.spans[j-1].conf.Members, s.spans[j].conf.Members
		out, in := prev&^cur, cur&^prev
		if bits.OnesCount64(out) == 1 && bits.OnesCount64(in) == 1 && m&out != 0 {
			m = m&^out | in // "the new replica is the old one's replacement: same seat"
		}
	}
	return m
}

// memberAt reports whether this replica is an acceptor of slot.
func (s *Server) memberAt(slot Slot) bool {
	return s.alpha == 0 || !s.known(slot) || s.members(slot)&(1<<uint(s.id)) != 0
}

// reach is every replica of a configuration that governs slots from from
// on: who a candidate asks for promises and a leader sends heartbeats to.
func (s *Server) reach(from Slot) uint64 {
	var m uint64
	for i, sp := range s.spans {
		if i+1 == len(s.spans) || s.spans[i+1].from > from {
			m |= sp.conf.Members
		}
	}
	return m
}

// quorumOf reports whether votes hold a quorum of members; only members
// count.
func (s *Server) quorumOf(votes, members uint64) bool {
	return bits.OnesCount64(votes&members) >= paxos.QuorumSize(bits.OnesCount64(members), s.cfg.Bugs)
}

// counted is the span whose majority a candidate or leader counts for the
// slots span i governs: span i itself. Bug reconfig-old-quorum counts the
// configuration it campaigned in (the one governing p1From) for every
// later one.
func (s *Server) counted(i int) int {
	if s.rbugs&reconfigOldQuorum != 0 && s.role != follower {
		if old := s.spanOf(s.p1From); old < i {
			return old // "the quorum I was elected with"
		}
	}
	return i
}

// promisedFor reports whether the promises in acks cover the configuration
// of span i: a majority of it promised the ballot.
func (s *Server) promisedFor(acks uint64, i int) bool {
	return s.quorumOf(acks, s.confMembers(s.counted(i)))
}

// phase1Covers reports whether acks hold a quorum of every configuration
// governing a slot in [from, to]: the phase 1 rule.
func (s *Server) phase1Covers(acks uint64, from, to Slot) bool {
	for i, sp := range s.spans {
		if sp.from <= to && (i+1 == len(s.spans) || s.spans[i+1].from > from) && !s.promisedFor(acks, i) {
			return false
		}
	}
	return true
}

// voters are the replicas whose acceptance of slot counts: the members of
// its configuration that promised this leader's ballot or have caught up
// to the slot that chose the configuration.
func (s *Server) voters(slot Slot) uint64 {
	if s.alpha == 0 {
		return s.spans[0].conf.Members
	}
	i := s.counted(s.spanOf(slot))
	sp := s.spans[i]
	if s.rbugs&(reconfigImmediate|reconfigJoinUncaught) != 0 {
		return s.confMembers(i) // "in the log, in use": new members count at once
	}
	ok := s.p1Acks
	for i, c := range s.peerCommit {
		if c >= sp.at {
			ok |= 1 << uint(i)
		}
	}
	return sp.conf.Members & ok
}

// chosenBy reports whether the acceptances acks decide slot.
func (s *Server) chosenBy(slot Slot, acks uint64) bool {
	if s.alpha == 0 {
		return bits.OnesCount64(acks) >= s.quorum
	}
	v := s.voters(slot)
	m := s.confMembers(s.counted(s.spanOf(slot)))
	if acks&v&^m != 0 {
		s.fail(slot, "counting a non-member: acks %s, members %s", maskString(acks&v), maskString(m))
	}
	return s.quorumOf(acks&v, m)
}

// acceptors are the replicas a leader sends slot's Accepts to: the members
// of its configuration, and with bug reconfig-old-quorum the members of
// the configuration it counts as well.
func (s *Server) acceptors(slot Slot) uint64 {
	if s.alpha == 0 || s.rbugs&reconfigOldQuorum == 0 {
		return s.members(slot)
	}
	i := s.spanOf(slot)
	return s.confMembers(i) | s.confMembers(s.counted(i))
}

// edge is the last slot the leader may propose in now: the α window
// (slots whose configuration it knows), cut before the first configuration
// it has no promised quorum of (whose members it then asks to promise) or
// that it is not a member of.
func (s *Server) edge() Slot {
	if s.alpha == 0 {
		return MaxSlots
	}
	e := s.applied + s.alpha
	if s.rbugs&reconfigImmediate != 0 {
		e = MaxSlots
	}
	for i, sp := range s.spans {
		last := e
		if i+1 < len(s.spans) {
			last = min(last, s.spans[i+1].from-1)
		}
		if last < s.next || sp.from > e {
			continue
		}
		mine := s.confMembers(i)&(1<<uint(s.id)) != 0
		if !mine || !s.promisedFor(s.p1Acks, i) {
			if mine {
				s.askPromises(s.confMembers(i))
			}
			return max(sp.from, s.next) - 1
		}
	}
	return e
}

// askPromises sends this leader's Prepare to the members that have not
// promised its ballot nor been asked for it.
func (s *Server) askPromises(members uint64) {
	ask := members &^ s.p1Acks &^ s.p1Asked
	s.p1Asked |= ask
	for m := ask; m != 0; m &= m - 1 {
		s.send(paxos.NodeID(bits.TrailingZeros64(m)), Msg{Type: MsgPrepare, Ballot: s.ballot, Slot: s.p1From})
	}
}

// tickReconfig is the leader's heartbeat under reconfiguration: the
// members it asked for promises and did not hear from (a Prepare lost, or
// sent to a replica not started yet) are asked again, and the window moves
// if it can.
func (s *Server) tickReconfig() {
	s.p1Asked &= s.p1Acks
	s.pump()
}

// seekCatchup is what a replica that may not campaign does when its
// election timer fires: it asks a replica drawn at random for the decided
// slots it lacks. A joiner learns the log from the leader's heartbeats, but
// a leader that removed itself stops once its last slot is decided, and its
// successors may all be joiners that have not yet learned they are members:
// without this nobody would lead again.
//
// It also forgets who it believed led: a replica outside the configuration
// hears no heartbeats, so its belief only goes stale, and a stale redirect
// can send a client back and forth between two replicas that cannot help
// it for good.
func (s *Server) seekCatchup() {
	s.leader = -1
	to := paxos.NodeID(s.env.Rand(uint64(s.n)))
	if to == s.id {
		return
	}
	s.send(to, Msg{Type: MsgCatchupReq, Ballot: s.promised, Slot: s.commit + 1})
}

// handOff is a removed leader's last word: a heartbeat with its commit
// index to the members of the newest configuration, so that they learn the
// slots that make them the members (asking it for them: it still answers
// catch-up requests) rather than wait to find out by seekCatchup.
func (s *Server) handOff() {
	m := Msg{Type: MsgHeartbeat, Ballot: s.ballot, Commit: s.commit}
	s.broadcast(s.newest().conf.Members&^(1<<uint(s.id)), m)
}

// changeInFlight reports whether a membership change is under way: the
// newest configuration does not govern yet, or a change waits in the
// leader's window, or phase 1 found slots the leader has not proposed again.
func (s *Server) changeInFlight() bool {
	if s.rbugs&reconfigConcurrent != 0 {
		return false
	}
	if s.newest().from > s.applied+1 || s.next <= s.recoverTop {
		return true
	}
	for slot := s.applied + 1; slot < s.next; slot++ {
		if s.peek(slot).cmd.Op == OpReconfig {
			return true
		}
	}
	return false
}

// install applies a chosen membership change: the configuration it carries
// governs slots from slot+α if its epoch follows the newest one's.
func (s *Server) install(slot Slot, c Command) bool {
	if s.rbugs&reconfigImmediate != 0 && s.newest().at == slot && s.newest().conf == c.Conf && slot > 0 {
		// The leader with the bug installed it when it proposed it.
		s.emit(Event{Kind: EvConfig, Slot: slot, From: s.newest().from, Cmd: c, Outcome: Executed})
		return true
	}
	nw := s.newest().conf
	conf := c.Conf
	ok := s.alpha > 0 && conf.Epoch == nw.Epoch+1 && conf.Members != 0 && conf.Members>>uint(s.n) == 0
	if s.rbugs&reconfigConcurrent != 0 {
		// "The newest change wins": no compare-and-set on the epoch.
		ok = s.alpha > 0 && conf.Epoch > 0 && conf.Members != 0
		conf.Epoch = nw.Epoch + 1
	}
	if !ok {
		s.emit(Event{Kind: EvConfig, Slot: slot, Cmd: c, Outcome: Stale})
		return false
	}
	if slot <= s.newest().at {
		s.fail(slot, "configuration %v chosen in slot %d after %v in slot %d", conf, slot, nw, s.newest().at)
	}
	s.spans = append(s.spans, span{from: slot + s.alpha, at: slot, conf: conf})
	s.leaseOK = false // grants were counted against the configurations known then
	s.emit(Event{Kind: EvConfig, Slot: slot, From: slot + s.alpha, Cmd: c, Outcome: Executed})
	return true
}

// applyReconfig applies a decided OpReconfig: a client's is answered
// exactly once through its session; an operator's (no sequence number) has
// none.
func (s *Server) applyReconfig(slot Slot, c Command) (Result, Outcome) {
	exec := func(c Command) Result { return Result{OK: s.install(slot, c)} }
	if c.Seq == 0 {
		return exec(c), Executed
	}
	return s.svc.applyWith(c, exec)
}

// proposeFrom turns a change request into the command the leader logs: the
// new configuration, computed against the newest one, or a refusal (Conf
// zero) that the log records and answers.
func (s *Server) proposeFrom(c Command) Command {
	base := s.newest().conf
	if s.rbugs&reconfigConcurrent != 0 {
		base = s.spans[s.spanOf(s.applied+1)].conf // the one in effect
	}
	c.Conf = Conf{}
	if next, ok := c.Change.apply(base, s.n); ok {
		c.Conf = next
	}
	return c
}

// --- the operator's view ---

// Errors Reconfigure returns.
var (
	ErrReconfigOff = errors.New("reconfiguration is off: set Config.Alpha")
	ErrNotLeader   = errors.New("not the leader: ask the leader (Server.Leader)")
	ErrBadChange   = errors.New("not a valid change of the newest configuration: add one non-member, remove one member, or both")
	ErrChangeQueue = errors.New("too many membership changes waiting: retry once the one in flight is in effect")
)

// maxChanges bounds the membership changes a leader holds back while one
// is in flight.
const maxChanges = 4

// Reconfigure asks this replica, which must lead, to change the membership.
// The change is queued behind the one in flight, if any, and logged when
// the newest configuration is in effect; the EvConfig event reports it
// installed (Outcome Executed, From the first slot it governs) or refused
// (Stale). Validity is checked again when it is logged. It is the
// operator's door; clients ask the same with a MsgRequest of OpReconfig
// with Change set.
func (s *Server) Reconfigure(ch Change) error {
	switch {
	case s.alpha == 0:
		return ErrReconfigOff
	case s.role != leader:
		return ErrNotLeader
	case len(s.changes) >= maxChanges:
		return ErrChangeQueue
	}
	if _, ok := ch.apply(s.newest().conf, s.n); !ok && len(s.changes) == 0 {
		return ErrBadChange
	}
	s.changes = append(s.changes, Command{Op: OpReconfig, Client: -1, Change: ch})
	s.pump()
	s.drain()
	return nil
}

// Conf is the newest configuration this replica knows chosen; it governs
// from ConfFrom on (it may not govern yet).
func (s *Server) Conf() Conf { return s.newest().conf }

// ConfFrom is the first slot the newest configuration governs.
func (s *Server) ConfFrom() Slot { return s.newest().from }

// ConfAt returns the configuration governing slot, if this replica knows it
// (every slot up to slot-α applied).
func (s *Server) ConfAt(slot Slot) (Conf, bool) {
	if slot == 0 || !s.known(slot) {
		return Conf{}, false
	}
	return s.spans[s.spanOf(slot)].conf, true
}

// IsMember reports whether this replica is an acceptor of the first slot
// it has not applied: whether it may campaign and lead.
func (s *Server) IsMember() bool { return s.memberAt(s.applied + 1) }

// Leader is the replica this one believes leads, or -1.
func (s *Server) Leader() paxos.NodeID { return s.leader }

// --- the leader under reconfiguration ---

// checkWindow asserts what a proposal in slot relies on: the configuration
// of slot is known (slot is within α of the applied prefix), this leader
// holds promises from a majority of it (the phase 1 rule), and it is a
// member. Bug reconfig-immediate installs a change as it proposes it.
func (s *Server) checkWindow(slot Slot, cmd Command) {
	if !s.known(slot) {
		s.fail(slot, "proposing beyond the α window: applied %d, α %d", s.applied, s.alpha)
	}
	i := s.spanOf(slot)
	if !s.promisedFor(s.p1Acks, i) && !s.cfg.Bugs.Has(paxos.SkipPhase1) {
		s.fail(slot, "proposing without promises from a majority of %v: promised %s", s.spans[i].conf, maskString(s.p1Acks))
	}
	if s.confMembers(i)&(1<<uint(s.id)) == 0 {
		s.fail(slot, "proposing in a slot of %v, which this replica is not a member of", s.spans[i].conf)
	}
	if cmd.Op == OpReconfig && cmd.Conf.Epoch > 0 && s.rbugs&reconfigImmediate != 0 && s.newest().from <= slot {
		// Bug reconfig-immediate: "the configuration is in the log, use
		// it" — for every later slot, before it is chosen.
		s.spans = append(s.spans, span{from: slot + 1, at: slot, conf: cmd.Conf})
	}
}

// recount decides the slots of the window that the acceptances already
// received now decide: a member's acceptances count once it has caught up.
func (s *Server) recount() {
	decided := false
	for slot := s.commit + 1; slot < s.next; slot++ {
		if e := s.peek(slot); !e.decided && e.accBallot == s.ballot && s.chosenBy(slot, e.acks) {
			s.learn(slot, e.cmd, s.ballot)
			decided = true
		}
	}
	if decided {
		s.advance()
	}
}

// pumpReconfig is pump under reconfiguration: slots phase 1 found first,
// then a membership change if none is in flight, then client commands, and
// no-ops to bring the newest configuration into effect when there is
// nothing else, all within the client window and the α window.
func (s *Server) pumpReconfig() {
	// Slots decided already need no proposal: a leader elected while
	// behind learns them from the promises, and may be no member of the
	// configuration that governed them, so it could not propose them.
	for s.next <= s.commit {
		s.next++
	}
	s.recover()
	if s.next <= s.recoverTop {
		return // the window has not reached them all
	}
	decided := false
	for int(s.next) <= int(s.commit)+s.cfg.Window && s.next <= s.edge() {
		var cmd Command
		switch {
		case len(s.changes) > 0 && !s.changeInFlight():
			cmd = s.proposeFrom(s.changes[0])
			n := copy(s.changes, s.changes[1:])
			s.changes[n] = Command{}
			s.changes = s.changes[:n]
		case len(s.queue) > 0:
			cmd = s.queue[0]
			n := copy(s.queue, s.queue[1:])
			s.queue[n] = Command{}
			s.queue = s.queue[:n]
		case s.newest().from > s.next:
			cmd = Noop // let the newest configuration take effect
		default:
			return
		}
		s.propose(s.next, cmd)
		decided = decided || s.peek(s.next).decided
		s.next++
		if decided {
			s.advance() // a quorum of one: apply now, as an Accepted from a quorum would have
			return
		}
	}
}

// Membership is what a logged membership change installs, for checkers
// that learn the configurations from the chosen log: ok for OpReconfig,
// with the epoch and members the leader logged (members 0: refused when it
// was logged).
func (c Command) Membership() (epoch uint32, members uint64, ok bool) {
	if c.Op != OpReconfig {
		return 0, 0, false
	}
	return c.Conf.Epoch, c.Conf.Members, true
}

// --- the operator ---

// OperatorConfig configures an Operator.
type OperatorConfig struct {
	Replicas int      // replica ids 0..Replicas-1 (Config.MaxReplicas)
	Changes  []Change // asked one at a time, in order
	// Pause bounds the wait before each change (drawn from [0, Pause],
	// the longest at the plain outcome); Retry is how long it waits for
	// an answer before it asks the next replica.
	Pause, Retry paxos.Duration
}

// ChangeCall is one membership change as the operator saw it.
type ChangeCall struct {
	Change       Change
	Seq          Seq
	Asked, Reply paxos.Time
	Answered     bool
	Installed    bool // the answer: installed (Result.OK), or refused in the log
}

// Operator is the administrator of a cluster: it asks for membership
// changes, one at a time, as a client does (MsgRequest with OpReconfig,
// exactly once through its session), follows redirects to the leader and
// retries elsewhere when no answer comes. Every change ends chosen and
// installed, or chosen and refused: the liveness goal "every change asked
// for is decided".
type Operator struct {
	env   paxos.Env[Msg]
	cfg   OperatorConfig
	id    ClientID
	to    paxos.NodeID
	calls []ChangeCall
	wait  bool
}

// Timers of an operator.
const (
	timerPause paxos.TimerID = iota // ask for the next change
	timerAsk                        // no answer yet: ask another replica
)

// NewOperator builds an operator; it starts at Start.
func NewOperator(env paxos.Env[Msg], cfg OperatorConfig) *Operator {
	if cfg.Retry <= 0 {
		cfg.Retry = 100 * paxos.Millisecond
	}
	if int(env.ID()) < cfg.Replicas || cfg.Replicas < 1 || cfg.Replicas > 64 || cfg.Pause < 0 {
		panic(fmt.Sprintf("multipaxos: operator at node %d with %d replicas, pause %d", env.ID(), cfg.Replicas, cfg.Pause))
	}
	for _, ch := range cfg.Changes {
		if ch.Add == 0 && ch.Remove == 0 || (ch.Add|ch.Remove)>>uint(cfg.Replicas) != 0 {
			panic(fmt.Sprintf("multipaxos: operator at node %d: change %v among %d replica ids", env.ID(), ch, cfg.Replicas))
		}
	}
	return &Operator{env: env, cfg: cfg, id: ClientID(env.ID()), calls: make([]ChangeCall, 0, len(cfg.Changes))}
}

// Start picks a replica to ask and waits for the first change.
func (o *Operator) Start() {
	o.to = paxos.NodeID(o.env.Rand(uint64(o.cfg.Replicas)))
	o.pause()
}

func (o *Operator) pause() {
	if len(o.calls) < len(o.cfg.Changes) {
		p := o.cfg.Pause
		o.env.SetTimer(timerPause, p-paxos.Duration(o.env.Rand(uint64(p)+1)))
	}
}

// Calls is every change asked so far; the last may wait for its answer.
func (o *Operator) Calls() []ChangeCall { return o.calls }

// Done reports whether every change was asked and answered.
func (o *Operator) Done() bool { return !o.wait && len(o.calls) == len(o.cfg.Changes) }

// Waiting returns the change waiting for its answer, if any.
func (o *Operator) Waiting() (ChangeCall, bool) {
	if !o.wait {
		return ChangeCall{}, false
	}
	return o.calls[len(o.calls)-1], true
}

// Timeout asks for the next change, or asks again elsewhere.
func (o *Operator) Timeout(t paxos.TimerID) {
	switch t {
	case timerPause:
		if o.wait || len(o.calls) >= len(o.cfg.Changes) {
			return
		}
		k := len(o.calls)
		o.calls = append(o.calls, ChangeCall{Change: o.cfg.Changes[k], Seq: Seq(k + 1), Asked: o.env.Now()})
		o.wait = true
		o.ask()
	case timerAsk:
		if o.wait {
			o.to = (o.to + 1) % paxos.NodeID(o.cfg.Replicas)
			o.ask()
		}
	default:
		panic(fmt.Sprintf("multipaxos: operator %d: unknown timer %d", o.id, t))
	}
}

func (o *Operator) ask() {
	c := o.calls[len(o.calls)-1]
	o.env.Send(o.to, Msg{Type: MsgRequest, Cmd: Command{Op: OpReconfig, Client: o.id, Seq: c.Seq, Change: c.Change}})
	o.env.SetTimer(timerAsk, o.cfg.Retry)
}

// Receive takes an answer or a redirect.
func (o *Operator) Receive(from paxos.NodeID, m Msg) {
	if !o.wait || m.Cmd.Seq != o.calls[len(o.calls)-1].Seq {
		return
	}
	switch m.Type {
	case MsgReply:
		if m.Cmd.Op != OpReconfig || m.Cmd.Client != o.id {
			panic(fmt.Sprintf("multipaxos: operator %d: reply %v from node %d does not answer a change", o.id, m, from))
		}
		c := &o.calls[len(o.calls)-1]
		c.Reply, c.Answered, c.Installed = o.env.Now(), true, m.Result.OK
		o.wait = false
		o.to = from
		o.env.CancelTimer(timerAsk)
		o.pause()
	case MsgRedirect:
		if m.Leader >= 0 && int(m.Leader) < o.cfg.Replicas && m.Leader != o.to {
			o.to = m.Leader
			o.ask()
		}
	default:
		panic(fmt.Sprintf("multipaxos: operator %d: unexpected %v from node %d", o.id, m.Type, from))
	}
}

// Describe is the operator's state, for traces.
func (o *Operator) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operator asks n%d; %d of %d changes asked", o.to, len(o.calls), len(o.cfg.Changes))
	if c, ok := o.Waiting(); ok {
		fmt.Fprintf(&b, ", waiting for %v since t=%dµs", c.Change, c.Asked)
	}
	return b.String()
}

// TimerName names an operator's timers in trace lines.
func (o *Operator) TimerName(t paxos.TimerID) string {
	switch t {
	case timerPause:
		return "pause"
	case timerAsk:
		return "ask"
	}
	return ""
}
