package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/scenarios"
)

// maxCheckWorkers bounds -workers: the search keeps one world per worker.
const maxCheckWorkers = 256

type checkReport struct {
	Scenario        string  `json:"scenario"`
	Bug             string  `json:"bug"`
	Settings        string  `json:"settings"`
	Search          string  `json:"search"`
	POR             bool    `json:"por"`
	Workers         int     `json:"workers"`
	Verdict         string  `json:"verdict"` // "complete", "bounded" or "violation"
	Cut             string  `json:"cut,omitempty"`
	States          uint64  `json:"states"`
	Transitions     uint64  `json:"transitions"`
	Slept           uint64  `json:"slept"`
	MaxDepth        int     `json:"max_depth"`
	WallSeconds     float64 `json:"wall_seconds"`
	StatesPerSecond float64 `json:"states_per_second"`
	VisitedBytes    int     `json:"visited_bytes"`
	Violation       string  `json:"violation,omitempty"`
	Kind            string  `json:"kind,omitempty"`
	PathLength      int     `json:"path_length,omitempty"`
	Shortest        bool    `json:"shortest,omitempty"`
	Trace           string  `json:"trace,omitempty"`
	Replay          string  `json:"replay,omitempty"`
}

func cmdCheck(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	name := fs.String("scenario", "single/check", "the check scenario to explore (simrun list marks them)")
	bfs := fs.Bool("bfs", false, "breadth first (the default): shortest counterexamples")
	dfs := fs.Bool("dfs", false, "depth first: little memory, counterexamples not shortest")
	maxStates := fs.Uint64("max-states", 0, fmt.Sprintf("stop after this many distinct states (0: %d for -dfs, %d for -bfs); the visited set takes at most %d bytes a state",
		explore.DefaultMaxStates, explore.DefaultMaxStatesBFS, explore.BytesPerState))
	maxDepth := fs.Int("max-depth", 0, "do not go deeper than this many actions (0: no limit)")
	budget := fs.Duration("budget", 0, "wall-clock limit (0: none)")
	maxMB := fs.Int64("max-memory", 8192, "memory bound in MB: the search stops (a bounded verdict) when its live heap nears it")
	workers := fs.Int("workers", 1, "BFS workers expanding each level (the verdict and counts do not depend on it)")
	set := fs.String("set", "", "override the scenario's bounds: key=value,... (simrun list -v shows them)")
	bugName := fs.String("bug", "", "switch on a catalogued bug")
	porFlag := fs.String("por", "auto", "sleep sets: on, off, or auto (off where the step memo predicts transitions, which is faster)")
	noPOR := fs.Bool("no-por", false, "the same as -por off")
	outDir := fs.String("out", "failures", "directory for the counterexample's trace")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	quiet := fs.Bool("q", false, "no progress line")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	switch {
	case len(pos) > 0:
		return exitUsage, fail("check: unexpected argument %q", pos[0])
	case *bfs && *dfs:
		return exitUsage, fail("check: -bfs and -dfs exclude each other")
	case *maxDepth < 0:
		return exitUsage, fail("check: -max-depth must not be negative")
	case *budget < 0:
		return exitUsage, fail("check: -budget must not be negative")
	case *maxMB < 64 || *maxMB > 1<<24:
		return exitUsage, fail("check: -max-memory must be in [64, %d] MB", 1<<24)
	case *workers < 1 || *workers > maxCheckWorkers:
		return exitUsage, fail("check: -workers must be in [1, %d]", maxCheckWorkers)
	case *dfs && *workers > 1:
		return exitUsage, fail("check: -dfs runs on one worker; -workers applies to -bfs")
	}
	bugs, err := planted.Parse(*bugName)
	if err != nil {
		return exitUsage, fail("check: %v", err)
	}
	sc, err := scenarios.Lookup(*name)
	if err != nil {
		return exitUsage, fail("check: %v", err)
	}
	if sc.Machine == nil {
		return exitUsage, fail("check: %s has no untimed view; check scenarios end in /check (simrun list)", sc.Name)
	}
	if _, err := sc.ParseSettings(*set); err != nil {
		return exitUsage, fail("check: %v", err)
	}
	por, err := explore.ParsePOR(*porFlag)
	if err != nil {
		return exitUsage, fail("check: -por: %v", err)
	}
	if *noPOR {
		por = explore.POROff
	}
	cfg := explore.Config{DFS: *dfs, MaxStates: *maxStates, MaxDepth: *maxDepth, Budget: *budget, Workers: *workers, POR: por,
		MaxMemory: *maxMB << 20}
	// The collector keeps the heap under the bound too (simrun's GOGC=400
	// would otherwise let a big search's garbage grow to five times its
	// live states).
	debug.SetMemoryLimit(cfg.MaxMemory)
	if !*quiet && isTerminal(stderr) {
		cfg.Progress = func(s explore.Stats) {
			fmt.Fprintf(stderr, "\r\033[K%d states, %d transitions, depth %d, %.0f states/s", s.States, s.Transitions, s.MaxDepth, s.StatesPerSecond())
		}
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	res, err := scenarios.Check(sc, scenarios.Options{Bugs: bugs, Set: *set}, cfg)
	if err != nil {
		return exitUsage, fail("check: %v", err)
	}
	rep := checkReport{
		Scenario: sc.Name, Bug: bugs.String(), Settings: res.Settings, Search: "bfs", POR: res.SleepSets, Workers: *workers,
		States: res.States, Transitions: res.Transitions, Slept: res.Slept, MaxDepth: res.MaxDepth,
		WallSeconds: res.Elapsed.Seconds(), StatesPerSecond: res.StatesPerSecond(), VisitedBytes: res.TableBytes, Cut: res.Cut,
	}
	if *dfs {
		rep.Search = "dfs"
	}
	code := exitOK
	switch {
	case res.Violation != nil:
		rep.Verdict, code = "violation", exitViolation
		v := res.Replayed.Violation
		rep.Kind, rep.Violation, rep.PathLength, rep.Shortest = v.Kind, v.Message, len(res.Path), !*dfs
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return exitUsage, fail("check: cannot create -out directory: %v", err)
		}
		base := strings.ReplaceAll(sc.Name, "/", "_") + "-" + rep.Search
		if bugs != 0 {
			base += "-" + strings.ReplaceAll(bugs.String(), ",", "+")
		}
		rep.Trace = filepath.Join(*outDir, base+".trace")
		if err := writeTraceFile(rep.Trace, res.File); err != nil {
			return exitUsage, fail("check: cannot write trace: %v", err)
		}
		rep.Replay = "simrun replay " + rep.Trace
	case res.Complete:
		rep.Verdict = "complete"
	default:
		rep.Verdict, code = "bounded", exitInconclusive
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitUsage, err
		}
		return code, nil
	}
	printCheck(stdout, rep)
	return code, nil
}

