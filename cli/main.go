// Package cli is simrun's command line as a library: Main runs scenarios
// over many seeds, replays, shrinks and draws failing traces, checks
// bounded configurations exhaustively and lists what it can run, for every
// scenario registered with package scenarios. cmd/simrun is Main over
// Synod's own scenarios; a user's main over theirs gets the same commands.
//
// Exit status: 0 no violation, 1 a violation found, 2 usage or input error,
// 3 a check was inconclusive (never counted as a pass).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	exitOK           = 0
	exitViolation    = 1
	exitUsage        = 2
	exitInconclusive = 3
)

const usage = `usage: simrun <command> [flags]

commands:
  list     list the scenarios
  bugs     list the catalogue of known Paxos bugs that can be switched on
  run      run scenarios over many seeds in parallel (simrun run -h)
  replay   re-execute a trace file and check it event by event (simrun replay FILE [-v])
  shrink   minimize a failing trace, keeping its violation (simrun shrink FILE [-o OUT])
  view     draw a trace as a space-time diagram in one HTML page (simrun view FILE [-o OUT.html])
  check    explore every schedule of a bounded check scenario (simrun check -h)
  merge    add up the JSON summaries of sharded runs (simrun merge A.json B.json ...)
  reeval   check saved client histories (history.json) for linearizability again (simrun reeval DIR [-budget 30s])
`

// Main runs simrun's command line (args without the program name) on
// every scenario registered with package scenarios, writing to stdout and
// stderr, and returns the exit status. A user's own main registers their
// scenarios (an init in their package, imported for effect) and calls it:
//
//	func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
//
// and gets list, bugs, run, replay, shrink, view, check, merge and reeval
// with the same flags, outputs and exit codes. Sweeps allocate short-lived
// worlds by the million: a main that sets debug.SetGCPercent(400) (unless
// GOGC is set) makes them up to a quarter faster, as cmd/simrun does.
func Main(args []string, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }

// usageError is a mistake the user can fix: one line on stderr, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func fail(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer) int {
	out := &checkedWriter{w: stdout}
	code := dispatch(args, out, stderr)
	if out.err != nil {
		// A report that could not be written is no report: never exit 0
		// (or 1) on output that went nowhere.
		fmt.Fprintf(stderr, "simrun: cannot write the output: %v\n", out.err)
		return exitUsage
	}
	return code
}

// checkedWriter remembers the first error writing stdout.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var code int
	var err error
	switch args[0] {
	case "list":
		code, err = cmdList(args[1:], stdout)
	case "bugs":
		code, err = cmdBugs(args[1:], stdout)
	case "run":
		code, err = cmdRun(args[1:], stdout, stderr)
	case "replay":
		code, err = cmdReplay(args[1:], stdout, stderr)
	case "shrink":
		code, err = cmdShrink(args[1:], stdout, stderr)
	case "view":
		code, err = cmdView(args[1:], stdout, stderr)
	case "check":
		code, err = cmdCheck(args[1:], stdout, stderr)
	case "merge":
		code, err = cmdMerge(args[1:], stdout, stderr)
	case "reeval":
		code, err = cmdReeval(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = fail("unknown command %q (want list, bugs, run, replay, shrink, view, check, merge or reeval)", args[0])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "simrun: "+oneLine(err.Error()))
		return exitUsage
	}
	return code
}

// maxErrorLine bounds an error line: whatever bad input an error quotes,
// the user gets one line of readable length.
const maxErrorLine = 400

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorLine {
		s = s[:maxErrorLine] + "..."
	}
	return s
}

// flagGiven reports whether a flag was set on the command line, even to
// its zero value.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// parseFlags parses flags that may come before or after positional
// arguments (simrun replay FILE -v) and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, fail("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
