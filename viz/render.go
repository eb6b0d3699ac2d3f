package viz

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/sim"
)

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

// Geometry of the diagram, in SVG units (CSS pixels at zoom 1).
const (
	rowH    = 18  // one step of the run
	headH   = 40  // the lane names, kept at the top while scrolling
	gutterW = 78  // the time column
	textW   = 560 // the column that spells each step's line
	textGap = 60  // between the last lane and the text column: room for the last lane's labels
	footH   = 30  // below the last row: where undelivered arrows end
)

// laneGap is the distance between lanes: wide for a few nodes, narrower
// for many, so a cluster of nine still fits a laptop screen.
func laneGap(n int) int {
	switch {
	case n <= 4:
		return 116
	case n <= 6:
		return 100
	case n <= 9:
		return 80
	default:
		return max(46, 720/n)
	}
}

type geom struct {
	gap, width, height, textX int
}

func geometry(m *model) geom {
	g := geom{gap: laneGap(len(m.lanes))}
	g.textX = gutterW + g.gap*len(m.lanes) + textGap
	g.width = g.textX + textW
	g.height = headH + rowH*len(m.rows) + footH
	return g
}

func (g geom) x(node int) float64 { return float64(gutterW + g.gap*node + g.gap/2) }
func rowY(r int) float64          { return float64(headH + r*rowH + rowH/2) }

// page is the output being written.
type page struct {
	strings.Builder
	m *model
	g geom
	// drawn marks the lines that have an element carrying their
	// data-line, so that every line gets one.
	drawn []bool
	// slots counts the marks drawn on each (row, lane); labels gathers
	// their texts, written once per (row, lane) in labelOrder.
	slots      map[[2]int]int
	labels     map[[2]int][]label
	labelOrder [][2]int
	named      []int // rows at the times the violation names
}

// esc escapes text for the page, and replaces what neither HTML nor XML
// allows in text (control characters, invalid UTF-8), which a trace edited
// by hand may hold.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || r == 0xfffe || r == 0xffff {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (p *page) printf(format string, args ...any) { fmt.Fprintf(p, format, args...) }

// dl is the data-line attribute of an event, and marks it drawn.
func (p *page) dl(i int) string {
	p.drawn[i] = true
	return ` data-line="` + strconv.Itoa(i) + `"`
}

func render(m *model, opts Options) []byte {
	p := &page{m: m, g: geometry(m), drawn: make([]bool, len(m.events)), slots: map[[2]int]int{}, labels: map[[2]int][]label{}}
	h, _ := m.file.Get("scenario")
	title := "synod " + h
	if opts.Source != "" {
		title = opts.Source + " — " + title
	}
	p.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
	p.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
	p.printf("<title>%s</title>\n", esc(title))
	p.WriteString("<style>/*<![CDATA[*/\n" + pageCSS + "/*]]>*/</style>\n</head>\n<body>\n")
	p.banner()
	p.header(opts)
	p.toolbar(opts)
	p.WriteString("<div id=\"main\">\n<div id=\"view\" tabindex=\"0\">\n")
	p.svg()
	p.WriteString("</div>\n<canvas id=\"overview\" width=\"18\" height=\"100\" title=\"the whole run: partitions, crashes, the violation (red); click or drag to go there\"></canvas>\n")
	p.panel()
	p.WriteString("</div>\n")
	p.data()
	p.WriteString("<script>//<![CDATA[\n" + pageJS + "//]]></script>\n</body>\n</html>\n")
	return []byte(p.String())
}

func (p *page) banner() {
	m := p.m
	if m.violation == "" {
		p.WriteString("<div id=\"banner\" class=\"ok\">no violation in this trace</div>\n")
		return
	}
	k, rest, _ := strings.Cut(m.violation, ": ")
	where := ""
	if m.violLine >= 0 {
		e := &m.events[m.violLine]
		when := "t=" + ms(e.at) + " ms"
		if m.untimed() {
			when = "step #" + strconv.Itoa(e.row)
		}
		where = fmt.Sprintf(" at %s, trace line %d", when, p.fileLine(m.violLine))
	}
	p.printf("<div id=\"banner\" class=\"bad\"><button id=\"goviol\" type=\"button\" title=\"scroll to the violation (v)\">show</button>"+
		"<b>VIOLATION %s</b>%s: %s</div>\n", esc(k), esc(where), linkTimes(esc(rest)))
}

