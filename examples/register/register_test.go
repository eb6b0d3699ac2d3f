package register

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

func TestToyRegister(t *testing.T) {
	s, err := scenarios.Lookup("toy/register")
	require.NoError(t, err)
	require.False(t, s.Builtin(), "a user's scenario is not one of Synod's own")
	for seed := uint64(1); seed <= 300; seed++ {
		res := s.Run(sim.NewPRNG(seed), scenarios.Options{})
		require.Nil(t, res.Violation, "seed %d", seed)
	}
	found := uint64(0)
	for seed := uint64(1); seed <= 100 && found == 0; seed++ {
		if s.Run(sim.NewPRNG(seed), scenarios.Options{Bugs: AckBeforeSync}).Violation != nil {
			found = seed
		}
	}
	require.NotZero(t, found, "ack-before-sync not found in 100 seeds")
	traced := s.Run(sim.NewPRNG(found), scenarios.Options{Bugs: AckBeforeSync, Trace: true})
	require.Equal(t, "linearizability", traced.Violation.Kind)
	rep, err := scenarios.Replay(scenarios.TraceFile(s.Name, found, AckBeforeSync, traced))
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	require.Equal(t, traced.Digest, rep.Result.Digest)
}
