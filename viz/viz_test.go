package viz

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
)

// node is one element of the page, parsed as XML: the page is written to
// be well-formed XML as well as HTML, so a strict XML parser checks it.
type node struct {
	name  string
	attr  map[string]string
	kids  []*node
	depth int
	// parts interleaves the text directly inside and the children, in order.
	parts []any
}

// text is the text inside the element and its children.
func (n *node) text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		for _, p := range n.parts {
			switch p := p.(type) {
			case string:
				b.WriteString(p)
			case *node:
				walk(p)
			}
		}
	}
	walk(n)
	return b.String()
}

func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, k := range n.kids {
		k.walk(fn)
	}
}

func (n *node) find(fn func(*node) bool) []*node {
	var out []*node
	n.walk(func(c *node) {
		if fn(c) {
			out = append(out, c)
		}
	})
	return out
}

func byID(root *node, id string) *node {
	got := root.find(func(n *node) bool { return n.attr["id"] == id })
	if len(got) != 1 {
		return nil
	}
	return got[0]
}

// parsePage parses the whole page strictly: every element closed, every
// attribute quoted, nothing but the five XML entities.
func parsePage(t *testing.T, page []byte) *node {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	root := &node{name: "#document", attr: map[string]string{}}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the page is not well-formed")
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &node{name: tk.Name.Local, attr: map[string]string{}, depth: len(stack)}
			for _, a := range tk.Attr {
				key := a.Name.Local
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					key = a.Name.Space + ":" + key
				}
				n.attr[key] = a.Value
			}
			top := stack[len(stack)-1]
			top.kids = append(top.kids, n)
			top.parts = append(top.parts, n)
			stack = append(stack, n)
		case xml.EndElement:
			require.Greater(t, len(stack), 1)
			require.Equal(t, stack[len(stack)-1].name, tk.Name.Local)
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top := stack[len(stack)-1]
			top.parts = append(top.parts, string(tk))
		}
	}
	require.Len(t, stack, 1, "unclosed elements")
	return root
}

func readTrace(t *testing.T, path string) *sim.File {
	t.Helper()
	r, err := os.Open(path)
	require.NoError(t, err)
	defer r.Close()
	f, err := sim.ReadFile(r)
	require.NoError(t, err)
	return f
}

var reExternal = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|@import|url\(\s*["']?(https?:)?//`)

// checkPage asserts what every diagram must be: well-formed, one lane per
// node, an element for every drawn line, the violation marked, nothing
// fetched from elsewhere.
func checkPage(t *testing.T, f *sim.File, page []byte, lanes int) *node {
	t.Helper()
	root := parsePage(t, page)

	// No network: no external src or href, no imports, no remote url().
	require.Nil(t, reExternal.FindIndex(page), "the page must not reference anything outside itself")
	root.walk(func(n *node) {
		for k, v := range n.attr {
			if k == "src" || k == "href" || strings.HasSuffix(k, ":href") {
				require.True(t, v == "#" || strings.HasPrefix(v, "#"), "%s %s=%q", n.name, k, v)
			}
		}
		require.NotEqual(t, "link", n.name)
		require.NotEqual(t, "iframe", n.name)
		if n.name == "script" {
			require.Empty(t, n.attr["src"])
		}
	})

	// One lane per node, named in the lane header.
	head := byID(root, "lanehead")
	require.NotNil(t, head)
	var names []string
	for _, n := range head.find(func(n *node) bool { return n.attr["data-lane"] != "" }) {
		name := n.find(func(c *node) bool { return c.attr["class"] == "lhn" })
		require.Len(t, name, 1)
		names = append(names, name[0].text())
	}
	var want []string
	for i := 0; i < lanes; i++ {
		want = append(want, "n"+strconv.Itoa(i))
	}
	require.Equal(t, want, names)

	// Every line of the trace has an element, unless the page says it
	// left it out; and no element names a line the trace does not have.
	drawn := map[int]bool{}
	root.walk(func(n *node) {
		if v, ok := n.attr["data-line"]; ok {
			i, err := strconv.Atoi(v)
			require.NoError(t, err)
			require.True(t, i >= 0 && i < len(f.Lines), "data-line %d out of range", i)
			drawn[i] = true
		}
	})
	notDrawn := 0
	for i := range f.Lines {
		if !drawn[i] {
			notDrawn++
		}
	}
	if notDrawn > 0 {
		require.Contains(t, byID(root, "bar").text(), "not drawn")
	}

	// The violation: a banner with the header's text, and a mark on a line.
	if v, ok := f.Get("violation"); ok {
		banner := byID(root, "banner")
		require.NotNil(t, banner)
		require.Equal(t, "bad", banner.attr["class"])
		kind, _, _ := strings.Cut(v, ":")
		require.Contains(t, banner.text(), "VIOLATION "+kind)
		mark := byID(root, "viol")
		require.NotNil(t, mark, "the violating event is marked")
		i, err := strconv.Atoi(mark.attr["data-line"])
		require.NoError(t, err)
		require.True(t, drawn[i])
		require.True(t, strings.HasPrefix(f.Lines[i].Text, "violation") || strings.HasPrefix(f.Lines[i].Text, sim.FoldedPrefix) || i == len(f.Lines)-1,
			"the mark is on %q", f.Lines[i].Text)
		require.NotNil(t, byID(root, "violrow"))
	} else {
		require.Nil(t, byID(root, "viol"))
	}
	return root
}

// pageData is the JSON the page's script reads.
func pageData(t *testing.T, root *node) map[string]json.RawMessage {
	t.Helper()
	d := byID(root, "data")
	require.NotNil(t, d)
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(d.text()), &out))
	return out
}

