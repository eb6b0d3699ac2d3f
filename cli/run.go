package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
	"github.com/synod-sim/synod/viz"
)

// defaultScenarios is what a bare "simrun run" explores.
func defaultScenarios() string {
	var names []string
	for _, s := range scenarios.Defaults() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}

type runReport struct {
	Scenarios []string `json:"scenarios"`
	Bug       string   `json:"bug"`
	FirstSeed uint64   `json:"first_seed"`
	Seeds     uint64   `json:"seeds"`
	// With -shard I/N, the shard and the whole range it is a slice of;
	// first_seed and seeds are then the shard's own slice. A merge of
	// shards lists them: "1/4,3/4".
	Shard            string          `json:"shard,omitempty"`
	Out              string          `json:"out,omitempty"` // where failures are kept
	RangeFirst       uint64          `json:"range_first,omitempty"`
	RangeSeeds       uint64          `json:"range_seeds,omitempty"`
	CheckDeterminism bool            `json:"check_determinism,omitempty"`
	Runs             uint64          `json:"runs"`
	Events           uint64          `json:"events"`
	Violations       []violationJSON `json:"violations"`
	Inconclusive     []violationJSON `json:"inconclusive"`
	Digest           string          `json:"digest"`
	Coverage         []coverageJSON  `json:"coverage,omitempty"`
	Stopped          bool            `json:"stopped_early,omitempty"`
	Hunt             string          `json:"hunt,omitempty"`
	WallSeconds      float64         `json:"wall_seconds"`
	WritingSeconds   float64         `json:"writing_seconds"` // of the wall time: re-running failures traced and writing them
	RunsPerSecond    float64         `json:"runs_per_second"`
	EventsPerSecond  float64         `json:"events_per_second"`
}

type violationJSON struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Time     int64  `json:"time_us"`
	// Folder holds everything kept of the failure: traces, pictures and
	// summary.json (<out>/<scenario>/seed-<N>[-<bug>]/).
	Folder    string   `json:"folder,omitempty"`
	Trace     string   `json:"trace,omitempty"`
	Artifacts []string `json:"artifacts,omitempty"`
	Replay    string   `json:"replay,omitempty"`
	GoTest    string   `json:"go_test,omitempty"`
	// Events is the trace's event lines; with -shrink, Shrunk is the shrunk
	// trace and ShrunkEvents its event lines.
	Events int    `json:"events,omitempty"`
	Shrunk string `json:"shrunk,omitempty"`
	// Diagram and ShrunkDiagram are the runs' space-time diagrams.
	Diagram       string  `json:"diagram,omitempty"`
	ShrunkDiagram string  `json:"shrunk_diagram,omitempty"`
	ShrunkEvents  int     `json:"shrunk_events,omitempty"`
	ShrinkSeconds float64 `json:"shrink_seconds,omitempty"`
	ShrinkError   string  `json:"shrink_error,omitempty"`
}

// writableDir reports whether dir could be created and written, without
// creating it: a sweep that finds failures must be able to keep them.
func writableDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", p)
			}
			f, err := os.CreateTemp(p, ".simrun-probe-*")
			if err != nil {
				return fmt.Errorf("cannot write in %s", p)
			}
			name := f.Name()
			f.Close()
			return os.Remove(name)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return err
		}
		p = parent
	}
}

// maxRunWorkers bounds -workers: each worker is a goroutine with its own
// summary, and no machine has more cores than this.
const maxRunWorkers = 4096

// shrinkMax bounds how many failures -shrink minimizes: a broken protocol
// fails thousands of seeds, and the first few shrunk traces tell the story.
const shrinkMax = 10

