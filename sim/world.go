package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// NodeID names a node: 0..n-1 inside one world.
type NodeID int32

// Time is virtual time in microseconds since the world began.
type Time int64

// Duration is a span of virtual time in microseconds.
type Duration int64

// Common spans, so that scenario code reads in milliseconds.
const (
	Microsecond Duration = 1
	Millisecond Duration = 1000
	Second      Duration = 1000 * Millisecond
)

// TimerID names one of a node's timers. A node has at most MaxTimers, each
// armed at most once at a time: arming it again replaces the old deadline.
type TimerID uint8

// MaxTimers bounds the timers per node, so the per-node table is a fixed
// array and arming a timer never allocates.
const MaxTimers = 8

// Message is what the kernel moves between nodes. The kernel never looks
// inside: it folds Hash into the run digest and prints String in traces.
type Message interface {
	Hash() uint64
	String() string
}

// Node is a deterministic state machine. A node is built fresh at boot and
// at every restart (its volatile state is whatever the constructor and Start
// rebuild from disk); after that it only reacts to messages and timers.
type Node[M Message] interface {
	Start()
	Receive(from NodeID, m M)
	Timeout(t TimerID)
}

// NewNode builds a node bound to its environment.
type NewNode[M Message] func(env *Env[M]) Node[M]

type eventKind uint8

const (
	kindDeliver eventKind = iota + 1
	kindTimer
	kindAction
)

type event[M Message] struct {
	kind  eventKind
	timer TimerID
	node  NodeID
	from  NodeID
	epoch uint32 // destination epoch at scheduling: a crash voids the event
	gen   uint32 // timer generation: re-arming voids the old deadline
	act   int32
	msg   M
}

type nodeSlot[M Message] struct {
	node Node[M]
	env  Env[M]
	up   bool
	// dormant: allocated but never started (a spare that joins a running
	// world later, by Join); gone: left for good (Leave). Neither is
	// started by Boot or Restart, so a fault plan's restarts and its
	// heal pass them by.
	dormant bool
	gone    bool
	epoch   uint32
	timers  [MaxTimers]uint32
	disk    Disk
	clock   Clock
	// A pause (pause.go): no step until pausedUntil, in the epoch
	// pauseEpoch-1 (0: none).
	pausedUntil Time
	pauseEpoch  uint32
	// The untimed view's timers: which are armed, and how often each fired.
	armed uint8
	fired [MaxTimers]uint8
}

type action struct {
	label string
	fn    func()
}

// World is one simulated cluster: nodes, network, disks, a virtual clock and
// the queue of pending events, all driven by a single Source. It is not safe
// for concurrent use, and needs none: everything happens on the caller's
// goroutine, one event at a time.
type World[M Message] struct {
	src     Source
	now     Time
	seq     uint64
	q       queue
	slab    []event[M]
	free    []int32
	nodes   []nodeSlot[M]
	newNode NewNode[M]
	actions []action

	// Net is the simulated network; fault plans change it between events.
	Net Network

	events uint64
	digest uint64
	trace  *Trace
	// stepLine is the trace line the current (or last) step began with.
	stepLine int

	// AfterStep, when set, runs after every node step (start, message,
	// timer) with the node that stepped: the checker's hook. Its state only
	// changes in its own steps, so checking that one node is enough.
	AfterStep func(id NodeID)

	stepping NodeID // node currently stepping, or -1

	un *untimed[M] // the untimed view, when on (untimed.go)

	fair *PRNG // nodes' random draws, once FairRandomness is on

	// OnFault, when set, hears of every fault the moment it strikes: the
	// scenario's coverage accounting (which faults met which protocol
	// states). It must not change the world.
	OnFault func(f Fault, node, peer NodeID)
	booted  bool

	// Extremes makes nodes' random draws (timeouts, backoffs, think times)
	// land on the edges of their ranges until the fair randomness of the
	// liveness phase: the boundary-timing adversary. Net.Extreme does the
	// same for latencies.
	Extremes bool
}

// Fault is a kind of fault, as it struck one node or one message.
type Fault uint8

