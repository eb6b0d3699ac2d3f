package checker

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppliedLogChecksAgreementPrefixesAndExactlyOnce(t *testing.T) {
	id := func(c string) (string, bool) { op, _, ok := strings.Cut(c, ":"); return op, ok && op != "noop" }
	l := NewAppliedLog[string](3, id)
	require.Nil(t, l.Applied(0, 1, "c1#1:put x", 10))
	require.Nil(t, l.Applied(1, 1, "c1#1:put x", 11))
	require.Nil(t, l.Applied(0, 2, "noop:", 12))
	require.Nil(t, l.Applied(0, 3, "noop:", 13), "no-ops are no operation: they may repeat")

	v := l.Applied(2, 2, "c1#2:put y", 14)
	require.Equal(t, "log-order", v.Kind, "replica 2 skipped index 1")
	require.Contains(t, v.Message, "should apply index 1")

	v = l.Applied(1, 2, "c2#1:put z", 15)
	require.Equal(t, "log-agreement", v.Kind)
	require.Contains(t, v.Message, "replica 1 applied c2#1:put z at index 2, where noop: was applied before")

	l.Restarted(0, 0)
	require.Nil(t, l.Applied(0, 1, "c1#1:put x", 16), "a restarted replica applies the log again from the start")
	v = l.Applied(2, 1, "c1#1:put x", 17)
	require.Nil(t, v)
	require.Nil(t, l.Applied(2, 2, "noop:", 18))
	require.Nil(t, l.Applied(2, 3, "noop:", 19))
	v = l.Applied(2, 4, "c1#1:put x", 20)
	require.Equal(t, "exactly-once", v.Kind)
	require.Contains(t, v.Message, "operation c1#1 applied at index 1 and again at index 4")

	require.Equal(t, "log-order", l.Applied(5, 1, "x", 0).Kind)
}