// linkTimes makes each time a violation names (in µs) a link to its row.
func linkTimes(s string) string {
	return reMicros.ReplaceAllStringFunc(s, func(t string) string {
		n := reMicros.FindStringSubmatch(t)[1]
		return `<a href="#" class="tl" data-t="` + n + `" title="go to t=` + n + `µs">` + t + `</a>`
	})
}

// fileLine is the line number of event i in the trace file: magic line,
// header, separator, then the events.
func (p *page) fileLine(i int) int { return 1 + len(p.m.file.Header) + 1 + i + 1 }

func (p *page) header(opts Options) {
	f := p.m.file
	p.WriteString("<div id=\"head\">")
	if opts.Source != "" {
		p.printf("<span class=\"src\">%s</span> ", esc(opts.Source))
	}
	for _, k := range []string{"scenario", "seed", "bug", "params", "set", "events", "shrunk"} {
		if v, ok := f.Get(k); ok && v != "" {
			p.printf("<span class=\"kv\"><i>%s</i> %s</span> ", k, esc(v))
		}
	}
	p.WriteString("<details id=\"legend\"><summary>legend</summary><div class=\"key\">")
	p.WriteString(symbolKey)
	p.WriteString("</div><ul>")
	for _, h := range f.Header {
		if h.Key == "legend" {
			p.printf("<li>%s</li>", esc(h.Value))
		}
	}
	p.WriteString("</ul></details></div>\n")
}

// symbolKey explains the marks of the diagram.
const symbolKey = `<svg width="760" height="20" viewBox="0 0 760 20" aria-hidden="true">` +
	`<line x1="4" y1="10" x2="34" y2="10" class="ar"/><text x="38" y="14">message</text>` +
	`<line x1="96" y1="10" x2="122" y2="10" class="ar ad"/><text x="126" y="14">duplicate</text>` +
	`<line x1="190" y1="10" x2="212" y2="10" class="ar ax"/><path d="M212 6l8 8m0 -8l-8 8" class="xm"/><text x="224" y="14">dropped / lost</text>` +
	`<line x1="312" y1="10" x2="334" y2="10" class="ar ac"/><path d="M334 6l8 8m0 -8l-8 8" class="xm xc"/><text x="346" y="14">cut off</text>` +
	`<rect x="404" y="3" width="12" height="14" fill="url(#hatch)" class="down"/><text x="420" y="14">down</text>` +
	`<rect x="464" y="3" width="16" height="14" class="partkey"/><text x="484" y="14">partition</text>` +
	`<circle cx="548" cy="10" r="4" class="tm"/><text x="556" y="14">timer</text>` +
	`<rect x="600" y="7" width="6" height="6" class="sy"/><text x="610" y="14">sync</text>` +
	`<path d="M656 10l5 -5 5 5 -5 5z" class="dc"/><text x="670" y="14">decided</text>` +
	`</svg>`

func (p *page) toolbar(opts Options) {
	p.WriteString("<div id=\"bar\">")
	p.WriteString("<button type=\"button\" id=\"zout\" title=\"zoom out (-)\">−</button>" +
		"<button type=\"button\" id=\"zin\" title=\"zoom in (+)\">+</button>" +
		"<button type=\"button\" id=\"zfit\" title=\"fit the whole run (0)\">fit</button>" +
		"<button type=\"button\" id=\"z1\" title=\"actual size (1)\">1:1</button>")
	if p.m.violLine >= 0 {
		p.WriteString("<button type=\"button\" id=\"zviol\" title=\"scroll to the violation (v)\">violation</button>")
	}
	p.WriteString("<span id=\"zoom\">100%</span>")
	p.WriteString("<span class=\"hint\">hover an event for its state, click to pin; ↑↓ step; drag or wheel to pan, ctrl+wheel to zoom</span>")
	n := len(p.m.events)
	p.printf("<span class=\"note\">%d rows for %d trace lines", len(p.m.rows), n)
	for _, g := range p.m.elided {
		p.printf("; lines %d–%d (%d) not drawn", p.fileLine(g.from), p.fileLine(g.to-1), g.to-g.from)
	}
	if opts.StatesNote != "" {
		p.printf("; %s", esc(opts.StatesNote))
	} else if p.m.states == nil {
		p.WriteString("; no node states (drawn from the file alone)")
	}
	p.WriteString("</span></div>\n")
}

func (p *page) panel() {
	p.WriteString("<aside id=\"panel\"><div id=\"pinfo\"><p class=\"hint\">Hover an event to see its line and the node's state after the step; click to pin it here.</p></div></aside>\n")
}

