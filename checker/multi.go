package checker

import (
	"fmt"
	"math/bits"

	"github.com/synod-sim/synod/paxos"
)

// LogCommand is what a replicated log holds, as the log checker needs it:
// comparable, so replicas agree on a slot when their commands are ==, and
// naming the client request it carries (ok false for a no-op).
type LogCommand interface {
	comparable
	String() string
	Request() (client int, seq uint64, ok bool)
}

// MultiLog checks a replicated log after every step of every replica:
//
//   - agreement: no two replicas decide or apply different commands in one
//     slot, and a replica never changes its mind about a slot;
//   - prefix order: each replica applies slots 1, 2, 3... with no gap and no
//     repeat (with agreement, the applied logs are prefixes of each other);
//   - exactly-once: a client request (client, seq) is executed in at most
//     one slot, however many times it was proposed;
//   - fencing: the tokens a lock grants strictly increase in log order, on
//     every replica and across replicas;
//   - decided means chosen, from the acceptors' disks (Accepted): a replica
//     decides or applies a command in a slot only once a majority of
//     acceptors durably accepted it there at one ballot; at most one command
//     is ever chosen in a slot; every acceptance at a ballot above a chosen
//     one carries the chosen command (Paxos's P2b); and one ballot carries
//     one command per slot.
//
// Replicas report events as they happen; each report is checked against what
// the checker remembers, outside the replicas, so a restart cannot make it
// forget. Every check is O(1) per event, apart from slice growth.
//
// With reconfiguration (EnableReconfig), "a majority" is a majority of the
// configuration that governs the slot, and the checker learns the
// configurations from the log as it sees it chosen on the acceptors' disks,
// never from what replicas say: a membership command chosen in slot i (one
// whose Membership reports ok) installs its configuration from slot i+α if
// its epoch is one more than the newest's, as the protocol's rule says. So a
// slot's votes are judged once every slot up to slot-α is chosen; until
// then they wait. Acceptances by non-members of a slot's configuration
// (spares, replicas removed) never count, and a replica's report of the
// configuration it installed (ConfigInstalled) must be the log's: no two
// configurations are in effect for one slot.
type MultiLog[C LogCommand] struct {
	slots    []slotRecord[C] // by slot-1
	replicas []replicaLog
	executed [][]uint64 // by client, then seq: the slot that executed it, 0 if none yet
	locks    []lockRecord

	// reconfiguration: alpha 0 is off (every replica is an acceptor of
	// every slot)
	alpha  uint64
	confs  []confSpan // the configurations the chosen log installed, in slot order
	prefix uint64     // every slot up to here is chosen
}

// confSpan is a configuration the chosen log installed: members govern
// every slot from from on (until the next span); chosen in slot at.
type confSpan struct {
	from, at uint64
	epoch    uint32
	members  uint64
}

// Membership is what a log command tells the checker about membership:
// ok for a membership change, with the epoch and members it installs
// (members 0: none, refused when it was logged).
type Membership interface {
	Membership() (epoch uint32, members uint64, ok bool)
}

type slotRecord[C LogCommand] struct {
	cmd     C
	token   uint64 // a lock grant's token in this slot
	ballot  paxos.Ballot
	node    paxos.NodeID
	set     bool
	applied bool // the first report was an application, not a decision

	// Ground truth from acceptors' disks: who accepted what at which
	// ballot, and the lowest ballot at which a majority accepted one
	// command.
	votes     []slotVote[C]
	chosen    bool
	chosenAt  paxos.Ballot
	chosenCmd C
}

type slotVote[C LogCommand] struct {
	ballot paxos.Ballot
	cmd    C
	by     uint64 // acceptors, a bit each
}

type replicaLog struct {
	applied uint64   // the last slot applied since the replica started
	tokens  []uint64 // by lock: the last token granted, as this replica applied it
}

type lockRecord struct {
	slot  uint64 // the highest slot that granted the lock
	token uint64
}