// printMax bounds how many failures the text report shows in full.
const printMax = 10

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	scenarioList := fs.String("scenario", "", "comma-separated scenarios (default: every scenario, or the one that finds -bug)")
	seeds := fs.Uint64("seeds", 1000, "seeds to run per scenario")
	first := fs.Uint64("seed", 1, "first seed")
	workers := fs.Int("workers", 0, "parallel workers (default GOMAXPROCS)")
	bugName := fs.String("bug", "", "switch on a catalogued bug (simrun bugs lists them)")
	outDir := fs.String("out", "failures", "directory for the traces of failing seeds")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	tracesFlag := fs.String("traces", "10", "write traces for the first N failing seeds and the first of every other violation kind; all: every failing seed")
	maxFailures := fs.Int("max-failures", 0, "stop the sweep once this many seeds failed, the first in (scenario, seed) order (0: no limit)")
	failFast := fs.Bool("fail-fast", false, "stop at the first failing seed (-max-failures 1)")
	quiet := fs.Bool("q", false, "no progress line")
	shardFlag := fs.String("shard", "", "run only shard I of N (1 <= I <= N) of the seed range: a contiguous block of it, so N machines cover the range exactly once")
	checkDet := fs.Bool("check-determinism", false, "run every seed twice and fail a seed whose runs differ, naming the first event where they part")
	doShrink := fs.Bool("shrink", false, "shrink every failing trace written, into shrunk.trace in its folder (on by default with -bug alone)")
	shrinkBudget := fs.Duration("shrink-budget", scenarios.DefaultShrinkBudget, "time limit for shrinking one trace (default: the scenario's, 25s for most)")
	set := fs.String("set", "", "override scenario settings: key=value,... (simrun list -v shows each scenario's)")
	strategyName := fs.String("strategy", "swarm", "swarm (seeded PRNG), walk (uniform random walk over enabled actions) or pct (check scenarios)")
	depth := fs.Int("depth", 3, "PCT depth: priority change points plus one")
	showCoverage := fs.Bool("coverage", false, "print, per scenario, how many seeds reached each fault×feature pair (the JSON summary always has it)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, fail("run: unexpected argument %q", pos[0])
	}
	if *seeds == 0 {
		return exitUsage, fail("run: -seeds must be at least 1")
	}
	maxTraces, allTraces := 0, *tracesFlag == "all"
	if !allTraces {
		n, err := strconv.Atoi(*tracesFlag)
		if err != nil || n < 0 {
			return exitUsage, fail("run: -traces %q: want a count of failing seeds, or all", *tracesFlag)
		}
		maxTraces = n
	}
	if *maxFailures < 0 {
		return exitUsage, fail("run: -max-failures must be at least 0")
	}
	if *failFast {
		*maxFailures = 1
	}
	if *workers < 0 || *workers > maxRunWorkers {
		return exitUsage, fail("run: -workers must be in [0, %d] (0: GOMAXPROCS)", maxRunWorkers)
	}
	if *shrinkBudget <= 0 {
		return exitUsage, fail("run: -shrink-budget must be positive")
	}
	if err := writableDir(*outDir); err != nil {
		return exitUsage, fail("run: -out %s: %v (checked before the sweep, not after)", *outDir, err)
	}
	shardI, shardN, err := parseShard(*shardFlag)
	if err != nil {
		return exitUsage, err
	}
	if *first > math.MaxUint64-(*seeds-1) {
		return exitUsage, fail("run: seeds %d..%d+%d run past the largest seed", *first, *first, *seeds)
	}
	bugs, err := planted.Parse(*bugName)
	if err != nil {
		return exitUsage, fail("run: %v", err)
	}
	// -bug NAME alone means "show me": the catalogue's seed budget for the
	// bug's hunt scenario, stopping at the first failure, shrunk.
	hunt, hunting := scenarios.HuntFor(*bugName)
	hunting = hunting && !flagGiven(fs, "scenario") && !flagGiven(fs, "seeds")
	if hunting {
		*seeds = uint64(hunt.Seeds)
		if !flagGiven(fs, "max-failures") && !*failFast {
			*maxFailures = 1
		}
		if !flagGiven(fs, "shrink") {
			*doShrink = true
		}
	}
	list := *scenarioList
	if list == "" && flagGiven(fs, "scenario") {
		return exitUsage, fail("run: -scenario is empty (leave it out to run every scenario)")
	}
	if list == "" {
		list = defaultScenarios()
		if h, ok := scenarios.HuntFor(*bugName); ok {
			list = h.Scenario
		}
	}
	scs, err := scenarios.Parse(list)
	if err != nil {
		return exitUsage, fail("run: %v", err)
	}
	if *seeds > math.MaxUint64/uint64(len(scs)) {
		return exitUsage, fail("run: %d scenarios x %d seeds is more runs than can be counted", len(scs), *seeds)
	}
	strategy, err := scenarios.ParseStrategy(*strategyName, *depth)
	if err != nil {
		return exitUsage, fail("run: %v", err)
	}
	for _, sc := range scs {
		if strategy.Untimed() && sc.Machine == nil {
			return exitUsage, fail("run: -strategy %s needs a check scenario (untimed); %s is timed", strategy.Name, sc.Name)
		}
		if *set != "" {
			if _, err := sc.ParseSettings(*set); err != nil {
				return exitUsage, fail("run: %v", err)
			}
		}
	}

	runFirst, runCount := *first, *seeds
	if shardN > 0 {
		runFirst, runCount = scenarios.Shard(*first, *seeds, shardI, shardN)
		if runCount == 0 {
			return exitUsage, fail("run: shard %d/%d of %d seeds holds no seed (use fewer shards than seeds)", shardI, shardN, *seeds)
		}
	}
	sw := &scenarios.Sweep{Scenarios: scs, First: runFirst, Count: runCount, Workers: *workers, Bugs: bugs, CheckDeterminism: *checkDet,
		Set: *set, Strategy: strategy, MaxFailures: *maxFailures}
	total := uint64(len(scs)) * runCount
	start := time.Now()
	stop := showProgress(stderr, *quiet, sw, total, start)
	sum := sw.Run()
	stop()
	wall := time.Since(start).Seconds()
	swept := wall

	rep := runReport{
		Bug: bugs.String(), FirstSeed: runFirst, Seeds: runCount, Runs: sum.Runs, Events: sum.Events,
		Digest: fmt.Sprintf("%016x", sum.Digest), WallSeconds: wall, CheckDeterminism: *checkDet,
		RunsPerSecond: perSecond(sum.Runs, wall), EventsPerSecond: perSecond(sum.Events, wall),
		Violations: []violationJSON{}, Inconclusive: []violationJSON{}, Out: *outDir,
	}
	if shardN > 0 {
		rep.Shard = fmt.Sprintf("%d/%d", shardI, shardN)
		rep.RangeFirst, rep.RangeSeeds = *first, *seeds
	}
	for _, s := range scs {
		rep.Scenarios = append(rep.Scenarios, s.Name)
	}
	kinds := map[string]bool{} // (scenario, kind) pairs with a trace
	shrunk, shrinking := 0, time.Duration(0)
	for i, f := range sum.Failures {
		v := violationJSON{Scenario: f.Scenario, Seed: f.Seed, Kind: f.Violation.Kind, Message: f.Violation.Message, Time: f.Violation.Time}
		kind := f.Scenario + " " + f.Violation.Kind
		if allTraces || i < maxTraces || !kinds[kind] {
			kinds[kind] = true
			if !*quiet && isTerminal(stderr) {
				fmt.Fprintf(stderr, "\r\033[Kwriting the trace of failing seed %d (%d of %d failures)...", f.Seed, i+1, len(sum.Failures))
			}
			var err error
			if f.Divergence != nil {
				err = writeDivergence(&v, *outDir, f.Divergence)
			} else {
				err = writeFailure(&v, *outDir, bugs, sw)
			}
			if err != nil {
				return exitUsage, err
			}
			if *doShrink && f.Divergence == nil && shrunk < shrinkMax {
				shrunk++
				began := time.Now()
				budget := *shrinkBudget
				if !flagGiven(fs, "shrink-budget") {
					budget = scenarios.ShrinkBudgetFor(v.Scenario)
				}
				shrinkFailure(&v, budget, stderr, *quiet)
				shrinking += time.Since(began)
			}
			if err := writeSummary(v, bugs, sw); err != nil {
				return exitUsage, err
			}
		}
		rep.Violations = append(rep.Violations, v)
	}
	if !*quiet && isTerminal(stderr) {
		fmt.Fprint(stderr, "\r\033[K")
	}
	// Writing what failed is part of the sweep's time; shrinking is not
	// (each failure reports its own).
	wall = time.Since(start).Seconds() - shrinking.Seconds()
	rep.WritingSeconds = wall - swept
	rep.WallSeconds, rep.RunsPerSecond, rep.EventsPerSecond = wall, perSecond(sum.Runs, wall), perSecond(sum.Events, wall)
	for _, f := range sum.Inconclusive {
		rep.Inconclusive = append(rep.Inconclusive, violationJSON{Scenario: f.Scenario, Seed: f.Seed, Kind: "inconclusive", Message: f.Inconclusive})
	}
	if len(sum.Failures) > 0 {
		if err := writeFailureList(*outDir, rep.Violations); err != nil {
			return exitUsage, err
		}
	}
	rep.Stopped = *maxFailures > 0 && len(sum.Failures) >= *maxFailures && sum.Runs < total
	if hunting {
		rep.Hunt = fmt.Sprintf("%s in %d seeds of %s", *bugName, hunt.Seeds, hunt.Scenario)
	}
	// A scenario's coverage promises are judged on an unsharded sweep of
	// the correct protocol long enough to tell (a bug may end runs early),
	// as the scenario declares it: settings or another strategy make it
	// another experiment, whose coverage is reported, not judged.
	judged := bugs == 0 && shardN == 0 && *set == "" && strategy.Name == "swarm"
	rep.Coverage = coverageOf(sum, judged)

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitUsage, err
		}
	} else {
		printReport(stdout, rep)
		printCoverage(stdout, rep.Coverage, *showCoverage)
	}
	switch {
	case len(rep.Violations) > 0 || uncovered(rep.Coverage):
		return exitViolation, nil
	case len(rep.Inconclusive) > 0:
		return exitInconclusive, nil
	}
	return exitOK, nil
}

