package cli

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
)

func cmdReplay(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print the timeline of the replayed run")
	states := fs.Bool("state", false, "with the timeline, each node's state after each of its steps (implies -v)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) != 1 {
		return exitUsage, fail("replay: want one trace file: simrun replay FILE [-v] [-state]")
	}
	file, err := readTrace(pos[0])
	if err != nil {
		return exitUsage, err
	}
	rep, err := scenarios.ReplayWith(file, scenarios.Options{States: *states})
	if err != nil {
		return exitUsage, fail("replay %s: %v", pos[0], err)
	}
	lines := rep.Result.Trace.Lines()
	if *verbose || *states {
		fmt.Fprintf(stdout, "%s bug %s: %s\n", rep.Scenario, rep.Bugs, rep.Result.Params)
		scenarios.WriteTimeline(stdout, lines)
	}
	if rep.Divergence != "" {
		fmt.Fprintf(stderr, "simrun: replay of %s diverged at %s\n", pos[0], rep.Divergence)
		return exitUsage, nil
	}
	fmt.Fprintf(stdout, "replayed %s: %s, %d events, digest %016x, matches the trace and its header\n",
		pos[0], rep.Scenario, rep.Result.Events, rep.Result.Digest)
	fmt.Fprintf(stdout, "see it: simrun view %s (a space-time diagram); simrun replay %s -state (every node's state after every step)\n", pos[0], pos[0])
	if v := rep.Result.Violation; v != nil {
		fmt.Fprintf(stdout, "FAIL %s\n", v.Error())
		return exitViolation, nil
	}
	if rep.Result.Inconclusive != "" {
		fmt.Fprintf(stdout, "INCONCLUSIVE %s\n", rep.Result.Inconclusive)
		return exitInconclusive, nil
	}
	fmt.Fprintln(stdout, "no violation")
	return exitOK, nil
}

func readTrace(path string) (*sim.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fail("cannot open trace: %v", err)
	}
	defer f.Close()
	file, err := sim.ReadFile(f)
	if err != nil {
		return nil, fail("%s: %v", path, err)
	}
	return file, nil
}
