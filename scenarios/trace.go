package scenarios

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/sim"
)

// TraceFile builds the trace file of a run made with Options.Trace.
func TraceFile(scenario string, seed uint64, bugs planted.Set, res Result) *sim.File {
	if res.Trace == nil {
		panic("scenarios: TraceFile of a run made without a trace")
	}
	f := &sim.File{Header: []sim.Field{
		{Key: "scenario", Value: scenario},
		{Key: "seed", Value: strconv.FormatUint(seed, 10)},
		{Key: "bug", Value: bugs.String()},
		{Key: "params", Value: res.Params},
		{Key: "build", Value: Build()},
		{Key: "events", Value: strconv.FormatUint(res.Events, 10)},
		{Key: "digest", Value: fmt.Sprintf("%016x", res.Digest)},
	}}
	if res.Settings != "" {
		f.Header = append(f.Header, sim.Field{Key: "set", Value: res.Settings})
	}
	if v := res.Violation; v != nil {
		f.Header = append(f.Header, sim.Field{Key: "violation", Value: v.Kind + ": " + v.Message})
	}
	for _, l := range legendOf(scenario) {
		f.Header = append(f.Header, sim.Field{Key: "legend", Value: l})
	}
	f.Lines = res.Stall.fold(res.Trace.Lines())
	return f
}

// traceLegend explains every trace's lines; a scenario adds its protocol's
// words (Scenario.Legend).
var traceLegend = []string{
	"@T is virtual time in µs; | a b c are the choices the line drew (0 is the plain outcome), which replay feeds back",
	"events (header, end line, shrink report) count timer, deliver, lost and fault lines; the rest are notes",
	"send nA->nB MSG, FATE: due @T (delivered then), dropped, cut off (a partition), duplicated (two deliveries), local (to itself)",
	"deliver nA->nB MSG: nB received it; lost nA->nB MSG: it arrived at a crashed node or across a cut",
	"timer nA NAME: nA's timer fired; start nA: nA booted or restarted and read its disk; sync nA R; R: records nA made durable",
	"fault ...: the fault plan struck (crash, restart, partition shapes with cut=A>B links, clock steps)",
}

// legendOf is the legend a scenario's trace files carry.
func legendOf(scenario string) []string {
	out := slices.Clone(traceLegend)
	if s, err := Lookup(scenario); err == nil {
		out = append(out, s.Legend...)
	}
	return out
}

// Build names the binary that made a trace: Go version and module version.
func Build() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	b := info.GoVersion + " " + info.Main.Path + "@" + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			b += " rev " + s.Value
		}
	}
	return b
}

// TraceOf starts the trace a run's options ask for (none, lines, or lines
// with node states) and returns it for Result.Trace: every scenario's run
// calls it as soon as its world exists, and draws every later choice from
// w.Source(), which records them into the trace (a choice drawn from the
// run's src after that would be missing from the trace, and replay would
// part from the run).
func TraceOf(w interface{ Trace() *sim.Trace }, opts Options) *sim.Trace { return traceOf(w, opts) }

func traceOf(w interface{ Trace() *sim.Trace }, opts Options) *sim.Trace {
	if !opts.Trace && !opts.States {
		return nil
	}
	t := w.Trace()
	if opts.States {
		t.RecordStates()
	}
	return t
}

// Replayed is the outcome of re-executing a trace file.
type Replayed struct {
	Scenario string
	Seed     uint64
	Bugs     planted.Set
	Set      string
	Result   Result
	// Divergence is empty when the re-execution matched the file event for
	// event; otherwise it says where and how they first differ.
	Divergence string
}

// Replay re-executes a trace from its header and recorded choices and checks
// every event against the file. The error is for files that cannot be
// replayed at all (unknown scenario or bug); a run that goes another way is
// reported in Divergence.
func Replay(f *sim.File) (*Replayed, error) { return ReplayWith(f, Options{}) }