// writeFailure runs a failing seed again with the trace on, checks that it
// fails the same way (a cheap determinism probe on every failure), and
// writes the trace and any artifacts.
func writeFailure(v *violationJSON, dir string, bugs planted.Set, sw *scenarios.Sweep) error {
	sc, _ := scenarios.Lookup(v.Scenario)
	res := sc.Run(sw.Strategy.Source(v.Seed), scenarios.Options{Bugs: bugs, Set: sw.Set, Trace: true})
	if res.Violation == nil || res.Violation.Kind != v.Kind || res.Violation.Message != v.Message {
		v.Message += " [NONDETERMINISM: the traced re-run did not fail the same way]"
	}
	folder := failureDir(dir, v.Scenario, v.Seed, bugs)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return fail("run: cannot create -out directory: %v", err)
	}
	v.Folder = folder
	file := scenarios.TraceFile(v.Scenario, v.Seed, bugs, res)
	v.Trace = filepath.Join(folder, "run.trace")
	if err := writeTraceFile(v.Trace, file); err != nil {
		return fail("run: cannot write trace: %v", err)
	}
	v.Events = scenarios.EventLines(file)
	if err := writeDiagram(filepath.Join(folder, "run.html"), file); err != nil {
		return fail("run: %v", err)
	}
	v.Diagram = filepath.Join(folder, "run.html")
	for _, name := range slices.Sorted(maps.Keys(res.Artifacts)) {
		path, data := filepath.Join(folder, name), res.Artifacts[name]
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fail("run: cannot write %s: %v", path, err)
		}
		v.Artifacts = append(v.Artifacts, path)
	}
	v.Replay = programFor(v.Scenario) + " replay " + v.Trace
	v.GoTest = fmt.Sprintf("go test ./scenarios -run '^TestScenarioSeeds$' -synod.scenario=%s -synod.seed=%d", v.Scenario, v.Seed)
	if bugs != 0 {
		v.GoTest += " -synod.bug=" + bugs.String()
	}
	if sw.Set != "" {
		v.GoTest += " -synod.set=" + sw.Set
	}
	if sc, _ := scenarios.Lookup(v.Scenario); sw.Strategy.Name != "swarm" || sc == nil || !sc.Builtin() {
		// The seed tests know no strategies and only Synod's own
		// scenarios: the one command that reruns this seed is simrun's.
		v.GoTest = fmt.Sprintf("%s run -scenario %s -seed %d -seeds 1 -strategy %s", runCommandFor(v.Scenario), v.Scenario, v.Seed, sw.Strategy.Name)
		if sw.Strategy.Name == "pct" {
			v.GoTest += fmt.Sprintf(" -depth %d", sw.Strategy.Depth)
		}
		if sw.Set != "" {
			v.GoTest += " -set " + sw.Set
		}
		if bugs != 0 {
			v.GoTest += " -bug " + bugs.String()
		}
	}
	return nil
}

