// Package viz draws a trace as a space-time diagram: one lane per node,
// messages as arrows from send to delivery, faults shaded as intervals, the
// violation marked. The page is one self-contained HTML file (inline SVG,
// CSS and a little JavaScript), so it opens from disk with no network.
//
// The diagram is read from the trace file alone; node states come from a
// replay of it (scenarios.ReplayWith with States) and are optional.
package viz

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/sim"
)

// kind is what a trace line says, as far as the picture cares.
type kind uint8

const (
	kNote      kind = iota // a note about one node (node >= 0) or the run (node < 0)
	kBegin                 // begin
	kPlan                  // plan ...
	kStart                 // start nX: boot or restart
	kTimer                 // timer nX NAME
	kSend                  // send nA->nB MSG, FATE
	kDeliver               // deliver nA->nB MSG
	kLost                  // lost nA->nB MSG
	kSync                  // sync nX RECORDS
	kCrash                 // fault crash nX
	kRestart               // fault restart nX
	kPartition             // fault partition ... / fault cut the leader off
	kHeal                  // fault partition heals / fault heal ... / fault leader cut heals
	kClock                 // fault clock nX steps ...
	kDrop                  // fault drop nA->nB MSG (untimed)
	kDup                   // fault dup nA->nB MSG (untimed)
	kDead                  // dead nA->nB MSG, removed: WHY (untimed: a message no one would act on, collected)
	kFault                 // any other fault line (net settings)
	kLeads                 // nX leads at ballot B
	kDecided               // nX decided V / slot S decided ... (first learned by nX
	kApplies               // nX applies slot S: ...
	kAnswers               // nX answers ... locally
	kViolation             // violation KIND[: ...]
	kStall                 // stall: N more events ... (a liveness failure's fold)
	kElided                // not a trace line: lines this page leaves out
)

// fate is what became of a sent message.
type fate uint8

const (
	fateUnknown  fate = iota
	fateDue           // due @T
	fateDup           // due @T1 and, duplicated, @T2
	fateDropped       // dropped
	fateCut           // cut off
	fateLocal         // local
	fateInFlight      // in flight (untimed)
)

// event is one trace line, parsed.
type event struct {
	line   int // index in the file's lines
	at     sim.Time
	text   string
	kind   kind
	node   int // the lane it happens on; -1 for the whole run
	peer   int // the other end of a message; -1 otherwise
	msg    string
	fate   fate
	due    []sim.Time
	label  string // a short label for its mark on the lane
	row    int
	hidden bool // in an elided stretch: not drawn, its row is the elision's
	// message is the index in model.msgs of the message this line sends,
	// delivers, loses, drops or duplicates; -1 for none.
	message int
}

// message is one sent message and what became of each copy.
type message struct {
	send     int // event index of the send line; -1 when it was not seen
	from, to int
	text     string
	fate     fate
	ends     []msgEnd
}

// msgEnd is where one copy of a message ended: delivered, lost at the
// receiver, dropped by an untimed fault.
type msgEnd struct {
	event int
	dup   bool // the second copy of a duplicated message
}

// interval is a stretch of rows on one lane (crash, cut off for good) or
// across the diagram (partition).
type interval struct {
	node      int // -1: across every lane
	from, to  int // rows, inclusive; to is the last row when it never ends
	label     string
	line      int // the line that opened it
	open      bool
	permanent bool // never ends: lasts to the end of the run
}

// row is one step of the run: the line it began with and the lines the
// step wrote after it (sends, syncs, notes).
type row struct {
	at     sim.Time
	events []int
	node   int
}

// lane is one node.
type lane struct {
	name, role string
	involved   bool // named by the violation
}

// model is everything the picture needs, read from a trace file.
type model struct {
	file      *sim.File
	events    []event
	rows      []row
	msgs      []message
	lanes     []lane
	crashes   []interval
	parts     []interval
	violation string // the header's violation text
	violRow   int    // -1: none
	violLine  int    // -1: none
	elided    []gap
	states    []string // per file line, the stepping node's state after it
}

// gap is a stretch of lines left out of the page.
type gap struct{ from, to int } // line indexes, to exclusive