const (
	FaultCrash   Fault = iota // node crashed
	FaultRestart              // node restarted from its disk
	FaultCut                  // a message from peer to node was lost to a cut link
	FaultDrop                 // a message from peer to node was lost to the loss rate
	FaultDup                  // a message from peer to node was duplicated
	FaultDelay                // a message from peer to node took the long tail
	FaultClock                // node's clock was stepped or skewed
	FaultPause                // node was paused (World.Pause)
	NumFaults
)

var faultNames = [...]string{"crash", "restart", "cut", "drop", "dup", "delay", "clock", "pause"}

func (f Fault) String() string { return faultNames[f] }

func (w *World[M]) fault(f Fault, node, peer NodeID) {
	// Before Boot is setup (a clock's initial skew), not a fault striking
	// a running cluster.
	if w.OnFault != nil && w.booted {
		w.OnFault(f, node, peer)
	}
}

// NewWorld builds a world of n nodes. Nodes are not started until Boot.
func NewWorld[M Message](n int, src Source, newNode NewNode[M]) *World[M] {
	if n <= 0 || n > 64 {
		panic(fmt.Sprintf("sim: world of %d nodes: want 1..64", n))
	}
	w := &World[M]{src: src, newNode: newNode, stepping: -1}
	w.nodes = make([]nodeSlot[M], n)
	for i := range w.nodes {
		w.nodes[i].env = Env[M]{w: w, id: NodeID(i)}
	}
	w.Net.init(n)
	return w
}

// Trace starts recording a readable trace of every event from now on. The
// world's source is wrapped so that each line carries the choices drawn
// while it happened. If the source already is a Recorder (the caller drew
// setup choices through it before the world existed), those earlier choices
// belong to the trace's first line.
func (w *World[M]) Trace() *Trace {
	if w.trace == nil {
		rec, ok := w.src.(*Recorder)
		if !ok {
			rec = &Recorder{Inner: w.src}
			w.src = rec
		}
		w.trace = &Trace{rec: rec}
		w.trace.line(w.now, "begin")
	}
	return w.trace
}

// Boot starts every node, in id order, at the current time: every one but
// the dormant ones, which wait for Join.
func (w *World[M]) Boot() {
	w.booted = true
	for i := range w.nodes {
		if !w.nodes[i].dormant {
			w.start(NodeID(i))
		}
	}
}

// Dormant marks a node allocated but not started: Boot, Restart and a fault
// plan's heal leave it down, and messages to it are lost, until Join starts
// it with an empty disk. Ids are allocated up front, so a world that admits
// joiners is built with room for them. Call it before Boot.
func (w *World[M]) Dormant(id NodeID) {
	s := &w.nodes[id]
	if w.booted || s.up || s.gone {
		panic(fmt.Sprintf("sim: node %d made dormant after boot (up %v, gone %v)", id, s.up, s.gone))
	}
	s.dormant = true
}

// Join starts a dormant node: a node joining the running world, with an
// empty disk. Joining a node that is not dormant is a harness bug.
func (w *World[M]) Join(id NodeID) {
	s := &w.nodes[id]
	if !s.dormant || s.up || s.gone {
		panic(fmt.Sprintf("sim: node %d joined, but it is not dormant (up %v, gone %v)", id, s.up, s.gone))
	}
	if w.stepping >= 0 {
		panic(fmt.Sprintf("sim: node %d joined from inside node %d's step", id, w.stepping))
	}
	s.dormant = false
	w.fold(uint64(kindAction)<<56 | uint64(id)<<8 | 0xfc)
	if w.trace != nil {
		w.trace.line(w.now, "join n"+strconv.Itoa(int(id))+": a new node, empty disk")
	}
	w.start(id)
}

// Leave takes a node out of the world for good: it crashes (if up) and
// nothing starts it again, neither Restart nor a fault plan's heal. A
// dormant node that leaves never joins.
func (w *World[M]) Leave(id NodeID) {
	s := &w.nodes[id]
	if s.gone {
		return
	}
	if w.trace != nil {
		w.trace.line(w.now, "leave n"+strconv.Itoa(int(id))+" for good")
	}
	w.Crash(id)
	s.gone, s.dormant = true, false
	w.fold(uint64(kindAction)<<56 | uint64(id)<<8 | 0xfb)
}

