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
		var m map[string]int
		m["x"]++ // a runtime error
	}()
	require.True(t, strings.HasPrefix(frame, "scenarios/guard_test.go:"), frame)
	require.NotContains(t, frame, "+0x")
}
