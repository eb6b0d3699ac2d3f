package scenarios

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// untimedHunts is the single/check configuration each single-decree bug is
// hunted in by the random strategies: the exhaustive search's.
var untimedHunts = checkHunts

// firstFailing runs seeds 1, 2, ... of a scenario under a strategy and
// returns the first that breaks an invariant (0: none within limit).
func firstFailing(t testing.TB, name, set, bug string, st Strategy, limit uint64) uint64 {
	t.Helper()
	sc, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Bugs: mustBugs(t, bug), Set: set}
	for seed := uint64(1); seed <= limit; seed++ {
		if res := sc.Run(st.Source(seed), opts); res.Violation != nil {
			return seed
		}
	}
	return 0
}

func TestStrategiesFindDeepBugs(t *testing.T) {
	// The two bugs that need two rounds: both random strategies must find
	// them too, deterministically.
	for _, bug := range []string{"stale-promise", "lowest-accepted"} {
		for _, st := range []Strategy{{Name: "walk"}, {Name: "pct", Depth: 3}} {
			if seed := firstFailing(t, "single/check", "rounds=2", bug, st, 20_000); seed == 0 {
				t.Errorf("%s: %s found nothing in 20000 runs", bug, st)
			}
		}
	}
}

func TestPCTReplays(t *testing.T) {
	seed := firstFailing(t, "single/check", "rounds=2", "stale-promise", Strategy{Name: "pct", Depth: 3}, 20_000)
	sc, _ := Lookup("single/check")
	res := sc.Run(Strategy{Name: "pct", Depth: 3}.Source(seed), Options{Bugs: mustBugs(t, "stale-promise"), Set: "rounds=2", Trace: true})
	rep, err := Replay(TraceFile(sc.Name, seed, mustBugs(t, "stale-promise"), res))
	if err != nil || rep.Divergence != "" || rep.Result.Violation == nil || rep.Result.Violation.Kind != res.Violation.Kind {
		t.Fatalf("a PCT trace must replay from its choices alone: %v %q %v", err, rep.Divergence, rep.Result.Violation)
	}
}

// multiHunts is the multi/check configuration each Multi-Paxos bug is
// hunted in by the random strategies.
var multiHunts = []struct{ bug, set string }{
	{"skip-phase1", "spread=1,elections=1,retries=0,heartbeats=0"},
	{"even-quorum", "replicas=4,spread=1,elections=1,retries=0,heartbeats=0"},
	{"no-gap-fill", "elections=1,elections0=2,retries=0,heartbeats=0"},
}

// TestStrategyTable prints runs-to-first-failure for the catalogued bugs
// under swarm (the bug's timed hunt scenario), the uniform random walk and
// PCT (single/check or multi/check). It is the README's table:
// SYNOD_TABLE=1 go test ./scenarios -run TestStrategyTable -v -timeout 30m
func TestStrategyTable(t *testing.T) {
	if os.Getenv("SYNOD_TABLE") == "" {
		t.Skip("set SYNOD_TABLE=1 to print the table")
	}
	type row struct{ bug, scenario, set string }
	var rows []row
	for _, h := range untimedHunts {
		rows = append(rows, row{h.bug, "single/check", h.set})
	}
	for _, h := range multiHunts {
		rows = append(rows, row{h.bug, "multi/check", h.set})
	}
	const limit = 200_000
	cell := func(seed uint64, limit uint64) string {
		if seed == 0 {
			return fmt.Sprintf("> %d", limit)
		}
		return fmt.Sprint(seed)
	}
	var b strings.Builder
	fmt.Fprintln(&b, "| bug | swarm (timed hunt) | walk | PCT d=2 | PCT d=3 | check scenario and settings |")
	fmt.Fprintln(&b, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		hunt, _ := HuntFor(r.bug)
		lim := uint64(limit)
		if r.scenario == "multi/check" {
			lim = 20_000 // a multi run costs ten times a single one
		}
		swarm := firstFailing(t, hunt.Scenario, "", r.bug, Strategy{Name: "swarm"}, lim)
		walk := firstFailing(t, r.scenario, r.set, r.bug, Strategy{Name: "walk"}, lim)
		pct2 := firstFailing(t, r.scenario, r.set, r.bug, Strategy{Name: "pct", Depth: 2}, lim)
		pct3 := firstFailing(t, r.scenario, r.set, r.bug, Strategy{Name: "pct", Depth: 3}, lim)
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s %s |\n", r.bug, cell(swarm, lim), hunt.Scenario,
			cell(walk, lim), cell(pct2, lim), cell(pct3, lim), r.scenario, r.set)
	}
	t.Log("\n" + b.String())
}