var (
	reNode     = regexp.MustCompile(`^n(\d+)\b`)
	reArrow    = regexp.MustCompile(`^n(\d+)->n(\d+) (.*)$`)
	reDue      = regexp.MustCompile(`^due @(\d+)$`)
	reDup      = regexp.MustCompile(`^due @(\d+) and, duplicated, @(\d+)$`)
	reLearned  = regexp.MustCompile(`first learned by n(\d+)`)
	reSlot     = regexp.MustCompile(`^slot (\d+) decided`)
	reApplies  = regexp.MustCompile(`^n\d+ applies slot (\d+): (\S+)`)
	reLeads    = regexp.MustCompile(`^n\d+ leads at ballot (\S+?),?( |$)`)
	reDecided  = regexp.MustCompile(`^n\d+ decided (\S+)`)
	reClock    = regexp.MustCompile(`^clock n(\d+) steps to offset (-?\d+)µs`)
	reLastingN = regexp.MustCompile(`^heal, but (\S+) stay (cut off|down) for good`)
	reMicros   = regexp.MustCompile(`\bt?=?(\d+)µs`)
	reParam    = regexp.MustCompile(`\b(replicas|clients|nodes|proposers)=(\d+)`)
	reInvolved = []*regexp.Regexp{
		regexp.MustCompile(`\bn(\d+)\b`),
		regexp.MustCompile(`\b(?:node|acceptor|replica|client|proposer) (\d+)\b`),
		regexp.MustCompile(`\bnodes \[([\d ]+)\]`),
	}
)

// maxLanes bounds the lanes drawn: node ids past it are folded into the
// last lane's neighbourhood rather than widening the page without end.
const maxLanes = 64

// parse reads one trace line.
func parse(i int, l sim.Line) event {
	e := event{line: i, at: l.At, text: l.Text, node: -1, peer: -1, message: -1}
	verb, rest, _ := strings.Cut(l.Text, " ")
	switch verb {
	case "begin":
		e.kind = kBegin
	case "plan":
		e.kind = kPlan
	case "start":
		e.kind, e.node = kStart, nodeOf(rest)
		e.label = "start"
	case "timer":
		e.kind, e.node = kTimer, nodeOf(rest)
		_, e.label, _ = strings.Cut(rest, " ")
	case "send":
		e.kind = kSend
		if m := reArrow.FindStringSubmatch(rest); m != nil {
			e.node, e.peer = atoi(m[1]), atoi(m[2])
			e.msg, e.fate, e.due = splitFate(m[3])
		}
	case "deliver", "lost":
		e.kind = kDeliver
		if verb == "lost" {
			e.kind = kLost
		}
		if m := reArrow.FindStringSubmatch(rest); m != nil {
			e.node, e.peer, e.msg = atoi(m[2]), atoi(m[1]), m[3]
		}
	case "dead":
		e.kind, e.label = kDead, "dead"
		what, _, _ := strings.Cut(rest, ", removed:")
		if m := reArrow.FindStringSubmatch(what); m != nil {
			e.node, e.peer, e.msg = atoi(m[2]), atoi(m[1]), m[3]
		}
	case "sync":
		e.kind, e.node = kSync, nodeOf(rest)
	case "fault":
		parseFault(&e, rest)
	case "violation":
		e.kind = kViolation
		k, _, _ := strings.Cut(rest, ":")
		e.label = "VIOLATION " + k
	case "stall:":
		e.kind = kStall
	default:
		parseNote(&e)
	}
	return e
}

func parseFault(e *event, rest string) {
	what, args, _ := strings.Cut(rest, " ")
	e.kind = kFault
	switch {
	case what == "crash":
		e.kind, e.node, e.label = kCrash, nodeOf(args), "crash"
	case what == "restart":
		e.kind, e.node, e.label = kRestart, nodeOf(args), "restart"
	case what == "drop" || what == "dup":
		e.kind = kDrop
		if what == "dup" {
			e.kind = kDup
		}
		if m := reArrow.FindStringSubmatch(args); m != nil {
			e.node, e.peer, e.msg = atoi(m[2]), atoi(m[1]), m[3]
		}
		e.label = what
	case rest == "partition heals" || rest == "leader cut heals" || what == "heal" || strings.HasPrefix(rest, "heal,"):
		e.kind, e.label = kHeal, "heal"
	case what == "partition" || rest == "cut the leader off":
		e.kind = kPartition
	case what == "clock":
		e.kind = kClock
		if m := reClock.FindStringSubmatch(rest); m != nil {
			e.node = atoi(m[1])
			e.label = "clock " + m[2] + "µs"
		}
	}
}

