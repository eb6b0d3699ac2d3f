package sim

import (
	"fmt"
	"slices"
	"strconv"
)

// The untimed view of a world, for exhaustive search, PCT and random walks.
//
// Time is abstracted away: a message sent is in flight until some action
// delivers, drops or duplicates it; an armed timer may fire at any moment;
// and, within the configuration's budgets, any node may crash and any
// crashed node may restart. Each step the world lists every enabled action
// in a canonical order (a function of the state alone, never of the path
// that reached it), and the source picks one: so a choice list means the
// same thing on every path, and choice 0 — deliver the first in-flight
// message — is the plain outcome. Nodes run unchanged: virtual time stands
// still at the moment the world went untimed, and a node's random draws
// take the plain outcome 0 without drawing, since nodes draw randomness
// only to spread their timing, which this view does not have.

// Bounds make an untimed world finite. Every budget counts over the whole
// run; a timer whose node has used its firings stays armed but is no longer
// enabled.
type Bounds struct {
	// Drops < 0 means any number: a lossy network whose losses are not
	// counted (the budget left is then no part of the state).
	Drops, Dups, Crashes, Restarts int
	// Crashable is the set of nodes that may crash (bit i: node i); 0
	// means every node.
	Crashable uint64
	// Fires[node][timer] is how often that timer may fire at that node,
	// restarts included. A node without a row may fire no timer.
	Fires [][MaxTimers]uint8
}

// ActionKind says what an enabled action does.
type ActionKind uint8

const (
	ActDeliver ActionKind = iota + 1
	ActTimer
	ActDrop
	ActDup
	ActCrash
	ActRestart
)

var actionNames = [...]string{"?", "deliver", "timer", "drop", "dup", "crash", "restart"}

func (k ActionKind) String() string { return actionNames[k] }

// Action is one enabled action of an untimed world.
type Action struct {
	Kind ActionKind
	Node NodeID // the node it touches: a message's destination, the timer's owner, the node crashed or restarted
	From NodeID // a message's sender
	// Actor is what the action changes, for telling which actions commute:
	// Node, unless the system under check joins nodes whose order an
	// observer sees (clients whose calls and returns make a history).
	Actor NodeID
	Timer TimerID
	// Key names the action the same way in every state where it is
	// enabled: the explorer's sleep sets carry actions from state to state
	// by key.
	Key    uint64
	msg    uint64 // a message action's flight key: orders it among its kind
	flight int32
}

func (k ActionKind) rank() int {
	if k == ActRestart {
		return int(ActCrash) // crashes and restarts are listed together, by node
	}
	return int(k)
}

// CompareActions orders actions as Enabled lists them. The order depends
// only on the actions themselves, so two states' lists can be walked side
// by side.
func CompareActions(a, b Action) int {
	switch {
	case a.Kind.rank() != b.Kind.rank():
		return a.Kind.rank() - b.Kind.rank()
	case a.Node != b.Node:
		return int(a.Node) - int(b.Node)
	case a.From != b.From:
		return int(a.From) - int(b.From)
	case a.Timer != b.Timer:
		return int(a.Timer) - int(b.Timer)
	case a.msg < b.msg:
		return -1
	case a.msg > b.msg:
		return 1
	}
	return 0
}

// Global reports whether the action may interfere with actions at every
// node: a crash voids messages in flight to the node and a restart re-arms
// its timers, so the search never commutes them with anything.
func (a Action) Global() bool { return a.Kind == ActCrash || a.Kind == ActRestart }

// Independent reports whether two actions commute and neither disables the
// other: they touch different nodes and do not draw on the same budget.
func Independent(a, b Action) bool {
	if a.Global() || b.Global() || a.Actor == b.Actor {
		return false
	}
	return !(a.Kind == b.Kind && (a.Kind == ActDrop || a.Kind == ActDup))
}

// Budget is what an untimed world has left to spend on faults.
type Budget struct {
	Drops, Dups, Crashes, Restarts int
}

type flight[M Message] struct {
	to, from NodeID
	key      uint64 // hash of (to, from, message): orders and fingerprints
	msg      M
	dead     uint8 // VerifyDeadLetters: how the message is dead (deadletters.go)
}

func (a flight[M]) compare(b flight[M]) int {
	switch {
	case a.to != b.to:
		return int(a.to) - int(b.to)
	case a.from != b.from:
		return int(a.from) - int(b.from)
	case a.key < b.key:
		return -1
	case a.key > b.key:
		return 1
	}
	return 0
}

