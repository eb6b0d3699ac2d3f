package scenarios

// builtinsDone is set by this package's last init (files initialize in
// name order, and this is the last name): scenarios registered before it
// are Synod's own, which the seed tests of this package can rerun; those a
// user's package registers later are rerun by simrun itself.
var builtinsDone bool

func init() { builtinsDone = true }

// Builtin reports whether the scenario is one of Synod's own (go test
// ./scenarios can rerun its seeds) rather than a user's.
func (s *Scenario) Builtin() bool { return s.builtin }
