package etcdraft

import (
	"fmt"
	"reflect"
	"unsafe"

	"go.etcd.io/raft/v3"
)

// etcd raft draws every randomized election timeout from crypto/rand
// (raft.go: globalRand, a lockedRand over crypto/rand.Reader, called from
// raft.reset), with no hook to seed or replace it. A simulation cannot
// allow that: the tick at which a follower campaigns would differ between
// two runs of one seed. Replacing crypto/rand.Reader would change the whole
// process's randomness and is shared by the sweep's parallel workers, so
// instead each node overwrites its own raft's randomizedElectionTimeout
// right after raft drew it, with a value from the node's Env.Rand (the same
// range, [ElectionTick, 2*ElectionTick-1]): the draw is then a choice of
// the run like any other, replayed and shrunk with it, pushed to its edges
// by the timing adversary and fair after the heal.
//
// A draw happens exactly when raft.reset runs, and reset is the only place
// that replaces raft.readOnly with a fresh object, so a changed readOnly
// pointer after a call into the RawNode says that a draw happened during
// the call (raft never reads the timeout inside the call that reset it:
// the timeout is compared with electionElapsed only on a later Tick).
//
// This reaches into unexported fields of go.etcd.io/raft/v3 v3.7.0; the
// offsets are looked up by name at init and the package refuses to load if
// a new raft version renamed them. What raft should export instead: a
// Config.Rand (or an election-timeout jitter function).
var (
	offRaft     uintptr // RawNode.raft (*raft)
	offTimeout  uintptr // raft.randomizedElectionTimeout (int)
	offReadOnly uintptr // raft.readOnly (*readOnly)
)

func init() {
	field := func(t reflect.Type, name string, kind reflect.Kind) reflect.StructField {
		f, ok := t.FieldByName(name)
		if !ok || f.Type.Kind() != kind {
			panic(fmt.Sprintf("etcdraft: %v has no field %s of kind %v: this example knows the internals of go.etcd.io/raft/v3 v3.7.0 only", t, name, kind))
		}
		return f
	}
	r := field(reflect.TypeFor[raft.RawNode](), "raft", reflect.Pointer)
	offRaft = r.Offset
	offTimeout = field(r.Type.Elem(), "randomizedElectionTimeout", reflect.Int).Offset
	offReadOnly = field(r.Type.Elem(), "readOnly", reflect.Pointer).Offset
}

// dice keeps one RawNode's election timeouts drawn from the simulation.
type dice struct {
	rn       *raft.RawNode
	readOnly unsafe.Pointer // raft.readOnly after the last redraw
	ticks    int            // ElectionTick
	id       uint64         // the node's index
	draw     func(n uint64) uint64
}

// roll redraws the election timeout if raft reset itself since the last
// call: call it after every call into the RawNode.
func (d *dice) roll() {
	r := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(d.rn), offRaft))
	ro := *(*unsafe.Pointer)(unsafe.Add(r, offReadOnly))
	if ro == d.readOnly {
		return
	}
	d.readOnly = ro
	// Offset by the node's id: still uniform over raft's range, but a
	// source that answers 0 (a shrinker's plain outcome) gives each node a
	// different timeout, so its elections are not split votes.
	*(*int)(unsafe.Add(r, offTimeout)) = d.ticks + int((d.draw(uint64(d.ticks))+d.id)%uint64(d.ticks))
}

// timeout is the election timeout in force, in ticks (tests).
func (d *dice) timeout() int {
	r := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(d.rn), offRaft))
	return *(*int)(unsafe.Add(r, offTimeout))
}
