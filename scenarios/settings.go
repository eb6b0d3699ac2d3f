package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/synod-sim/synod/faults"
	"github.com/synod-sim/synod/sim"
)

// Unit says how a setting's value is written and read.
type Unit uint8

const (
	Count    Unit = iota // a plain integer
	Span                 // a duration, stored in µs: "250ms", "2s", "1500us"
	Fraction             // a rate, stored in parts per million: "0.02", "2%", "20000ppm"
	Families             // fault families: "crash+loss", "none", "all"
	Flag                 // 0 or 1 ("true", "false", "on", "off")
)

// Param is one setting a scenario declares: its name, default and range.
type Param struct {
	Name     string
	Default  int64
	Min, Max int64
	Doc      string
	Unit     Unit
	// Drawn: left unset, every run draws the value from [DrawMin, DrawMax]
	// (the scenario's own spread); set, every run uses it.
	Drawn            bool
	DrawMin, DrawMax int64
}

// Show writes a value of the parameter the way -set reads it.
func (p Param) Show(v int64) string {
	switch p.Unit {
	case Span:
		if v == 0 {
			return "0"
		}
		for _, u := range []struct {
			name string
			d    int64
		}{{"s", int64(sim.Second)}, {"ms", int64(sim.Millisecond)}} {
			if v != 0 && v%u.d == 0 {
				return strconv.FormatInt(v/u.d, 10) + u.name
			}
		}
		return strconv.FormatInt(v, 10) + "us"
	case Fraction:
		return strconv.FormatFloat(float64(v)/float64(sim.RateScale), 'f', -1, 64)
	case Families:
		return faults.Family(v).String()
	}
	return strconv.FormatInt(v, 10)
}

// DefaultText is the default as listed: a value, or the range drawn from.
func (p Param) DefaultText() string {
	if p.Drawn {
		if p.Unit == Flag {
			return "drawn"
		}
		if p.DrawMin == p.DrawMax {
			return p.Show(p.DrawMin)
		}
		return "drawn " + p.Show(p.DrawMin) + ".." + p.Show(p.DrawMax)
	}
	return p.Show(p.Default)
}

// Range is what -set accepts, as listed.
func (p Param) Range() string {
	switch p.Unit {
	case Families:
		return "families"
	case Flag:
		return "0|1"
	}
	return "[" + p.Show(p.Min) + ", " + p.Show(p.Max) + "]"
}