// failureBase is the path, without suffix, of a failing seed's files.
func failureDir(dir, scenario string, seed uint64, bugs planted.Set) string {
	name := fmt.Sprintf("seed-%d", seed)
	if bugs != 0 {
		name += "-" + strings.ReplaceAll(bugs.String(), ",", "+")
	}
	return filepath.Join(dir, filepath.FromSlash(scenario), name)
}

// writeDivergence writes the two traced runs of a seed that ran
// differently twice: diff them, or replay either.
func writeDivergence(v *violationJSON, dir string, d *scenarios.Divergence) error {
	folder := failureDir(dir, d.Scenario, d.Seed, d.Bugs)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return fail("run: cannot create -out directory: %v", err)
	}
	v.Folder = folder
	for i, f := range d.Files {
		path := filepath.Join(folder, fmt.Sprintf("run%d.trace", i+1))
		if err := writeTraceFile(path, f); err != nil {
			return fail("run: cannot write trace: %v", err)
		}
		if i == 0 {
			v.Trace = path
		} else {
			v.Artifacts = append(v.Artifacts, path)
		}
	}
	v.Replay = "diff " + v.Trace + " " + v.Artifacts[0]
	v.GoTest = fmt.Sprintf("%s run -check-determinism -scenario %s -seed %d -seeds 1", runCommandFor(d.Scenario), d.Scenario, d.Seed)
	if d.Bugs != 0 {
		v.GoTest += " -bug " + d.Bugs.String()
	}
	return nil
}