func TestEveryTestdataTraceDraws(t *testing.T) {
	files, err := filepath.Glob("testdata/*.trace")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	lanes := map[string]int{
		"skip-phase1.shrunk.trace":        5,
		"nack-quorum.shrunk.trace":        4,
		"no-persist.shrunk.trace":         3,
		"minority-quorum.check.trace":     3,
		"count-duplicates.shrunk.trace":   0, // from params below
		"lease-ignores-skew.shrunk.trace": 5,
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := readTrace(t, path)
			page, err := Diagram(f, nil, Options{Source: filepath.Base(path)})
			require.NoError(t, err)
			n := lanes[filepath.Base(path)]
			if n == 0 {
				n = paramLanes(f)
			}
			root := checkPage(t, f, page, n)
			for i := range f.Lines {
				require.NotEmpty(t, root.find(func(n *node) bool { return n.attr["data-line"] == strconv.Itoa(i) }),
					"line %d %q has no element", i, f.Lines[i].Text)
			}
			require.Contains(t, byID(root, "bar").text(), "no node states")
		})
	}
}

func paramLanes(f *sim.File) int {
	p, _ := f.Get("params")
	m := regexp.MustCompile(`nodes=(\d+)`).FindStringSubmatch(p)
	n, _ := strconv.Atoi(m[1])
	return n
}

// The shrunk skip-phase1 run, piece by piece: what each line became.
func TestSkipPhase1Pieces(t *testing.T) {
	f := readTrace(t, "testdata/skip-phase1.shrunk.trace")
	m := build(f, nil, DefaultMaxLines)
	require.Len(t, m.lanes, 5)
	require.Equal(t, []string{"replica", "replica", "replica", "client", "client"},
		[]string{m.lanes[0].role, m.lanes[1].role, m.lanes[2].role, m.lanes[3].role, m.lanes[4].role})
	require.True(t, m.lanes[1].involved, "acceptor 1 is named by the violation")

	// The partition: one band from the fault to the end (it never heals
	// in this run), with n1 the side cut off.
	require.Len(t, m.parts, 1)
	require.Equal(t, len(m.rows)-1, m.parts[0].to)
	require.Equal(t, []int{1}, cutSide(m.parts[0].label, 5))

	// The accept n0 sends n2 is delivered at 115000: one arrow, send row
	// to delivery row. Those to n1 are cut off.
	byText := func(text string) *event {
		for i := range m.events {
			if m.events[i].text == text {
				return &m.events[i]
			}
		}
		t.Fatalf("no line %q", text)
		return nil
	}
	send := byText("send n0->n2 accept b=1.0 s=1 commit=0 get(k0) c3#1, due @115000")
	deliver := byText("deliver n0->n2 accept b=1.0 s=1 commit=0 get(k0) c3#1")
	require.Equal(t, send.message, deliver.message)
	msg := m.msgs[send.message]
	require.Equal(t, fateDue, msg.fate)
	require.Len(t, msg.ends, 1)
	require.Less(t, send.row, deliver.row)
	cut := byText("send n1->n2 accept b=1.1 s=1 commit=0 get(k0) c4#1, cut off")
	require.Equal(t, fateCut, m.msgs[cut.message].fate)
	require.Empty(t, m.msgs[cut.message].ends)

	// The violation is on the row of the delivery that caused it.
	v := byText("violation accepted-above-chosen: slot 1: acceptor 1 accepted get(k0) c4#1 at ballot 1.1, above ballot 1.0 where get(k0) c3#1 was chosen: every ballot above a chosen one must carry the chosen command (P2b)")
	require.Equal(t, m.violRow, v.row)
	require.Equal(t, "deliver n4->n1 request get(k0) c4#1", m.events[m.rows[v.row].events[0]].text)
	require.Equal(t, kLeads, byText("n0 leads at ballot 1.0, recovering slots up to 0").kind)

	// The five boots at t=0 share one row.
	require.Equal(t, byText("start n0").row, byText("start n4").row)
}