type untimed[M Message] struct {
	bounds  Bounds
	left    Budget
	flights []flight[M] // sorted by (to, from, key): a canonical multiset
	msgSum  uint64      // sum of flight keys: an order-free multiset hash
	acts    []Action
	actsOK  bool
	local   []M // messages the stepping node sent itself (drainLocal)
	// nodeHash caches each node's fingerprint; hashOK marks the fresh ones.
	nodeHash []uint64
	hashOK   []bool
	// nodeSum caches the nodes' share of the fingerprint while sumOK.
	nodeSum uint64
	sumOK   bool
	// owned marks node objects this world may step in place; a node shared
	// with a snapshot is cloned before its first step.
	owned []bool
	// spare holds a clone Load discarded unsaved, for the next clone of
	// that node to reuse: most successors are states already seen.
	spare []Node[M]
	// The step memo (memo.go): nil when off; rec collects the effect of
	// the step running while recording.
	memo      []*memoEntry[M]
	rec       *stepRecorder[M]
	recording bool
	// Dead letters (deadletters.go): removed, or kept and checked.
	collect, verify bool
	checking        bool   // a delivery of a dead message is being checked
	checked         uint64 // deliveries of dead messages checked
	check           deadCheck[M]
	claims          []claimSlot // promises asked, by (node, message)
}

// Untimed switches the world to the untimed view with the given bounds.
// Call it before Boot.
func (w *World[M]) Untimed(b Bounds) {
	if w.events != 0 || w.q.len() != 0 {
		panic("sim: Untimed after the world started")
	}
	if len(b.Fires) > len(w.nodes) {
		panic(fmt.Sprintf("sim: timer bounds for %d nodes in a world of %d", len(b.Fires), len(w.nodes)))
	}
	n := len(w.nodes)
	w.un = &untimed[M]{
		bounds: b, left: Budget{Drops: b.Drops, Dups: b.Dups, Crashes: b.Crashes, Restarts: b.Restarts},
		nodeHash: make([]uint64, n), hashOK: make([]bool, n), owned: make([]bool, n), spare: make([]Node[M], n),
	}
	for i := range w.un.owned {
		w.un.owned[i] = true
		w.nodes[i].disk.startOnly = true
	}
}

// DisksUnread tells an untimed world that no one reads a disk's records
// (TakeDurable panics) but its node, when it restarts: with no restart in
// the budget, the disks then count writes and keep no records, which the
// search would otherwise copy on every write. Traced runs keep them, to
// show them.
func (w *World[M]) DisksUnread() {
	if w.un == nil || w.un.bounds.Restarts != 0 || w.trace != nil {
		return
	}
	for i := range w.nodes {
		w.nodes[i].disk.unkept = true
	}
}

// stale marks node id's cached fingerprint out of date.
func (u *untimed[M]) stale(id NodeID) { u.hashOK[id], u.sumOK = false, false }

func (u *untimed[M]) staleAll() {
	clear(u.hashOK)
	u.sumOK = false
}

func flightKey(to, from NodeID, h uint64) uint64 {
	return Mix64(h ^ uint64(to)<<48 ^ uint64(from)<<32 ^ 0x5bd1e995)
}

func (u *untimed[M]) add(f flight[M]) {
	if u.checking {
		u.check.sends = append(u.check.sends, f)
	}
	i, _ := slices.BinarySearchFunc(u.flights, f, flight[M].compare)
	u.flights = slices.Insert(u.flights, i, f)
	u.msgSum += f.key
	u.actsOK = false
}

func (u *untimed[M]) remove(i int) flight[M] {
	f := u.flights[i]
	u.flights = slices.Delete(u.flights, i, i+1)
	u.msgSum -= f.key
	u.actsOK = false
	return f
}

func (w *World[M]) untimedSend(from, to NodeID, m M) {
	if w.trace != nil {
		// Untimed: the message's fate is whichever action takes it.
		w.trace.amend(w.trace.lines[w.trace.Len()-1].text + ", in flight")
	}
	u := w.un
	if to == from {
		// As in the timed view, a message to oneself never touches the
		// wire: no faults, no choice, delivered right after the step
		// (drainLocal), so it is no action of its own.
		u.local = append(u.local, m)
		if u.recording {
			u.rec.entry.locals = append(u.rec.entry.locals, uint64(ActDeliver)<<56^flightKey(to, to, m.Hash()))
		}
		return
	}
	f := flight[M]{to: to, from: from, key: flightKey(to, from, m.Hash()), msg: m}
	u.add(f)
	if u.recording {
		u.rec.entry.sends = append(u.rec.entry.sends, f)
	}
}