// svg draws the diagram: bands and intervals first, lanes, arrows, marks,
// the text column, and the lane names last so they stay on top.
func (p *page) svg() {
	m, g := p.m, p.g
	p.printf("<svg id=\"dia\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" data-w=\"%d\" data-h=\"%d\">\n",
		g.width, g.height, g.width, g.height, g.width, g.height)
	p.defs()
	p.printf("<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"url(#zebra)\"/>\n", headH, g.width, rowH*len(m.rows))
	p.bands()
	if m.violRow >= 0 {
		p.printf("<rect id=\"violrow\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"vrow\"/>\n", headH+m.violRow*rowH, g.width, rowH)
	}
	p.WriteString("<g id=\"lanes\">")
	for i, l := range m.lanes {
		cls := "lane"
		if l.role == "client" {
			cls += " cli"
		}
		p.printf("<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\" class=\"%s\"/>", f1(g.x(i)), headH, f1(g.x(i)), g.height-footH/2, cls)
	}
	p.WriteString("</g>\n")
	p.crashes()
	p.times()
	p.WriteString("<g id=\"msgs\">\n")
	for k := range m.msgs {
		p.message(k)
	}
	p.WriteString("</g>\n<g id=\"marks\">\n")
	for i := range m.events {
		p.mark(i)
	}
	p.markLabels()
	p.WriteString("</g>\n")
	p.texts()
	p.violationMark()
	p.leftovers()
	p.laneHead()
	p.WriteString("</svg>\n")
}

func (p *page) defs() {
	p.printf(`<defs>
<pattern id="zebra" width="8" height="%d" patternUnits="userSpaceOnUse" y="%d"><rect width="8" height="%d" class="zb"/></pattern>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" class="hbg"/><line x1="0" y1="0" x2="0" y2="6" class="hl"/></pattern>
<pattern id="cuthatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="6" class="chl"/></pattern>
<marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="ahm"/></marker>
<marker id="ahc" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="ahm ahc"/></marker>
<marker id="ahd" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="ahm ahd"/></marker>
<clipPath id="textclip"><rect x="%d" y="0" width="%d" height="%d"/></clipPath>
</defs>
`, 2*rowH, headH, rowH, p.g.textX, textW-4, p.g.height)
}

func ms(t sim.Time) string {
	return strconv.FormatFloat(float64(t)/1000, 'f', 3, 64)
}

// bands shades partitions across the lanes, and each side cut off from
// the largest group of connected nodes within the band.
func (p *page) bands() {
	m, g := p.m, p.g
	lanesW := g.gap * len(m.lanes)
	for _, iv := range m.parts {
		y0 := headH + iv.from*rowH
		h := (iv.to - iv.from + 1) * rowH
		if iv.node >= 0 {
			p.printf("<rect x=\"%s\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"cutlane\"%s><title>%s</title></rect>\n",
				f1(g.x(iv.node)-float64(g.gap)/2+3), y0, g.gap-6, h, p.dl(iv.line), esc("n"+strconv.Itoa(iv.node)+" "+iv.label))
			continue
		}
		p.printf("<g class=\"part\"%s><title>%s</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"band\"/>",
			p.dl(iv.line), esc(iv.label), gutterW, y0, lanesW, h)
		for _, n := range cutSide(iv.label, len(m.lanes)) {
			p.printf("<rect x=\"%s\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"cutside\"/>",
				f1(g.x(n)-float64(g.gap)/2+3), y0, g.gap-6, h)
		}
		p.WriteString("</g>\n")
	}
}

// cutSide reads a partition's cut links (cut=A>B,...) or the node a
// leader cut names, and returns the nodes outside the largest group that
// still talk both ways.
func cutSide(label string, lanes int) []int {
	if _, cut, ok := strings.Cut(label, "cut="); ok {
		cut, _, _ = strings.Cut(cut, " ")
		blocked := map[[2]int]bool{}
		var nodes []int
		seen := map[int]bool{}
		for _, l := range strings.Split(cut, ",") {
			a, b, ok := strings.Cut(l, ">")
			x, y := atoi(a), atoi(b)
			if !ok || x < 0 || y < 0 || x >= lanes || y >= lanes {
				continue
			}
			blocked[[2]int{x, y}], blocked[[2]int{y, x}] = true, true
			for _, n := range []int{x, y} {
				if !seen[n] {
					seen[n] = true
					nodes = append(nodes, n)
				}
			}
		}
		// Groups: connected components over the links cut in neither way.
		group := map[int]int{}
		var sizes []int
		for _, n := range nodes {
			if _, ok := group[n]; ok {
				continue
			}
			id := len(sizes)
			sizes = append(sizes, 0)
			stack := []int{n}
			group[n] = id
			for len(stack) > 0 {
				a := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				sizes[id]++
				for _, b := range nodes {
					if _, ok := group[b]; !ok && !blocked[[2]int{a, b}] {
						group[b] = id
						stack = append(stack, b)
					}
				}
			}
		}
		if len(sizes) < 2 {
			return nil
		}
		big := 0
		for i, s := range sizes {
			if s > sizes[big] {
				big = i
			}
		}
		var out []int
		for _, n := range nodes {
			if group[n] != big {
				out = append(out, n)
			}
		}
		return out
	}
	if i := strings.Index(label, " cut off from"); i > 0 {
		if n := nodeOf(label[strings.LastIndex(label[:i], "(")+1:]); n >= 0 && n < lanes {
			return []int{n}
		}
	}
	return nil
}

// crashes hatches each lane while its node is down.
func (p *page) crashes() {
	g := p.g
	for _, c := range p.m.crashes {
		y0 := rowY(c.from)
		y1 := rowY(c.to)
		if c.permanent || c.open {
			y1 = float64(g.height - footH/2)
		}
		p.printf("<g class=\"down\"%s><title>n%d %s</title><rect x=\"%s\" y=\"%s\" width=\"14\" height=\"%s\" fill=\"url(#hatch)\"/>"+
			"<text x=\"%s\" y=\"%s\" class=\"downl\">%s</text></g>\n",
			p.dl(c.line), c.node, esc(c.label), f1(g.x(c.node)-7), f1(y0), f1(max(y1-y0, 2)),
			f1(g.x(c.node)+10), f1(y0+rowH), esc(c.label))
	}
}

// times writes each row's time in the gutter, dimmed when it repeats the
// row above; an untimed trace (simrun check) numbers its steps instead.
// Times the violation names (a linearizability failure's operations, a
// stall point) are marked in red.
func (p *page) times() {
	m := p.m
	untimed := m.untimed()
	named := map[sim.Time]bool{}
	for _, s := range reMicros.FindAllStringSubmatch(m.violation, 32) {
		named[sim.Time(atoi64(s[1]))] = true
	}
	p.WriteString("<g id=\"times\">")
	var last sim.Time = -1
	for r, row := range m.rows {
		cls := "tt"
		text := ms(row.at)
		switch {
		case untimed:
			text = "#" + strconv.Itoa(r)
		case row.at == last:
			cls += " same"
		case named[row.at]:
			cls += " vref"
			p.printf("<rect x=\"2\" y=\"%d\" width=\"4\" height=\"%d\" class=\"vtick\"><title>a time the violation names</title></rect>", headH+r*rowH, rowH)
			p.named = append(p.named, r)
		}
		last = row.at
		p.printf("<text x=\"%d\" y=\"%s\" class=\"%s\">%s</text>", gutterW-8, f1(rowY(r)+4), cls, text)
	}
	p.WriteString("</g>\n")
}

// message draws one message: an arrow from its send to each delivery, a
// cross where a copy was lost or dropped, a loop for a node's own mail,
// a dotted line to the bottom for a copy still in flight at the end.
func (p *page) message(k int) {
	m, g := p.m, p.g
	msg := &m.msgs[k]
	if msg.from < 0 || msg.to < 0 || msg.from >= len(m.lanes) || msg.to >= len(m.lanes) {
		return
	}
	x0, x1 := g.x(msg.from), g.x(msg.to)
	var y0 float64
	sendShown := false
	seenClass := ""
	switch {
	case msg.send < 0:
		y0 = float64(headH)
		seenClass = " unseen"
	case m.events[msg.send].hidden:
		y0 = rowY(m.events[msg.send].row)
		seenClass = " unseen"
	default:
		y0 = rowY(m.events[msg.send].row)
		sendShown = true
	}
	cls := "m"
	marker := "ah"
	if m.lanes[msg.from].role == "client" || m.lanes[msg.to].role == "client" {
		cls += " mc"
		marker = "ahc"
	}
	attr := ""
	if sendShown {
		attr = p.dl(msg.send)
	}
	var b strings.Builder
	label := func(xa, ya, xb, yb float64) {
		kind, _, _ := strings.Cut(msg.text, " ")
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" class=\"ml\">%s</text>", f1(xa+(xb-xa)*0.5), f1(ya+(yb-ya)*0.5-3), esc(clip(kind, 12)))
	}
	cross := func(x, y float64, c string) {
		fmt.Fprintf(&b, "<path d=\"M%s %sl8 8m0 -8l-8 8\" class=\"xm%s\"/>", f1(x-4), f1(y-4), c)
	}
	ends := 0
	for _, end := range msg.ends {
		e := &m.events[end.event]
		if e.hidden && !sendShown {
			continue
		}
		ends++
		y1 := rowY(e.row)
		ecls := ""
		if e.hidden {
			ecls = " unseen"
		}
		switch {
		case msg.from == msg.to:
			if y1 <= y0 {
				y1 = y0 + rowH*0.5
			}
			fmt.Fprintf(&b, "<path d=\"M%s %sC%s %s %s %s %s %s\" class=\"ar loop%s\" marker-end=\"url(#%s)\"/>",
				f1(x0+3), f1(y0), f1(x0+26), f1(y0), f1(x0+26), f1(y1), f1(x0+5), f1(y1), ecls, marker)
		case e.kind == kDeliver && end.dup:
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar ad%s\" marker-end=\"url(#ahd)\"/>", f1(x0), f1(y0), f1(x1), f1(y1), ecls)
			fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" class=\"dupl\">dup</text>", f1(x1+(x0-x1)*0.15), f1(y1+(y0-y1)*0.15-3))
		case e.kind == kDeliver:
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar%s\" marker-end=\"url(#%s)\"/>", f1(x0), f1(y0), f1(x1), f1(y1), ecls, marker)
			label(x0, y0, x1, y1)
		case e.kind == kLost:
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar ax%s\"/>", f1(x0), f1(y0), f1(x1), f1(y1), ecls)
			cross(x1, y1, "")
			label(x0, y0, x1, y1)
		default: // an untimed drop: it dies on the wire
			xm := x0 + (x1-x0)*0.6
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar ax%s\"/>", f1(x0), f1(y0), f1(xm), f1(y1), ecls)
			cross(xm, y1, "")
		}
	}
	if sendShown {
		want := 1
		if msg.fate == fateDup {
			want = 2
		}
		switch msg.fate {
		case fateDropped, fateCut:
			xm := x0 + (x1-x0)*0.42
			ym := y0 + rowH*0.6
			c, xc := " ax", ""
			if msg.fate == fateCut {
				c, xc = " ac", " xc"
			}
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar%s\"/>", f1(x0), f1(y0), f1(xm), f1(ym), c)
			cross(xm, ym, xc)
		default:
			if ends < want && msg.from != msg.to {
				// Still on the wire when the trace ends (or past the
				// drawn window): a dotted line to the bottom.
				yEnd := float64(g.height - footH/2)
				xe := x0 + (x1-x0)*0.8
				fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"ar open\"/><circle cx=\"%s\" cy=\"%s\" r=\"2.5\" class=\"openc\"/>",
					f1(x0), f1(y0), f1(xe), f1(yEnd), f1(xe), f1(yEnd))
			}
		}
	}
	if b.Len() == 0 {
		return
	}
	p.printf("<g class=\"%s%s\" data-msg=\"%d\"%s>%s</g>\n", cls, seenClass, k, attr, b.String())
}

