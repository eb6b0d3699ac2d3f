package scenarios

import (
	"fmt"

	"github.com/synod-sim/synod/sim"
)

// Strategy is how a sweep turns a seed into a source of choices.
//
//   - swarm: a seeded PRNG for every choice (every scenario). On an
//     untimed (check) scenario that is a uniform random walk over the
//     enabled actions.
//   - walk: the same source, named for what it does on check scenarios;
//     only they accept it.
//   - pct: probabilistic concurrency testing of depth Depth (sim.PCT),
//     for check scenarios.
type Strategy struct {
	Name  string
	Depth int
}

// ParseStrategy checks a strategy name and depth ("" means swarm).
func ParseStrategy(name string, depth int) (Strategy, error) {
	switch name {
	case "", "swarm":
		return Strategy{Name: "swarm"}, nil
	case "walk":
		return Strategy{Name: "walk"}, nil
	case "pct":
		if depth < 1 || depth > 64 {
			return Strategy{}, fmt.Errorf("pct depth %d: want 1..64", depth)
		}
		return Strategy{Name: "pct", Depth: depth}, nil
	}
	return Strategy{}, fmt.Errorf("unknown strategy %q (want swarm, walk or pct)", name)
}

// Untimed reports whether the strategy needs a check scenario.
func (st Strategy) Untimed() bool { return st.Name == "walk" || st.Name == "pct" }

// Source is the source of one seed's run.
func (st Strategy) Source(seed uint64) sim.Source {
	if st.Name == "pct" {
		return sim.NewPCT(seed, st.Depth, 0)
	}
	return sim.NewPRNG(seed)
}

func (st Strategy) String() string {
	if st.Name == "pct" {
		return fmt.Sprintf("pct depth %d", st.Depth)
	}
	if st.Name == "" {
		return "swarm"
	}
	return st.Name
}
