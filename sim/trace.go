package sim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Trace is the readable record of a run: one line per event, each with the
// choices drawn while it happened. Recording is off in swarm runs (the digest
// alone is kept); a failing seed is run again with the trace on.
type Trace struct {
	rec   *Recorder
	lines []traceLine
	// states: keep each stepping node's Describe after its step (RecordStates).
	states bool
}

type traceLine struct {
	at    Time
	text  string
	start int // index of the first choice drawn during this line
	state string
}

func (t *Trace) line(at Time, text string) {
	t.lines = append(t.lines, traceLine{at: at, text: text, start: len(t.rec.Choices)})
}

// amend rewrites the last line's text: a send line learns its message's
// fate from choices drawn after the line began, which must stay its own.
func (t *Trace) amend(text string) { t.lines[len(t.lines)-1].text = text }

// RecordStates makes the trace keep, with the line that opened each step,
// the stepping node's state after it (Describer): for simrun replay -state
// and the diagram. States are not written to trace files.
func (t *Trace) RecordStates() { t.states = true }

// noteState attaches a node's state to the line its step began with.
func (t *Trace) noteState(line int, id NodeID, state string) {
	if line < 0 || line >= len(t.lines) {
		return
	}
	l := &t.lines[line]
	if l.state != "" {
		l.state += "\n"
	}
	l.state += "n" + strconv.Itoa(int(id)) + ": " + state
}

// Len is the number of lines recorded.
func (t *Trace) Len() int { return len(t.lines) }

// Lines returns the recorded lines with their choices, ready to write.
func (t *Trace) Lines() []Line {
	out := make([]Line, len(t.lines))
	for i, l := range t.lines {
		if i == 0 {
			l.start = 0 // setup choices drawn before the trace began
		}
		end := len(t.rec.Choices)
		if i+1 < len(t.lines) {
			end = t.lines[i+1].start
		}
		var vals []uint64
		for _, c := range t.rec.Choices[l.start:end] {
			vals = append(vals, c.V)
		}
		out[i] = Line{At: l.at, Text: l.text, Choices: vals, State: l.state}
	}
	return out
}

// Choices returns every choice drawn so far, in order.
func (t *Trace) Choices() []Choice { return t.rec.Choices }

// Line is one event of a trace file.
type Line struct {
	At      Time
	Text    string
	Choices []uint64
	// State is the state of the node this line's step ran on, after the
	// step, "n<ID>: <description>" (several, a line apart, when the step
	// ran more than one node); only when the trace recorded states, and
	// never in a trace file.
	State string
}

// Describer is a node that can say its state in one line (ballots, log,
// commit index, leader belief): traces keep it after every step when asked
// (Trace.RecordStates).
type Describer interface{ Describe() string }

// TimerNamer is a node that names its timers, for trace lines.
type TimerNamer interface{ TimerName(t TimerID) string }

func (l Line) String() string {
	var b strings.Builder
	b.WriteByte('@')
	b.WriteString(strconv.FormatInt(int64(l.At), 10))
	b.WriteByte(' ')
	b.WriteString(l.Text)
	if len(l.Choices) > 0 {
		b.WriteString(" |")
		for _, c := range l.Choices {
			b.WriteByte(' ')
			b.WriteString(strconv.FormatUint(c, 10))
		}
	}
	return b.String()
}

// TraceMagic opens every trace file; TraceVersion is the format it writes.
const (
	TraceMagic   = "synod-trace"
	TraceVersion = 2
	traceSep     = "--"
	traceEnd     = "end"
)

// Field is one header entry of a trace file.
type Field struct{ Key, Value string }

// File is a trace file: an ordered header and the event lines. The last
// line is always "end", so a truncated file is told apart from a short run.
type File struct {
	Header []Field
	Lines  []Line
}

