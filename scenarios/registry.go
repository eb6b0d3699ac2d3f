// Package scenarios composes the kernel, the protocol, fault plans and
// checkers into named, seeded runs. The registry is shared by tests and the
// simrun command, so a scenario name means the same thing everywhere.
package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/sim"
)

// Options are what a caller may vary about one run of a scenario.
type Options struct {
	Bugs  planted.Set
	Trace bool // record a full trace (slow path: failing seeds, replay)
	// States keeps every node's state after each of its steps in the
	// trace (sim.Line.State): replay -state and the diagram.
	States bool
	// Set overrides the scenario's declared parameters: "key=value,...".
	Set string
}

// Result is the outcome of one run.
type Result struct {
	Events    uint64
	Digest    uint64
	Violation *checker.Violation
	// Inconclusive is set when a check could not finish within its budget
	// (a linearizability search, say): neither a pass nor a violation.
	Inconclusive string
	// Params describes what the run drew (cluster size, fault families...).
	Params string
	// Settings are the parameter values the run used (Settings.String),
	// for scenarios that declare parameters; trace headers record them.
	Settings string
	// Trace is the recorded trace when Options.Trace was set.
	Trace *sim.Trace
	// Stall is where a liveness failure stopped making progress; its trace
	// file folds the futile rest into one line.
	Stall *Stall
	// Coverage is the fault×feature pairs the run reached.
	Coverage Coverage
	// Artifacts are extra files worth keeping next to a failing trace, by
	// file suffix (e.g. "history.html" for porcupine's visualization).
	Artifacts map[string][]byte
}

// Scenario is a named, seeded experiment.
type Scenario struct {
	Name    string
	Summary string
	// Run executes one run whose every decision comes from src.
	Run func(src sim.Source, opts Options) Result
	// Params are the settings Options.Set may override; Validate, when
	// set, rejects combinations of values (one line, no scenario name).
	Params   []Param
	Validate func(Settings) error
	// Machine, when set, builds the scenario's untimed world for the
	// exhaustive search (simrun check): the same nodes and checkers Run
	// steps, one enabled action per choice.
	Machine func(opts Options) (explore.Machine, error)
	// Features name the protocol states the scenario's runs report as
	// faults strike (coverage.go); Sometimes are the fault×feature pairs it
	// promises some seeds reach.
	Features  Features
	Sometimes []string
	// Legend explains the protocol's words in trace files: ballots,
	// message and timer names, what node states say.
	Legend []string
	// Hazard, when set, names the documented hazard the scenario is built
	// to show (a misconfiguration, say): its runs are expected to fail, so
	// it is left out of the default sweep and of the checks that the
	// correct protocol passes. Run it by name.
	Hazard string
	// ShrinkBudget, when set, replaces DefaultShrinkBudget for this
	// scenario's failures where no budget is given: runs whose story is
	// long (a lease outliving a partition) need more time to shrink.
	ShrinkBudget time.Duration

	builtin bool // registered by this package (Builtin)
}

var registry = map[string]*Scenario{}

// Register adds a scenario; names are unique.
func Register(s *Scenario) {
	if s.Name == "" || s.Run == nil {
		panic("scenarios: register needs a name and a run function")
	}
	if _, dup := registry[s.Name]; dup {
		panic("scenarios: duplicate scenario " + s.Name)
	}
	if err := validateSometimes(s); err != nil {
		panic("scenarios: " + err.Error())
	}
	s.builtin = !builtinsDone
	registry[s.Name] = s
}

// Unregister removes a scenario: for tests that register their own.
func Unregister(name string) { delete(registry, name) }

// Lookup finds a scenario by name.
func Lookup(name string) (*Scenario, error) {
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (simrun list shows them)", name)
}

// ShrinkBudgetFor is the shrink budget of a scenario's failures when none
// is given.
func ShrinkBudgetFor(name string) time.Duration {
	if s, err := Lookup(name); err == nil && s.ShrinkBudget > 0 {
		return s.ShrinkBudget
	}
	return DefaultShrinkBudget
}

// Defaults are the scenarios a plain sweep runs: all but hazards.
func Defaults() []*Scenario {
	var out []*Scenario
	for _, s := range All() {
		if s.Hazard == "" {
			out = append(out, s)
		}
	}
	return out
}

// All returns every scenario, sorted by name.
func All() []*Scenario {
	out := make([]*Scenario, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Parse resolves a comma-separated list of scenario names.
func Parse(list string) ([]*Scenario, error) {
	var out []*Scenario
	for _, name := range strings.Split(list, ",") {
		s, err := Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("scenario %q is named twice", s.Name)
		}
		out = append(out, s)
	}
	return out, nil
}

// BugHunt says which scenario finds a catalogued bug and within how many
// seeds it must: the catalogue's acceptance test and simrun's default.
type BugHunt struct {
	Bug      string
	Scenario string
	Seeds    int
}

var hunts = map[string]BugHunt{}

// RegisterHunt records the scenario that finds a bug.
func RegisterHunt(h BugHunt) {
	if _, ok := planted.Lookup(h.Bug); !ok {
		panic("scenarios: hunt for uncatalogued bug " + h.Bug)
	}
	hunts[h.Bug] = h
}

// HuntFor returns the scenario that finds a bug.
func HuntFor(bug string) (BugHunt, bool) {
	h, ok := hunts[bug]
	return h, ok
}
