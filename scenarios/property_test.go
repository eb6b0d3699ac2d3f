package scenarios

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// Property tests: rapid draws a whole run — cluster size, clients, fault
// families and rates, the fault schedule, every latency and every
// scheduling choice — through sim.Rapid, and the property is that the run
// breaks no invariant and no check is left inconclusive. When one does,
// rapid shrinks the choice stream (toward 0, the plain outcome, and shorter)
// and saves it under testdata/rapid/<test>/, where the next go test runs it
// first. The test then writes the minimal run as a trace that simrun
// replay reproduces, and a second trace shrunk further by Shrink.
//
//	go test ./scenarios -run Property -rapid.checks=10000
//	go test ./scenarios -run Property -synod.bug=no-persist        # find and shrink a bug
//	SYNOD_BUG=skip-phase1 go test ./scenarios -run PropertyMulti
//
// Deepen with -rapid.checks (env RAPID_CHECKS); -synod.scenario narrows the
// scenarios; with -synod.bug the scenario that hunts the bug is used.

func TestPropertySingleDecree(t *testing.T) { checkProperty(t, "single/") }

func TestPropertyMultiPaxos(t *testing.T) { checkProperty(t, "multi/") }

// propertyScenarios are the scenarios a property test covers: those of a
// family (by name prefix), narrowed by -synod.scenario, or with -synod.bug
// the ones that hunt the bugs.
func propertyScenarios(t *testing.T, prefix string, bugs paxos.Bugs) []*Scenario {
	var out []*Scenario
	if setting(flagScenario, "SYNOD_SCENARIO") == "" && bugs != 0 {
		seen := map[string]bool{}
		for _, b := range paxos.Catalogue {
			if h, ok := HuntFor(b.Name); ok && bugs.Has(b.Bug) && strings.HasPrefix(h.Scenario, prefix) && !seen[h.Scenario] {
				s, err := Lookup(h.Scenario)
				require.NoError(t, err)
				out, seen[h.Scenario] = append(out, s), true
			}
		}
		return out
	}
	for _, s := range scenariosUnderTest(t, "") {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func checkProperty(t *testing.T, prefix string) {
	bugs := bugsUnderTest(t)
	scs := propertyScenarios(t, prefix, bugs)
	if len(scs) == 0 {
		t.Skipf("no %s* scenario registered or selected (bug %s)", prefix, bugs)
	}
	for _, s := range scs {
		t.Run(s.Name, func(t *testing.T) {
			if strings.HasPrefix(s.Name, "multi/") && testing.Short() {
				t.Skip("multi-paxos runs are long; not in -short")
			}
			propertyOf(t, s, bugs)
		})
	}
}

// propRun is one run drawn from rapid, as rapid logs it.
type propRun struct {
	choices []uint64
	res     Result
}

func (p propRun) GoString() string {
	return fmt.Sprintf("%d choices, %d events, %s", len(p.choices), p.res.Events, p.res.Params)
}

// drawRun draws a whole run of a scenario from rapid. The run happens
// inside one rapid generator, so that rapid logs it as one draw and not as
// thousands of choices.
func drawRun(t *rapid.T, s *Scenario, bugs paxos.Bugs) propRun {
	return rapid.Custom(func(t *rapid.T) propRun {
		src := sim.NewRapid(t)
		rec := &sim.Recorder{Inner: src}
		res := s.Run(rec, Options{Bugs: bugs})
		if p := src.Stopped(); p != nil {
			panic(p) // rapid ended the test case; the run's guard must not hide it
		}
		if src.Drawn() == 0 {
			rapid.Bool().Draw(t, "") // rapid wants every generator to draw
		}
		return propRun{choices: consumed(rec.Choices), res: res}
	}).Draw(t, s.Name)
}

func propertyOf(t *testing.T, s *Scenario, bugs paxos.Bugs) {
	// The choices of the last failing run: when the test ends, that is the
	// run rapid shrank to.
	var last []uint64
	t.Cleanup(func() {
		if t.Failed() && last != nil {
			t.Log(writeFailingChoices(t, s, bugs, last, "rapid's minimal failing run of "+t.Name()))
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		run := drawRun(rt, s, bugs)
		if v := run.res.Violation; v != nil {
			last = run.choices
			rt.Fatalf("%s (%s): %v", s.Name, run.res.Params, v)
		}
		if run.res.Inconclusive != "" {
			last = run.choices
			rt.Fatalf("%s (%s): inconclusive: %s", s.Name, run.res.Params, run.res.Inconclusive)
		}
	})
}

// writeFailingChoices writes the trace of a failing choice list, and of
// the same run shrunk further, and says how to replay both.
func writeFailingChoices(t testing.TB, s *Scenario, bugs paxos.Bugs, choices []uint64, source string) string {
	dir := traceDir(t)
	base := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	res := s.Run(&sim.Replay{Values: choices}, Options{Bugs: bugs, Trace: true})
	f := TraceFile(s.Name, 0, bugs, res)
	f.Header = append(f.Header, sim.Field{Key: "source", Value: source})
	path := base + ".trace"
	if err := writeTrace(path, f); err != nil {
		return fmt.Sprintf("cannot write the failing trace: %v", err)
	}
	msg := fmt.Sprintf("failing run (%d events): go run ./cmd/simrun replay %s", EventLines(f), path)
	sh, err := Shrink(s, 0, bugs, choices, ShrinkOptions{Budget: 10 * time.Second})
	if err != nil {
		return msg + fmt.Sprintf("\nnot shrunk further: %v", err)
	}
	shrunk := ShrunkPath(path)
	if err := writeTrace(shrunk, sh.File); err != nil {
		return msg + fmt.Sprintf("\ncannot write the shrunk trace: %v", err)
	}
	return msg + fmt.Sprintf("\nshrunk further (%d events): go run ./cmd/simrun replay %s", sh.After.Events, shrunk)
}

// traceDir is where failing tests put traces: $SYNOD_TRACE_DIR, or a
// directory that outlives the test so that the printed path still opens.
func traceDir(t testing.TB) string {
	if dir := os.Getenv("SYNOD_TRACE_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
	}
	if d, err := os.MkdirTemp("", "synod-failure-"); err == nil {
		return d
	}
	return t.TempDir()
}

func writeTrace(path string, f *sim.File) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Write(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// With a bug switched on, the property test fails, and what it leaves
// behind replays to the same kind of violation. rapid is driven here the
// way go test drives it, on a fake testing.T, so the failure stays inside.
func TestPropertyFindsAndShrinksABug(t *testing.T) {
	s, err := Lookup("single/dueling")
	require.NoError(t, err)
	// No fail file for this deliberate failure: it would re-run first in
	// every later go test of the package.
	nofail := flag.Lookup("rapid.nofailfile")
	require.NotNil(t, nofail)
	old := nofail.Value.String()
	require.NoError(t, flag.Set("rapid.nofailfile", "true"))
	defer flag.Set("rapid.nofailfile", old)
	oldShrink := flag.Lookup("rapid.shrinktime").Value.String()
	require.NoError(t, flag.Set("rapid.shrinktime", "3s"))
	defer flag.Set("rapid.shrinktime", oldShrink)

	var last []uint64
	ft := &fakeT{name: "TestPropertyFindsAndShrinksABug"}
	func() {
		defer func() { recover() }() // rapid stops the fake test with FailNow
		rapid.Check(ft, func(rt *rapid.T) {
			run := drawRun(rt, s, paxos.DupBallot)
			if v := run.res.Violation; v != nil {
				last = run.choices
				rt.Fatalf("%s: %v", s.Name, v)
			}
		})
	}()
	require.True(t, ft.failed, "rapid found no dup-ballot run")
	require.NotNil(t, last)
	out := strings.Join(ft.logs, "\n")
	require.Regexp(t, regexp.MustCompile(`To reproduce, specify -run=.* -rapid\.(failfile|seed)`), out)

	// rapid's minimal run replays as a trace with the same violation.
	res := s.Run(&sim.Replay{Values: last}, Options{Bugs: paxos.DupBallot, Trace: true})
	require.NotNil(t, res.Violation)
	require.Equal(t, "ballot-uniqueness", res.Violation.Kind)
	rep, err := Replay(TraceFile(s.Name, 0, paxos.DupBallot, res))
	require.NoError(t, err)
	require.Empty(t, rep.Divergence)
	require.LessOrEqual(t, EventLines(TraceFile(s.Name, 0, paxos.DupBallot, res)), 60, "rapid's shrinker made it small already")
}

// fakeT is just enough of a testing.TB for rapid.Check to fail into.
type fakeT struct {
	name   string
	failed bool
	logs   []string
}

func (f *fakeT) Helper()                   {}
func (f *fakeT) Name() string              { return f.name }
func (f *fakeT) Logf(s string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(s, a...)) }
func (f *fakeT) Log(a ...any)              { f.logs = append(f.logs, fmt.Sprint(a...)) }
func (f *fakeT) Skipf(string, ...any)      { panic("skip") }
func (f *fakeT) Skip(...any)               { panic("skip") }
func (f *fakeT) SkipNow()                  { panic("skip") }
func (f *fakeT) Errorf(s string, a ...any) { f.failed = true; f.Logf(s, a...) }
func (f *fakeT) Error(a ...any)            { f.failed = true; f.Log(a...) }
func (f *fakeT) Fatalf(s string, a ...any) { f.Errorf(s, a...); f.FailNow() }
func (f *fakeT) Fatal(a ...any)            { f.Error(a...); f.FailNow() }
func (f *fakeT) FailNow()                  { f.failed = true; panic("fail now") }
func (f *fakeT) Fail()                     { f.failed = true }
func (f *fakeT) Failed() bool              { return f.failed }