// summaryJSON is a failure folder's summary.json: the failure as the sweep
// reported it, and how it was run.
type summaryJSON struct {
	violationJSON
	Bug      string `json:"bug"`
	Set      string `json:"set,omitempty"`
	Strategy string `json:"strategy"`
	Build    string `json:"build"`
}

func writeSummary(v violationJSON, bugs planted.Set, sw *scenarios.Sweep) error {
	if v.Folder == "" {
		return nil
	}
	data, err := json.MarshalIndent(summaryJSON{violationJSON: v, Bug: bugs.String(), Set: sw.Set, Strategy: sw.Strategy.Name, Build: scenarios.Build()}, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(v.Folder, "summary.json"), append(data, '\n'), 0o644)
	}
	if err != nil {
		return fail("run: cannot write summary.json: %v", err)
	}
	return nil
}

// programFor is the command that knows a scenario: simrun for Synod's
// own, and for a user's the program that registered it (a main over
// cli.Main), which is this one.
func programFor(scenario string) string {
	if sc, err := scenarios.Lookup(scenario); err == nil && !sc.Builtin() {
		return filepath.Base(os.Args[0])
	}
	return "simrun"
}

// runCommandFor is programFor as a command to paste: go run for simrun.
func runCommandFor(scenario string) string {
	if p := programFor(scenario); p != "simrun" {
		return p
	}
	return "go run ./cmd/simrun"
}