// Joined reports whether a node is part of the world: neither dormant nor
// gone (it may be down for now).
func (w *World[M]) Joined(id NodeID) bool { return !w.nodes[id].dormant && !w.nodes[id].gone }

// Gone reports whether a node left for good.
func (w *World[M]) Gone(id NodeID) bool { return w.nodes[id].gone }

func (w *World[M]) start(id NodeID) {
	s := &w.nodes[id]
	if s.up {
		panic(fmt.Sprintf("sim: node %d started while up", id))
	}
	s.up = true
	s.timers = [MaxTimers]uint32{}
	s.armed = 0
	if w.un != nil {
		w.un.owned[id], w.un.actsOK = true, false
		w.un.stale(id)
	}
	s.node = w.newNode(&s.env)
	w.fold(uint64(kindAction)<<56 | uint64(id)<<8 | 0xfe)
	if w.trace != nil {
		w.traceStep(w.now, "start n"+strconv.Itoa(int(id)))
	}
	w.stepping = id
	s.disk.starting = true
	s.node.Start()
	s.disk.starting = false
	w.stepped(id)
	if w.un != nil {
		w.drainLocal(id)
	}
}

func (w *World[M]) stepped(id NodeID) {
	w.stepping = -1
	if w.trace != nil {
		w.traceSyncs(id)
		if w.trace.states {
			if d, ok := w.nodes[id].node.(Describer); ok {
				w.trace.noteState(w.stepLine, id, d.Describe())
			}
		}
	}
	if w.un != nil && w.un.recording {
		w.recordStage(id)
	}
	if w.AfterStep != nil {
		w.AfterStep(id)
	}
}

// traceStep writes the line a node's step begins with: the line its state
// after the step belongs to.
func (w *World[M]) traceStep(at Time, text string) {
	w.trace.line(at, text)
	w.stepLine = w.trace.Len() - 1
}

// timerName is how trace lines name node id's timer t.
func (w *World[M]) timerName(id NodeID, t TimerID) string {
	if n, ok := w.nodes[id].node.(TimerNamer); ok {
		if name := n.TimerName(t); name != "" {
			return name
		}
	}
	return "t" + strconv.Itoa(int(t))
}

// traceSend writes a send line before the send draws its fate, so that
// the choices it draws are the line's own, and returns a function that
// completes the line with the fate.
func (w *World[M]) traceSend(from, to NodeID, m M) func(fate string) {
	if w.trace == nil {
		return nil
	}
	text := "send n" + strconv.Itoa(int(from)) + "->n" + strconv.Itoa(int(to)) + " " + m.String()
	w.trace.line(w.now, text)
	return func(fate string) { w.trace.amend(text + ", " + fate) }
}

// traceSyncs writes a sync line for the records node id's step made
// durable: what a crash can no longer take back.
func (w *World[M]) traceSyncs(id NodeID) {
	recs := w.nodes[id].disk.newlyTraced()
	if len(recs) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("sync n" + strconv.Itoa(int(id)))
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteByte(' ')
		if s, ok := r.(fmt.Stringer); ok {
			b.WriteString(s.String())
		} else {
			fmt.Fprintf(&b, "%+v", r)
		}
	}
	w.trace.line(w.now, b.String())
}

// Network is the simulated network, for fault plans that hold the world
// through an interface.
func (w *World[M]) Network() *Network { return &w.Net }

// Source is the world's source of choices, for fault plans and workloads
// that draw alongside the kernel.
func (w *World[M]) Source() Source { return w.src }

// Now is the current virtual time.
func (w *World[M]) Now() Time { return w.now }

// N is the number of nodes.
func (w *World[M]) N() int { return len(w.nodes) }

// Up reports whether a node is running.
func (w *World[M]) Up(id NodeID) bool { return w.nodes[id].up }

// Node returns a running node's state machine, or nil while it is down.
func (w *World[M]) Node(id NodeID) Node[M] { return w.nodes[id].node }

// Disk returns a node's disk.
func (w *World[M]) Disk(id NodeID) *Disk { return &w.nodes[id].disk }

