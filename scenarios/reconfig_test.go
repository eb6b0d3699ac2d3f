package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// The correct protocol survives membership changes under faults, and is
// live after the heal: every change answered, every member holding the
// configuration the log ends with, every client served. A few hundred
// seeds by default; -synod.seeds runs thousands.
func TestCorrectReconfigurationSurvives(t *testing.T) {
	requireSweepPasses(t, "multi/reconfig", 300)
}

func TestCorrectReplacementSurvives(t *testing.T) {
	requireSweepPasses(t, "multi/replace", 300)
}

// A replacement run tells its story in the trace: the victim leaves for
// good, the spare joins, and the configuration that replaces one with the
// other is chosen and governs α slots later.
func TestReplaceTraceRecordsTheMembership(t *testing.T) {
	s, err := Lookup("multi/replace")
	require.NoError(t, err)
	res := s.Run(sim.NewPRNG(1), Options{Trace: true})
	require.Nil(t, res.Violation)
	var text []string
	for _, l := range res.Trace.Lines() {
		text = append(text, l.Text)
	}
	all := strings.Join(text, "\n")
	require.Contains(t, all, "for good")
	require.Contains(t, all, "join n")
	require.Regexp(t, `config epoch=1 members=\{[n0-9,]+\} chosen in slot \d+, governs from slot \d+`, all)
}

// With reconfiguration on, the bugs that break it are found by their
// scenario; every one of them names a violation of the log's invariants
// (or, for reconfig-old-quorum, its stall), and replays.
func TestReconfigBugsAreFound(t *testing.T) {
	for _, name := range []string{"reconfig-immediate", "reconfig-concurrent", "reconfig-join-uncaught", "reconfig-old-quorum"} {
		b, ok := paxos.LookupBug(name)
		require.True(t, ok)
		h, ok := HuntFor(name)
		require.True(t, ok)
		s, err := Lookup(h.Scenario)
		require.NoError(t, err)
		seed := firstFailingSeed(s, b.Bug, uint64(h.Seeds))
		require.NotZero(t, seed, "%s not found", name)
		res := s.Run(sim.NewPRNG(seed), Options{Bugs: b.Bug})
		t.Logf("%s: seed %d: %v", name, seed, res.Violation)
	}
}
