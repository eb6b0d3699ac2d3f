package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// Param is one setting a scenario declares: its name, default and range.
type Param struct {
	Name     string
	Default  int64
	Min, Max int64
	Doc      string
}

// Settings are a scenario's resolved parameter values, in declared order.
type Settings struct {
	params []Param
	vals   []int64
}

// ParseSettings resolves "key=value,..." against the scenario's declared
// parameters: unknown keys and values out of range are errors of one line.
func (s *Scenario) ParseSettings(text string) (Settings, error) {
	st := Settings{params: s.Params, vals: make([]int64, len(s.Params))}
	for i, p := range s.Params {
		st.vals[i] = p.Default
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return st, nil
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
		n, err := strconv.ParseInt(v, 10, 64)
		p := s.Params[i]
		if err != nil || n < p.Min || n > p.Max {
			return Settings{}, fmt.Errorf("%s: %s=%s: want an integer in [%d, %d]", s.Name, k, clip(v), p.Min, p.Max)
		}
		st.vals[i] = n
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

// String is every value in declared order, "key=value,...": what trace
// headers record and ParseSettings reads back.
func (st Settings) String() string {
	var b strings.Builder
	for i, p := range st.params {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Name + "=" + strconv.FormatInt(st.vals[i], 10))
	}
	return b.String()
}
