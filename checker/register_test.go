package checker

import (
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

func regOp(client int, call, ret int64, in RegisterInput, out RegisterOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func TestRegisterModelJudgesReadsWritesAndCAS(t *testing.T) {
	w1 := regOp(0, 0, 10, RegisterInput{Op: RegWrite, Value: 1}, RegisterOutput{})
	for _, c := range []struct {
		name string
		ops  []porcupine.Operation
		want LinVerdict
	}{
		{"read unset before any write", []porcupine.Operation{regOp(1, 0, 5, RegisterInput{Op: RegRead}, RegisterOutput{})}, LinOk},
		{"read the write", []porcupine.Operation{w1, regOp(1, 20, 30, RegisterInput{Op: RegRead}, RegisterOutput{Value: 1, Set: true})}, LinOk},
		{"stale read after the write returned", []porcupine.Operation{w1, regOp(1, 20, 30, RegisterInput{Op: RegRead}, RegisterOutput{})}, LinIllegal},
		{"read a value nobody wrote", []porcupine.Operation{w1, regOp(1, 20, 30, RegisterInput{Op: RegRead}, RegisterOutput{Value: 7, Set: true})}, LinIllegal},
		{"cas that held", []porcupine.Operation{w1, regOp(1, 20, 30, RegisterInput{Op: RegCAS, Old: 1, Value: 2}, RegisterOutput{OK: true}),
			regOp(2, 40, 50, RegisterInput{Op: RegRead}, RegisterOutput{Value: 2, Set: true})}, LinOk},
		{"cas that claims success on the wrong value", []porcupine.Operation{w1, regOp(1, 20, 30, RegisterInput{Op: RegCAS, Old: 5, Value: 2}, RegisterOutput{OK: true})}, LinIllegal},
		{"a pending write may have happened", []porcupine.Operation{regOp(0, 0, PendingReturn, RegisterInput{Op: RegWrite, Value: 3}, RegisterOutput{Pending: true}),
			regOp(1, 20, 30, RegisterInput{Op: RegRead}, RegisterOutput{Value: 3, Set: true})}, LinOk},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := CheckOperations(RegisterModel, c.ops, time.Second)
			require.Equal(t, c.want, res.Verdict, res.Message)
			if c.want == LinIllegal {
				require.Contains(t, res.Message, "partition #1 is not linearizable")
				html, err := res.HTML()
				require.NoError(t, err)
				require.Contains(t, string(html), "<html")
			}
		})
	}
}

func TestCheckOperationsTakesAModelWithoutDescriptions(t *testing.T) {
	counter := porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, in, out any) (bool, any) {
			n := state.(int) + in.(int)
			return out.(int) == n, n
		},
	}
	ops := []porcupine.Operation{{ClientId: 0, Call: 0, Return: 1, Input: 2, Output: 2}, {ClientId: 1, Call: 2, Return: 3, Input: 1, Output: 5}}
	res := CheckOperations(counter, ops, time.Second)
	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, "1 -> 5")
}

// ExampleCheckOperations checks a register history the way Jepsen's etcd
// test does: a read that misses a write that had returned is not
// linearizable.
func ExampleCheckOperations() {
	history := []porcupine.Operation{
		{ClientId: 0, Call: 0, Return: 10, Input: RegisterInput{Op: RegWrite, Value: 1}, Output: RegisterOutput{}},
		{ClientId: 1, Call: 20, Return: 30, Input: RegisterInput{Op: RegRead}, Output: RegisterOutput{}},
	}
	res := CheckOperations(RegisterModel, history, time.Second)
	fmt.Println(res.Verdict)
	fmt.Println(res.Message)
	// Output:
	// illegal
	// partition #1 is not linearizable: after 1 of 2 ops (state 1, last client 0 write(1) [0µs, 10µs]) none of these can come next: client 1 read -> unset [20µs, 30µs]
}