func parseNote(e *event) {
	e.kind = kNote
	if m := reSlot.FindStringSubmatch(e.text); m != nil {
		e.kind, e.label = kDecided, "s"+m[1]+" decided"
		if n := reLearned.FindStringSubmatch(e.text); n != nil {
			e.node = atoi(n[1])
		}
		return
	}
	m := reNode.FindStringSubmatch(e.text)
	if m == nil {
		return
	}
	e.node = atoi(m[1])
	switch {
	case reLeads.MatchString(e.text):
		e.kind, e.label = kLeads, "leader "+reLeads.FindStringSubmatch(e.text)[1]
	case reDecided.MatchString(e.text):
		e.kind, e.label = kDecided, "decided "+reDecided.FindStringSubmatch(e.text)[1]
	case reApplies.MatchString(e.text):
		a := reApplies.FindStringSubmatch(e.text)
		op, _, _ := strings.Cut(a[2], "(")
		e.kind, e.label = kApplies, "s"+a[1]+" "+strings.TrimSuffix(op, ",")
	case strings.Contains(e.text, " answers ") && strings.Contains(e.text, " locally"):
		e.kind, e.label = kAnswers, "local read"
	default:
		_, e.label, _ = strings.Cut(e.text, " ")
		e.label = clip(e.label, 24)
	}
}

// splitFate cuts "MSG, FATE" at the fate the kernel appended.
func splitFate(s string) (string, fate, []sim.Time) {
	i := strings.LastIndex(s, ", ")
	if j := strings.LastIndex(s, ", due @"); j >= 0 {
		i = j
	}
	if i < 0 {
		return s, fateUnknown, nil
	}
	msg, f := s[:i], s[i+2:]
	switch f {
	case "dropped":
		return msg, fateDropped, nil
	case "cut off":
		return msg, fateCut, nil
	case "local":
		return msg, fateLocal, nil
	case "in flight":
		return msg, fateInFlight, nil
	}
	if m := reDup.FindStringSubmatch(f); m != nil {
		return msg, fateDup, []sim.Time{sim.Time(atoi64(m[1])), sim.Time(atoi64(m[2]))}
	}
	if m := reDue.FindStringSubmatch(f); m != nil {
		return msg, fateDue, []sim.Time{sim.Time(atoi64(m[1]))}
	}
	return s, fateUnknown, nil
}