// NewMultiLog checks a cluster of the given number of replicas.
func NewMultiLog[C LogCommand](replicas int) *MultiLog[C] {
	return &MultiLog[C]{replicas: make([]replicaLog, replicas), slots: make([]slotRecord[C], 0, 256)}
}

// EnableReconfig switches on membership through the log: initial are the
// members of epoch 0 (bit i: replica i) and a configuration chosen in slot
// i governs from slot i+alpha. Call it before the first report.
func (c *MultiLog[C]) EnableReconfig(alpha int, initial uint64) {
	if alpha <= 0 || initial == 0 || initial>>uint(len(c.replicas)) != 0 || len(c.slots) > 0 {
		panic(fmt.Sprintf("checker: reconfiguration with α=%d, members %s among %d replicas, after %d slots", alpha, nodeSet(initial), len(c.replicas), len(c.slots)))
	}
	c.alpha = uint64(alpha)
	c.confs = []confSpan{{from: 1, members: initial}}
}

// known reports whether the configuration of slot s is known: every slot up
// to s-α is chosen.
func (c *MultiLog[C]) known(s uint64) bool { return c.alpha == 0 || s <= c.prefix+c.alpha }

// confOf is the configuration governing slot s, which must be known.
func (c *MultiLog[C]) confOf(s uint64) confSpan {
	i := len(c.confs) - 1
	for i > 0 && c.confs[i].from > s {
		i--
	}
	return c.confs[i]
}

// quorum reports whether the acceptors in by are a majority of slot s's
// acceptors: all replicas, or the members of its configuration.
func (c *MultiLog[C]) quorum(by, s uint64) bool {
	if c.alpha == 0 {
		return bits.OnesCount64(by) >= c.majority()
	}
	m := c.confOf(s).members
	return bits.OnesCount64(by&m) >= bits.OnesCount64(m)/2+1
}

// Conf returns the configuration the chosen log has in effect for slot s,
// if known: its epoch and members.
func (c *MultiLog[C]) Conf(s uint64) (epoch uint32, members uint64, ok bool) {
	if c.alpha == 0 || !c.known(s) {
		return 0, 0, false
	}
	sp := c.confOf(s)
	return sp.epoch, sp.members, true
}

// Newest is the newest configuration the chosen log installed, and the
// first slot it governs.
func (c *MultiLog[C]) Newest() (epoch uint32, members uint64, from uint64) {
	if c.alpha == 0 {
		return 0, uint64(1)<<uint(len(c.replicas)) - 1, 1
	}
	sp := c.confs[len(c.confs)-1]
	return sp.epoch, sp.members, sp.from
}

// Prefix is the chosen prefix of the log: every slot up to it is chosen
// (with reconfiguration on).
func (c *MultiLog[C]) Prefix() uint64 { return c.prefix }

// extend grows the chosen prefix over slots now chosen, installs the
// membership changes it passes, and judges the votes of the slots whose
// configuration that makes known; judging them may choose more.
func (c *MultiLog[C]) extend(at int64) *Violation {
	for {
		edge := c.prefix + c.alpha
		for c.prefix < uint64(len(c.slots)) && c.slots[c.prefix].chosen {
			c.prefix++
			c.install(c.prefix)
		}
		if c.prefix+c.alpha == edge {
			return nil
		}
		for s := edge + 1; s <= c.prefix+c.alpha && s <= uint64(len(c.slots)); s++ {
			if v := c.judge(s, at); v != nil {
				return v
			}
		}
	}
}

// install applies the protocol's rule to the command chosen in slot s: a
// membership change installs its configuration from s+α if its epoch
// follows the newest's.
func (c *MultiLog[C]) install(s uint64) {
	m, ok := any(c.slots[s-1].chosenCmd).(Membership)
	if !ok {
		return
	}
	epoch, members, ok := m.Membership()
	newest := c.confs[len(c.confs)-1]
	if !ok || members == 0 || members>>uint(len(c.replicas)) != 0 || epoch != newest.epoch+1 {
		return
	}
	c.confs = append(c.confs, confSpan{from: s + c.alpha, at: s, epoch: epoch, members: members})
}

