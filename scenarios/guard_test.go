package scenarios

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// A runtime error's violation names its frame the same way on every
// machine: no absolute path of the checkout, no frame offset.
func TestRuntimeErrorFrameIsMachineIndependent(t *testing.T) {
	var frame string
	func() {
		defer func() {
			recover()
			frame = firstFrame(debug.Stack())
		}()
		idx := len(strings.Repeat("x", 3)) + 10
		_ = []int{1}[idx] // a runtime error: index out of range
	}()
	require.True(t, strings.HasPrefix(frame, "scenarios/guard_test.go:"), frame)
	require.NotContains(t, frame, "+0x")
}

// The linearizability check runs after the run, outside the digest: a
// budget so small that the check cannot finish changes the verdict (to
// inconclusive), never the run's events or digest.
func TestLinearizabilityBudgetDoesNotReachTheDigest(t *testing.T) {
	sc, _ := Lookup("multi/leader-churn")
	bugs := paxos.StaleLeaderRead
	var seed uint64
	var normal Result
	found := false
	for seed = 1; seed <= 5000 && !found; seed++ {
		normal = sc.Run(sim.NewPRNG(seed), Options{Bugs: bugs})
		found = normal.Violation != nil && normal.Violation.Kind == "linearizability"
	}
	seed--
	require.True(t, found, "no seed broke linearizability")
	saved := linBudget
	linBudget = time.Nanosecond
	defer func() { linBudget = saved }()
	starved := sc.Run(sim.NewPRNG(seed), Options{Bugs: bugs})
	require.Equal(t, normal.Events, starved.Events)
	require.Equal(t, normal.Digest, starved.Digest)
	require.Nil(t, starved.Violation)
	require.NotEmpty(t, starved.Inconclusive)
}
