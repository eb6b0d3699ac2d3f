package scenarios

import (
	"os"
	"testing"
)

// TestMain gives every run's linearizability check ten times simrun's
// wall-clock budget: go test runs packages side by side on a loaded
// machine, and a check starved of CPU would end inconclusive, failing a
// test for the machine's sake rather than the protocol's. (A check that
// runs out is still inconclusive, never a pass.)
func TestMain(m *testing.M) {
	linBudget = 10 * linBudget
	os.Exit(m.Run())
}