// leftovers gives a dot on its row to any line nothing else drew (a
// message the trace never delivers to itself, a line this package does
// not know), so that every line can be hovered.
func (p *page) leftovers() {
	for i, d := range p.drawn {
		e := &p.m.events[i]
		if d || e.hidden {
			continue
		}
		x := float64(gutterW + 4)
		if e.node >= 0 && e.node < len(p.m.lanes) {
			x = p.g.x(e.node)
		}
		p.printf("<circle cx=\"%s\" cy=\"%s\" r=\"2.5\" class=\"nt\"%s><title>%s</title></circle>\n", f1(x), f1(rowY(e.row)), p.dl(i), esc(clip(e.text, 200)))
	}
}

// label is the text beside a mark.
type label struct {
	line      int
	text, cls string
}

// markLabels writes the labels of each step's marks on a lane, one text
// after the last mark.
func (p *page) markLabels() {
	for _, key := range p.labelOrder {
		ls := p.labels[key]
		k := max(p.slots[key]-1, 0)
		p.printf("<text x=\"%s\" y=\"%s\" class=\"lb\">", f1(p.g.x(key[1])+float64(11*k)+9), f1(rowY(key[0])+3.5))
		for j, l := range ls {
			sep := ""
			if j > 0 {
				sep = " · "
			}
			p.printf("<tspan class=\"%s\" data-line=\"%d\">%s%s</tspan>", l.cls, l.line, sep, esc(clip(l.text, 22)))
		}
		p.WriteString("</text>\n")
	}
}

