package sim

// The step memo of the untimed view: what a node's step did, remembered by
// the node's state and the action.
//
// A node is a deterministic function of its own state and its input (in the
// untimed view time stands still and random draws are 0), so a step's whole
// effect — the node's next state, the messages it sent, the timers it armed
// and cancelled, what it wrote to its disk — depends only on the node's
// fingerprint and the action, not on the rest of the world. The exhaustive
// search meets the same (node state, action) pair in many global states:
// with the memo it replays the effect instead of cloning and stepping the
// node, and it can tell the fingerprint an action leads to without running
// it (FingerprintAfter), so a transition into a state explored in full
// costs a table lookup.
//
// The memo is as sound as the fingerprints it is keyed by: a node field
// its Fingerprint leaves out would make the visited set merge states that
// differ, and the memo reuse a step that differs. The soundness tests run
// the search with the memo and without it and require the same figures.

// memoStage is the node as AfterStep saw it after one of the node calls an
// action makes (the action's own, then one per message the node sent
// itself), with what that call wrote to the disk.
type memoStage[M Message] struct {
	node    Node[M] // shared read only: whoever steps it next clones it
	nodeFP  uint64  // its Cloner fingerprint
	appends []any   // records appended
	syncTo  int     // the synced mark after the call, from the disk's length before it; -1: unchanged
	syncs   uint64  // Sync calls
}

type memoEntry[M Message] struct {
	key        uint64
	stages     []memoStage[M]
	set, clear uint8 // armed timers after: armed &^ clear | set
	sends      []flight[M]
	locals     []uint64 // the digest folds of the messages the node sent itself
}

// stepRecorder collects the effect of a step while it runs.
type stepRecorder[M Message] struct {
	entry     memoEntry[M]
	diskLen   int // at the start of the current stage
	diskSync  int
	diskSyncs uint64
	rewrites  uint64
	spoiled   bool // the step did something the memo cannot replay
}

// memoSlots is the memo's size: direct mapped, a newer entry replaces an
// older one in its slot.
const memoSlots = 1 << 16

// Memoize turns the step memo on (the untimed view only; traced runs never
// use it, so traces stay what the node code did). AfterStep must only read
// the node: a remembered step hands it the node objects the memo keeps.
func (w *World[M]) Memoize() {
	if w.un == nil {
		panic("sim: Memoize before Untimed")
	}
	if w.un.memo == nil {
		w.un.memo = make([]*memoEntry[M], memoSlots)
	}
}

func (u *untimed[M]) memoOn(w *World[M]) bool { return u.memo != nil && w.trace == nil }

// memoKey names (node id in its current state, action a).
func (w *World[M]) memoKey(id NodeID, a Action) uint64 {
	return Mix64(w.nodeHashNow(id)*0x9e3779b97f4a7c15 ^ a.Key ^ uint64(id)<<56)
}

func (w *World[M]) nodeHashNow(id NodeID) uint64 {
	u := w.un
	if !u.hashOK[id] {
		u.nodeHash[id] = w.hashNode(id)
		u.hashOK[id] = true
	}
	return u.nodeHash[id]
}

func (u *untimed[M]) lookup(key uint64) *memoEntry[M] {
	e := u.memo[key&(memoSlots-1)]
	if e == nil || e.key != key {
		return nil
	}
	return e
}

// startRecording begins recording the step of node id about to run.
func (w *World[M]) startRecording(key uint64, id NodeID) {
	u := w.un
	if u.rec == nil {
		u.rec = new(stepRecorder[M])
	}
	r := u.rec
	*r = stepRecorder[M]{entry: memoEntry[M]{key: key}}
	r.markDisk(&w.nodes[id].disk)
	u.recording = true
}

func (r *stepRecorder[M]) markDisk(d *Disk) {
	r.diskLen, r.diskSync, r.diskSyncs, r.rewrites = len(d.records), d.synced, d.Syncs, d.rewrites
}

// recordStage closes a stage of the recorded step: called by stepped.
func (w *World[M]) recordStage(id NodeID) {
	u := w.un
	r := u.rec
	s := &w.nodes[id]
	d := &s.disk
	if d.rewrites != r.rewrites || len(d.records) < r.diskLen {
		r.spoiled = true
	}
	if r.spoiled {
		return
	}
	st := memoStage[M]{syncTo: -1, syncs: d.Syncs - r.diskSyncs}
	if n := len(d.records) - r.diskLen; n > 0 {
		st.appends = append([]any(nil), d.records[r.diskLen:]...)
	}
	if d.synced != r.diskSync {
		st.syncTo = d.synced - r.diskLen
	}
	st.node = s.node // cloned by keepStage if the node steps again
	st.nodeFP = s.node.(Cloner[M]).Fingerprint()
	r.entry.stages = append(r.entry.stages, st)
	r.markDisk(d)
}

