// Package planted is the registry of planted bugs: deliberate mistakes a
// protocol can switch on, each a copy of one real implementations made, so
// that a harness can be shown to catch them. A protocol family registers
// its catalogue (paxos does, for single-decree and Multi-Paxos); scenarios,
// sweeps, traces and simrun name bugs through this package and know
// nothing of any protocol.
package planted

import (
	"fmt"
	"math/bits"
	"strings"
	"sync"
)

// Set is a set of planted bugs, one bit each.
type Set uint64

// Has reports whether bug b is switched on.
func (s Set) Has(b Set) bool { return s&b != 0 }

// Info describes one registered bug.
type Info struct {
	Name    string
	Bug     Set // one bit
	Summary string
}

var (
	mu       sync.RWMutex
	registry []Info
	used     Set
)

// Register adds bugs to the catalogue. A name registered twice, a bug that
// is not one bit, or a bit another bug holds is a programming error: it
// panics, at init.
func Register(infos ...Info) {
	mu.Lock()
	defer mu.Unlock()
	for _, in := range infos {
		switch {
		case in.Name == "" || strings.ContainsAny(in.Name, ", "):
			panic(fmt.Sprintf("planted: bug name %q: want one word without commas", in.Name))
		case bits.OnesCount64(uint64(in.Bug)) != 1:
			panic(fmt.Sprintf("planted: bug %s is %#x, want exactly one bit", in.Name, uint64(in.Bug)))
		case used&in.Bug != 0:
			panic(fmt.Sprintf("planted: bug %s takes bit %#x, which another bug holds", in.Name, uint64(in.Bug)))
		}
		for _, r := range registry {
			if r.Name == in.Name {
				panic("planted: bug " + in.Name + " registered twice")
			}
		}
		registry = append(registry, in)
		used |= in.Bug
	}
}

// All is every registered bug, in registration order.
func All() []Info {
	mu.RLock()
	defer mu.RUnlock()
	return append([]Info(nil), registry...)
}

// Lookup finds a registered bug by name.
func Lookup(name string) (Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for _, r := range registry {
		if r.Name == name {
			return r, true
		}
	}
	return Info{}, false
}

// Parse turns a comma-separated list of bug names into a set. The empty
// string and "none" mean no bug.
func Parse(s string) (Set, error) {
	if s == "" || s == "none" {
		return 0, nil
	}
	var out Set
	for _, name := range strings.Split(s, ",") {
		info, ok := Lookup(strings.TrimSpace(name))
		if !ok {
			return 0, fmt.Errorf("unknown bug %q (simrun bugs lists them)", name)
		}
		out |= info.Bug
	}
	return out, nil
}

// String lists the bugs by name, sorted, or "none"; bits no bug holds are
// shown as unknown(...).
func (s Set) String() string {
	if s == 0 {
		return "none"
	}
	var names []string
	var known Set
	for _, r := range All() {
		known |= r.Bug
		if s.Has(r.Bug) {
			names = append(names, r.Name)
		}
	}
	if unknown := s &^ known; unknown != 0 {
		names = append(names, fmt.Sprintf("unknown(%#x)", uint64(unknown)))
	}
	sortStrings(names)
	return strings.Join(names, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
