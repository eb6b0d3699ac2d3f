package scenarios

import (
	"strings"
	"testing"
	"time"

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
// scenario as a violation of the log's invariants (none of them as a mere
// stall), and replay.
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
		require.NotNil(t, res.Violation)
		require.NotEqual(t, "liveness", res.Violation.Kind, "%s: %v", name, res.Violation)
		t.Logf("%s: seed %d: %v", name, seed, res.Violation)
	}
}

// Bug reconfig-old-quorum (a leader keeps counting the quorum of the
// configuration it was elected in after a change took effect) is a safety
// violation in multi/reconfig and in multi/swarm's reconfiguring runs: a
// decision in a slot of the new configuration that no majority of it
// accepted. Its shrunk trace (a run budget: the same on any machine) is
// short and still shows the change and the decision.
func TestReconfigOldQuorumIsUnsafe(t *testing.T) {
	b, ok := paxos.LookupBug("reconfig-old-quorum")
	require.True(t, ok)
	for _, name := range []string{"multi/reconfig", "multi/swarm"} {
		s, err := Lookup(name)
		require.NoError(t, err)
		seed := firstFailingSeed(s, b.Bug, 2_000)
		require.NotZero(t, seed, "%s: not found in 2,000 seeds", name)
		res := s.Run(sim.NewPRNG(seed), Options{Bugs: b.Bug})
		require.NotNil(t, res.Violation)
		require.Equal(t, "unchosen-decision", res.Violation.Kind, "%s seed %d: %v", name, seed, res.Violation)
		require.Regexp(t, `slot \d+'s acceptors are e[1-9]`, res.Violation.Message, "a slot a later configuration governs")
		require.Nil(t, s.Run(sim.NewPRNG(seed), Options{}).Violation, "%s seed %d passes without the bug", name, seed)
		t.Logf("%s: seed %d: %v", name, seed, res.Violation)
	}

	h, ok := HuntFor("reconfig-old-quorum")
	require.True(t, ok)
	s, seed, res := firstFailure(t, h, b.Bug)
	sh, err := Shrink(s, seed, b.Bug, consumed(res.Trace.Choices()), ShrinkOptions{MaxRuns: 4_000, Budget: 5 * time.Minute})
	require.NoError(t, err)
	t.Logf("%s seed %d: %s", s.Name, seed, sh)
	require.Equal(t, "unchosen-decision", sh.Kind)
	require.LessOrEqual(t, sh.After.Events, 150)
	rep, err := Replay(sh.File)
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	var text []string
	for _, l := range rep.Result.Trace.Lines() {
		text = append(text, l.Text)
	}
	all := strings.Join(text, "\n")
	require.Regexp(t, `config epoch=1 members=\{[n0-9,]+\} chosen in slot \d+, governs from slot \d+`, all)
	require.Contains(t, all, "violation unchosen-decision")
}