// Identical messages are matched first by the time they are due, then in
// order; a duplicate is delivered twice; a loss and a drop end an arrow.
func TestMessageMatching(t *testing.T) {
	f := &sim.File{Header: []sim.Field{{Key: "scenario", Value: "x"}, {Key: "params", Value: "nodes=3 proposers=1"}}}
	add := func(at sim.Time, text string) { f.Lines = append(f.Lines, sim.Line{At: at, Text: text}) }
	add(0, "begin")
	add(0, "start n0")
	add(1, "timer n0 propose")
	add(1, "send n0->n1 prepare b=1.0, due @30")
	add(1, "send n0->n1 prepare b=1.0, due @20")
	add(1, "send n0->n2 prepare b=1.0, due @5 and, duplicated, @9")
	add(1, "send n0->n0 prepare b=1.0, local")
	add(1, "send n0->n2 accept b=1.0 v=101, dropped")
	add(1, "deliver n0->n0 prepare b=1.0")
	add(5, "deliver n0->n2 prepare b=1.0")
	add(6, "fault crash n1")
	add(9, "deliver n0->n2 prepare b=1.0")
	add(20, "lost n0->n1 prepare b=1.0")
	add(21, "fault restart n1")
	add(21, "start n1")
	add(30, "deliver n0->n1 prepare b=1.0")
	add(31, "deliver n2->n1 promise b=1.0")
	m := build(f, nil, DefaultMaxLines)
	ev := m.events
	require.Equal(t, ev[4].message, ev[12].message, "the copy due @20 is the one lost at 20")
	require.Equal(t, ev[3].message, ev[15].message, "the copy due @30 arrives at 30")
	dup := m.msgs[ev[5].message]
	require.Equal(t, fateDup, dup.fate)
	require.Len(t, dup.ends, 2)
	require.False(t, dup.ends[0].dup)
	require.True(t, dup.ends[1].dup)
	require.Equal(t, ev[6].message, ev[8].message, "a node's own mail")
	require.Equal(t, fateDropped, m.msgs[ev[7].message].fate)
	require.Equal(t, -1, m.msgs[ev[16].message].send, "a delivery with no send seen")
	require.Len(t, m.crashes, 1)
	require.Equal(t, ev[10].row, m.crashes[0].from)
	require.Equal(t, ev[13].row, m.crashes[0].to)
	require.Equal(t, ev[13].row, ev[14].row, "a restart and its boot share a row")
	require.Equal(t, "", ev[14].label, "the restart's mark says it")

	page, err := Diagram(f, nil, Options{})
	require.NoError(t, err)
	root := checkPage(t, f, page, 3)
	dia := byID(root, "dia")
	require.Len(t, dia.find(func(n *node) bool { return n.attr["class"] == "ar ad" && n.name == "line" }), 1, "one arrow for the duplicate copy")
	require.Len(t, dia.find(func(n *node) bool { return n.attr["class"] == "xm" }), 2, "crosses: the drop and the loss")
	require.Equal(t, "ok", byID(root, "banner").attr["class"])
}

