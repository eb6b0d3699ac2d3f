package scenarios

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
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

// Every session setting written out at its default is the same run as no
// settings at all, digest for digest.
func TestSessionUnsetSettingsChangeNothing(t *testing.T) {
	for _, name := range []string{"multi/lock-sessions", "multi/election"} {
		s, err := Lookup(name)
		require.NoError(t, err)
		st, err := s.ParseSettings("")
		require.NoError(t, err)
		for _, key := range []string{"faults", "crashes", "pauses", "pause", "pausewrite", "clientcuts", "resourcecut", "extreme"} {
			require.GreaterOrEqual(t, st.index(key), 0, "%s declares no %s", name, key)
		}
		for seed := uint64(1); seed <= 8; seed++ {
			plain := s.Run(sim.NewPRNG(seed), Options{})
			full := s.Run(sim.NewPRNG(seed), Options{Set: st.All()})
			require.Equal(t, plain.Digest, full.Digest, "%s seed %d", name, seed)
			require.Equal(t, plain.Params, full.Params)
		}
	}
}

// The fault plan, the pauses and the client cuts are settings that reach
// the run; clock bounds that leave a client no lease view are refused.
func TestSessionSettingsReachTheRun(t *testing.T) {
	s, err := Lookup("multi/lock-sessions")
	require.NoError(t, err)
	trace := func(seed uint64, set string) (Result, string) {
		res := s.Run(sim.NewPRNG(seed), Options{Set: set, Trace: true})
		require.Nil(t, res.Violation, "seed %d set %s", seed, set)
		require.Empty(t, res.Inconclusive)
		var buf bytes.Buffer
		require.NoError(t, TraceFile(s.Name, seed, 0, res).Write(&buf))
		return res, buf.String()
	}
	var paused, cut bool
	for seed := uint64(1); seed <= 10; seed++ {
		res, text := trace(seed, "faults=none,pauses=0,clientcrashes=0,clientcuts=0,leadercuts=0,clocksteps=0")
		require.Contains(t, res.Params, "faults=none")
		require.NotRegexp(t, `fault (pause|crash|restart|cut|partition|client n\d+ will pause)`, text)

		_, text = trace(seed, "pauses=6,pause=50ms,pausewrite=1,clientcuts=4,resourcecut=1,window=1s")
		require.NotContains(t, text, "fault pause client", "pausewrite=1: every pause waits for a decided write")
		require.NotContains(t, text, "off from the cluster", "resourcecut=1: every client cut is from the resource")
		cut = cut || strings.Contains(text, "off from the resource")
		paused = paused || strings.Contains(text, "will pause for")
		for _, ms := range regexp.MustCompile(`will pause for (\d+)ms`).FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(ms[1])
			require.LessOrEqual(t, n, 50, "pause=50ms")
		}
	}
	require.True(t, paused && cut, "ten seeds, up to six pauses and four cuts each: none paused or none cut")
	_, err = s.ParseSettings("lease=20ms,skew=10ms")
	require.ErrorContains(t, err, "no lease view")
}