// drainLocal delivers the messages node id sent itself during its step, in
// the order sent, and those they lead it to send itself, and so on.
func (w *World[M]) drainLocal(id NodeID) {
	u := w.un
	for i := 0; i < len(u.local); i++ {
		m := u.local[i]
		w.fold(uint64(ActDeliver)<<56 ^ flightKey(id, id, m.Hash()))
		if w.trace != nil {
			w.traceStep(w.now, "deliver n"+strconv.Itoa(int(id))+"->n"+strconv.Itoa(int(id))+" "+m.String())
		}
		if u.recording {
			w.keepStage(id)
		}
		w.stepping = id
		w.nodes[id].node.Receive(id, m)
		w.stepped(id)
		if i >= maxLocal {
			panic(fmt.Sprintf("sim: node %d sent itself more than %d messages in a row", id, maxLocal))
		}
	}
	clear(u.local)
	u.local = u.local[:0]
}

// maxLocal bounds a chain of messages a node sends itself within one action.
const maxLocal = 1 << 12

// Enabled lists the actions enabled now, in canonical order: deliveries,
// then timers, then drops, duplications, crashes and restarts. Identical
// messages in flight give one action each kind, not one per copy. The slice
// is reused by the next call after the world changes.
func (w *World[M]) Enabled() []Action {
	u := w.un
	if u.actsOK {
		return u.acts
	}
	acts := u.acts[:0]
	msgActs := func(kind ActionKind) {
		for i := range u.flights {
			f := &u.flights[i]
			if !w.nodes[f.to].up || (i > 0 && u.flights[i-1].key == f.key && u.flights[i-1].to == f.to) {
				continue
			}
			acts = append(acts, Action{Kind: kind, Node: f.to, Actor: f.to, From: f.from, Key: f.key + uint64(kind), msg: f.key, flight: int32(i)})
		}
	}
	msgActs(ActDeliver)
	for id := range w.nodes {
		s := &w.nodes[id]
		if !s.up || s.armed == 0 || id >= len(u.bounds.Fires) {
			continue
		}
		for t := TimerID(0); t < MaxTimers; t++ {
			if s.armed&(1<<t) != 0 && s.fired[t] < u.bounds.Fires[id][t] {
				acts = append(acts, Action{Kind: ActTimer, Node: NodeID(id), Actor: NodeID(id), Timer: t,
					Key: Mix64(uint64(ActTimer)<<56 | uint64(id)<<8 | uint64(t))})
			}
		}
	}
	if u.left.Drops != 0 {
		msgActs(ActDrop)
	}
	if u.left.Dups > 0 {
		msgActs(ActDup)
	}
	for id := range w.nodes {
		up := w.nodes[id].up
		if up && u.bounds.Crashable != 0 && u.bounds.Crashable&(1<<uint(id)) == 0 {
			continue
		}
		if (up && u.left.Crashes > 0) || (!up && u.left.Restarts > 0 && w.Joined(NodeID(id))) {
			kind := ActCrash
			if !up {
				kind = ActRestart
			}
			acts = append(acts, Action{Kind: kind, Node: NodeID(id), Actor: NodeID(id), Key: Mix64(uint64(kind)<<56 | uint64(id))})
		}
	}
	u.acts, u.actsOK = acts, true
	return acts
}

// StepUntimed lets the source pick one enabled action and runs it. It
// returns false, drawing nothing, when no action is enabled: the run is
// over.
func (w *World[M]) StepUntimed() bool {
	acts := w.Enabled()
	if len(acts) == 0 {
		return false
	}
	w.Do(acts[w.pick(acts)])
	return true
}