// States from a replay show on hover; a liveness failure's stall line
// gets every node's last state; a replay that parts from the file keeps
// the states up to there and says so.
func TestStates(t *testing.T) {
	f := readTrace(t, "testdata/nack-quorum.shrunk.trace")
	last := len(f.Lines) - 1
	require.True(t, strings.HasPrefix(f.Lines[last].Text, sim.FoldedPrefix))
	replayed := make([]sim.Line, 0, len(f.Lines)+3)
	for i, l := range f.Lines[:last] {
		l.State = fmt.Sprintf("n%d: state of line %d", i%4, i)
		replayed = append(replayed, l)
	}
	// What the stall line folds: three more steps.
	replayed = append(replayed,
		sim.Line{At: 300000, Text: "timer n2 t1", State: "n2: late two"},
		sim.Line{At: 310000, Text: "timer n0 t1", State: "n0: late zero"},
		sim.Line{At: 320000, Text: "timer n2 t1", State: "n2: later two"})
	page, err := Diagram(f, replayed, Options{})
	require.NoError(t, err)
	root := checkPage(t, f, page, 4)
	require.NotContains(t, byID(root, "bar").text(), "states")
	data := pageData(t, root)
	var states map[string]string
	require.NoError(t, json.Unmarshal(data["states"], &states))
	var rows [][]int
	require.NoError(t, json.Unmarshal(data["rows"], &rows))
	stallRow := -1
	for r, lines := range rows {
		for _, i := range lines {
			if i == last {
				stallRow = r
			}
		}
	}
	require.Equal(t, "n0: late zero\nn2: later two", states[strconv.Itoa(stallRow)])
	require.Contains(t, states["0"], "state of line")

	// Parting at line 10: states up to there.
	replayed[10].Text += " (changed)"
	require.Contains(t, StatesNote(f, replayed), "node states stop at event line 11")
	page, err = Diagram(f, replayed, Options{})
	require.NoError(t, err)
	root = checkPage(t, f, page, 4)
	require.Contains(t, byID(root, "bar").text(), "node states stop at event line 11")
}

// A long trace keeps its first lines and the window before the violation,
// says what it left out, and stays a few megabytes.
func TestLongTraceIsBounded(t *testing.T) {
	f := &sim.File{Header: []sim.Field{{Key: "scenario", Value: "multi/kv"}, {Key: "params", Value: "replicas=3 clients=2"},
		{Key: "violation", Value: "agreement: made up for the test"}}}
	add := func(at sim.Time, text string) { f.Lines = append(f.Lines, sim.Line{At: at, Text: text, State: ""}) }
	add(0, "begin")
	for i := 0; i < 5; i++ {
		add(0, fmt.Sprintf("start n%d", i))
	}
	const steps = 12000
	for i := 0; i < steps; i++ {
		at := sim.Time(1000 + i*10)
		a, b := i%3, (i+1)%3
		add(at, fmt.Sprintf("timer n%d heartbeat", a))
		add(at, fmt.Sprintf("send n%d->n%d heartbeat b=1.%d commit=%d, due @%d", a, b, a, i, at+15))
		add(at+15, fmt.Sprintf("deliver n%d->n%d heartbeat b=1.%d commit=%d", a, b, a, i))
		if i == steps-1000 {
			add(at+15, "violation agreement: made up for the test")
		}
	}
	page, err := Diagram(f, nil, Options{})
	require.NoError(t, err)
	require.Less(t, len(page), 3<<20, "the page stays a few megabytes")
	root := checkPage(t, f, page, 5)
	drawn := len(root.find(func(n *node) bool { _, ok := n.attr["data-line"]; return ok }))
	require.Greater(t, drawn, DefaultMaxLines/2)
	bar := byID(root, "bar").text()
	require.Contains(t, bar, "not drawn")
	require.Len(t, regexp.MustCompile(`not drawn`).FindAllString(bar, -1), 2, "the middle and the tail after the violation: %s", bar)
	elided := root.find(func(n *node) bool { return strings.Contains(n.attr["class"], "elided") })
	require.Len(t, elided, 2)
	// The first lines are there.
	require.NotEmpty(t, root.find(func(n *node) bool { return n.attr["data-line"] == "1" }))

	// A violation that names an earlier time (a linearizability failure
	// names its operations') keeps a window there too.
	at := sim.Time(1000 + 6000*10)
	f.Header[2].Value = fmt.Sprintf("linearizability: made up, an operation [%dµs, %dµs]", at, at+15)
	named, err := Diagram(f, nil, Options{})
	require.NoError(t, err)
	root = checkPage(t, f, named, 5)
	require.Len(t, root.find(func(n *node) bool { return strings.Contains(n.attr["class"], "elided") }), 3)
	timer := -1
	for i, l := range f.Lines {
		if l.At == at && strings.HasPrefix(l.Text, "timer ") {
			timer = i
		}
	}
	require.NotEmpty(t, root.find(func(n *node) bool { return n.attr["data-line"] == strconv.Itoa(timer) }), "the named time is drawn")
	require.NotEmpty(t, root.find(func(n *node) bool { return strings.Contains(n.attr["class"], "vref") }), "and marked")
	require.Less(t, len(named), 3<<20)

	// A smaller bound draws fewer.
	small, err := Diagram(f, nil, Options{MaxLines: 200})
	require.NoError(t, err)
	require.Less(t, len(small), len(page)/5)
	checkPage(t, f, small, 5)
}

