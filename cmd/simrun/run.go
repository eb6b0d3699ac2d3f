package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

// defaultScenarios is what a bare "simrun run" explores.
func defaultScenarios() string {
	var names []string
	for _, s := range scenarios.All() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}

type runReport struct {
	Scenarios       []string        `json:"scenarios"`
	Bug             string          `json:"bug"`
	FirstSeed       uint64          `json:"first_seed"`
	Seeds           uint64          `json:"seeds"`
	Runs            uint64          `json:"runs"`
	Events          uint64          `json:"events"`
	Violations      []violationJSON `json:"violations"`
	Inconclusive    []violationJSON `json:"inconclusive"`
	Digest          string          `json:"digest"`
	WallSeconds     float64         `json:"wall_seconds"`
	RunsPerSecond   float64         `json:"runs_per_second"`
	EventsPerSecond float64         `json:"events_per_second"`
}

type violationJSON struct {
	Scenario  string   `json:"scenario"`
	Seed      uint64   `json:"seed"`
	Kind      string   `json:"kind"`
	Message   string   `json:"message"`
	Time      int64    `json:"time_us"`
	Trace     string   `json:"trace,omitempty"`
	Artifacts []string `json:"artifacts,omitempty"`
	Replay    string   `json:"replay,omitempty"`
	GoTest    string   `json:"go_test,omitempty"`
}

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	scenarioList := fs.String("scenario", "", "comma-separated scenarios (default: every scenario, or the one that finds -bug)")
	seeds := fs.Uint64("seeds", 1000, "seeds to run per scenario")
	first := fs.Uint64("seed", 1, "first seed")
	workers := fs.Int("workers", 0, "parallel workers (default GOMAXPROCS)")
	bugName := fs.String("bug", "", "switch on a catalogued bug (simrun bugs lists them)")
	outDir := fs.String("out", "failures", "directory for the traces of failing seeds")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	maxTraces := fs.Int("traces", 10, "write traces for at most this many failing seeds")
	quiet := fs.Bool("q", false, "no progress line")
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
	if *workers < 0 {
		return exitUsage, fail("run: -workers must not be negative")
	}
	bugs, err := paxos.ParseBugs(*bugName)
	if err != nil {
		return exitUsage, fail("run: %v", err)
	}
	list := *scenarioList
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

	sw := &scenarios.Sweep{Scenarios: scs, First: *first, Count: *seeds, Workers: *workers, Bugs: bugs}
	total := uint64(len(scs)) * *seeds
	start := time.Now()
	stop := showProgress(stderr, *quiet, sw, total, start)
	sum := sw.Run()
	stop()
	wall := time.Since(start).Seconds()

	rep := runReport{
		Bug: bugs.String(), FirstSeed: *first, Seeds: *seeds, Runs: sum.Runs, Events: sum.Events,
		Digest: fmt.Sprintf("%016x", sum.Digest), WallSeconds: wall,
		RunsPerSecond: float64(sum.Runs) / wall, EventsPerSecond: float64(sum.Events) / wall,
		Violations: []violationJSON{}, Inconclusive: []violationJSON{},
	}
	for _, s := range scs {
		rep.Scenarios = append(rep.Scenarios, s.Name)
	}
	for i, f := range sum.Failures {
		v := violationJSON{Scenario: f.Scenario, Seed: f.Seed, Kind: f.Violation.Kind, Message: f.Violation.Message, Time: f.Violation.Time}
		if i < *maxTraces {
			if err := writeFailure(&v, *outDir, bugs); err != nil {
				return exitUsage, err
			}
		}
		rep.Violations = append(rep.Violations, v)
	}
	for _, f := range sum.Inconclusive {
		rep.Inconclusive = append(rep.Inconclusive, violationJSON{Scenario: f.Scenario, Seed: f.Seed, Kind: "inconclusive", Message: f.Inconclusive})
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitUsage, err
		}
	} else {
		printReport(stdout, rep)
	}
	switch {
	case len(rep.Violations) > 0:
		return exitViolation, nil
	case len(rep.Inconclusive) > 0:
		return exitInconclusive, nil
	}
	return exitOK, nil
}