// judge decides, once slot s's configuration is known, what its votes so
// far chose: the command a majority of its configuration accepted at one
// ballot, the lowest such ballot; none twice, and none above it otherwise
// (P2b).
func (c *MultiLog[C]) judge(s uint64, at int64) *Violation {
	rec := c.slot(s)
	for i := range rec.votes {
		v := &rec.votes[i]
		if !c.quorum(v.by, s) {
			continue
		}
		switch {
		case !rec.chosen:
			rec.chosen, rec.chosenAt, rec.chosenCmd = true, v.ballot, v.cmd
		case rec.chosenCmd != v.cmd:
			return &Violation{Kind: "chosen-twice", Time: at, Message: fmt.Sprintf(
				"slot %d: %v is chosen at ballot %v (acceptors %s), but %v was chosen at ballot %v (acceptors %s)%s",
				s, v.cmd, v.ballot, nodeSet(v.by), rec.chosenCmd, rec.chosenAt, nodeSet(rec.chosenBy()), c.confNote(s))}
		case v.ballot.Less(rec.chosenAt):
			rec.chosenAt = v.ballot
		}
	}
	if !rec.chosen {
		return nil
	}
	for i := range rec.votes {
		if v := &rec.votes[i]; rec.chosenAt.Less(v.ballot) && v.cmd != rec.chosenCmd {
			return &Violation{Kind: "accepted-above-chosen", Time: at, Message: fmt.Sprintf(
				"slot %d: acceptors %s accepted %v at ballot %v, above ballot %v where %v was chosen by acceptors %s: every ballot above a chosen one must carry the chosen command (P2b)%s",
				s, nodeSet(v.by), v.cmd, v.ballot, rec.chosenAt, rec.chosenCmd, nodeSet(rec.chosenBy()), c.confNote(s))}
		}
	}
	return nil
}

// confNote names slot s's configuration in a violation's message, with
// reconfiguration on.
func (c *MultiLog[C]) confNote(s uint64) string {
	if c.alpha == 0 {
		return ""
	}
	if !c.known(s) {
		return fmt.Sprintf("; its configuration is not known yet: the log is chosen up to slot %d, α=%d", c.prefix, c.alpha)
	}
	sp := c.confOf(s)
	how := "the initial one"
	if sp.at > 0 {
		how = fmt.Sprintf("chosen in slot %d", sp.at)
	}
	return fmt.Sprintf("; slot %d's acceptors are e%d%s (%s)", s, sp.epoch, nodeSet(sp.members), how)
}

// ConfigInstalled checks a replica's report that the membership change
// chosen in slot s installed (epoch, members) from slot from on, or, with
// installed false, was refused: the log must say the same, or two
// configurations are in effect for one slot.
func (c *MultiLog[C]) ConfigInstalled(node paxos.NodeID, s, from uint64, epoch uint32, members uint64, installed bool, at int64) *Violation {
	if c.alpha == 0 || s > c.prefix {
		return nil // not chosen: the application's own check names it
	}
	var mine *confSpan
	for i := range c.confs {
		if c.confs[i].at == s && s > 0 {
			mine = &c.confs[i]
		}
	}
	switch {
	case mine == nil && !installed:
		return nil
	case mine != nil && installed && mine.from == from && mine.epoch == epoch && mine.members == members:
		return nil
	}
	says := "refused"
	if installed {
		says = fmt.Sprintf("installed e%d%s from slot %d", epoch, nodeSet(members), from)
	}
	truth := fmt.Sprintf("the log refuses it (its epoch does not follow the newest configuration's, or it is empty), so slot %d on stays with ", from)
	if mine != nil {
		truth = fmt.Sprintf("the log installs e%d%s from slot %d (α=%d), so ", mine.epoch, nodeSet(mine.members), mine.from, c.alpha)
	}
	if mine == nil || !installed {
		p := min(from, s+c.alpha)
		if mine != nil {
			p = mine.from
		}
		if c.known(p) {
			sp := c.confOf(p)
			truth += fmt.Sprintf("slot %d is governed by e%d%s", p, sp.epoch, nodeSet(sp.members))
		}
	} else if first := min(from, mine.from); c.known(first) {
		sp := c.confOf(first)
		truth += fmt.Sprintf("slot %d is governed by e%d%s", first, sp.epoch, nodeSet(sp.members))
	}
	return &Violation{Kind: "config-split", Time: at, Message: fmt.Sprintf(
		"node %d applied the membership change chosen in slot %d and %s, but %s: two configurations in effect for one slot",
		node, s, says, truth)}
}

