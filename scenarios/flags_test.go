package scenarios

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// Flags deepen any test without editing code; each has a SYNOD_* twin in
// the environment for CI jobs. Flags win over the environment.
var (
	flagScenario = flag.String("synod.scenario", "", "comma-separated scenarios for seed tests (env SYNOD_SCENARIO; default: all)")
	flagSeed     = flag.String("synod.seed", "", "run exactly this seed (env SYNOD_SEED)")
	flagSeeds    = flag.String("synod.seeds", "", "seeds per scenario: a count N (1..N) or a range A-B (env SYNOD_SEEDS)")
	flagBug      = flag.String("synod.bug", "", "switch on catalogued bugs, comma-separated (env SYNOD_BUG)")
	flagSet      = flag.String("synod.set", "", "override scenario settings, key=value,... as simrun run -set (env SYNOD_SET; simrun list -v shows them)")
)

// settingsUnderTest is -synod.set, checked against the scenario: a bad
// setting fails the test in one line.
func settingsUnderTest(t testing.TB, s *Scenario) string {
	text := setting(flagSet, "SYNOD_SET")
	if text == "" {
		return ""
	}
	if _, err := s.ParseSettings(text); err != nil {
		t.Fatalf("-synod.set: %v", err)
	}
	return text
}

func setting(f *string, env string) string {
	if *f != "" {
		return *f
	}
	return os.Getenv(env)
}

// seedRange resolves -synod.seed / -synod.seeds to [first, first+count).
// def is the test's own default count.
func seedRange(t testing.TB, def uint64) (first, count uint64) {
	if s := setting(flagSeed, "SYNOD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("-synod.seed=%q: want a number", s)
		}
		return n, 1
	}
	s := setting(flagSeeds, "SYNOD_SEEDS")
	if s == "" {
		return 1, def
	}
	first, count, err := parseSeeds(s)
	if err != nil {
		t.Fatalf("-synod.seeds=%q: %v", s, err)
	}
	return first, count
}

func parseSeeds(s string) (first, count uint64, err error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := strconv.ParseUint(a, 10, 64)
		hi, err2 := strconv.ParseUint(b, 10, 64)
		if err1 != nil || err2 != nil || hi < lo {
			return 0, 0, fmt.Errorf("want a count N or a range A-B with A <= B")
		}
		if hi-lo == math.MaxUint64 {
			return 0, 0, fmt.Errorf("the range holds 2^64 seeds, more than a count can say: split it")
		}
		return lo, hi - lo + 1, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, 0, fmt.Errorf("want a count N or a range A-B")
	}
	return 1, n, nil
}

func scenariosUnderTest(t testing.TB, def string) []*Scenario {
	list := setting(flagScenario, "SYNOD_SCENARIO")
	if list == "" {
		list = def
	}
	if list == "" {
		return All()
	}
	scs, err := Parse(list)
	if err != nil {
		t.Fatalf("-synod.scenario: %v", err)
	}
	return scs
}

func bugsUnderTest(t testing.TB) paxos.Bugs {
	b, err := paxos.ParseBugs(setting(flagBug, "SYNOD_BUG"))
	if err != nil {
		t.Fatalf("-synod.bug: %v", err)
	}
	return b
}

func TestParseSeeds(t *testing.T) {
	for _, c := range []struct {
		in           string
		first, count uint64
		ok           bool
	}{{"5000", 1, 5000, true}, {"10-19", 10, 10, true}, {"7-7", 7, 1, true}, {"0", 0, 0, false}, {"9-3", 0, 0, false}, {"x", 0, 0, false}} {
		first, count, err := parseSeeds(c.in)
		if c.ok != (err == nil) || first != c.first || count != c.count {
			t.Errorf("parseSeeds(%q) = %d, %d, %v", c.in, first, count, err)
		}
	}
}

// TestSeedFlagsReachTheLastSeed guards the largest seed: -synod.seed at
// 2^64-1 must run that seed, not wrap to none, and a range ending there
// must count its seeds.
func TestSeedFlagsReachTheLastSeed(t *testing.T) {
	first, count, err := parseSeeds("18446744073709551614-18446744073709551615")
	require.NoError(t, err)
	require.Equal(t, uint64(18446744073709551614), first)
	require.Equal(t, uint64(2), count)
	_, _, err = parseSeeds("0-18446744073709551615")
	require.Error(t, err, "2^64 seeds cannot be counted")

	sc, _ := Lookup("multi/kv")
	var ran []uint64
	for i := range count { // the loop TestScenarioSeeds runs
		seed := first + i
		ran = append(ran, seed)
		_ = sc.Run(sim.NewPRNG(seed), Options{Bugs: paxos.NoDedup})
	}
	require.Equal(t, []uint64{18446744073709551614, 18446744073709551615}, ran)
}

// FuzzParseSeeds: any -synod.seeds text is a count, a range whose count
// does not wrap, or a one-line refusal.
func FuzzParseSeeds(f *testing.F) {
	for _, s := range []string{"10", "0", "1-5", "5-1", "0-18446744073709551615", "18446744073709551615-18446744073709551615", "-", "x-y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, count, err := parseSeeds(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatal("multi-line error")
			}
			return
		}
		if count == 0 || first+(count-1) < first {
			t.Fatalf("%q gave first %d count %d: empty or wrapping", s, first, count)
		}
	})
}

// The shrink budget starts when the caller says, so reading and replaying
// the input count: a budget already spent stops the shrink at once.
func TestShrinkBudgetIncludesWhatCameBefore(t *testing.T) {
	sc, _ := Lookup("single/check")
	res := sc.Run(sim.NewPRNG(1), Options{Bugs: paxos.DupBallot, Trace: true})
	if res.Violation == nil {
		t.Skip("seed 1 does not fail")
	}
	file := TraceFile(sc.Name, 1, paxos.DupBallot, res)
	sh, err := ShrinkFile(file, ShrinkOptions{Budget: time.Second, Start: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.False(t, sh.Fixpoint, "a budget spent before the shrink began must stop it")
}
