package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/sim"
)

// withSet appends key=value settings to a -set string.
func withSet(set, more string) string {
	if set == "" {
		return more
	}
	return set + "," + more
}

// Removing dead messages loses no violation of the catalogue: each bug is
// found with and without, of the same kind, and the shortest path with
// them removed is no longer (it skips deliveries that changed nothing).
func TestDeadLettersLoseNoViolation(t *testing.T) {
	for _, h := range checkHunts {
		cfg := explore.Config{MaxStates: 2_000_000}
		collected := searchScenario(t, "single/check", h.set, h.bug, cfg)
		kept := searchScenario(t, "single/check", withSet(h.set, "collect=0"), h.bug, cfg)
		require.NotNil(t, collected.Violation, "%s %q collected: %d states", h.bug, h.set, collected.States)
		require.NotNil(t, kept.Violation, "%s %q kept: %d states", h.bug, h.set, kept.States)
		require.Equal(t, kindOf(kept.Violation), kindOf(collected.Violation), h.bug)
		require.LessOrEqual(t, len(collected.Path), len(kept.Path), h.bug)
		t.Logf("%-20s %-24q kept: %7d states, path %2d; collected: %6d states, path %2d (%s)", h.bug, h.set,
			kept.States, len(kept.Path), collected.States, len(collected.Path), kindOf(kept.Violation))
	}
}

// The promises the collection relies on hold in every state: with
// collect=0 every delivery of a message its node promised to ignore or
// refuse is checked, and the unreduced search reaches all of them. Both
// searches exhaust, safe, and collecting never adds a state.
func TestDeadLetterPromisesHold(t *testing.T) {
	for _, set := range []string{
		"",
		"rounds=2,proposers=1",
		"nodes=2,proposers=2,rounds=2",
		"proposers=1,dups=1,drops=1",
		"nodes=2,proposers=1,learners=0,learns=1,dups=1",
		"nodes=2,proposers=2,learners=0,learns=1,drops=1",
	} {
		kept := searchScenario(t, "single/check", withSet(set, "collect=0"), "", explore.Config{DFS: true})
		require.Nil(t, kept.Violation, set)
		require.True(t, kept.Complete, set)
		collected := searchScenario(t, "single/check", set, "", explore.Config{DFS: true})
		require.Nil(t, collected.Violation, set)
		require.True(t, collected.Complete, set)
		require.Less(t, collected.States, kept.States, set)
		t.Logf("%-56q kept %8d states, collected %7d", set, kept.States, collected.States)
	}
}

// Random walks with crashes and restarts: promises are relied on only once
// no crash is left, and checked on every delivery of a marked message.
func TestDeadLetterPromisesHoldOnWalks(t *testing.T) {
	sc, _ := Lookup("single/check")
	checked := uint64(0)
	for seed := uint64(1); seed <= 3000; seed++ {
		var res Result
		set := "rounds=2,crashes=1,restarts=1,drops=1,dups=1,collect=0"
		if seed%2 == 0 {
			set = "rounds=3,learners=0,learns=1,collect=0"
		}
		cw, err := newSingleCheck(sc, sim.NewPRNG(seed), Options{Set: set}, &res)
		require.NoError(t, err)
		cw.run(&res)
		require.Nil(t, res.Violation, "seed %d %s", seed, set)
		checked += cw.w.DeadLettersChecked()
	}
	require.Greater(t, checked, uint64(10_000), "deliveries of dead messages checked")
	t.Logf("%d deliveries of dead messages checked", checked)
}

// With each catalogued bug on, the promises still hold: the bugs that
// change what a node acts on make it promise less. A walk may fail with
// the bug's own violation, never with a broken promise.
func TestDeadLetterPromisesHoldUnderBugs(t *testing.T) {
	sc, _ := Lookup("single/check")
	for _, h := range checkHunts {
		checked, failed := uint64(0), 0
		for seed := uint64(1); seed <= 300; seed++ {
			var res Result
			cw, err := newSingleCheck(sc, sim.NewPRNG(seed), Options{Bugs: mustBugs(t, h.bug), Set: withSet(withSet(h.set, "rounds=2"), "collect=0")}, &res)
			require.NoError(t, err)
			cw.run(&res)
			if res.Violation != nil {
				failed++
				require.False(t, strings.Contains(res.Violation.Message, "dead-letter"), "%s seed %d: %v", h.bug, seed, res.Violation)
			}
			checked += cw.w.DeadLettersChecked()
		}
		require.Greater(t, checked, uint64(0), h.bug)
		t.Logf("%-20s %5d deliveries of dead messages checked, %3d of 300 walks failed with the bug", h.bug, checked, failed)
	}
}
