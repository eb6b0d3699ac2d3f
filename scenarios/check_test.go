package scenarios

import (
	"testing"

	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
)

func searchScenario(t testing.TB, name, set string, bugs string, cfg explore.Config) explore.Result {
	t.Helper()
	sc, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	b := mustBugs(t, bugs)
	res, err := explore.Search(func() (explore.Machine, error) { return sc.Machine(Options{Bugs: b, Set: set}) }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCheckQuick(t *testing.T) {
	for _, por := range []bool{false, true} {
		for _, dfs := range []bool{false, true} {
			r := searchScenario(t, "single/check", "", "", explore.Config{DFS: dfs, NoPOR: !por})
			t.Logf("por=%v dfs=%v: %+v complete=%v cut=%q viol=%v rate=%.0f", por, dfs, r.Stats, r.Complete, r.Cut, r.Violation, r.StatesPerSecond())
		}
	}
}

func mustBugs(t testing.TB, s string) paxos.Bugs {
	t.Helper()
	b, err := paxos.ParseBugs(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