func writeTraceFile(path string, file *sim.File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := file.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shrinkFailure shrinks a failure's trace into a .shrunk.trace next to it.
// A shrink that cannot finish is reported with the failure, not as an
// error of the run: the unshrunk trace is still there.
func shrinkFailure(v *violationJSON, budget time.Duration, stderr io.Writer, quiet bool) {
	if !quiet && isTerminal(stderr) {
		fmt.Fprintf(stderr, "\r\033[Kshrinking %s (up to %s)...", v.Trace, budget)
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	file, err := readTrace(v.Trace)
	if err == nil {
		var sh *scenarios.Shrunk
		sh, err = scenarios.ShrinkFile(file, scenarios.ShrinkOptions{Budget: budget})
		if err == nil {
			path := filepath.Join(filepath.Dir(v.Trace), "shrunk.trace")
			if err = writeTraceFile(path, sh.File); err == nil {
				v.Shrunk, v.ShrunkEvents, v.ShrinkSeconds = path, sh.After.Events, sh.Wall.Seconds()
				err = writeShrunkArtifacts(v, sh.File)
			}
			if err == nil {
				v.ShrunkDiagram = filepath.Join(filepath.Dir(path), "shrunk.html")
				err = writeDiagram(v.ShrunkDiagram, sh.File)
			}
			if err == nil {
				return
			}
		}
	}
	v.ShrinkError = err.Error()
	if !quiet {
		fmt.Fprintf(stderr, "simrun: could not shrink %s: %v\n", v.Trace, err)
	}
}

// writeDiagram draws a trace as its HTML space-time diagram at path, with
// node states from a replay when the trace replays.
func writeDiagram(path string, file *sim.File) error {
	lines, note := replayStates(file)
	page, err := viz.Diagram(file, lines, viz.Options{Source: filepath.Base(path), StatesNote: note})
	if err == nil {
		err = os.WriteFile(path, page, 0o644)
	}
	if err != nil {
		return fmt.Errorf("cannot draw %s: %v", path, err)
	}
	return nil
}

// writeShrunkArtifacts keeps, next to the shrunk trace, what its run
// leaves besides (the history page of a linearizability failure).
func writeShrunkArtifacts(v *violationJSON, file *sim.File) error {
	rep, err := scenarios.Replay(file)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Result.Artifacts)) {
		path := filepath.Join(filepath.Dir(v.Shrunk), "shrunk."+name)
		if err := os.WriteFile(path, rep.Result.Artifacts[name], 0o644); err != nil {
			return err
		}
		v.Artifacts = append(v.Artifacts, path)
	}
	return nil
}

func perSecond(n uint64, wall float64) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(n) / wall
}

// parseShard reads -shard I/N; N is 0 when the flag is unset.
func parseShard(s string) (i, n uint64, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.ParseUint(a, 10, 64)
	n, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 || i == 0 || i > n {
		return 0, 0, fail("run: -shard %q: want I/N with 1 <= I <= N, e.g. -shard 2/8", s)
	}
	return i, n, nil
}