// Events counts the events run so far.
func (w *World[M]) Events() uint64 { return w.events }

// Digest is a 64-bit hash of every event so far, kept incrementally.
func (w *World[M]) Digest() uint64 { return w.digest }

// Pending counts scheduled events, stale ones included.
func (w *World[M]) Pending() int { return w.q.len() }

// NextTime is the time of the earliest scheduled event; ok is false when
// nothing is scheduled.
func (w *World[M]) NextTime() (t Time, ok bool) {
	if w.q.len() == 0 {
		return 0, false
	}
	return w.q.items[0].at, true
}

// Crash stops a node: its volatile state, armed timers and inbound in-flight
// messages are gone, and its disk keeps only what was synced.
func (w *World[M]) Crash(id NodeID) {
	s := &w.nodes[id]
	if !s.up {
		return
	}
	if w.stepping >= 0 {
		panic(fmt.Sprintf("sim: node %d crashed from inside node %d's step", id, w.stepping))
	}
	w.fault(FaultCrash, id, id)
	s.up = false
	s.node = nil
	s.epoch++
	s.disk.crash()
	if w.un != nil {
		w.untimedCrash(id)
	}
	w.fold(uint64(kindAction)<<56 | uint64(id)<<8 | 0xfd)
}

// Restart boots a crashed node from what its disk kept. Restarting a node
// that is up, dormant (Join starts it) or gone for good does nothing.
func (w *World[M]) Restart(id NodeID) {
	if s := &w.nodes[id]; s.up || s.dormant || s.gone {
		return
	}
	w.start(id)
	w.fault(FaultRestart, id, id)
}

// At schedules a fault or workload action at time t. The label names it in
// the trace.
func (w *World[M]) At(t Time, label string, fn func()) {
	if t < w.now {
		panic(fmt.Sprintf("sim: action %q scheduled at %d, before now %d", label, t, w.now))
	}
	w.actions = append(w.actions, action{label: label, fn: fn})
	slot := w.alloc()
	w.slab[slot] = event[M]{kind: kindAction, node: -1, act: int32(len(w.actions) - 1)}
	w.push(t, slot)
}

// Note adds a line to the trace, if one is being recorded. Checkers and
// scenarios use it to show decisions next to the events that caused them.
func (w *World[M]) Note(text func() string) {
	if w.trace != nil {
		w.trace.line(w.now, text())
	}
}

// Tracing reports whether a trace is being recorded.
func (w *World[M]) Tracing() bool { return w.trace != nil }

// TraceLen is the number of trace lines so far (0 without a trace).
func (w *World[M]) TraceLen() int {
	if w.trace == nil {
		return 0
	}
	return w.trace.Len()
}

func (w *World[M]) alloc() int32 {
	if n := len(w.free); n > 0 {
		slot := w.free[n-1]
		w.free = w.free[:n-1]
		return slot
	}
	var zero event[M]
	w.slab = append(w.slab, zero)
	return int32(len(w.slab) - 1)
}

func (w *World[M]) push(at Time, slot int32) {
	w.seq++
	w.q.push(entry{at: at, seq: w.seq, slot: slot})
}

func (w *World[M]) fold(x uint64) {
	w.digest = Mix64(w.digest ^ x)
}

// Step runs the earliest scheduled event. It returns false when nothing is
// scheduled. Events voided by a crash or a re-armed timer are discarded
// without counting as a step.
func (w *World[M]) Step() bool {
	for w.q.len() > 0 {
		e := w.q.pop()
		if e.at < w.now {
			panic(fmt.Sprintf("sim: time went backwards: event at %d, now %d", e.at, w.now))
		}
		ev := w.slab[e.slot]
		var zero event[M]
		w.slab[e.slot] = zero // drop references held by the message
		w.free = append(w.free, e.slot)
		if w.run(e.at, &ev) {
			return true
		}
	}
	return false
}