// Get returns a header value and whether it was present.
func (f *File) Get(key string) (string, bool) {
	for _, h := range f.Header {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

// Choices is every choice of the file, in order.
func (f *File) Choices() []uint64 {
	var out []uint64
	for _, l := range f.Lines {
		out = append(out, l.Choices...)
	}
	return out
}

// Write writes the file in the trace format, adding the closing end line.
func (f *File) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %d\n", TraceMagic, TraceVersion)
	for _, h := range f.Header {
		if strings.ContainsAny(h.Key, " \n") || strings.Contains(h.Value, "\n") {
			return fmt.Errorf("trace header %q: keys are one word, values one line", h.Key)
		}
		fmt.Fprintf(bw, "%s %s\n", h.Key, h.Value)
	}
	bw.WriteString(traceSep + "\n")
	var last Time
	for _, l := range f.Lines {
		bw.WriteString(l.String())
		bw.WriteByte('\n')
		last = l.At
	}
	fmt.Fprintf(bw, "@%d %s %d events, %d lines\n", last, traceEnd, f.Events(), len(f.Lines))
	return bw.Flush()
}

// eventVerbs open the lines the kernel writes for events: what the
// header's "events" counts. Every other line is a note (begin, plan, node
// starts, sends, syncs, decisions, the violation).
var eventVerbs = []string{"timer ", "deliver ", "lost ", "fault "}

// FoldedPrefix opens a line that stands for many events folded into one
// (a liveness failure's futile tail): "stall: N more events ...".
const FoldedPrefix = "stall: "

// EventsIn is the number of events a trace line stands for.
func EventsIn(text string) int {
	for _, v := range eventVerbs {
		if strings.HasPrefix(text, v) {
			return 1
		}
	}
	if rest, ok := strings.CutPrefix(text, FoldedPrefix); ok {
		n, _, _ := strings.Cut(rest, " ")
		if k, err := strconv.Atoi(n); err == nil && k > 0 {
			return k
		}
	}
	return 0
}

// Events counts the file's events: the number its header, its end line,
// the shrinker and the sweep report all give.
func (f *File) Events() int {
	n := 0
	for _, l := range f.Lines {
		n += EventsIn(l.Text)
	}
	return n
}

// ErrNotTrace is returned for input that is not a Synod trace at all.
var ErrNotTrace = errors.New("not a synod trace (first line is not \"synod-trace N\")")

// MaxTraceBytes and MaxTraceLine bound what ReadFile accepts: a trace of
// a long run is a few megabytes; anything past these is refused, not read.
const (
	maxHeaderFields = 64
	MaxTraceBytes   = 24 << 20
	MaxTraceLine    = 1 << 20
)

// ReadFile parses a trace file, streaming: it holds the parsed lines, never
// the whole input, and refuses input past MaxTraceBytes or a line past
// MaxTraceLine. Every error is one line that says what is wrong and where.
func ReadFile(r io.Reader) (*File, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxTraceBytes+1), 64<<10)
	var total int
	var lineErr error
	lineNo := 0
	var buf []byte
	next := func() (string, bool) {
		buf = buf[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			total += len(chunk)
			switch {
			case total > MaxTraceBytes:
				lineErr = fmt.Errorf("trace is larger than the %d MB limit", MaxTraceBytes>>20)
				return "", false
			case lineNo == 0 && !bytes.HasPrefix([]byte(TraceMagic), buf[:min(len(buf), len(TraceMagic))]):
				lineErr = ErrNotTrace
				return "", false
			case len(buf) > MaxTraceLine:
				lineErr = fmt.Errorf("trace line %d is longer than the %d KB limit", lineNo+1, MaxTraceLine>>10)
				return "", false
			case err == bufio.ErrBufferFull:
				continue
			case err == io.EOF && len(buf) > 0:
				lineErr = errors.New("trace is truncated: its last line is incomplete")
				return "", false
			case err == io.EOF:
				return "", false
			case err != nil:
				lineErr = fmt.Errorf("reading trace: %v", err)
				return "", false
			}
			lineNo++
			return string(bytes.TrimSuffix(buf[:len(buf)-1], []byte{'\r'})), true
		}
	}
	first, ok := next()
	if !ok {
		if lineErr != nil {
			return nil, lineErr
		}
		return nil, errors.New("trace is empty")
	}
	magic, ver, _ := strings.Cut(first, " ")
	if magic != TraceMagic {
		return nil, ErrNotTrace
	}
	if v, err := strconv.Atoi(ver); err != nil || v != TraceVersion {
		return nil, fmt.Errorf("trace format version %q is not supported (this simrun reads version %d)", quote(ver), TraceVersion)
	}
	f := &File{}
	for {
		l, ok := next()
		if !ok {
			if lineErr != nil {
				return nil, lineErr
			}
			return nil, fmt.Errorf("trace is truncated: header has no %q line", traceSep)
		}
		if l == traceSep {
			break
		}
		k, v, _ := strings.Cut(l, " ")
		if len(f.Header) >= maxHeaderFields {
			return nil, fmt.Errorf("trace line %d: more than %d header lines", lineNo, maxHeaderFields)
		}
		if k == "" {
			return nil, fmt.Errorf("trace line %d: empty header key", lineNo)
		}
		f.Header = append(f.Header, Field{Key: k, Value: v})
	}
	ended := false
	for {
		l, ok := next()
		if !ok {
			break
		}
		if ended {
			return nil, fmt.Errorf("trace line %d: text after the end line", lineNo)
		}
		line, err := parseLine(l)
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %v", lineNo, err)
		}
		if rest, isEnd := strings.CutPrefix(line.Text, traceEnd+" "); isEnd {
			var events, lines int
			if _, err := fmt.Sscanf(rest, "%d events, %d lines", &events, &lines); err != nil || lines != len(f.Lines) || events != f.Events() {
				return nil, fmt.Errorf("trace line %d: end line says %q, file has %d events, %d lines", lineNo, quote(rest), f.Events(), len(f.Lines))
			}
			ended = true
			continue
		}
		f.Lines = append(f.Lines, line)
	}
	if lineErr != nil {
		return nil, lineErr
	}
	if !ended {
		return nil, fmt.Errorf("trace is truncated after %d events: no end line", len(f.Lines))
	}
	return f, nil
}

func parseLine(s string) (Line, error) {
	at, rest, ok := strings.Cut(s, " ")
	if !ok || !strings.HasPrefix(at, "@") {
		return Line{}, fmt.Errorf("want \"@TIME TEXT [| CHOICES]\", got %q", quote(s))
	}
	t, err := strconv.ParseInt(at[1:], 10, 64)
	if err != nil || t < 0 {
		return Line{}, fmt.Errorf("bad time %q", quote(at))
	}
	text, choices, _ := strings.Cut(rest, " |")
	line := Line{At: Time(t), Text: text}
	for _, c := range strings.Fields(choices) {
		v, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			return Line{}, fmt.Errorf("bad choice %q", quote(c))
		}
		line.Choices = append(line.Choices, v)
	}
	return line, nil
}

// quote cuts user input quoted in an error to a short prefix: an error is
// one line however long the bad input.
func quote(s string) string {
	const max = 40 // %q may spell a byte in four characters: at most 160 on the line
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