// Do runs one action from the current Enabled list.
func (w *World[M]) Do(a Action) {
	u := w.un
	if w.stepping >= 0 {
		panic(fmt.Sprintf("sim: action %v run from inside node %d's step", a.Kind, w.stepping))
	}
	w.events++
	u.actsOK = false
	u.recording, u.checking = false, false // a step that panicked left them set
	var memoKey uint64
	var remembered *memoEntry[M]
	if (a.Kind == ActDeliver || a.Kind == ActTimer) && u.memoOn(w) {
		memoKey = w.memoKey(a.Node, a)
		remembered = u.lookup(memoKey)
	}
	switch a.Kind {
	case ActDeliver:
		f := u.remove(int(a.flight))
		if f.to != a.Node || !w.nodes[f.to].up {
			panic(fmt.Sprintf("sim: delivery to node %d is not enabled", a.Node))
		}
		w.fold(uint64(ActDeliver)<<56 ^ f.key)
		if w.trace != nil {
			w.traceStep(w.now, "deliver n"+strconv.Itoa(int(f.from))+"->n"+strconv.Itoa(int(f.to))+" "+f.msg.String())
		}
		if f.dead != alive {
			w.beginDeadCheck(f)
		}
		w.receive(f, memoKey, remembered)
	case ActTimer:
		s := &w.nodes[a.Node]
		if !s.up || s.armed&(1<<a.Timer) == 0 || s.fired[a.Timer] >= u.bounds.Fires[a.Node][a.Timer] {
			panic(fmt.Sprintf("sim: timer %d of node %d is not enabled", a.Timer, a.Node))
		}
		s.armed &^= 1 << a.Timer
		s.fired[a.Timer]++
		w.fold(a.Key)
		if w.trace != nil {
			w.traceStep(w.now, "timer n"+strconv.Itoa(int(a.Node))+" "+w.timerName(a.Node, a.Timer))
		}
		w.runStep(a.Node, memoKey, remembered, func(n Node[M]) { n.Timeout(a.Timer) })
	case ActDrop, ActDup:
		f := u.flights[a.flight]
		if a.Kind == ActDrop {
			if u.left.Drops == 0 {
				panic("sim: drop with no drop budget left")
			}
			if u.left.Drops > 0 {
				u.left.Drops--
			}
			u.remove(int(a.flight))
		} else {
			if u.left.Dups <= 0 {
				panic("sim: duplicate with no duplicate budget left")
			}
			u.left.Dups--
			u.add(f)
		}
		w.fold(uint64(a.Kind)<<56 ^ f.key)
		if w.trace != nil {
			w.trace.line(w.now, "fault "+a.Kind.String()+" n"+strconv.Itoa(int(f.from))+"->n"+strconv.Itoa(int(f.to))+" "+f.msg.String())
		}
	case ActCrash:
		if u.left.Crashes <= 0 || !w.nodes[a.Node].up {
			panic(fmt.Sprintf("sim: crash of node %d is not enabled", a.Node))
		}
		u.left.Crashes--
		u.staleAll() // whether a disk can still be read changed for every node
		if w.trace != nil {
			w.trace.line(w.now, "fault crash n"+strconv.Itoa(int(a.Node)))
		}
		w.Crash(a.Node)
	case ActRestart:
		if u.left.Restarts <= 0 || w.nodes[a.Node].up || !w.Joined(a.Node) {
			panic(fmt.Sprintf("sim: restart of node %d is not enabled", a.Node))
		}
		u.left.Restarts--
		u.staleAll()
		if w.trace != nil {
			w.trace.line(w.now, "fault restart n"+strconv.Itoa(int(a.Node)))
		}
		w.start(a.Node)
	default:
		panic(fmt.Sprintf("sim: action of unknown kind %d", a.Kind))
	}
	if u.checking {
		w.endDeadCheck()
	}
	if (u.collect || u.verify) && (a.Kind == ActDeliver || a.Kind == ActTimer) {
		w.collectDead(a.Node)
	}
}

// receive delivers f (the memo's key for the step is memoKey).
func (w *World[M]) receive(f flight[M], memoKey uint64, remembered *memoEntry[M]) {
	w.runStep(f.to, memoKey, remembered, func(n Node[M]) { n.Receive(f.from, f.msg) })
}

// runStep runs a step of node id: the remembered one if there is one (the
// memo's key for it is memoKey), else call on the node, recorded for the
// memo.
func (w *World[M]) runStep(id NodeID, memoKey uint64, remembered *memoEntry[M], call func(Node[M])) {
	u := w.un
	if remembered != nil {
		w.replay(id, remembered)
		return
	}
	w.prepareStep(id)
	if u.memoOn(w) {
		w.startRecording(memoKey, id)
	}
	w.stepping = id
	call(w.nodes[id].node)
	w.stepped(id)
	w.drainLocal(id)
	if u.recording {
		w.finishRecording(id)
	}
}