func printReport(out io.Writer, rep runReport) {
	shown, traced := 0, 0
	for _, v := range rep.Violations {
		if v.Trace != "" {
			traced++
		}
		if shown == printMax {
			continue
		}
		shown++
		fmt.Fprintf(out, "FAIL %s seed %d: %s violation at t=%dµs: %s\n", v.Scenario, v.Seed, v.Kind, v.Time, v.Message)
		if v.Trace != "" {
			fmt.Fprintf(out, "     trace:  %s\n     replay: %s\n     test:   %s\n", v.Trace, v.Replay, v.GoTest)
			for _, a := range v.Artifacts {
				fmt.Fprintf(out, "     also:   %s\n", a)
			}
			if v.Diagram != "" && v.ShrunkDiagram == "" {
				fmt.Fprintf(out, "     see:    %s (%s view %s draws it again)\n", v.Diagram, programFor(v.Scenario), v.Trace)
			}
			switch {
			case v.Shrunk != "":
				fmt.Fprintf(out, "     shrunk: %s (%d -> %d events in %.1fs): %s replay %s\n", v.Shrunk, v.Events, v.ShrunkEvents, v.ShrinkSeconds, programFor(v.Scenario), v.Shrunk)
				if v.ShrunkDiagram != "" {
					fmt.Fprintf(out, "     see:    %s (%s view %s draws it again)\n", v.ShrunkDiagram, programFor(v.Scenario), v.Shrunk)
				}
			case v.ShrinkError != "":
				fmt.Fprintf(out, "     shrunk: no (%s)\n", v.ShrinkError)
			}
		}
	}
	if more := len(rep.Violations) - shown; more > 0 {
		fmt.Fprintf(out, "... and %d more failing seeds (-json lists them all)\n", more)
	}
	if traced > shown {
		fmt.Fprintf(out, "all %d traced failing seeds have a folder in %s (<scenario>/seed-<N>)\n", traced, rep.Out)
	}
	if len(rep.Violations) > shown {
		printKinds(out, rep.Violations)
	}
	for _, v := range rep.Inconclusive {
		fmt.Fprintf(out, "INCONCLUSIVE %s seed %d: %s\n", v.Scenario, v.Seed, v.Message)
	}
	if rep.Stopped {
		fmt.Fprintf(out, "stopped early at %d failing seeds (-max-failures): the first in seed order\n", len(rep.Violations))
	}
	if len(rep.Violations) > 0 && rep.Violations[0].Trace != "" {
		fmt.Fprintf(out, "every failing seed is listed in %s\n", filepath.Join(rep.Out, "failures.txt"))
	}
	if rep.Bug != "none" && len(rep.Violations) == 0 && len(rep.Inconclusive) == 0 {
		what := "bug " + rep.Bug
		if rep.Hunt != "" {
			what = rep.Hunt
		}
		fmt.Fprintf(out, "ESCAPED: %s switched on, and no seed failed (%s)\n", rep.Bug, what)
	}
	verdict := "ok"
	switch {
	case len(rep.Violations) > 0:
		verdict = fmt.Sprintf("%d violations", len(rep.Violations))
	case len(rep.Inconclusive) > 0:
		verdict = fmt.Sprintf("%d inconclusive", len(rep.Inconclusive))
	}
	fmt.Fprintf(out, "%s: %d runs (%s, %s, bug %s), %d events in %.2fs (%.0f runs/s, %.2fM events/s), digest %s\n",
		verdict, rep.Runs, strings.Join(rep.Scenarios, ","), describeSeeds(rep), rep.Bug,
		rep.Events, rep.WallSeconds, rep.RunsPerSecond, rep.EventsPerSecond/1e6, rep.Digest)
}

// describeSeeds says which seeds a report covers.
func describeSeeds(rep runReport) string {
	seeds := "no seeds"
	if rep.Seeds > 0 {
		seeds = fmt.Sprintf("seeds %d-%d", rep.FirstSeed, rep.FirstSeed+rep.Seeds-1)
	}
	if rep.Shard != "" {
		seeds += fmt.Sprintf(", shard %s of seeds %d-%d", rep.Shard, rep.RangeFirst, rep.RangeFirst+rep.RangeSeeds-1)
	}
	if rep.CheckDeterminism {
		seeds += ", each run twice"
	}
	return seeds
}