// parse reads a value of the parameter.
func (p Param) parse(text string) (int64, bool) {
	switch p.Unit {
	case Span:
		for _, u := range []struct {
			suffix string
			d      int64
		}{{"ms", int64(sim.Millisecond)}, {"us", 1}, {"µs", 1}, {"s", int64(sim.Second)}} {
			if num, ok := strings.CutSuffix(text, u.suffix); ok {
				n, err := strconv.ParseInt(num, 10, 64)
				return n * u.d, err == nil && n >= 0 && n <= 1<<40
			}
		}
		n, err := strconv.ParseInt(text, 10, 64)
		return n, err == nil
	case Fraction:
		scale, num := float64(sim.RateScale), text
		if s, ok := strings.CutSuffix(text, "%"); ok {
			scale, num = scale/100, s
		} else if s, ok := strings.CutSuffix(text, "ppm"); ok {
			scale, num = 1, s
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f != f {
			return 0, false
		}
		return int64(f*scale + 0.5), true
	case Families:
		switch text {
		case "none", "":
			return 0, true
		case "all":
			return int64(faults.AllFamilies), true
		}
		var fam faults.Family
		for _, name := range strings.Split(text, "+") {
			f, ok := faults.ParseFamily(name)
			if !ok {
				return 0, false
			}
			fam |= f
		}
		return int64(fam), true
	case Flag:
		switch text {
		case "1", "true", "on", "yes":
			return 1, true
		case "0", "false", "off", "no":
			return 0, true
		}
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, err == nil
}

// want says what a parameter accepts, for error lines.
func (p Param) want() string {
	switch p.Unit {
	case Span:
		return fmt.Sprintf("a duration (250ms, 2s, 1500us) in [%s, %s]", p.Show(p.Min), p.Show(p.Max))
	case Fraction:
		return fmt.Sprintf("a rate (0.02, 2%%, 20000ppm) in [%s, %s]", p.Show(p.Min), p.Show(p.Max))
	case Families:
		return "fault families joined by + (crash, partition, loss, dup, delay, skew, lasting), none or all"
	case Flag:
		return "0 or 1"
	}
	return fmt.Sprintf("an integer in [%d, %d]", p.Min, p.Max)
}

// Settings are a scenario's resolved parameter values, in declared order.
type Settings struct {
	params []Param
	vals   []int64
	given  []bool // set on the command line or in the trace header
}

// parsed memoizes ParseSettings: a sweep runs one settings text millions of
// times, from several workers. Settings are never written after parsing.
var parsed sync.Map // settingsKey -> Settings

type settingsKey struct {
	s    *Scenario
	text string
}

// settingsFor is ParseSettings, memoized, for a scenario's run function:
// the text was checked before the sweep began (a bad one is a bug there).
func (s *Scenario) settingsFor(text string) Settings {
	key := settingsKey{s, text}
	if st, ok := parsed.Load(key); ok {
		return st.(Settings)
	}
	st, err := s.ParseSettings(text)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	parsed.Store(key, st)
	return st
}

// ParseSettings resolves "key=value,..." against the scenario's declared
// parameters: unknown keys and values out of range are errors of one line.
func (s *Scenario) ParseSettings(text string) (Settings, error) {
	st := Settings{params: s.Params, vals: make([]int64, len(s.Params)), given: make([]bool, len(s.Params))}
	for i, p := range s.Params {
		st.vals[i] = p.Default
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return st, nil
	}
	if len(s.Params) == 0 {
		return Settings{}, fmt.Errorf("%s declares no settings", s.Name)
	}
	for _, kv := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Settings{}, fmt.Errorf("%s: setting %q: want key=value", s.Name, clip(kv))
		}
		i := st.index(k)
		if i < 0 {
			return Settings{}, fmt.Errorf("%s has no setting %q (it has: %s)", s.Name, clip(k), st.names())
		}
		p := s.Params[i]
		n, ok := p.parse(v)
		if !ok || (p.Unit != Families && (n < p.Min || n > p.Max)) {
			return Settings{}, fmt.Errorf("%s: %s=%s: want %s", s.Name, k, clip(v), p.want())
		}
		st.vals[i], st.given[i] = n, true
	}
	if s.Validate != nil {
		if err := s.Validate(st); err != nil {
			return Settings{}, fmt.Errorf("%s: %v", s.Name, err)
		}
	}
	return st, nil
}

// clip quotes at most a short prefix of user input in an error line.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (st Settings) index(name string) int {
	for i, p := range st.params {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func (st Settings) names() string {
	var out []string
	for _, p := range st.params {
		out = append(out, p.Name)
	}
	return strings.Join(out, ", ")
}

// Get returns a setting's value; asking for an undeclared one is a bug in
// the scenario.
func (st Settings) Get(name string) int64 {
	i := st.index(name)
	if i < 0 {
		panic("scenarios: undeclared setting " + name)
	}
	return st.vals[i]
}

// Int is Get as an int.
func (st Settings) Int(name string) int { return int(st.Get(name)) }

// Given reports whether a setting was set rather than left to its default.
func (st Settings) Given(name string) bool {
	i := st.index(name)
	return i >= 0 && st.given[i]
}

// Draw is a drawn setting's value for this run: the one set, or one drawn
// from [lo, hi] (the scenario's spread, which may depend on other values).
func (st Settings) Draw(src sim.Source, name string, lo, hi int64) int64 {
	if st.Given(name) {
		return st.Get(name)
	}
	return int64(sim.Between(src, uint64(lo), uint64(hi)))
}

// String is the settings given, "key=value,..." in declared order: what a
// timed scenario's trace header records and ParseSettings reads back to the
// same run. (Writing the defaults out would change the run: a value given
// is fixed, where left alone it may be drawn or scaled.)
func (st Settings) String() string { return st.write(func(i int) bool { return st.given[i] }) }

// All is every value but drawn ones left unset: a bounded check's header
// states its whole configuration.
func (st Settings) All() string {
	return st.write(func(i int) bool { return st.given[i] || !st.params[i].Drawn })
}

func (st Settings) write(keep func(i int) bool) string {
	var b strings.Builder
	for i, p := range st.params {
		if !keep(i) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Name + "=" + p.Show(st.vals[i]))
	}
	return b.String()
}