// prepareStep makes node id safe to mutate: a node object shared with a
// snapshot is replaced by its clone first.
func (w *World[M]) prepareStep(id NodeID) {
	u := w.un
	u.stale(id)
	if u.owned[id] {
		return
	}
	s := &w.nodes[id]
	c, ok := s.node.(Cloner[M])
	if !ok {
		panic(fmt.Sprintf("sim: node %d (%T) cannot be cloned: exhaustive search needs a Cloner", id, s.node))
	}
	s.node = c.Clone(&s.env, u.spare[id])
	u.spare[id] = nil
	u.owned[id] = true
}

func (w *World[M]) untimedCrash(id NodeID) {
	u := w.un
	s := &w.nodes[id]
	s.armed = 0
	u.stale(id)
	u.owned[id] = true // no node object left to share
	kept := u.flights[:0]
	for _, f := range u.flights {
		if f.to == id {
			u.msgSum -= f.key
			continue
		}
		kept = append(kept, f)
	}
	clear(u.flights[len(kept):])
	u.flights = kept
	u.actsOK = false
}

// Cloner is a node the exhaustive search can copy and fingerprint. Clone
// returns an independent copy bound to env (the copy may be stepped while
// the original is kept); into, when not nil, is an earlier copy of the same
// node that nothing refers to any more, which Clone may overwrite and
// return instead of allocating. Fingerprint hashes every field of the
// node's state that can change what it does next.
type Cloner[M Message] interface {
	Node[M]
	Clone(env *Env[M], into Node[M]) Node[M]
	Fingerprint() uint64
}

// Hashable is a disk record the exhaustive search can fingerprint.
type Hashable interface{ Hash() uint64 }

// Fingerprint hashes the whole untimed world: every node's state, whether it
// is up, its armed timers and firings used, its disk (synced and not), the
// multiset of messages in flight, and the budgets left. It is incremental:
// only nodes that stepped since the last call are rehashed, and messages are
// summed as they come and go.
func (w *World[M]) Fingerprint() uint64 {
	u := w.un
	return w.fingerprintWith(u.msgSum, u.left)
}

func (w *World[M]) fingerprintWith(msgSum uint64, left Budget) uint64 {
	u := w.un
	h := Mix64(msgSum ^ 0x243f6a8885a308d3)
	h += Mix64(uint64(left.Drops)<<48 ^ uint64(left.Dups)<<32 ^ uint64(left.Crashes)<<16 ^ uint64(left.Restarts))
	if !u.sumOK {
		var sum uint64
		for id := range w.nodes {
			if !u.hashOK[id] {
				u.nodeHash[id] = w.hashNode(NodeID(id))
				u.hashOK[id] = true
			}
			sum += Mix64(u.nodeHash[id] + uint64(id)*0x9e3779b97f4a7c15)
		}
		u.nodeSum, u.sumOK = sum, true
	}
	return Mix64(h + u.nodeSum)
}

// FingerprintAfter is the Fingerprint the world would have after action a,
// one of Enabled, without running it, when that is cheap to know: a drop or
// a duplication changes only the multiset in flight and a budget, which the
// fingerprint sums; a delivery or a timer the step memo remembers changes
// one node's share and the multiset. A checker watching the steps must
// tell for itself whether it would change (StepAfter). The search uses it to skip restoring and stepping into
// states it has already explored; ok is false for every other kind.
func (w *World[M]) FingerprintAfter(a Action) (fp uint64, ok bool) {
	u := w.un
	if a.Kind == ActDeliver || a.Kind == ActTimer {
		fp, _, ok := w.StepAfter(a)
		return fp, ok
	}
	if (a.Kind != ActDrop && a.Kind != ActDup) || int(a.flight) >= len(u.flights) {
		return 0, false
	}
	key, left := u.flights[a.flight].key, u.left
	if key != a.msg {
		panic(fmt.Sprintf("sim: %v of a message not in flight at this state", a.Kind))
	}
	if a.Kind == ActDrop {
		if left.Drops > 0 {
			left.Drops--
		}
		return w.fingerprintWith(u.msgSum-key, left), true
	}
	left.Dups--
	return w.fingerprintWith(u.msgSum+key, left), true
}

// restartable reports whether node id can still start from its disk: only
// then is the disk part of the state, since in the untimed view a node reads
// its disk in Start alone (Disk.Records enforces it).
func (w *World[M]) restartable(id NodeID) bool {
	left := w.un.left
	if w.nodes[id].up {
		return left.Crashes > 0 && left.Restarts > 0
	}
	return left.Restarts > 0
}