func TestBannerEscapesTheViolation(t *testing.T) {
	f := &sim.File{Header: []sim.Field{{Key: "scenario", Value: "x"}, {Key: "violation", Value: `agreement: <script>alert("x")</script> & more`}},
		Lines: []sim.Line{{At: 0, Text: "begin"}, {At: 0, Text: `violation agreement: <b>"x"</b>`}}}
	page, err := Diagram(f, nil, Options{Source: `a<b>.trace`})
	require.NoError(t, err)
	root := checkPage(t, f, page, 0)
	require.Len(t, root.find(func(n *node) bool { return n.name == "script" }), 2, "only the data and the page's own script")
	require.NotContains(t, string(page), "<b>\"x\"")
}

// Whatever the lines say, the page is well-formed and every line has an
// element: a trace edited by hand, or from a newer simrun, still draws.
func FuzzDiagram(f *testing.F) {
	for _, s := range []string{
		"send n0->n1 prepare b=1.0, due @5\ndeliver n0->n1 prepare b=1.0",
		"send n0->n0 x, local",
		"send n0->n1 x, due @9 and, duplicated, @3\nlost n0->n1 x\nfault dup n0->n1 x",
		"fault partition halves cut=0>1,1>0,9>70\nfault heal, but n1,n99 stay down for good",
		"violation agreement: <x> & \"y\" t=5µs\nstall: 3 more events",
		"start n63\nsync n64 x\nn70 leads at ballot 1.0\nslot 1 decided x (first learned by n2\n]]>",
		"send\ndeliver\nlost n1->\nfault\nfault crash\ntimer\n\x00\xff",
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, body string, maxLines uint8) {
		file := &sim.File{Header: []sim.Field{{Key: "scenario", Value: "x"}, {Key: "params", Value: "replicas=2 clients=1"},
			{Key: "violation", Value: "agreement: t=3µs"}}}
		for i, l := range strings.Split(body, "\n") {
			file.Lines = append(file.Lines, sim.Line{At: sim.Time(i), Text: l})
		}
		page, err := Diagram(file, nil, Options{MaxLines: int(maxLines)})
		require.NoError(t, err)
		root := parsePage(t, page)
		drawn := map[string]bool{}
		root.walk(func(n *node) { drawn[n.attr["data-line"]] = true })
		hidden := strings.Contains(byID(root, "bar").text(), "not drawn")
		for i := range file.Lines {
			require.True(t, hidden || drawn[strconv.Itoa(i)], "line %d %q", i, file.Lines[i].Text)
		}
	})
}

// An untimed trace (simrun check) numbers its steps where a timed one
// gives times.
func TestUntimedNumbersSteps(t *testing.T) {
	for path, prefix := range map[string]string{"testdata/minority-quorum.check.trace": "#", "testdata/no-persist.shrunk.trace": "0.000"} {
		f := readTrace(t, path)
		page, err := Diagram(f, nil, Options{})
		require.NoError(t, err)
		root := parsePage(t, page)
		times := byID(root, "times").find(func(n *node) bool { return n.name == "text" })
		require.NotEmpty(t, times)
		require.True(t, strings.HasPrefix(times[0].text(), prefix), "%s: %q", path, times[0].text())
		for _, tt := range times {
			require.Equal(t, prefix == "#", strings.HasPrefix(tt.text(), "#"), "%s: %q", path, tt.text())
		}
		require.Equal(t, prefix == "#", strings.Contains(byID(root, "banner").text(), "at step #"))
	}
}

// A dead letter the untimed view collected ends its message, as a drop
// does, and says why it went.
func TestDeadLetterEndsItsMessage(t *testing.T) {
	f := &sim.File{Header: []sim.Field{{Key: "scenario", Value: "single/check"}, {Key: "params", Value: "untimed nodes=3"}}}
	add := func(text string) { f.Lines = append(f.Lines, sim.Line{Text: text}) }
	add("begin")
	add("start n0")
	add("timer n0 propose")
	add("send n0->n1 prepare b=1.0, in flight")
	add("dead n0->n1 prepare b=1.0, removed: the receiver refuses it and the sender ignores the answer")
	m := build(f, nil, DefaultMaxLines)
	ev := m.events
	require.Equal(t, kDead, ev[4].kind)
	require.Equal(t, ev[3].message, ev[4].message, "the dead letter is the message sent")
	require.Len(t, m.msgs[ev[3].message].ends, 1)
	page, err := Diagram(f, nil, Options{})
	require.NoError(t, err)
	root := checkPage(t, f, page, 3)
	require.NotEmpty(t, byID(root, "dia").find(func(n *node) bool { return n.name == "text" && n.text() == "dead" }))
}
