package scenarios

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