func printCheck(w io.Writer, r checkReport) {
	por := "sleep sets"
	if !r.POR {
		por = "no sleep sets"
	}
	fmt.Fprintf(w, "%s bug=%s %s\n", r.Scenario, r.Bug, r.Settings)
	fmt.Fprintf(w, "%s, %s, %d worker(s): %d distinct states, %d transitions (%d slept), max depth %d, %.2fs, %.0f states/s, visited set %.1f MB\n",
		strings.ToUpper(r.Search), por, r.Workers, r.States, r.Transitions, r.Slept, r.MaxDepth, r.WallSeconds, r.StatesPerSecond, float64(r.VisitedBytes)/1e6)
	switch r.Verdict {
	case "violation":
		shortest := "a depth-first path, not necessarily the shortest"
		if r.Shortest {
			shortest = "no shorter path exists"
		}
		fmt.Fprintf(w, "FAIL %s violation after %d actions (%s): %s\n", r.Kind, r.PathLength, shortest, r.Violation)
		fmt.Fprintf(w, "trace: %s\nreplay: %s\n", r.Trace, r.Replay)
	case "complete":
		fmt.Fprintln(w, "COMPLETE: every reachable state was explored; no invariant is broken within these bounds")
	default:
		fmt.Fprintf(w, "BOUNDED: %s stopped the search before the space was exhausted; no violation among the states explored, which is not a proof\n", r.Cut)
	}
}
