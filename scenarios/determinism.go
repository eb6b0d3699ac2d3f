package scenarios

import (
	"fmt"

	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/sim"
)

// Determinism is checked, not assumed. A seed is run twice and the two
// runs compared by digest (every event, its time and its message folded in),
// event count and verdict: the cheap check, fit for every seed of a sweep.
// Only when they differ are both runs made again with the trace on, to name
// the first event where they part.

// Divergence says how two runs of one seed differed.
type Divergence struct {
	Scenario string
	Seed     uint64
	Bugs     planted.Set
	Digests  [2]uint64 // of the two untraced runs
	Events   [2]uint64
	// Line is the line of the first traced run's file where the two traced
	// runs first differ (numbered as simrun replay numbers them), and Event
	// the two lines there ("" past the end of a run). Line is 0 when the
	// traced runs agreed: the difference came and went.
	Line  int
	Event [2]string
	At    sim.Time // the time of the first differing line, if any
	// Files are the traces of the two traced runs.
	Files [2]*sim.File
}

func (d *Divergence) Error() string {
	head := fmt.Sprintf("%s seed %d ran differently twice (digests %016x and %016x, %d and %d events)",
		d.Scenario, d.Seed, d.Digests[0], d.Digests[1], d.Events[0], d.Events[1])
	if d.Line == 0 {
		return head + "; two traced re-runs then agreed, so the difference depends on something outside the seed that comes and goes (timing, tracing, the Go scheduler)"
	}
	show := func(s string) string {
		if s == "" {
			return "(the run had ended)"
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%s; traced re-runs first differ at trace line %d: run 1 %s, run 2 %s",
		head, d.Line, show(d.Event[0]), show(d.Event[1]))
}

// SameRun reports whether two results of one seed are indistinguishable.
func SameRun(a, b Result) bool {
	return a.Digest == b.Digest && a.Events == b.Events && a.Inconclusive == b.Inconclusive &&
		SameViolation(a.Violation, b.Violation)
}

// CheckDeterminism runs a seed twice. It returns nil when the runs agree,
// else where they part.
func CheckDeterminism(s *Scenario, seed uint64, bugs planted.Set) *Divergence {
	a := s.Run(sim.NewPRNG(seed), Options{Bugs: bugs})
	b := s.Run(sim.NewPRNG(seed), Options{Bugs: bugs})
	if SameRun(a, b) {
		return nil
	}
	return explainDivergence(s, seed, Strategy{}, Options{Bugs: bugs}, a, b)
}

// explainDivergence runs a seed twice more with the trace on and names the
// first line where the traces differ.
func explainDivergence(s *Scenario, seed uint64, st Strategy, opts Options, a, b Result) *Divergence {
	bugs := opts.Bugs
	d := &Divergence{Scenario: s.Name, Seed: seed, Bugs: bugs,
		Digests: [2]uint64{a.Digest, b.Digest}, Events: [2]uint64{a.Events, b.Events}}
	for i := range d.Files {
		opts.Trace = true
		res := s.Run(st.Source(seed), opts)
		d.Files[i] = TraceFile(s.Name, seed, bugs, res)
	}
	la, lb := d.Files[0].Lines, d.Files[1].Lines
	first := 1 + len(d.Files[0].Header) + 1 + 1 // magic, header, separator
	for i := 0; i < max(len(la), len(lb)); i++ {
		var ea, eb string
		if i < len(la) {
			ea = la[i].String()
		}
		if i < len(lb) {
			eb = lb[i].String()
		}
		if ea != eb {
			d.Line, d.Event = first+i, [2]string{ea, eb}
			if i < len(la) {
				d.At = la[i].At
			} else {
				d.At = lb[i].At
			}
			break
		}
	}
	return d
}
