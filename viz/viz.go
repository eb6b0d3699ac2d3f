package viz

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/synod-sim/synod/sim"
)

// Options say how to draw a trace.
type Options struct {
	// Source names the trace file, for the page's title and header.
	Source string
	// StatesNote says why node states are missing (a replay that failed
	// or diverged); empty when they are there or were not asked for.
	StatesNote string
	// MaxLines bounds the trace lines drawn (0: DefaultMaxLines): a longer
	// trace keeps its first lines and a window that ends just after the
	// violation, and the page says what it left out.
	MaxLines int
}

// DefaultMaxLines keeps a page of the longest traces a few megabytes.
const DefaultMaxLines = 3000

// Diagram renders a trace file as a self-contained HTML page. replayed are
// the lines of a replay of f that recorded node states (sim.Line.State);
// nil draws the file alone. A replay of a liveness failure has the lines
// the file folds into its stall line: the stall line then shows every
// node's state at the end of the run.
func Diagram(f *sim.File, replayed []sim.Line, opts Options) ([]byte, error) {
	if f == nil {
		return nil, errors.New("viz: no trace")
	}
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultMaxLines
	}
	states, note := align(f.Lines, replayed)
	if opts.StatesNote == "" {
		opts.StatesNote = note
	}
	m := build(f, states, opts.MaxLines)
	if len(m.events) != len(f.Lines) {
		panic(fmt.Sprintf("viz: %d events for %d lines", len(m.events), len(f.Lines)))
	}
	return render(m, opts), nil
}

// align gives each file line the state its replay recorded. A replay that
// parts from the file (a trace made by another build) still gives the
// states up to where it parts, which the note says.
func align(file, replayed []sim.Line) ([]string, string) {
	if replayed == nil {
		return nil, ""
	}
	states := make([]string, len(file))
	for i, l := range file {
		if i < len(replayed) && replayed[i].At == l.At && replayed[i].Text == l.Text {
			states[i] = replayed[i].State
			continue
		}
		if i == len(file)-1 && strings.HasPrefix(l.Text, sim.FoldedPrefix) && i < len(replayed) {
			states[i] = lastStates(replayed[i:])
			continue
		}
		if i == 0 {
			return nil, "node states are unavailable: the replay differs from the file from its first line"
		}
		return states, fmt.Sprintf("node states stop at event line %d (t=%dµs), where the replay differs from the file", i+1, l.At)
	}
	return states, ""
}

// lastStates is every node's last recorded state in lines, for a stall
// line that stands for all of them.
func lastStates(lines []sim.Line) string {
	var order []string // node names, by number
	last := map[string]string{}
	for _, l := range lines {
		for _, s := range strings.Split(l.State, "\n") {
			id, _, ok := strings.Cut(s, ": ")
			if !ok {
				continue
			}
			if _, seen := last[id]; !seen {
				order = append(order, id)
			}
			last[id] = s
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		return cmp.Compare(len(a), len(b))*2 + cmp.Compare(a, b)
	})
	var b strings.Builder
	for i, id := range order {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(last[id])
	}
	return b.String()
}

// StatesNote says what Diagram will say about node states for these
// replayed lines: empty when every line has its state.
func StatesNote(f *sim.File, replayed []sim.Line) string {
	_, note := align(f.Lines, replayed)
	return note
}
