package scenarios_test

import (
	"fmt"

	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// ExampleSweep runs a scenario over a range of seeds on every core: the
// digest sums the runs' digests, so it is the same for any worker count.
func ExampleSweep() {
	s, _ := scenarios.Lookup("single/dueling")
	sum := (&scenarios.Sweep{Scenarios: []*scenarios.Scenario{s}, First: 1, Count: 200, Bugs: paxos.AcceptLowerBallot}).Run()
	fmt.Println(sum.Runs, "runs,", len(sum.Failures) > 0, "that some fail")
	again := (&scenarios.Sweep{Scenarios: []*scenarios.Scenario{s}, First: 1, Count: 200, Bugs: paxos.AcceptLowerBallot, Workers: 1}).Run()
	fmt.Println("same digest on one worker:", again.Digest == sum.Digest)
	// Output:
	// 200 runs, true that some fail
	// same digest on one worker: true
}

// ExampleReplay writes a failing run as a trace file and re-executes it:
// every event and every header claim must match.
func ExampleReplay() {
	s, _ := scenarios.Lookup("single/dueling")
	res := s.Run(sim.NewPRNG(1), scenarios.Options{Bugs: paxos.AcceptLowerBallot, Trace: true})
	rep, err := scenarios.Replay(scenarios.TraceFile(s.Name, 1, paxos.AcceptLowerBallot, res))
	fmt.Println(err, rep.Divergence == "", rep.Result.Violation.Kind)
	// Output: <nil> true chosen-value
}

// ExampleShrinkFile shrinks a failing trace: a run with fewer events and
// choices that still breaks the same property.
func ExampleShrinkFile() {
	s, _ := scenarios.Lookup("single/dueling")
	res := s.Run(sim.NewPRNG(1), scenarios.Options{Bugs: paxos.AcceptLowerBallot, Trace: true})
	sh, err := scenarios.ShrinkFile(scenarios.TraceFile(s.Name, 1, paxos.AcceptLowerBallot, res), scenarios.ShrinkOptions{MaxRuns: 2000})
	fmt.Println(err, sh.Kind, sh.After.Events < sh.Before.Events)
	// Output: <nil> chosen-value true
}

// ExampleCheckDeterminism runs one seed twice and compares the runs: nil
// means they were the same, event for event.
func ExampleCheckDeterminism() {
	s, _ := scenarios.Lookup("multi/kv")
	fmt.Println(scenarios.CheckDeterminism(s, 7, 0) == nil)
	// Output: true
}

// ExampleCheck searches every schedule of a bounded configuration: here
// single-decree Paxos with one proposer, small enough to finish at once.
func ExampleCheck() {
	s, _ := scenarios.Lookup("single/check")
	got, err := scenarios.Check(s, scenarios.Options{Set: "proposers=1"}, explore.Config{})
	fmt.Println(err, got.Complete, got.Violation)
	bug, _ := scenarios.Check(s, scenarios.Options{Set: "proposers=1", Bugs: paxos.MinorityQuorum}, explore.Config{})
	fmt.Println(bug.Violation != nil, len(bug.Path), "actions to the violation")
	// Output:
	// <nil> true <nil>
	// true 2 actions to the violation
}
