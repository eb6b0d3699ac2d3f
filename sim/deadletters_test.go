package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// letter is a ping (1) or the answer to one (2).
type letter uint64

func (l letter) Hash() uint64   { return Mix64(uint64(l)) }
func (l letter) String() string { return [...]string{"?", "ping", "answer"}[l] }

// closer takes the first ping it gets and refuses every later one with an
// answer; it ignores answers to its own pings. A liar breaks one promise.
type closer struct {
	env    *Env[letter]
	closed bool
	got    uint64
	lie    string // "": honest; "refusal": counts refused pings; "answer": counts answers
}

func (n *closer) Start() { n.env.SetTimer(0, Second) }

func (n *closer) Timeout(TimerID) {
	for i := 0; i < n.env.N(); i++ {
		if NodeID(i) != n.env.ID() {
			n.env.Send(NodeID(i), 1)
		}
	}
}

func (n *closer) Receive(from NodeID, m letter) {
	switch {
	case m == 2:
		if n.lie == "answer" {
			n.got++
		}
	case n.closed:
		if n.lie == "refusal" {
			n.got++
		}
		n.env.Send(from, 2)
	default:
		n.closed = true
		n.got++
	}
}

func (n *closer) Ignores(from NodeID, m letter) bool { return m == 2 }
func (n *closer) Refuses(from NodeID, m letter) bool { return m == 1 && n.closed }
func (n *closer) Abandoned(to NodeID, m letter) bool { return true }
func (n *closer) Fingerprint() uint64                { return Mix64(n.got<<1 | b2u(n.closed)) }
func (n *closer) Clone(env *Env[letter], into Node[letter]) Node[letter] {
	c, _ := into.(*closer)
	if c == nil {
		c = new(closer)
	}
	*c = *n
	c.env = env
	return c
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// closerWorld is three closers, each of whose timers fires once.
func closerWorld(lie string, b Bounds) *World[letter] {
	w := NewWorld(3, NewPRNG(1), func(env *Env[letter]) Node[letter] { return &closer{env: env, lie: lie} })
	b.Fires = fires(3, 0, 1)
	w.Untimed(b)
	return w
}

// reachable explores every state of w (small) and returns the number of
// distinct fingerprints, or the first panic.
func reachable(w *World[letter]) (states int, broke string) {
	seen := map[uint64]bool{w.Fingerprint(): true}
	stack := []*Snapshot[letter]{w.Save()}
	defer func() {
		if r := recover(); r != nil {
			broke = fmt.Sprint(r)
		}
	}()
	for len(stack) > 0 {
		snap := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		w.Load(snap)
		for i := range w.Enabled() {
			w.Load(snap)
			w.Do(w.Enabled()[i])
			if fp := w.Fingerprint(); !seen[fp] {
				seen[fp] = true
				stack = append(stack, w.Save())
			}
		}
	}
	return len(seen), ""
}

func TestCollectDeadRemovesDeadMessages(t *testing.T) {
	kept := closerWorld("", Bounds{})
	kept.VerifyDeadLetters()
	kept.Boot()
	all, broke := reachable(kept)
	require.Empty(t, broke, "honest promises")

	w := closerWorld("", Bounds{})
	w.CollectDead()
	w.Boot()
	// Node 0 pings 1 and 2, node 1 pings 0 and 2: node 2 takes 0's ping,
	// so 1's ping to it is refused with an answer 1 ignores: dead.
	do := func(kind ActionKind, node, from NodeID) {
		for _, a := range w.Enabled() {
			if a.Kind == kind && a.Node == node && (kind != ActDeliver || a.From == from) {
				w.Do(a)
				return
			}
		}
		t.Fatalf("no %v at node %d from %d among %v", kind, node, from, w.Enabled())
	}
	do(ActTimer, 0, 0)
	do(ActTimer, 1, 1)
	require.Len(t, w.un.flights, 4)
	do(ActDeliver, 2, 0)
	require.Len(t, w.un.flights, 2, "1's ping to the closed node 2 is dead")
	for _, f := range w.un.flights {
		require.NotEqual(t, NodeID(2), f.to)
	}
	collected, broke := reachable(closerWorld("", Bounds{}).collected())
	require.Empty(t, broke)
	require.Less(t, collected, all, "collecting merges states")
	t.Logf("%d states with dead letters kept, %d collected", all, collected)
}

func (w *World[M]) collected() *World[M] {
	w.CollectDead()
	w.Boot()
	return w
}

// A broken promise is caught whether dead letters are kept (checked when
// delivered) or collected (delivered, checked, then removed).
func TestDeadLettersCatchABrokenPromise(t *testing.T) {
	for _, lie := range []string{"refusal", "answer"} {
		for _, collect := range []bool{false, true} {
			w := closerWorld(lie, Bounds{})
			if collect {
				w.CollectDead()
			} else {
				w.VerifyDeadLetters()
			}
			w.Boot()
			_, broke := reachable(w)
			require.True(t, strings.HasPrefix(broke, "dead-letter promise broken at node"), "%s collect=%v: %q", lie, collect, broke)
			t.Log(broke)
		}
	}
}

func TestDeadLettersWaitForTheLastCrash(t *testing.T) {
	// A node that may still crash and restart promises nothing for its
	// next incarnation: nothing is collected while crashes are left.
	w := closerWorld("", Bounds{Crashes: 1})
	w.CollectDead()
	w.Boot()
	for _, n := range []NodeID{0, 1} {
		for _, a := range w.Enabled() {
			if a.Kind == ActTimer && a.Node == n {
				w.Do(a)
				break
			}
		}
	}
	for _, a := range w.Enabled() {
		if a.Kind == ActDeliver && a.Node == 2 && a.From == 0 {
			w.Do(a)
			break
		}
	}
	require.Len(t, w.un.flights, 3, "dead, but node 2 may still crash")
}