func (w *World[M]) run(at Time, ev *event[M]) bool {
	switch ev.kind {
	case kindTimer:
		s := &w.nodes[ev.node]
		if !s.up || s.epoch != ev.epoch || s.timers[ev.timer] != ev.gen || w.deferPaused(at, ev) {
			return false
		}
		w.now = at
		w.events++
		w.fold(uint64(at))
		w.fold(uint64(kindTimer)<<56 | uint64(ev.node)<<8 | uint64(ev.timer))
		if w.trace != nil {
			w.traceStep(at, "timer n"+strconv.Itoa(int(ev.node))+" "+w.timerName(ev.node, ev.timer))
		}
		s.timers[ev.timer]++ // fired: no longer armed
		w.stepping = ev.node
		s.node.Timeout(ev.timer)
		w.stepped(ev.node)
		return true
	case kindDeliver:
		s := &w.nodes[ev.node]
		if s.pauseEpoch != 0 && s.up && w.deferPaused(at, ev) {
			return false
		}
		w.now = at
		w.events++
		w.fold(uint64(at))
		lost := !s.up || s.epoch != ev.epoch || !w.Net.Connected(ev.from, ev.node)
		tag := uint64(0)
		if lost {
			tag = 1
		}
		w.fold(uint64(kindDeliver)<<56 | uint64(ev.node)<<32 | uint64(ev.from)<<8 | tag)
		w.fold(ev.msg.Hash())
		if lost && s.up && s.epoch == ev.epoch {
			w.fault(FaultCut, ev.node, ev.from)
		}
		if w.trace != nil {
			verb := "deliver"
			if lost {
				verb = "lost"
			}
			w.traceStep(at, verb+" n"+strconv.Itoa(int(ev.from))+"->n"+strconv.Itoa(int(ev.node))+" "+ev.msg.String())
		}
		if lost {
			return true
		}
		w.stepping = ev.node
		s.node.Receive(ev.from, ev.msg)
		w.stepped(ev.node)
		return true
	case kindAction:
		a := w.actions[ev.act]
		w.now = at
		w.events++
		w.fold(uint64(at))
		w.fold(uint64(kindAction)<<56 | uint64(ev.act))
		if w.trace != nil {
			w.trace.line(at, "fault "+a.label)
		}
		a.fn()
		return true
	}
	panic(fmt.Sprintf("sim: event of unknown kind %d", ev.kind))
}

func (w *World[M]) send(from, to NodeID, m M) {
	if from != w.stepping {
		panic(fmt.Sprintf("sim: node %d sent while node %d was stepping", from, w.stepping))
	}
	if int(to) < 0 || int(to) >= len(w.nodes) {
		panic(fmt.Sprintf("sim: node %d sent to unknown node %d", from, to))
	}
	fate := w.traceSend(from, to, m)
	if w.un != nil {
		w.untimedSend(from, to, m)
		return
	}
	if to == from {
		// A node's message to itself never touches the wire: no faults, no
		// choices, delivered after the current step.
		w.deliverAt(w.now, from, to, m)
		if fate != nil {
			fate("local")
		}
		return
	}
	if !w.Net.Connected(from, to) {
		w.fold(uint64(0xdd)<<56 | uint64(from)<<8 | uint64(to))
		w.fault(FaultCut, to, from)
		if fate != nil {
			fate("cut off")
		}
		return
	}
	if Chance(w.src, w.Net.DropRate) {
		w.fold(uint64(0xdd)<<56 | uint64(from)<<8 | uint64(to))
		w.fault(FaultDrop, to, from)
		if fate != nil {
			fate("dropped")
		}
		return
	}
	d := w.Net.latency(w.src)
	if d > w.Net.Latency.Max {
		w.fault(FaultDelay, to, from)
	}
	w.deliverAt(w.now+Time(d), from, to, m)
	if !Chance(w.src, w.Net.DupRate) {
		if fate != nil {
			fate("due @" + strconv.FormatInt(int64(w.now+Time(d)), 10))
		}
		return
	}
	w.fault(FaultDup, to, from)
	d2 := w.Net.latency(w.src)
	w.deliverAt(w.now+Time(d2), from, to, m)
	if fate != nil {
		fate("due @" + strconv.FormatInt(int64(w.now+Time(d)), 10) + " and, duplicated, @" + strconv.FormatInt(int64(w.now+Time(d2)), 10))
	}
}