// ReplayWith is Replay with options beyond the file's own (States); the
// file's bugs and settings always win.
func ReplayWith(f *sim.File, opts Options) (*Replayed, error) {
	name, ok := f.Get("scenario")
	if !ok {
		return nil, fmt.Errorf("trace has no scenario line in its header")
	}
	s, err := Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("trace: %v", err)
	}
	bugName, _ := f.Get("bug")
	bugs, err := planted.Parse(bugName)
	if err != nil {
		return nil, fmt.Errorf("trace: %v", err)
	}
	seedText, _ := f.Get("seed")
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("trace: seed %q is not a number", seedText)
	}
	set, _ := f.Get("set")
	if _, err := s.ParseSettings(set); err != nil {
		return nil, fmt.Errorf("trace: %v", err)
	}
	src := &sim.Replay{Values: f.Choices()}
	opts.Bugs, opts.Trace, opts.Set = bugs, true, set
	res := s.Run(src, opts)
	out := &Replayed{Scenario: name, Seed: seed, Bugs: bugs, Set: set, Result: res}
	out.Divergence = diverge(f, res.Stall.fold(res.Trace.Lines()), src)
	if out.Divergence == "" {
		out.Divergence = contradicts(f, res)
	}
	return out, nil
}

// contradicts checks every claim a trace header makes about the run
// against the run replayed, so that no edited claim is printed as fact.
// The seed is not among them: the choices are the run (a shrunk or
// searched trace keeps the seed of where it came from), and replay does not
// print it as checked.
func contradicts(f *sim.File, res Result) string {
	violation := ""
	if v := res.Violation; v != nil {
		violation = v.Kind + ": " + v.Message
	}
	claims := []struct{ key, run string }{
		{"events", strconv.FormatUint(res.Events, 10)},
		{"digest", fmt.Sprintf("%016x", res.Digest)},
		{"params", res.Params},
		{"set", res.Settings},
		{"violation", violation},
	}
	for _, c := range claims {
		claim, ok := f.Get(c.key)
		if !ok && c.key == "violation" && violation != "" {
			return "the header claims no violation, the run breaks " + clip(violation)
		}
		if ok && claim != c.run {
			return fmt.Sprintf("header: %s is %q, the replayed run's is %q", c.key, clip(claim), clip(c.run))
		}
	}
	return ""
}

func diverge(f *sim.File, got []sim.Line, src *sim.Replay) string {
	// Line numbers in messages are the file's: magic, header, separator.
	first := 1 + len(f.Header) + 1 + 1
	for i := 0; i < min(len(got), len(f.Lines)); i++ {
		want, have := f.Lines[i], got[i]
		if want.At != have.At || want.Text != have.Text || !slices.Equal(want.Choices, have.Choices) {
			return fmt.Sprintf("line %d: trace says %q, replay did %q", first+i, want.String(), have.String())
		}
	}
	switch {
	case len(got) < len(f.Lines):
		return fmt.Sprintf("line %d: replay ended, trace goes on with %q", first+len(got), f.Lines[len(got)].String())
	case len(got) > len(f.Lines):
		return fmt.Sprintf("line %d: trace ended, replay went on with %q", first+len(f.Lines), got[len(f.Lines)].String())
	case src.Clamped > 0 || src.Exhausted > 0:
		return fmt.Sprintf("recorded choices did not fit the run (%d out of range, %d missing)", src.Clamped, src.Exhausted)
	}
	return ""
}

// WriteTimeline prints a replayed run's events, one per line, for -v.
func WriteTimeline(w io.Writer, lines []sim.Line) {
	for _, l := range lines {
		fmt.Fprintf(w, "%10.3fms  %s\n", float64(l.At)/1000, l.Text)
		if l.State == "" {
			continue
		}
		for _, st := range strings.Split(l.State, "\n") {
			fmt.Fprintf(w, "%12s    = %s\n", "", st)
		}
	}
}

// SameViolation reports whether two runs broke the same property.
func SameViolation(a, b *checker.Violation) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Message == b.Message && a.Time == b.Time
}
