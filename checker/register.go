package checker

import (
	"fmt"
	"math"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// RegisterOp is an operation on one register, the model of Jepsen's etcd
// tests: read, write, or compare-and-set.
type RegisterOp uint8

const (
	RegRead RegisterOp = iota + 1
	RegWrite
	RegCAS
)

// RegisterInput is what a client asked of the register.
type RegisterInput struct {
	Op    RegisterOp
	Value int // write: the value written; cas: the new value
	Old   int // cas: the value expected
}

// RegisterOutput is what the register answered: Value for a read (Set
// false: never written), OK for a cas. Pending marks an operation that
// never returned: it may have taken effect or not.
type RegisterOutput struct {
	Value   int
	Set     bool
	OK      bool
	Pending bool
}

// registerState is the register's value; set is false until the first
// write.
type registerState struct {
	value int
	set   bool
}

// RegisterModel is porcupine's model of one register holding an int,
// unwritten at first: a read returns the value (or "unset"), a write sets
// it, a cas sets it only if it holds Old and says whether it did. Use it
// with CheckOperations or with porcupine directly; operations carry
// RegisterInput and RegisterOutput.
var RegisterModel = porcupine.Model{
	Init: func() any { return registerState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(registerState), input.(RegisterInput), output.(RegisterOutput)
		switch in.Op {
		case RegRead:
			return out.Pending || (out.Set == st.set && (!st.set || out.Value == st.value)), st
		case RegWrite:
			return true, registerState{value: in.Value, set: true}
		case RegCAS:
			if st.set && st.value == in.Old {
				return out.Pending || out.OK, registerState{value: in.Value, set: true}
			}
			return out.Pending || !out.OK, st
		}
		panic(fmt.Sprintf("checker: register model given op %d", in.Op))
	},
	Equal: func(a, b any) bool { return a.(registerState) == b.(registerState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(RegisterInput), output.(RegisterOutput)
		var op string
		switch in.Op {
		case RegRead:
			op = "read"
		case RegWrite:
			op = "write(" + strconv.Itoa(in.Value) + ")"
		case RegCAS:
			op = "cas(" + strconv.Itoa(in.Old) + ", " + strconv.Itoa(in.Value) + ")"
		}
		switch {
		case out.Pending:
			return op + " -> ?"
		case in.Op == RegRead && !out.Set:
			return op + " -> unset"
		case in.Op == RegRead:
			return op + " -> " + strconv.Itoa(out.Value)
		case in.Op == RegCAS:
			return op + " -> " + strconv.FormatBool(out.OK)
		}
		return op
	},
	DescribeState: func(state any) string {
		if st := state.(registerState); st.set {
			return strconv.Itoa(st.value)
		}
		return "unset"
	},
}

// KVModel is the key-value store's model (CheckKV's), for operations that
// carry *Input and *Output: a register per key holding a string, "" until
// written; get, put, append, cas. It partitions by key.
var KVModel = kvModel

// PendingReturn is the return time of an operation that never returned,
// for histories given to CheckOperations.
const PendingReturn = int64(math.MaxInt64)
