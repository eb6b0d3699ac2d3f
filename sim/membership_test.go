package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A dormant node stays down through Boot, Restart and a heal's restarts,
// and messages to it are lost; Join starts it with an empty disk; a node
// that leaves for good is never started again.
func TestDormantJoinAndLeave(t *testing.T) {
	w := newPingWorld(3, 4)
	tr := w.Trace()
	w.Dormant(3)
	w.Boot()
	require.True(t, w.Up(0))
	require.False(t, w.Up(3))
	require.False(t, w.Joined(3))
	w.Restart(3) // a fault plan's heal
	require.False(t, w.Up(3), "Restart must not start a dormant node")
	for i := 0; i < 200 && w.Step(); i++ {
	}
	w.Join(3)
	require.True(t, w.Up(3))
	require.True(t, w.Joined(3))
	require.Panics(t, func() { w.Join(3) }, "joining twice")

	w.Leave(1)
	require.False(t, w.Up(1))
	require.True(t, w.Gone(1))
	w.Restart(1)
	require.False(t, w.Up(1), "a node that left is never restarted")
	for i := 0; i < 200 && w.Step(); i++ {
	}
	require.False(t, w.Up(1))
	var texts []string
	for _, l := range tr.Lines() {
		texts = append(texts, l.Text)
	}
	text := strings.Join(texts, "\n")
	require.Contains(t, text, "join n3")
	require.Contains(t, text, "leave n1 for good")
}

// Join and Leave are part of the digest; a world that uses neither runs
// exactly as before.
func TestJoinIsInTheDigest(t *testing.T) {
	run := func(join bool) uint64 {
		w := newPingWorld(5, 3)
		w.Dormant(2)
		w.Boot()
		for i := 0; i < 50 && w.Step(); i++ {
		}
		if join {
			w.Join(2)
		}
		for i := 0; i < 50 && w.Step(); i++ {
		}
		return w.Digest()
	}
	require.Equal(t, run(true), run(true))
	require.NotEqual(t, run(true), run(false))
}