// writeFailure runs a failing seed again with the trace on, checks that it
// fails the same way (a cheap determinism probe on every failure), and
// writes the trace and any artifacts.
func writeFailure(v *violationJSON, dir string, bugs paxos.Bugs) error {
	sc, _ := scenarios.Lookup(v.Scenario)
	res := sc.Run(sim.NewPRNG(v.Seed), scenarios.Options{Bugs: bugs, Trace: true})
	if res.Violation == nil || res.Violation.Kind != v.Kind || res.Violation.Message != v.Message {
		v.Message += " [NONDETERMINISM: the traced re-run did not fail the same way]"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("run: cannot create -out directory: %v", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-seed%d", strings.ReplaceAll(v.Scenario, "/", "_"), v.Seed))
	if bugs != 0 {
		base += "-" + strings.ReplaceAll(bugs.String(), ",", "+")
	}
	f, err := os.Create(base + ".trace")
	if err != nil {
		return fail("run: cannot write trace: %v", err)
	}
	defer f.Close()
	if err := scenarios.TraceFile(v.Scenario, v.Seed, bugs, res).Write(f); err != nil {
		return fail("run: cannot write trace: %v", err)
	}
	v.Trace = base + ".trace"
	for suffix, data := range res.Artifacts {
		path := base + "." + suffix
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fail("run: cannot write %s: %v", path, err)
		}
		v.Artifacts = append(v.Artifacts, path)
	}
	v.Replay = "simrun replay " + v.Trace
	v.GoTest = fmt.Sprintf("go test ./scenarios -run '^TestScenarioSeeds$' -synod.scenario=%s -synod.seed=%d", v.Scenario, v.Seed)
	if bugs != 0 {
		v.GoTest += " -synod.bug=" + bugs.String()
	}
	return nil
}

func printReport(out io.Writer, rep runReport) {
	untraced := 0
	for _, v := range rep.Violations {
		if v.Trace == "" {
			untraced++
			continue
		}
		fmt.Fprintf(out, "FAIL %s seed %d: %s violation at t=%dµs: %s\n", v.Scenario, v.Seed, v.Kind, v.Time, v.Message)
		{
			fmt.Fprintf(out, "     trace:  %s\n     replay: %s\n     test:   %s\n", v.Trace, v.Replay, v.GoTest)
			for _, a := range v.Artifacts {
				fmt.Fprintf(out, "     also:   %s\n", a)
			}
		}
	}
	if untraced > 0 {
		fmt.Fprintf(out, "... and %d more failing seeds (-json lists them all; -traces N writes more traces)\n", untraced)
	}
	for _, v := range rep.Inconclusive {
		fmt.Fprintf(out, "INCONCLUSIVE %s seed %d: %s\n", v.Scenario, v.Seed, v.Message)
	}
	verdict := "ok"
	switch {
	case len(rep.Violations) > 0:
		verdict = fmt.Sprintf("%d violations", len(rep.Violations))
	case len(rep.Inconclusive) > 0:
		verdict = fmt.Sprintf("%d inconclusive", len(rep.Inconclusive))
	}
	fmt.Fprintf(out, "%s: %d runs (%s, seeds %d-%d, bug %s), %d events in %.2fs (%.0f runs/s, %.2fM events/s), digest %s\n",
		verdict, rep.Runs, strings.Join(rep.Scenarios, ","), rep.FirstSeed, rep.FirstSeed+rep.Seeds-1, rep.Bug,
		rep.Events, rep.WallSeconds, rep.RunsPerSecond, rep.EventsPerSecond/1e6, rep.Digest)
}

// showProgress prints a progress line on stderr while a long sweep runs, if
// stderr is a terminal. The returned function stops it.
func showProgress(stderr io.Writer, quiet bool, sw *scenarios.Sweep, total uint64, start time.Time) func() {
	f, ok := stderr.(*os.File)
	if quiet || !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
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