// Restarted forgets what a replica had applied: it was rebuilt and applies its
// log again from slot 1.
func (c *MultiLog[C]) Restarted(node paxos.NodeID) {
	r := &c.replicas[node]
	r.applied = 0
	clear(r.tokens)
}

// AppliedUpTo returns the last slot a replica applied since it started.
func (c *MultiLog[C]) AppliedUpTo(node paxos.NodeID) uint64 { return c.replicas[node].applied }

// Slots is the highest slot any replica decided or applied, or any
// acceptor accepted.
func (c *MultiLog[C]) Slots() uint64 { return uint64(len(c.slots)) }

// Known reports whether some replica has decided or applied slot s.
func (c *MultiLog[C]) Known(s uint64) bool {
	return s >= 1 && s <= uint64(len(c.slots)) && c.slots[s-1].set
}

func (c *MultiLog[C]) slot(s uint64) *slotRecord[C] {
	for uint64(len(c.slots)) < s {
		c.slots = append(c.slots, slotRecord[C]{})
	}
	return &c.slots[s-1]
}

// agree checks cmd against what slot s holds, or records it.
func (c *MultiLog[C]) agree(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, how string, at int64) *Violation {
	if s == 0 {
		return &Violation{Kind: "agreement", Time: at, Message: fmt.Sprintf("node %d %s %v in slot 0; slots start at 1", node, how, cmd)}
	}
	rec := c.slot(s)
	if !rec.set {
		rec.cmd, rec.set, rec.node, rec.ballot, rec.applied = cmd, true, node, b, how == "applied"
		return nil
	}
	if rec.cmd == cmd {
		return nil
	}
	return &Violation{Kind: "agreement", Time: at, Message: fmt.Sprintf(
		"slot %d: node %d %s %v%s, but node %d %s %v%s",
		s, node, how, cmd, atBallot(b), rec.node, rec.how(), rec.cmd, atBallot(rec.ballot))}
}

func (r *slotRecord[C]) how() string {
	if r.applied {
		return "applied"
	}
	return "decided"
}

func atBallot(b paxos.Ballot) string {
	if b.IsZero() {
		return ""
	}
	return " at ballot " + b.String()
}

// Decided checks that node learned cmd in slot s at ballot b.
func (c *MultiLog[C]) Decided(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, at int64) *Violation {
	if v := c.agree(node, s, b, cmd, "decided", at); v != nil {
		return v
	}
	return c.isChosen(node, s, cmd, "decided", at)
}

// majority is the quorum the acceptors' votes are judged by: more than half
// of the replicas, whatever quorum the protocol believes in.
func (c *MultiLog[C]) majority() int { return len(c.replicas)/2 + 1 }

