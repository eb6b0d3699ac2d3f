package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/synod-sim/synod/scenarios"
	"github.com/synod-sim/synod/sim"
	"github.com/synod-sim/synod/viz"
)

func cmdView(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("view", flag.ContinueOnError)
	out := fs.String("o", "", "the HTML file to write (default: FILE with .trace replaced by .html)")
	maxLines := fs.Int("max-lines", viz.DefaultMaxLines, "draw at most this many trace lines: the first ones and a window around the violation")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) != 1 {
		return exitUsage, fail("view: want one trace file: simrun view FILE [-o OUT.html]")
	}
	if *maxLines < 1 {
		return exitUsage, fail("view: -max-lines must be at least 1")
	}
	path := pos[0]
	file, err := readTrace(path)
	if err != nil {
		return exitUsage, err
	}
	dest := *out
	if dest == "" {
		dest = strings.TrimSuffix(path, ".trace") + ".html"
	}
	if sameFile(dest, path) {
		return exitUsage, fail("view: the output %s would overwrite the trace; give another with -o", dest)
	}
	lines, note := replayStates(file)
	page, err := viz.Diagram(file, lines, viz.Options{Source: filepath.Base(path), StatesNote: note, MaxLines: *maxLines})
	if err != nil {
		return exitUsage, fail("view %s: %v", path, err)
	}
	if err := os.WriteFile(dest, page, 0o644); err != nil {
		return exitUsage, fail("view: cannot write the diagram: %v", err)
	}
	if note == "" {
		note = viz.StatesNote(file, lines)
	}
	if note != "" {
		fmt.Fprintf(stderr, "simrun: %s\n", note)
	}
	fmt.Fprintf(stdout, "wrote %s (%d KB, %d trace lines)\n", dest, (len(page)+1023)/1024, len(file.Lines))
	fmt.Fprintf(stdout, "open it: %s\n", openCommand(dest))
	return exitOK, nil
}

// replayStates replays a trace with node states on. A trace that cannot
// be replayed is still drawn, from the file alone, with a note saying why;
// one whose replay parts from it keeps the states up to there (viz says).
func replayStates(file *sim.File) ([]sim.Line, string) {
	rep, err := scenarios.ReplayWith(file, scenarios.Options{States: true})
	if err != nil {
		return nil, "node states are unavailable: the trace cannot be replayed: " + oneLine(err.Error())
	}
	return rep.Result.Trace.Lines(), ""
}

// sameFile reports whether two paths name one file, as far as their
// absolute forms tell.
func sameFile(a, b string) bool {
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return aa == bb
}

// openCommand is how to open a file in a browser from this system's shell.
func openCommand(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	switch runtime.GOOS {
	case "darwin":
		return "open " + shellQuote(abs)
	case "windows":
		return "start " + abs
	}
	return "xdg-open " + shellQuote(abs) + "   (or file://" + filepath.ToSlash(abs) + " in a browser)"
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$`\\!*?&;()<>|") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