// mark draws the sign of one line on its lane.
func (p *page) mark(i int) {
	m, g := p.m, p.g
	e := &m.events[i]
	if e.hidden {
		return
	}
	if e.node < 0 || e.node >= len(m.lanes) {
		switch e.kind {
		case kHeal, kStall:
			x0 := float64(gutterW)
			x1 := float64(gutterW + g.gap*len(m.lanes))
			cls := "healm"
			if e.kind == kStall {
				cls = "stallm"
			}
			p.printf("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" class=\"%s\"%s/>\n", f1(x0), f1(rowY(e.row)), f1(x1), f1(rowY(e.row)), cls, p.dl(i))
		}
		return
	}
	switch e.kind {
	case kSend, kViolation:
		return // the arrow is its element; violationMark draws the other
	}
	// Marks of one step on one lane stand side by side, their labels
	// joined after the last.
	key := [2]int{e.row, e.node}
	k := 0
	if e.kind != kSync {
		k = p.slots[key]
		p.slots[key]++
	}
	x, y := g.x(e.node)+float64(11*k), rowY(e.row)
	lbl := func(text, cls string) {
		if text == "" {
			return
		}
		if _, ok := p.labels[key]; !ok {
			p.labelOrder = append(p.labelOrder, key)
		}
		p.labels[key] = append(p.labels[key], label{line: i, text: text, cls: cls})
	}
	switch e.kind {
	case kStart:
		p.printf("<g%s><rect x=\"%s\" y=\"%s\" width=\"14\" height=\"5\" class=\"st\"/>", p.dl(i), f1(x-7), f1(y-2.5))
		lbl(e.label, "lst")
	case kTimer:
		p.printf("<g%s><circle cx=\"%s\" cy=\"%s\" r=\"4\" class=\"tm\"/>", p.dl(i), f1(x), f1(y))
		lbl(e.label, "ltm")
	case kDeliver:
		p.printf("<g%s data-msg=\"%d\"><circle cx=\"%s\" cy=\"%s\" r=\"2.5\" class=\"dv\"/>", p.dl(i), e.message, f1(x), f1(y))
	case kLost, kDrop, kDead:
		p.printf("<g%s data-msg=\"%d\"><circle cx=\"%s\" cy=\"%s\" r=\"6\" class=\"hit\"/>", p.dl(i), e.message, f1(x), f1(y))
		switch e.kind {
		case kDrop:
			lbl("dropped", "lx")
		case kDead:
			lbl("dead", "lx")
		}
	case kDup:
		p.printf("<g%s data-msg=\"%d\"><circle cx=\"%s\" cy=\"%s\" r=\"3\" class=\"dupm\"/>", p.dl(i), e.message, f1(x), f1(y))
		lbl("dup", "ldup")
	case kSync:
		p.printf("<g%s><rect x=\"%s\" y=\"%s\" width=\"6\" height=\"6\" class=\"sy\"/>", p.dl(i), f1(x-13), f1(y-3))
	case kCrash:
		p.printf("<g%s><path d=\"M%s %sl12 12m0 -12l-12 12\" class=\"crm\"/>", p.dl(i), f1(x-6), f1(y-6))
		lbl("crash", "lx")
	case kRestart:
		p.printf("<g%s><path d=\"M%s %sl6 -9 6 9z\" class=\"rsm\"/>", p.dl(i), f1(x-6), f1(y+4))
		lbl("restart", "lst")
	case kClock:
		p.printf("<g%s><circle cx=\"%s\" cy=\"%s\" r=\"5\" class=\"clk\"/><path d=\"M%s %sv-4m0 4h3\" class=\"clkh\"/>", p.dl(i), f1(x), f1(y), f1(x), f1(y))
		lbl(e.label, "lclk")
	case kLeads:
		p.printf("<g%s><path d=\"%s\" class=\"ld\"/>", p.dl(i), star(x, y))
		lbl(e.label, "lld")
	case kDecided:
		p.printf("<g%s><path d=\"M%s %sl6 -6 6 6 -6 6z\" class=\"dc\"/>", p.dl(i), f1(x-6), f1(y))
		lbl(e.label, "ldc")
	case kApplies:
		p.printf("<g%s><rect x=\"%s\" y=\"%s\" width=\"8\" height=\"8\" rx=\"2\" class=\"ap\"/>", p.dl(i), f1(x-4), f1(y-4))
		lbl(e.label, "lap")
	case kAnswers:
		p.printf("<g%s><circle cx=\"%s\" cy=\"%s\" r=\"4.5\" class=\"an\"/>", p.dl(i), f1(x), f1(y))
		lbl(e.label, "lan")
	default:
		p.printf("<g%s><circle cx=\"%s\" cy=\"%s\" r=\"2.5\" class=\"nt\"/>", p.dl(i), f1(x), f1(y))
		lbl(e.label, "lnt")
	}
	p.WriteString("</g>\n")
}