// isChosen checks that cmd is the command a majority of acceptors accepted
// in slot s at one ballot.
func (c *MultiLog[C]) isChosen(node paxos.NodeID, s uint64, cmd C, how string, at int64) *Violation {
	rec := c.slot(s)
	if rec.chosen && rec.chosenCmd == cmd {
		return nil
	}
	if c.alpha > 0 {
		need := "no majority of its acceptors"
		if c.known(s) {
			m := c.confOf(s).members
			need = fmt.Sprintf("no majority (%d of %d) of its acceptors", bits.OnesCount64(m)/2+1, bits.OnesCount64(m))
		}
		return &Violation{Kind: "unchosen-decision", Time: at, Message: fmt.Sprintf(
			"node %d %s %v in slot %d, but %s durably accepted it at one ballot: %s%s",
			node, how, cmd, s, need, rec.describeVotes(), c.confNote(s))}
	}
	return &Violation{Kind: "unchosen-decision", Time: at, Message: fmt.Sprintf(
		"node %d %s %v in slot %d, but no majority (%d of %d) of acceptors durably accepted it at one ballot: %s",
		node, how, cmd, s, c.majority(), len(c.replicas), rec.describeVotes())}
}

func (r *slotRecord[C]) describeVotes() string {
	if len(r.votes) == 0 {
		return "no acceptor accepted anything in that slot"
	}
	var b []byte
	for i, v := range r.votes {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = fmt.Appendf(b, "%v at ballot %v by acceptors %s", v.cmd, v.ballot, nodeSet(v.by))
	}
	if r.chosen {
		b = fmt.Appendf(b, " (chosen: %v at ballot %v)", r.chosenCmd, r.chosenAt)
	}
	return string(b)
}

// chosenBy is the acceptors that accepted the chosen command at the
// ballot it was chosen at.
func (r *slotRecord[C]) chosenBy() uint64 {
	for _, v := range r.votes {
		if v.ballot == r.chosenAt && v.cmd == r.chosenCmd {
			return v.by
		}
	}
	return 0
}

func nodeSet(set uint64) string {
	var b []byte
	for i := 0; set != 0; i++ {
		if set&1 != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, "n%d", i)
		}
		set >>= 1
	}
	return "{" + string(b) + "}"
}

// Accepted records that acceptor node durably accepted cmd in slot s at
// ballot b: read off its disk, not reported by it. It checks that a ballot
// carries one command per slot, that an acceptance above a chosen ballot
// carries the chosen command, and that no second command is chosen.
func (c *MultiLog[C]) Accepted(node paxos.NodeID, s uint64, b paxos.Ballot, cmd C, at int64) *Violation {
	if s == 0 || node < 0 || int(node) >= len(c.replicas) || int(node) >= 64 {
		return &Violation{Kind: "acceptor", Time: at, Message: fmt.Sprintf("node %d accepted %v in slot %d: no such acceptor or slot", node, cmd, s)}
	}
	rec := c.slot(s)
	if rec.chosen && rec.chosenAt.Less(b) && rec.chosenCmd != cmd {
		return &Violation{Kind: "accepted-above-chosen", Time: at, Message: fmt.Sprintf(
			"slot %d: acceptor n%d accepted %v at ballot %v, above ballot %v where %v was chosen by acceptors %s: every ballot above a chosen one must carry the chosen command (P2b)%s",
			s, node, cmd, b, rec.chosenAt, rec.chosenCmd, nodeSet(rec.chosenBy()), c.confNote(s))}
	}
	var vote *slotVote[C]
	for i := range rec.votes {
		v := &rec.votes[i]
		if v.ballot != b {
			continue
		}
		if v.cmd != cmd {
			return &Violation{Kind: "one-value-per-ballot", Time: at, Message: fmt.Sprintf(
				"slot %d: acceptor %d accepted %v at ballot %v, where acceptors %s accepted %v: a ballot proposes one command per slot",
				s, node, cmd, b, nodeSet(v.by), v.cmd)}
		}
		vote = v
	}
	if vote == nil {
		rec.votes = append(rec.votes, slotVote[C]{ballot: b, cmd: cmd})
		vote = &rec.votes[len(rec.votes)-1]
	}
	vote.by |= 1 << uint(node)
	if c.alpha > 0 {
		// Judged once the slot's configuration is known; a choice may
		// make later slots' configurations known.
		if !c.known(s) {
			return nil
		}
		was := rec.chosen
		if v := c.judge(s, at); v != nil || was || !rec.chosen {
			return v
		}
		return c.extend(at)
	}
	if bits.OnesCount64(vote.by) < c.majority() {
		return nil
	}
	switch {
	case !rec.chosen:
		rec.chosen, rec.chosenAt, rec.chosenCmd = true, b, cmd
	case rec.chosenCmd != cmd:
		return &Violation{Kind: "chosen-twice", Time: at, Message: fmt.Sprintf(
			"slot %d: %v is chosen at ballot %v (acceptors %s), but %v was chosen at ballot %v (acceptors %s)",
			s, cmd, b, nodeSet(vote.by), rec.chosenCmd, rec.chosenAt, nodeSet(rec.chosenBy()))}
	case b.Less(rec.chosenAt):
		rec.chosenAt = b
	}
	return nil
}

