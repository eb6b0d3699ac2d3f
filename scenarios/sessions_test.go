package scenarios

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// The correct lock service with sessions survives its scenarios: clients
// crash and come back, pause past their lease, drift and are cut off from
// the cluster and from the resource; replicas crash, partition and lose
// messages; the leader is cut off. No write the resource accepts is a
// zombie's, no session expires while its lease was promised, and once
// everything heals the gone holders' locks are free again (multi/election:
// a live candidate is primary and writing). A thousand seeds each, so that
// the fault×feature pairs each promises are judged (at least 1% of the
// seeds reach every one). SYNOD_SEEDS runs more.
func TestCorrectSessionsSurviveLockSessions(t *testing.T) {
	requireSweepPasses(t, "multi/lock-sessions", 1000)
}

func TestCorrectSessionsSurviveElection(t *testing.T) {
	requireSweepPasses(t, "multi/election", 1000)
}

// Each session bug, shrunk, still shows its story: the pause or the cut
// that set it up and, for the resource's bugs, the write the resource
// should have refused. Shrinking takes about twenty seconds a bug, so it
// runs with -synod.shrink-all (env SYNOD_SHRINK_ALL=1):
//
//	go test ./scenarios -run TestSessionBugsShrinkToTheirStory -synod.shrink-all -v
func TestSessionBugsShrinkToTheirStory(t *testing.T) {
	if !*flagShrinkAll && os.Getenv("SYNOD_SHRINK_ALL") == "" {
		t.Skip("shrinking the session bugs takes minutes: -synod.shrink-all")
	}
	for _, name := range []string{"no-fencing-check", "expire-early", "client-ignores-jeopardy", "keepalive-not-replicated"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, ok := paxos.LookupBug(name)
			require.True(t, ok)
			h, ok := HuntFor(name)
			require.True(t, ok)
			s, seed, res := firstFailure(t, h, b.Bug)
			sh, err := ShrinkFile(TraceFile(s.Name, seed, b.Bug, res), ShrinkOptions{Budget: 5 * time.Minute})
			require.NoError(t, err)
			t.Logf("%s: %s seed %d %s", name, s.Name, seed, sh)
			require.Equal(t, res.Violation.Kind, sh.Kind)
			require.LessOrEqual(t, sh.After.Events, 150)

			var buf bytes.Buffer
			require.NoError(t, sh.File.Write(&buf))
			text := buf.String()
			require.Regexp(t, `fault (pause client|client n\d+ will pause|cut client|cut the leader|partition)`, text, "the shrunk trace shows no pause or cut")
			if sh.Kind == "zombie-write" || sh.Kind == "expired-holder-write" {
				require.Contains(t, text, "resource accepts", "the shrunk trace shows no accepted write")
			}
			file, err := sim.ReadFile(&buf)
			require.NoError(t, err)
			rep, err := Replay(file)
			require.NoError(t, err)
			require.Empty(t, rep.Divergence)
			require.Equal(t, sh.Kind, rep.Result.Violation.Kind)
		})
	}
}

// A pause defers a client's timers and mail: a holder that decided a write
// and paused sends it late, and the fencing resource refuses it once its
// successor wrote. The same seed with the resource's check off accepts it.
func TestSessionZombieWriteIsRefusedByFencing(t *testing.T) {
	h, ok := HuntFor("no-fencing-check")
	require.True(t, ok)
	b, _ := paxos.LookupBug("no-fencing-check")
	s, seed, res := firstFailure(t, h, b.Bug)
	require.Equal(t, "zombie-write", res.Violation.Kind)
	correct := s.Run(sim.NewPRNG(seed), Options{Trace: true})
	require.Nil(t, correct.Violation, "seed %d without the bug", seed)
	var buf bytes.Buffer
	require.NoError(t, TraceFile(s.Name, seed, 0, correct).Write(&buf))
	require.True(t, strings.Contains(buf.String(), "resource refuses"), "seed %d: no write refused by fencing", seed)
}
