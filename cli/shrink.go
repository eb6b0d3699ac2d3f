package cli

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/synod-sim/synod/scenarios"
)

func cmdShrink(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	out := fs.String("o", "", "where to write the shrunk trace (default: FILE with .shrunk.trace for .trace)")
	budget := fs.Duration("budget", scenarios.DefaultShrinkBudget, "time limit for the whole shrink")
	runs := fs.Int("runs", 0, "limit on candidate runs, 0 for none (with a run limit the result is the same on any machine)")
	workers := fs.Int("workers", 0, "candidate runs in parallel (default GOMAXPROCS; the result does not depend on it)")
	verbose := fs.Bool("v", false, "print the timeline of the shrunk run")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) != 1 {
		return exitUsage, fail("shrink: want one trace file: simrun shrink FILE [-o OUT]")
	}
	if *budget <= 0 || *runs < 0 || *workers < 0 {
		return exitUsage, fail("shrink: -budget must be positive, -runs and -workers not negative")
	}
	path := pos[0]
	start := time.Now() // the budget covers reading and replaying the input too
	file, err := readTrace(path)
	if err != nil {
		return exitUsage, err
	}
	rep, err := scenarios.Replay(file)
	if err != nil {
		return exitUsage, fail("shrink %s: %v", path, err)
	}
	if rep.Result.Violation == nil {
		what := "breaks no invariant"
		if rep.Result.Inconclusive != "" {
			what = "is inconclusive, not a violation"
		}
		return exitUsage, fail("shrink %s: the trace %s when replayed: nothing to shrink", path, what)
	}
	if rep.Divergence != "" {
		fmt.Fprintf(stderr, "simrun: warning: %s does not replay exactly (%s); shrinking the run its choices give now\n", path, rep.Divergence)
	}
	dest := *out
	if dest == "" {
		dest = scenarios.ShrunkPath(path)
	}

	if !flagGiven(fs, "budget") {
		name, _ := file.Get("scenario")
		*budget = scenarios.ShrinkBudgetFor(name)
	}
	sh, err := scenarios.ShrinkFile(file, scenarios.ShrinkOptions{Budget: *budget, MaxRuns: *runs, Workers: *workers, Start: start})
	if err != nil {
		return exitUsage, fail("shrink %s: %v", path, err)
	}
	if err := writeTraceFile(dest, sh.File); err != nil {
		return exitUsage, fail("shrink: cannot write %s: %v", dest, err)
	}
	stop := "no smaller run found: a fixpoint"
	if !sh.Fixpoint {
		stop = "stopped at the budget (-budget or -runs allow more)"
	}
	fmt.Fprintf(stdout, "shrunk %s: %s seed %d bug %s, %s violation kept\n", path, sh.Scenario, sh.Seed, sh.Bugs, sh.Kind)
	fmt.Fprintf(stdout, "  before: %s\n", sh.Before)
	fmt.Fprintf(stdout, "  after:  %s\n", sh.After)
	fmt.Fprintf(stdout, "  %d candidate runs in %.2fs, %s\n", sh.Runs, sh.Wall.Seconds(), stop)
	if *verbose {
		scenarios.WriteTimeline(stdout, sh.Result.Trace.Lines())
	}
	fmt.Fprintf(stdout, "wrote %s: simrun replay %s\n", dest, dest)
	fmt.Fprintf(stdout, "see it: simrun view %s\n", dest)
	fmt.Fprintf(stdout, "FAIL %s\n", sh.Result.Violation.Error())
	return exitViolation, nil
}