func (w *World[M]) deliverAt(at Time, from, to NodeID, m M) {
	slot := w.alloc()
	w.slab[slot] = event[M]{kind: kindDeliver, node: to, from: from, epoch: w.nodes[to].epoch, msg: m}
	w.push(at, slot)
}

func (w *World[M]) setTimer(id NodeID, t TimerID, after Duration) {
	if t >= MaxTimers {
		panic(fmt.Sprintf("sim: node %d armed timer %d, max %d", id, t, MaxTimers-1))
	}
	if after < 0 {
		panic(fmt.Sprintf("sim: node %d armed timer %d %d µs in the past", id, t, -after))
	}
	s := &w.nodes[id]
	if w.un != nil {
		s.armed |= 1 << t
		w.un.actsOK = false
		if w.un.recording {
			w.un.rec.entry.set |= 1 << t
			w.un.rec.entry.clear &^= 1 << t
		}
		return
	}
	s.timers[t]++
	slot := w.alloc()
	w.slab[slot] = event[M]{kind: kindTimer, node: id, timer: t, epoch: s.epoch, gen: s.timers[t]}
	w.push(w.now+Time(after), slot)
}

// Env is a node's whole view of the world: the only way it can act.
type Env[M Message] struct {
	w  *World[M]
	id NodeID
}

// ID is this node's id.
func (e *Env[M]) ID() NodeID { return e.id }

// N is the number of nodes in the cluster.
func (e *Env[M]) N() int { return len(e.w.nodes) }

// Now is the current virtual time.
func (e *Env[M]) Now() Time { return e.w.now }

// Send puts a message on the network; it may be dropped, duplicated,
// delayed or cut off by a partition.
func (e *Env[M]) Send(to NodeID, m M) { e.w.send(e.id, to, m) }

// SetTimer arms timer t to fire after d, replacing any earlier deadline.
func (e *Env[M]) SetTimer(t TimerID, d Duration) { e.w.setTimer(e.id, t, d) }

// CancelTimer disarms timer t.
func (e *Env[M]) CancelTimer(t TimerID) {
	if t >= MaxTimers {
		panic(fmt.Sprintf("sim: node %d cancelled timer %d, max %d", e.id, t, MaxTimers-1))
	}
	s := &e.w.nodes[e.id]
	s.timers[t]++
	if u := e.w.un; u != nil {
		s.armed &^= 1 << t
		u.actsOK = false
		if u.recording {
			u.rec.entry.clear |= 1 << t
			u.rec.entry.set &^= 1 << t
		}
	}
}

// Rand draws from the world's source: a value in [0, n).
// In the untimed view it is always 0 and draws nothing (untimed.go says why).
func (e *Env[M]) Rand(n uint64) uint64 {
	if e.w.un != nil {
		return 0
	}
	if e.w.fair != nil {
		return e.w.fair.Choose(n)
	}
	if e.w.Extremes && n > 1 {
		// Timers at the edges of their windows two draws in three; the
		// third stays uniform, so timings still vary between the edges.
		switch e.w.src.Choose(3) {
		case 1:
			return 0
		case 2:
			return n - 1
		}
	}
	return e.w.src.Choose(n)
}

// FairRandomness makes every random draw a node makes from now on (backoffs,
// election timeouts) come from a generator the run's source does not
// control, seeded by the run's digest so far: a function of the run, so a
// replay draws the same. A randomized protocol is live with probability 1
// under random draws, not under draws an adversary picks (a fuzzer's bytes,
// a shrinker's zeros), so scenarios call it before judging liveness. The
// schedule (delays, faults) still comes from the source.
func (w *World[M]) FairRandomness() {
	if w.fair != nil {
		return
	}
	w.fair = NewPRNG(w.digest ^ 0xfa1afa1afa1afa1a)
	w.fold(0xfa1a)
	if w.trace != nil {
		w.trace.line(w.now, "fair randomness from here: nodes draw from the run's digest, not the choices")
	}
}

// Disk is this node's disk.
func (e *Env[M]) Disk() *Disk { return &e.w.nodes[e.id].disk }