// finishRecording stores the recorded step of node id, whose last stage
// shares the node object the world holds: the world no longer owns it.
func (w *World[M]) finishRecording(id NodeID) {
	u := w.un
	u.recording = false
	r := u.rec
	if r.spoiled || len(r.entry.stages) == 0 {
		return
	}
	e := r.entry // a copy: the recorder is reused
	e.stages = append([]memoStage[M](nil), r.entry.stages...)
	e.sends = append([]flight[M](nil), r.entry.sends...)
	e.locals = append([]uint64(nil), r.entry.locals...)
	u.memo[e.key&(memoSlots-1)] = &e
	u.owned[id] = false // the last stage shares the world's node object
}

// keepStage copies the node as the last closed stage saw it, before a
// message the node sent itself steps it again in place.
func (w *World[M]) keepStage(id NodeID) {
	r := w.un.rec
	if r.spoiled || len(r.entry.stages) == 0 {
		return
	}
	s := &w.nodes[id]
	last := &r.entry.stages[len(r.entry.stages)-1]
	last.node = s.node.(Cloner[M]).Clone(&s.env, nil)
}

// replay runs a remembered step of node id: the node's states in turn
// (AfterStep sees each, with the disk as it was then), then the messages
// and timers.
func (w *World[M]) replay(id NodeID, e *memoEntry[M]) {
	u := w.un
	s := &w.nodes[id]
	if u.owned[id] && s.node != nil {
		u.spare[id] = s.node
	}
	for i := range e.stages {
		st := &e.stages[i]
		d := &s.disk
		before := len(d.records)
		for _, rec := range st.appends {
			d.Append(rec)
		}
		if st.syncTo >= 0 {
			d.synced = before + st.syncTo
		}
		d.Syncs += st.syncs
		s.node = st.node
		u.owned[id] = false
		if i > 0 {
			w.fold(e.locals[i-1])
		}
		if w.AfterStep != nil {
			w.AfterStep(id)
		}
	}
	for _, f := range e.sends {
		u.add(f)
	}
	s.armed = s.armed&^e.clear | e.set
	u.actsOK, u.sumOK = false, false
	u.nodeHash[id], u.hashOK[id] = w.hashNodeWith(id, e.stages[len(e.stages)-1].nodeFP), true
}

// Stages are the node states AfterStep would see if a remembered step ran
// now, in order: a checker tells from them whether it would learn anything.
type Stages[M Message] struct{ e *memoEntry[M] }

// Len is the number of node calls the step makes.
func (s Stages[M]) Len() int { return len(s.e.stages) }

// Node is the node as AfterStep would see it after call i; read only.
func (s Stages[M]) Node(i int) Node[M] { return s.e.stages[i].node }

// StepAfter is, for a delivery or a timer the memo remembers, the
// world's Fingerprint after it and the node states AfterStep would see,
// without running it; ok is false when the memo does not know the action
// (or a disk a restart may read would change).
func (w *World[M]) StepAfter(a Action) (fp uint64, st Stages[M], ok bool) {
	e := w.remembered(a)
	if e == nil {
		return 0, Stages[M]{}, false
	}
	fp, ok = w.fingerprintAfterStep(a, e)
	return fp, Stages[M]{e}, ok
}

func (w *World[M]) remembered(a Action) *memoEntry[M] {
	u := w.un
	if !u.memoOn(w) || (a.Kind != ActDeliver && a.Kind != ActTimer) {
		return nil
	}
	return u.lookup(w.memoKey(a.Node, a))
}

// fingerprintAfterStep is the Fingerprint after a, whose remembered
// effect is e.
func (w *World[M]) fingerprintAfterStep(a Action, e *memoEntry[M]) (uint64, bool) {
	u := w.un
	if w.restartable(a.Node) {
		for i := range e.stages {
			if len(e.stages[i].appends) > 0 || e.stages[i].syncTo >= 0 {
				return 0, false // the disk's hash after would need the records hashed
			}
		}
	}
	msgSum := u.msgSum
	skip := -1
	if a.Kind == ActDeliver {
		f := &u.flights[a.flight]
		if f.key != a.msg {
			panic("sim: delivery of a message not in flight at this state")
		}
		msgSum -= f.key
		skip = int(a.flight)
	}
	for _, f := range e.sends {
		msgSum += f.key
	}

	w.Fingerprint() // nodeSum fresh
	s := &w.nodes[a.Node]
	armed, fired := s.armed, s.fired
	if a.Kind == ActTimer {
		s.armed &^= 1 << a.Timer
		s.fired[a.Timer]++
	}
	s.armed = s.armed&^e.clear | e.set
	after := w.hashNodeWith(a.Node, e.stages[len(e.stages)-1].nodeFP)
	s.armed, s.fired = armed, fired
	if u.collect {
		msgSum -= w.deadAfter(a.Node, skip, e, after)
	}
	id := uint64(a.Node)
	nodeSum := u.nodeSum - Mix64(u.nodeHash[a.Node]+id*0x9e3779b97f4a7c15) + Mix64(after+id*0x9e3779b97f4a7c15)
	h := Mix64(msgSum ^ 0x243f6a8885a308d3)
	h += Mix64(uint64(u.left.Drops)<<48 ^ uint64(u.left.Dups)<<32 ^ uint64(u.left.Crashes)<<16 ^ uint64(u.left.Restarts))
	return Mix64(h + nodeSum), true
}