// showProgress prints a progress line on stderr while a long sweep runs, if
// stderr is a terminal. The returned function stops it.
func showProgress(stderr io.Writer, quiet bool, sw *scenarios.Sweep, total uint64, start time.Time) func() {
	if quiet || !isTerminal(stderr) {
		return func() {}
	}
	f := stderr.(*os.File)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-tick.C:
				n := sw.Done.Load()
				el := time.Since(start).Seconds()
				fmt.Fprintf(f, "\r\033[K%d/%d runs (%.0f%%), %d violations, %.0f runs/s", n, total, 100*float64(n)/float64(total), sw.Violations.Load(), float64(n)/el)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// isTerminal reports whether w is a terminal, where progress lines belong.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// coverageJSON is one scenario's fault coverage: seeds per fault×feature
// pair, and the declared pairs no seed reached.
type coverageJSON struct {
	Scenario string            `json:"scenario"`
	Runs     uint64            `json:"runs"`
	Seeds    map[string]uint64 `json:"seeds_per_pair"`
	Declared []string          `json:"declared,omitempty"`
	Missing  []string          `json:"missing,omitempty"`
	Judged   bool              `json:"judged"`
}

func coverageOf(sum scenarios.Summary, judged bool) []coverageJSON {
	var out []coverageJSON
	for _, r := range sum.CoverageReports() {
		c := coverageJSON{Scenario: r.Scenario, Runs: r.Runs, Seeds: map[string]uint64{}, Judged: judged && !r.Unjudged}
		for _, p := range r.Pairs {
			c.Seeds[p.Pair] = p.Seeds
			if p.Declared {
				c.Declared = append(c.Declared, p.Pair)
			}
		}
		if c.Judged {
			c.Missing = r.Missing
		}
		out = append(out, c)
	}
	return out
}

func uncovered(cov []coverageJSON) bool {
	for _, c := range cov {
		if len(c.Missing) > 0 {
			return true
		}
	}
	return false
}

// printCoverage says which declared pairs a sweep never reached and, when
// asked, prints each scenario's matrix: seeds (percent) per fault and
// feature.
func printCoverage(out io.Writer, cov []coverageJSON, matrix bool) {
	for _, c := range cov {
		if len(c.Missing) > 0 {
			fmt.Fprintf(out, "UNCOVERED %s: no seed of %d reached %s, which the scenario promises (simrun run -coverage shows what was reached)\n",
				c.Scenario, c.Runs, strings.Join(c.Missing, ", "))
		}
	}
	if !matrix {
		return
	}
	for _, c := range cov {
		var faults, features []string
		for pair := range c.Seeds {
			f, ft, _ := strings.Cut(pair, "×")
			if !slices.Contains(faults, f) {
				faults = append(faults, f)
			}
			if !slices.Contains(features, ft) {
				features = append(features, ft)
			}
		}
		faults = sortedLike(faults, []string{"crash", "restart", "cut", "drop", "dup", "delay", "clock", "pause"})
		sort.Strings(features)
		judged := "not judged: fewer seeds than " + strconv.Itoa(scenarios.MinCoverageSeeds) + ", a shard, or a bug on"
		if c.Judged {
			judged = "judged"
		}
		fmt.Fprintf(out, "\ncoverage of %s over %d seeds (%% of seeds; * declared; %s):\n%-8s", c.Scenario, c.Runs, judged, "")
		for _, ft := range features {
			fmt.Fprintf(out, " %15s", ft)
		}
		fmt.Fprintln(out)
		for _, f := range faults {
			fmt.Fprintf(out, "%-8s", f)
			for _, ft := range features {
				pair := f + "×" + ft
				mark := " "
				if slices.Contains(c.Declared, pair) {
					mark = "*"
				}
				fmt.Fprintf(out, " %14.2f%s", 100*float64(c.Seeds[pair])/float64(max(c.Runs, 1)), mark)
			}
			fmt.Fprintln(out)
		}
	}
}

// sortedLike orders names as in order, unknown ones last.
func sortedLike(names, order []string) []string {
	sort.SliceStable(names, func(i, j int) bool {
		a, b := slices.Index(order, names[i]), slices.Index(order, names[j])
		if a < 0 {
			a = len(order)
		}
		if b < 0 {
			b = len(order)
		}
		return a < b
	})
	return names
}

// writeFailureList writes every failing seed, one line each, to
// DIR/failures.txt: the whole list, however few traces were written.
func writeFailureList(dir string, vs []violationJSON) error {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "%s %d %s %s\n", v.Scenario, v.Seed, v.Kind, v.Message)
	}
	path := filepath.Join(dir, "failures.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fail("run: %v", err)
	}
	return nil
}

// printKinds groups failures by scenario and violation kind: how many, the
// first seed, and one replay command each.
func printKinds(out io.Writer, vs []violationJSON) {
	type group struct {
		scenario, kind string
		count          int
		first          violationJSON
	}
	var groups []*group
	for _, v := range vs {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.scenario == v.Scenario && g.kind == v.Kind })
		if i < 0 {
			groups = append(groups, &group{scenario: v.Scenario, kind: v.Kind, first: v})
			i = len(groups) - 1
		}
		groups[i].count++
	}
	fmt.Fprintf(out, "failures by kind:\n")
	for _, g := range groups {
		replay := "(no trace written)"
		if g.first.Replay != "" {
			replay = g.first.Replay
		}
		fmt.Fprintf(out, "  %-20s %-22s %6d seeds, first %d: %s\n", g.scenario, g.kind, g.count, g.first.Seed, replay)
	}
}
