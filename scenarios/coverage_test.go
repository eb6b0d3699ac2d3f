package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
)

func TestCoveragePairsNameFaultsAndFeatures(t *testing.T) {
	fs := Features{"leader", "lease"}
	bit, ok := fs.pairBit("crash×lease")
	require.True(t, ok)
	require.Equal(t, "crash×lease", fs.pairName(bit))
	for _, bad := range []string{"crash", "crash×nothing", "meteor×leader", "×leader"} {
		_, ok := fs.pairBit(bad)
		require.False(t, ok, bad)
	}
	require.Equal(t, []string{"crash×a", "crash×b", "dup×a", "dup×b"}, cross("crash dup", "a b"))
	require.Error(t, validateSometimes(&Scenario{Name: "x", Features: fs, Sometimes: []string{"crash×quorum"}}))
	require.NoError(t, validateSometimes(&Scenario{Name: "x", Features: fs, Sometimes: []string{"clock×lease"}}))
}

// A fault records every feature that holds as it strikes; a sweep counts
// seeds, not strikes; a declared pair no seed reached is missing once the
// sweep is long enough to judge, and not before.
func TestCoverageCountsSeedsAndFindsWhatIsMissing(t *testing.T) {
	rec := coverageRecorder{features: func(f sim.Fault, node, peer sim.NodeID) uint64 {
		if f == sim.FaultCrash {
			return 0b11
		}
		return 0b10
	}}
	rec.onFault(sim.FaultCrash, 0, 0)
	rec.onFault(sim.FaultCrash, 1, 1)
	rec.onFault(sim.FaultDrop, 1, 2)
	require.Equal(t, coverPair(sim.FaultCrash, 0)|coverPair(sim.FaultCrash, 1)|coverPair(sim.FaultDrop, 1), rec.cov)

	s := &Scenario{Name: "test/coverage", Run: func(sim.Source, Options) Result { return Result{} },
		Features: Features{"leader", "lease"}, Sometimes: []string{"crash×leader", "dup×lease"}}
	Register(s)
	t.Cleanup(func() { delete(registry, s.Name) })

	var sum Summary
	for i := 0; i < MinCoverageSeeds-1; i++ {
		sum.cover(s.Name, rec.cov)
	}
	reps := sum.CoverageReports()
	require.Len(t, reps, 1)
	require.True(t, reps[0].Unjudged)
	require.Empty(t, reps[0].Missing, "too few seeds to judge")

	var more Summary
	more.cover(s.Name, 0)
	sum.Merge(more)
	rep := sum.CoverageReports()[0]
	require.False(t, rep.Unjudged)
	require.Equal(t, uint64(MinCoverageSeeds), rep.Runs)
	require.Equal(t, []string{"dup×lease"}, rep.Missing)
	for _, p := range rep.Pairs {
		switch p.Pair {
		case "crash×leader":
			require.True(t, p.Declared)
			require.Equal(t, uint64(MinCoverageSeeds-1), p.Seeds)
		case "drop×lease":
			require.False(t, p.Declared)
			require.Equal(t, uint64(MinCoverageSeeds-1), p.Seeds)
		case "dup×lease":
			require.True(t, p.Declared)
			require.Zero(t, p.Seeds)
		}
	}
}