// Applied checks that node applied cmd in slot s; executed says whether it
// executed the command (false for a no-op or a duplicate its session table
// filtered out).
func (c *MultiLog[C]) Applied(node paxos.NodeID, s uint64, cmd C, executed bool, at int64) *Violation {
	r := &c.replicas[node]
	if s != r.applied+1 {
		return &Violation{Kind: "log-order", Time: at, Message: fmt.Sprintf(
			"node %d applied slot %d (%v) right after slot %d: applied logs must grow one slot at a time", node, s, cmd, r.applied)}
	}
	r.applied = s
	if v := c.agree(node, s, paxos.Ballot{}, cmd, "applied", at); v != nil {
		return v
	}
	if v := c.isChosen(node, s, cmd, "applied", at); v != nil {
		return v
	}
	client, seq, ok := cmd.Request()
	if !executed || !ok {
		return nil
	}
	if client < 0 || client >= 1<<16 || seq == 0 || seq >= 1<<24 {
		return &Violation{Kind: "exactly-once", Time: at, Message: fmt.Sprintf("node %d slot %d: %v names client %d seq %d", node, s, cmd, client, seq)}
	}
	for len(c.executed) <= client {
		c.executed = append(c.executed, nil)
	}
	ex := c.executed[client]
	for uint64(len(ex)) <= seq {
		ex = append(ex, 0)
	}
	c.executed[client] = ex
	switch prev := ex[seq]; {
	case prev == 0:
		ex[seq] = s
	case prev != s:
		return &Violation{Kind: "exactly-once", Time: at, Message: fmt.Sprintf(
			"client %d seq %d executed twice: in slot %d and, by node %d, again in slot %d (%v)", client, seq, prev, node, s, cmd)}
	}
	return nil
}

// Granted checks that node, applying slot s, granted lock with token.
func (c *MultiLog[C]) Granted(node paxos.NodeID, s uint64, lock int, token uint64, at int64) *Violation {
	r := &c.replicas[node]
	for len(r.tokens) <= lock {
		r.tokens = append(r.tokens, 0)
	}
	if token <= r.tokens[lock] {
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"node %d slot %d granted lock %d with token %d after granting token %d: tokens must strictly increase", node, s, lock, token, r.tokens[lock])}
	}
	r.tokens[lock] = token
	rec := c.slot(s)
	if rec.token != 0 && rec.token != token {
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"slot %d granted lock %d with token %d on node %d, token %d elsewhere", s, lock, token, node, rec.token)}
	}
	rec.token = token
	for len(c.locks) <= lock {
		c.locks = append(c.locks, lockRecord{})
	}
	l := &c.locks[lock]
	switch {
	case s > l.slot && token <= l.token:
		return &Violation{Kind: "fencing", Time: at, Message: fmt.Sprintf(
			"node %d slot %d granted lock %d with token %d, but slot %d granted it token %d already", node, s, lock, token, l.slot, l.token)}
	case s > l.slot:
		l.slot, l.token = s, token
	}
	return nil
}
