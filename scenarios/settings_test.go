package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

func TestSettingsReadUnits(t *testing.T) {
	s, err := Lookup("multi/kv")
	require.NoError(t, err)
	st, err := s.ParseSettings("window=2s,think=1500us,election=250ms,loss=2%,dup=0.05,delay=20000ppm,faults=crash+loss,extreme=on")
	require.NoError(t, err)
	require.Equal(t, int64(2*sim.Second), st.Get("window"))
	require.Equal(t, int64(1500), st.Get("think"))
	require.Equal(t, int64(250*sim.Millisecond), st.Get("election"))
	require.Equal(t, int64(20_000), st.Get("loss"))
	require.Equal(t, int64(50_000), st.Get("dup"))
	require.Equal(t, int64(20_000), st.Get("delay"))
	require.Equal(t, int64(faults.Crash|faults.Loss), st.Get("faults"))
	require.Equal(t, int64(1), st.Get("extreme"))
	// What String writes, ParseSettings reads back to the same values.
	again, err := s.ParseSettings(st.String())
	require.NoError(t, err)
	require.Equal(t, st.String(), again.String())
	require.Contains(t, st.String(), "loss=0.02,")
	require.NotContains(t, st.String(), "replicas=", "a drawn setting left unset is not recorded: the run draws it")

	for text, want := range map[string]string{
		"window=2 s":       "want a duration",
		"loss=0.9":         "want a rate",
		"faults=crash+ice": "want fault families",
		"extreme=2":        "want 0 or 1",
		"replicas=0":       "want an integer in [1, 9]",
		"keys=0,locks=0":   "nothing to do",
		"bogus=1":          "has no setting",
	} {
		_, err := s.ParseSettings(text)
		require.ErrorContains(t, err, want, text)
		require.NotContains(t, err.Error(), "\n")
	}
}

// TestSetChangesTheRun: a setting reaches the run (its params say so), a
// drawn one is fixed in every run, and a family set to 0 is gone.
func TestSetChangesTheRun(t *testing.T) {
	crash, err := Lookup("single/crash")
	require.NoError(t, err)
	kv, err := Lookup("multi/kv")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 20; seed++ {
		res := crash.Run(sim.NewPRNG(seed), Options{Set: "nodes=7,proposers=3,crashes=2,down=5ms"})
		require.Nil(t, res.Violation)
		require.Contains(t, res.Params, "nodes=7 proposers=3 ")
		require.Contains(t, res.Params, "crashes=2 down=")
		require.Contains(t, res.Params, "-5000µs")

		res = crash.Run(sim.NewPRNG(seed), Options{Set: "crashes=0"})
		require.Contains(t, res.Params, "faults=none", "crashes=0 switches the only family off")

		res = kv.Run(sim.NewPRNG(seed), Options{Set: "replicas=3,clients=2,loss=0.02,dup=0,extreme=0,ops=20"})
		require.Nil(t, res.Violation)
		require.Contains(t, res.Params, "replicas=3 clients=2 ")
		require.Contains(t, res.Params, "drop=20000ppm")
		require.NotContains(t, res.Params, "dup=")
		require.NotContains(t, res.Params, "timing=extreme")
		require.LessOrEqual(t, opsOf(t, res.Params), 20)
	}
}

func opsOf(t *testing.T, params string) int {
	for _, f := range strings.Fields(params) {
		if v, ok := strings.CutPrefix(f, "ops="); ok {
			n := 0
			for _, c := range v {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	t.Fatalf("no ops in %q", params)
	return 0
}

// TestUnsetSettingsChangeNothing: every fixed default written out is the
// same run as no settings at all, digest for digest.
func TestUnsetSettingsChangeNothing(t *testing.T) {
	for _, name := range []string{"single/swarm", "single/crash", "multi/kv", "multi/swarm"} {
		s, err := Lookup(name)
		require.NoError(t, err)
		st, err := s.ParseSettings("")
		require.NoError(t, err)
		require.Empty(t, st.String(), "nothing given, nothing recorded")
		for seed := uint64(1); seed <= 5; seed++ {
			plain := s.Run(sim.NewPRNG(seed), Options{})
			full := s.Run(sim.NewPRNG(seed), Options{Set: st.All()})
			require.Equal(t, plain.Digest, full.Digest, "%s seed %d", name, seed)
			require.Equal(t, plain.Params, full.Params)
		}
	}
}

// TestSetReplaysFromTheHeaderAlone: a trace of a run with settings records
// them, and replay needs nothing else.
func TestSetReplaysFromTheHeaderAlone(t *testing.T) {
	s, err := Lookup("single/dueling")
	require.NoError(t, err)
	const set = "nodes=5,proposers=5,latency=20ms,retry=3ms"
	res := s.Run(sim.NewPRNG(3), Options{Set: set, Trace: true, Bugs: mustBug(t, "dup-ballot")})
	f := TraceFile(s.Name, 3, mustBug(t, "dup-ballot"), res)
	got, ok := f.Get("set")
	require.True(t, ok)
	require.Contains(t, got, "nodes=5,proposers=5,")
	require.Contains(t, got, "latency=20ms,retry=3ms")
	rep, err := Replay(f)
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	require.Equal(t, res.Digest, rep.Result.Digest)

	// Without the set line the same choices are another run.
	var header []sim.Field
	for _, h := range f.Header {
		if h.Key != "set" {
			header = append(header, h)
		}
	}
	f.Header = header
	rep, err = Replay(f)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Divergence)
}

func mustBug(t *testing.T, name string) paxos.Bugs {
	b, err := paxos.ParseBugs(name)
	require.NoError(t, err)
	return b
}