func nodeOf(s string) int {
	if m := reNode.FindStringSubmatch(s); m != nil {
		return atoi(m[1])
	}
	return -1
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= maxLanes {
		return -1
	}
	return n
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// build reads a file into a model, keeping at most maxLines lines on the
// page (the first ones and a window around the violation).
func build(f *sim.File, states []string, maxLines int) *model {
	m := &model{file: f, violRow: -1, violLine: -1, states: states}
	m.violation, _ = f.Get("violation")
	for i, l := range f.Lines {
		m.events = append(m.events, parse(i, l))
	}
	m.findViolation()
	m.matchMessages()
	m.elide(maxLines)
	m.layRows()
	if m.violLine >= 0 {
		m.violRow = m.events[m.violLine].row
	}
	m.findLanes()
	m.findIntervals()
	m.check()
	return m
}

// check asserts what the drawing relies on: rows in order, each line on
// one row, each message's ends pointing back at it.
func (m *model) check() {
	for i := range m.events {
		e := &m.events[i]
		if e.line != i || e.row < 0 || e.row >= len(m.rows) || (i > 0 && e.row < m.events[i-1].row) {
			panic(fmt.Sprintf("viz: line %d (%q) on row %d of %d", i, e.text, e.row, len(m.rows)))
		}
		if e.hidden != (len(m.rows[e.row].events) == 0) {
			panic(fmt.Sprintf("viz: line %d hidden=%v on a row of %d lines", i, e.hidden, len(m.rows[e.row].events)))
		}
	}
	for k, msg := range m.msgs {
		for _, end := range msg.ends {
			if m.events[end.event].message != k {
				panic(fmt.Sprintf("viz: message %d ends at line %d, which names message %d", k, end.event, m.events[end.event].message))
			}
		}
		if msg.send >= 0 && m.events[msg.send].message != k {
			panic(fmt.Sprintf("viz: message %d sent at line %d, which names message %d", k, msg.send, m.events[msg.send].message))
		}
	}
	if m.violLine >= len(m.events) || (m.violLine >= 0 && m.violRow != m.events[m.violLine].row) {
		panic(fmt.Sprintf("viz: violation at line %d, row %d", m.violLine, m.violRow))
	}
}

// findViolation picks the line the violation is marked on: the violation
// line, else (a liveness failure) the stall line, else the last line.
func (m *model) findViolation() {
	for i := range m.events {
		if m.events[i].kind == kViolation {
			m.violLine = i
			return
		}
	}
	if m.violation == "" || len(m.events) == 0 {
		return
	}
	for i := len(m.events) - 1; i >= 0; i-- {
		if m.events[i].kind == kStall {
			m.violLine = i
			return
		}
	}
	m.violLine = len(m.events) - 1
}

// matchMessages pairs every delivery (and loss, untimed drop) with its
// send: same sender, receiver and text, the copy due at that time first,
// else the oldest (FIFO among identical messages).
func (m *model) matchMessages() {
	type copyOf struct {
		msg int
		due sim.Time // -1: untimed or local
		dup bool
	}
	pending := map[string][]copyOf{}
	key := func(from, to int, text string) string {
		return strconv.Itoa(from) + ">" + strconv.Itoa(to) + " " + text
	}
	take := func(k string, at sim.Time, keep bool) (copyOf, bool) {
		q := pending[k]
		if len(q) == 0 {
			return copyOf{}, false
		}
		j := 0
		for i, c := range q {
			if c.due == at {
				j = i
				break
			}
		}
		c := q[j]
		if !keep {
			pending[k] = append(q[:j:j], q[j+1:]...)
		}
		return c, true
	}
	for i := range m.events {
		e := &m.events[i]
		switch e.kind {
		case kSend:
			if e.node < 0 || e.peer < 0 {
				continue
			}
			m.msgs = append(m.msgs, message{send: i, from: e.node, to: e.peer, text: e.msg, fate: e.fate})
			e.message = len(m.msgs) - 1
			k := key(e.node, e.peer, e.msg)
			switch e.fate {
			case fateDue:
				pending[k] = append(pending[k], copyOf{msg: e.message, due: e.due[0]})
			case fateDup:
				pending[k] = append(pending[k], copyOf{msg: e.message, due: e.due[0]}, copyOf{msg: e.message, due: e.due[1], dup: true})
			case fateLocal, fateInFlight, fateUnknown:
				pending[k] = append(pending[k], copyOf{msg: e.message, due: -1})
			}
		case kDeliver, kLost, kDrop, kDead:
			if e.node < 0 || e.peer < 0 {
				continue
			}
			c, ok := take(key(e.peer, e.node, e.msg), e.at, false)
			if !ok {
				// Sent before the trace began or in an elided stretch we
				// never saw: a message with no send.
				m.msgs = append(m.msgs, message{send: -1, from: e.peer, to: e.node, text: e.msg, fate: fateUnknown})
				c.msg = len(m.msgs) - 1
			}
			e.message = c.msg
			m.msgs[c.msg].ends = append(m.msgs[c.msg].ends, msgEnd{event: i, dup: c.dup})
		case kDup:
			k := key(e.peer, e.node, e.msg)
			if c, ok := take(k, -1, true); ok {
				e.message = c.msg
				pending[k] = append(pending[k], copyOf{msg: c.msg, due: -1, dup: true})
			}
		}
	}
}

// elide leaves out the middle of a long trace: the first lines stay, and
// a window that ends a little after the violation (or at the end), and a
// window around the times the violation names when they lie further back
// (the operations of a linearizability failure, say).
func (m *model) elide(maxLines int) {
	n := len(m.events)
	if maxLines <= 0 || n <= maxLines {
		return
	}
	type span struct{ from, to int } // line indexes, to exclusive
	head := maxLines / 8
	keep := []span{{0, head}}
	budget := maxLines - head
	focus := n - 1
	if m.violLine >= 0 {
		focus = m.violLine
	}
	if from, to, ok := m.namedLines(); ok && from < focus-budget/2 {
		w := budget / 2
		start := max(0, min((from+to)/2-w/2, n-w))
		keep = append(keep, span{start, start + w})
		budget -= w
	}
	end := min(n, focus+1+budget/4)
	keep = append(keep, span{max(0, end-budget), end})
	slices.SortFunc(keep, func(a, b span) int { return a.from - b.from })
	at := 0
	for _, k := range keep {
		if k.from > at {
			m.elided = append(m.elided, gap{at, k.from})
		}
		at = max(at, k.to)
	}
	if at < n {
		m.elided = append(m.elided, gap{at, n})
	}
	for _, g := range m.elided {
		for i := g.from; i < g.to; i++ {
			m.events[i].hidden = true
		}
	}
}

// namedLines finds the lines at the times the violation names: the first
// line at or after the earliest, and at or after the latest.
func (m *model) namedLines() (from, to int, ok bool) {
	for _, s := range reMicros.FindAllStringSubmatch(m.violation, 32) {
		t := sim.Time(atoi64(s[1]))
		i, _ := slices.BinarySearchFunc(m.events, t, func(e event, t sim.Time) int { return cmp.Compare(e.at, t) })
		if i >= len(m.events) {
			continue
		}
		if !ok {
			from, to, ok = i, i, true
		}
		from, to = min(from, i), max(to, i)
	}
	return from, to, ok
}

// layRows groups lines into steps, one row each: a step begins with a
// timer, delivery, fault, boot or run note, and takes the sends, syncs and
// notes written after it. Boots at one instant share a row.
func (m *model) layRows() {
	g := 0
	cur := -1
	for i := range m.events {
		e := &m.events[i]
		if e.hidden {
			for g < len(m.elided) && m.elided[g].to <= i {
				g++
			}
			if i == m.elided[g].from {
				m.rows = append(m.rows, row{at: e.at, node: -1})
				cur = -1
			}
			e.row = len(m.rows) - 1
			continue
		}
		if cur < 0 || m.opensRow(e, &m.rows[cur]) {
			m.rows = append(m.rows, row{at: e.at, node: e.node})
			cur = len(m.rows) - 1
		}
		e.row = cur
		m.rows[cur].events = append(m.rows[cur].events, i)
	}
}

func (m *model) opensRow(e *event, r *row) bool {
	first := &m.events[r.events[0]]
	switch e.kind {
	case kSend, kSync, kLeads, kDecided, kApplies, kAnswers, kNote, kViolation:
		return false
	case kPlan:
		return first.kind != kBegin
	case kStart:
		if r.at != e.at {
			return true
		}
		if first.kind == kRestart && first.node == e.node && len(r.events) == 1 {
			return false
		}
		for _, j := range r.events {
			o := &m.events[j]
			if o.kind != kStart || o.node == e.node {
				return true
			}
		}
		return false
	}
	return true
}

// findLanes names one lane per node: the header's params say how many
// replicas and clients (or nodes and proposers); lines may name more.
func (m *model) findLanes() {
	params, _ := m.file.Get("params")
	p := map[string]int{}
	for _, s := range reParam.FindAllStringSubmatch(params, -1) {
		if _, seen := p[s[1]]; !seen {
			p[s[1]] = atoi(s[2])
		}
	}
	n := 0
	if r, ok := p["replicas"]; ok && r > 0 {
		n = r + max(p["clients"], 0)
	} else if k, ok := p["nodes"]; ok && k > 0 {
		n = k
	}
	for i := range m.events {
		e := &m.events[i]
		n = max(n, e.node+1, e.peer+1)
	}
	n = min(n, maxLanes)
	for i := 0; i < n; i++ {
		role := "node"
		switch {
		case p["replicas"] > 0 && i < p["replicas"]:
			role = "replica"
		case p["replicas"] > 0 && i < p["replicas"]+p["clients"]:
			role = "client"
		case p["replicas"] > 0:
			role = "node" // past the clients: a scenario's own (a lock's resource, say)
		case p["proposers"] > 0 && i < p["proposers"]:
			role = "proposer"
		case p["nodes"] > 0:
			role = "acceptor"
		}
		m.lanes = append(m.lanes, lane{name: "n" + strconv.Itoa(i), role: role})
	}
	for _, id := range involved(m.violation) {
		if id < len(m.lanes) {
			m.lanes[id].involved = true
		}
	}
}

// involved lists the nodes a violation's text names.
func involved(text string) []int {
	var out []int
	seen := map[int]bool{}
	for _, re := range reInvolved {
		for _, s := range re.FindAllStringSubmatch(text, -1) {
			for _, f := range strings.Fields(s[1]) {
				if id := atoi(f); id >= 0 && !seen[id] {
					seen[id] = true
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// findIntervals finds crashes (crash to restart, per lane) and partitions
// (a partition fault to its heal or the next partition, across lanes).
func (m *model) findIntervals() {
	last := len(m.rows) - 1
	down := map[int]int{} // node -> index in crashes
	part := -1
	for i := range m.events {
		e := &m.events[i]
		switch e.kind {
		case kCrash:
			if _, ok := down[e.node]; !ok && e.node >= 0 {
				m.crashes = append(m.crashes, interval{node: e.node, from: e.row, label: "down", line: i, open: true})
				down[e.node] = len(m.crashes) - 1
			}
		case kRestart, kStart:
			if c, ok := down[e.node]; ok {
				m.crashes[c].to, m.crashes[c].open = e.row, false
				delete(down, e.node)
			}
			if e.kind == kStart && m.rowHasRestart(e.row, e.node) {
				e.label = "" // the restart's own mark says it
			}
		case kPartition:
			if part >= 0 {
				m.parts[part].to, m.parts[part].open = e.row, false
			}
			label := strings.TrimPrefix(e.text, "fault ")
			for _, j := range m.rowEvents(e.row) {
				if o := &m.events[j]; o.kind == kNote && j > i {
					label += " (" + o.text + ")"
				}
			}
			m.parts = append(m.parts, interval{node: -1, from: e.row, label: label, line: i, open: true})
			part = len(m.parts) - 1
		case kHeal:
			if part >= 0 {
				m.parts[part].to, m.parts[part].open = e.row, false
				part = -1
			}
			if s := reLastingN.FindStringSubmatch(strings.TrimPrefix(e.text, "fault ")); s != nil {
				for _, name := range strings.Split(s[1], ",") {
					id := nodeOf(name)
					if id < 0 {
						continue
					}
					if s[2] == "down" {
						if _, ok := down[id]; !ok {
							m.crashes = append(m.crashes, interval{node: id, from: e.row, label: "down for good", line: i, open: true, permanent: true})
							down[id] = len(m.crashes) - 1
						} else {
							m.crashes[down[id]].label, m.crashes[down[id]].permanent = "down for good", true
						}
					} else {
						m.parts = append(m.parts, interval{node: id, from: e.row, to: last, label: "cut off for good", line: i, permanent: true})
					}
				}
			}
		}
	}
	for _, c := range down {
		m.crashes[c].to = last
	}
	if part >= 0 {
		m.parts[part].to = last
	}
}

func (m *model) rowEvents(r int) []int {
	if r < 0 || r >= len(m.rows) {
		return nil
	}
	return m.rows[r].events
}

func (m *model) rowHasRestart(r, node int) bool {
	for _, j := range m.rowEvents(r) {
		if e := &m.events[j]; e.kind == kRestart && e.node == node {
			return true
		}
	}
	return false
}

// untimed reports a trace with no time in it (simrun check's): every
// line at one instant.
func (m *model) untimed() bool {
	return len(m.events) > 1 && m.events[0].at == m.events[len(m.events)-1].at
}
