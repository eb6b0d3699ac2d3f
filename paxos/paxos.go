// Package paxos holds the protocol as pure state machines: no goroutines, no
// clock, no I/O. A node acts only through the Env it is handed, so the same
// code runs inside the simulator and over a real transport and disk.
package paxos

import (
	"fmt"
	"strconv"
)

// NodeID names a node of the cluster: 0..N-1.
type NodeID int32

// Time is a point in time in microseconds, as the environment reports it.
type Time int64

// Duration is a span of time in microseconds.
type Duration int64

// Millisecond is a thousand microseconds.
const Millisecond Duration = 1000

// TimerID names one of a node's timers.
type TimerID uint8

// Value is a proposed or decided value. The zero Value means "none" and is
// never proposed.
type Value int64

// Ballot numbers a proposal attempt. Ballots are unique because the proposer's
// id breaks ties between equal rounds, and totally ordered.
type Ballot struct {
	Round uint32
	Node  NodeID
}

// Less orders ballots by round, then by node.
func (b Ballot) Less(o Ballot) bool {
	if b.Round != o.Round {
		return b.Round < o.Round
	}
	return b.Node < o.Node
}

// IsZero reports whether b is the ballot below every real one.
func (b Ballot) IsZero() bool { return b.Round == 0 }

func (b Ballot) String() string {
	return strconv.FormatUint(uint64(b.Round), 10) + "." + strconv.Itoa(int(b.Node))
}

// Storage is a node's disk: an append-only record log whose appends are
// volatile until Sync.
type Storage interface {
	Append(rec any)
	Sync()
	Records() []any
}

// Env is everything a node can do to the world.
type Env[M any] interface {
	ID() NodeID
	N() int
	// Now is true time; LocalNow is the node's own clock, which may be
	// skewed and drift. Only lease logic may read LocalNow.
	Now() Time
	LocalNow() Time
	Send(to NodeID, m M)
	SetTimer(t TimerID, d Duration)
	CancelTimer(t TimerID)
	Rand(n uint64) uint64
	Storage() Storage
}

// Majority is the smallest quorum of n nodes: any two intersect.
func Majority(n int) int { return n/2 + 1 }

// between draws a duration in [lo, hi] from the environment's randomness.
func between[M any](env Env[M], lo, hi Duration) Duration {
	if hi <= lo {
		return lo
	}
	return lo + Duration(env.Rand(uint64(hi-lo+1)))
}

// invariant stops the run when the protocol's own state is broken. The
// message names the node and, where there is one, the slot and ballot.
func invariant(ok bool, node NodeID, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("paxos invariant broken at node %d: %s", node, fmt.Sprintf(format, args...)))
	}
}

// Mix64 scrambles a 64-bit value; messages fold their fields with it to give
// the simulator a content hash.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// DeadLetters is what a node may promise about messages it will never act
// on. The exhaustive search takes the promises at their word and removes
// such messages from the network as soon as they are dead: delivering one
// would change nothing, so every state that differs only by it is the same
// state, and the search does not tell them apart. Each promise is about the
// node's own code and holds for the rest of its incarnation (the search
// relies on it only for nodes that can no longer crash). sim checks the
// promises against what the node does when such messages are delivered
// anyway (sim.World.VerifyDeadLetters); a promise the code does not keep
// stops the run as a broken invariant.
type DeadLetters[M any] interface {
	// Ignores: m from node from, delivered now or at any later time,
	// changes nothing here and sends nothing.
	Ignores(from NodeID, m M) bool
	// Refuses: m from node from, delivered now or later, changes nothing
	// here; all it may do is answer from.
	Refuses(from NodeID, m M) bool
	// Abandoned: this node, which sent m to node to, ignores (as Ignores
	// says) every answer to m from now on.
	Abandoned(to NodeID, m M) bool
}