func star(x, y float64) string {
	var b strings.Builder
	pts := [][2]float64{{0, -7}, {2, -2.5}, {7, -2.2}, {3.2, 1.2}, {4.4, 6.5}, {0, 3.6}, {-4.4, 6.5}, {-3.2, 1.2}, {-7, -2.2}, {-2, -2.5}}
	for i, pt := range pts {
		if i == 0 {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(f1(x+pt[0]) + " " + f1(y+pt[1]))
	}
	b.WriteByte('z')
	return b.String()
}

// texts writes each row's line in the text column: the step's first line
// and its notes, sends and syncs being drawn already.
func (p *page) texts() {
	m, g := p.m, p.g
	p.WriteString("<g id=\"texts\" clip-path=\"url(#textclip)\">\n")
	for r, row := range m.rows {
		y := f1(rowY(r) + 4)
		if len(row.events) == 0 {
			n := 0
			for _, gp := range m.elided {
				if m.events[gp.from].row == r {
					n = gp.to - gp.from
				}
			}
			p.printf("<text x=\"%d\" y=\"%s\" class=\"rt elided\">… %d trace lines not drawn here (simrun replay -v shows them) …</text>\n", g.textX, y, n)
			p.printf("<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\" class=\"elim\"/>\n", gutterW, f1(rowY(r)), g.textX-4, f1(rowY(r)))
			continue
		}
		first := row.events[0]
		p.printf("<text x=\"%d\" y=\"%s\" class=\"rt %s\"%s>%s", g.textX, y, textClass(m.events[first].kind), p.dl(first), esc(m.events[first].text))
		for _, j := range row.events[1:] {
			e := &m.events[j]
			if (e.kind == kSend && e.message >= 0 && e.node < len(m.lanes) && e.peer < len(m.lanes)) || (e.kind == kSync && e.node >= 0 && e.node < len(m.lanes)) {
				continue
			}
			p.printf("<tspan class=\"%s\"%s> · %s</tspan>", textClass(e.kind), p.dl(j), esc(e.text))
		}
		p.WriteString("</text>\n")
	}
	p.WriteString("</g>\n")
}

func textClass(k kind) string {
	switch k {
	case kViolation:
		return "tv"
	case kLeads:
		return "tld"
	case kDecided:
		return "tdc"
	case kApplies, kAnswers:
		return "tap"
	case kCrash, kRestart, kPartition, kHeal, kClock, kDrop, kDup, kDead, kFault:
		return "tf"
	case kStall:
		return "tstall"
	case kBegin, kPlan:
		return "tplan"
	}
	return "tn"
}

// violationMark rings the violating step on its lane (or the lanes the
// violation names) and labels it.
func (p *page) violationMark() {
	m, g := p.m, p.g
	if m.violLine < 0 {
		return
	}
	e := &m.events[m.violLine]
	r := e.row
	nodes := []int{}
	if rn := m.rows[r].node; rn >= 0 && rn < len(m.lanes) {
		nodes = append(nodes, rn)
	} else {
		for i, l := range m.lanes {
			if l.involved {
				nodes = append(nodes, i)
			}
		}
	}
	y := rowY(r)
	p.printf("<g id=\"viol\" class=\"viol\"%s>", p.dl(m.violLine))
	p.printf("<rect x=\"2\" y=\"%d\" width=\"6\" height=\"%d\" class=\"vbar\"/>", headH+r*rowH, rowH)
	for _, n := range nodes {
		p.printf("<circle cx=\"%s\" cy=\"%s\" r=\"11\" class=\"vring\"/>", f1(g.x(n)), f1(y))
	}
	k, _, _ := strings.Cut(m.violation, ":")
	if k == "" {
		k = strings.TrimPrefix(e.label, "VIOLATION ")
	}
	lx := float64(gutterW + 4)
	if len(nodes) > 0 {
		lx = g.x(nodes[len(nodes)-1]) + 14
	}
	p.printf("<text x=\"%s\" y=\"%s\" class=\"vlabel\">VIOLATION %s</text></g>\n", f1(lx), f1(y+rowH+4), esc(clip(k, 40)))
}

// laneHead names the lanes; the page's script keeps it at the top.
func (p *page) laneHead() {
	m, g := p.m, p.g
	p.printf("<g id=\"lanehead\"><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" class=\"lhbg\"/>", g.width, headH)
	unit := "ms"
	if m.untimed() {
		unit = "step"
	}
	p.printf("<text x=\"%d\" y=\"%d\" class=\"lhms\">%s</text>", gutterW-8, headH-8, unit)
	for i, l := range m.lanes {
		cls := "lh"
		if l.involved {
			cls += " inv"
		}
		p.printf("<g class=\"%s\" data-lane=\"%d\"><text x=\"%s\" y=\"17\" class=\"lhn\">%s</text><text x=\"%s\" y=\"31\" class=\"lhr\">%s</text></g>",
			cls, i, f1(g.x(i)), esc(l.name), f1(g.x(i)), esc(l.role))
	}
	p.printf("<text x=\"%d\" y=\"%d\" class=\"lhms lht\">step (first line, then notes)</text>", g.textX, headH-8)
	p.WriteString("</g>\n")
}

// data hands the script what the hover panel shows, as JSON (which
// escapes <, > and &, so it is inert inside the script element).
func (p *page) data() {
	m := p.m
	type jsonData struct {
		First   int               `json:"first"`
		Untimed bool              `json:"untimed"`
		TextX   int               `json:"textX"`
		RowH    int               `json:"rowH"`
		HeadH   int               `json:"headH"`
		Lines   map[int][]any     `json:"lines"`
		Rows    [][]int           `json:"rows"`
		RowAt   []int64           `json:"rowAt"`
		Node    []int             `json:"rowNode"`
		States  map[int]string    `json:"states"`
		Msgs    map[int][]any     `json:"msgs"`
		Lanes   []string          `json:"lanes"`
		Viol    int               `json:"violLine"`
		Extra   map[string]string `json:"extra"`
		// Bands and Ticks feed the overview beside the diagram: spans of
		// rows [from, to, kind] and single rows [row, kind].
		Bands [][3]any `json:"bands"`
		Ticks [][2]any `json:"ticks"`
	}
	d := jsonData{First: p.fileLine(0), Untimed: m.untimed(), TextX: p.g.textX, RowH: rowH, HeadH: headH, Lines: map[int][]any{}, States: map[int]string{},
		Msgs: map[int][]any{}, Viol: m.violLine, Extra: map[string]string{}}
	if m.violLine >= 0 {
		d.Extra["violation"] = m.violation
		d.Ticks = append(d.Ticks, [2]any{m.violRow, "viol"})
	}
	for _, iv := range m.parts {
		d.Bands = append(d.Bands, [3]any{iv.from, iv.to, "part"})
	}
	for _, c := range m.crashes {
		d.Bands = append(d.Bands, [3]any{c.from, c.to, "down"})
	}
	for r, row := range m.rows {
		if len(row.events) == 0 {
			d.Ticks = append(d.Ticks, [2]any{r, "elided"})
		}
	}
	for _, r := range p.named {
		d.Ticks = append(d.Ticks, [2]any{r, "vref"})
	}
	for _, l := range m.lanes {
		d.Lanes = append(d.Lanes, l.name+" "+l.role)
	}
	used := map[int]bool{}
	for r, row := range m.rows {
		d.Rows = append(d.Rows, append([]int{}, row.events...))
		d.RowAt = append(d.RowAt, int64(row.at))
		d.Node = append(d.Node, row.node)
		var st []string
		for _, i := range row.events {
			if m.states != nil && m.states[i] != "" {
				st = append(st, m.states[i])
			}
		}
		if len(st) > 0 {
			d.States[r] = strings.Join(st, "\n")
		}
	}
	for i := range m.events {
		e := &m.events[i]
		if e.hidden {
			continue
		}
		d.Lines[i] = []any{int64(e.at), e.text, e.row, e.message}
		if e.message >= 0 {
			used[e.message] = true
		}
	}
	for k := range used {
		msg := &m.msgs[k]
		var ends []int
		for _, end := range msg.ends {
			ends = append(ends, end.event)
		}
		d.Msgs[k] = []any{msg.send, ends}
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("viz: encoding the page's data: %v", err))
	}
	p.WriteString("<script id=\"data\" type=\"application/json\">")
	p.Write(b)
	p.WriteString("</script>\n")
}