func (w *World[M]) hashNode(id NodeID) uint64 {
	s := &w.nodes[id]
	if !s.up {
		return w.hashNodeWith(id, 0)
	}
	c, ok := s.node.(Cloner[M])
	if !ok {
		panic(fmt.Sprintf("sim: node %d (%T) cannot be fingerprinted: exhaustive search needs a Cloner", id, s.node))
	}
	return w.hashNodeWith(id, c.Fingerprint())
}

// hashNodeWith is hashNode for a node whose Cloner fingerprint is known.
func (w *World[M]) hashNodeWith(id NodeID, nodeFP uint64) uint64 {
	s := &w.nodes[id]
	var fired uint64 // MaxTimers counts of 8 bits: one word
	for t, f := range s.fired {
		fired |= uint64(f) << (8 * t)
	}
	h := Mix64(uint64(s.armed) ^ 0x1000 ^ Mix64(fired))
	if w.restartable(id) {
		h = Mix64(h ^ s.disk.hash())
	}
	if !s.up {
		return Mix64(h ^ 0xdead)
	}
	return Mix64(h ^ nodeFP)
}

// Snapshot is a saved untimed world state. It shares node objects and disk
// records with the world it came from, copy-on-write.
type Snapshot[M Message] struct {
	nodes   []snapNode[M]
	small   [smallWorld]snapNode[M] // nodes' backing array in small worlds: one allocation less
	flights []flight[M]
	left    Budget
	msgSum  uint64
	events  uint64
}

const smallWorld = 4

type snapNode[M Message] struct {
	node  Node[M]
	up    bool
	armed uint8
	fired [MaxTimers]uint8
	disk  Disk
	hash  uint64
}

// Save captures the world's untimed state. The world may go on stepping:
// whatever the snapshot shares is copied before it is changed.
func (w *World[M]) Save() *Snapshot[M] {
	snap := new(Snapshot[M])
	w.SaveInto(snap)
	return snap
}

// SaveInto is Save into a snapshot the caller allocated (as part of a
// larger state, say), which must not be in use: a snapshot no one will load
// again may be saved into, and its memory is reused.
func (w *World[M]) SaveInto(snap *Snapshot[M]) {
	u := w.un
	w.Fingerprint() // every node hash fresh, so snapshots carry them
	switch {
	case len(w.nodes) <= smallWorld:
		snap.nodes = snap.small[:len(w.nodes)]
	case cap(snap.nodes) >= len(w.nodes) && len(snap.nodes) > 0 && &snap.nodes[0] != &snap.small[0]:
		snap.nodes = snap.nodes[:len(w.nodes)]
	default:
		snap.nodes = make([]snapNode[M], len(w.nodes))
	}
	snap.flights = append(snap.flights[:0], u.flights...)
	snap.left, snap.msgSum, snap.events = u.left, u.msgSum, w.events
	for i := range w.nodes {
		s := &w.nodes[i]
		s.disk.shared = true
		snap.nodes[i] = snapNode[M]{node: s.node, up: s.up, armed: s.armed, fired: s.fired, disk: s.disk, hash: u.nodeHash[i]}
		u.owned[i] = false
	}
}

// Load replaces the world's untimed state with a snapshot's.
func (w *World[M]) Load(snap *Snapshot[M]) {
	u := w.un
	if len(snap.nodes) != len(w.nodes) {
		panic(fmt.Sprintf("sim: snapshot of %d nodes loaded into a world of %d", len(snap.nodes), len(w.nodes)))
	}
	for i := range w.nodes {
		s, sn := &w.nodes[i], &snap.nodes[i]
		if u.owned[i] && s.node != nil && s.node != sn.node {
			u.spare[i] = s.node // a clone no snapshot took
		}
		s.node, s.up, s.armed, s.fired, s.disk = sn.node, sn.up, sn.armed, sn.fired, sn.disk
		s.disk.shared = true
		u.nodeHash[i], u.hashOK[i], u.owned[i] = sn.hash, true, false
		u.sumOK = false
	}
	u.flights = append(u.flights[:0], snap.flights...)
	u.left, u.msgSum, u.actsOK = snap.left, snap.msgSum, false
	u.recording = false
	w.events = snap.events
	w.stepping = -1 // a step that panicked left it set
}
