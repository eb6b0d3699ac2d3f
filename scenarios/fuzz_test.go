package scenarios

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// Native fuzz targets. The fuzzer's bytes are the run's choices, read by
// sim.Bytes (a few bytes per choice, zero bytes and missing bytes the plain
// outcome), so coverage-guided mutation steers cluster size, faults and
// schedule directly. The first choice picks the scenario of the family.
// Without -fuzz, the seed corpus in testdata/fuzz/<Target>/ runs as a
// quick test; go test -fuzz adds the inputs it finds there.
//
//	go test ./scenarios -run '^$' -fuzz '^FuzzSingleDecree$' -fuzztime 5m
//	SYNOD_BUG=count-duplicates go test ./scenarios -run '^$' -fuzz '^FuzzSingleDecree$'
//	go test ./scenarios -run '^FuzzSingleDecree$' -synod.update-corpus   # rewrite the seed corpus

var flagUpdateCorpus = flag.Bool("synod.update-corpus", false, "rewrite the fuzz seed corpus in testdata/fuzz from seeded runs and shrunk catalogue bugs")

func FuzzSingleDecree(f *testing.F) { fuzzFamily(f, "single/") }

func FuzzMultiPaxos(f *testing.F) { fuzzFamily(f, "multi/") }

// family is the registered scenarios whose names start with prefix, in
// name order: a fuzz input's first choice indexes it.
func family(prefix string) []*Scenario {
	var out []*Scenario
	for _, s := range All() {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func fuzzFamily(f *testing.F, prefix string) {
	scs := family(prefix)
	if len(scs) == 0 {
		f.Skipf("no %s* scenario registered", prefix)
	}
	bugs := bugsUnderTest(f)
	if *flagUpdateCorpus {
		writeCorpus(f, f.Name(), prefix, scs)
	}
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &sim.Bytes{Data: data}
		s := scs[src.Choose(uint64(len(scs)))]
		rec := &sim.Recorder{Inner: src}
		res := s.Run(rec, Options{Bugs: bugs})
		if res.Violation == nil && res.Inconclusive == "" {
			return
		}
		what := fmt.Sprint(res.Violation)
		if res.Violation == nil {
			what = "inconclusive: " + res.Inconclusive
		}
		// While fuzzing, go test minimizes a failing input by running many
		// variants of it: writing a trace for each would flood the disk.
		// It saves the input and prints the go test -run command that runs
		// it alone; that run writes the trace.
		how := "rerun the failing input alone (go test prints the -run command) to write its trace"
		if !fuzzing {
			how = writeFailingChoices(t, s, bugs, consumed(rec.Choices), "fuzz input "+t.Name())
		}
		t.Fatalf("%s (%s): %s\n%s", s.Name, res.Params, what, how)
	})
}

// writeCorpus rewrites the seed corpus of a fuzz target: for each scenario
// of the family, the first seeds' runs and, for each catalogued bug its
// scenario hunts, the shrunk failing run (which passes without the bug and
// is an edge case worth mutating). Each is the byte string from which
// sim.Bytes draws exactly that run.
func writeCorpus(t testing.TB, target, prefix string, scs []*Scenario) {
	dir := filepath.Join("testdata", "fuzz", target)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	index := map[string]int{}
	for i, s := range scs {
		index[s.Name] = i
	}
	write := func(name string, s *Scenario, src sim.Source) {
		rec := &sim.Recorder{Inner: src}
		res := s.Run(rec, Options{})
		require.Nil(t, res.Violation, "%s: corpus entries pass without bugs", name)
		choices := append([]sim.Choice{{N: uint64(len(scs)), V: uint64(index[s.Name])}}, rec.Choices...)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", sim.EncodeBytes(choices))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	seeds := uint64(3)
	if prefix == "multi/" {
		seeds = 1 // a Multi-Paxos run is thousands of choices: keep the corpus small
	}
	for _, s := range scs {
		for seed := uint64(1); seed <= seeds; seed++ {
			write(fmt.Sprintf("%s-seed%d", strings.ReplaceAll(s.Name, "/", "-"), seed), s, sim.NewPRNG(seed))
		}
	}
	for _, b := range paxos.Catalogue {
		h, ok := HuntFor(b.Name)
		if !ok || !strings.HasPrefix(h.Scenario, prefix) {
			continue
		}
		s, seed, res := firstFailure(t, h, b.Bug)
		sh, err := Shrink(s, seed, b.Bug, consumed(res.Trace.Choices()), ShrinkOptions{})
		require.NoError(t, err)
		write("shrunk-"+b.Name, s, &sim.Replay{Values: sh.Choices})
	}
}

// The seed corpus is what the fuzz targets start from: it exists for both
// families, and every entry decodes to a run of the family.
func TestFuzzSeedCorpusIsThere(t *testing.T) {
	for target, prefix := range map[string]string{"FuzzSingleDecree": "single/", "FuzzMultiPaxos": "multi/"} {
		if len(family(prefix)) == 0 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		require.NoError(t, err, "seed corpus of %s: go test ./scenarios -run '^%s$' -synod.update-corpus", target, target)
		require.NotEmpty(t, entries)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, e.Name()))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(data), "go test fuzz v1\n[]byte("), "%s/%s", target, e.Name())
		}
	}
}

// A fuzz input made by EncodeBytes from a recorded run drives the fuzz
// target through exactly that run: the corpus means what it says.
func TestFuzzInputReplaysTheRecordedRun(t *testing.T) {
	scs := family("single/")
	for i, s := range scs {
		rec := &sim.Recorder{Inner: sim.NewPRNG(7)}
		want := s.Run(rec, Options{})
		data := sim.EncodeBytes(append([]sim.Choice{{N: uint64(len(scs)), V: uint64(i)}}, rec.Choices...))
		src := &sim.Bytes{Data: data}
		require.Equal(t, uint64(i), src.Choose(uint64(len(scs))))
		got := s.Run(src, Options{})
		require.Equal(t, want.Digest, got.Digest, s.Name)
		require.Zero(t, src.Exhausted-countTrailingPlain(rec.Choices), "%s: the input ran out early", s.Name)
	}
}

// countTrailingPlain counts the choices at the end of a run that are 0
// (EncodeBytes drops their bytes: a missing byte reads as 0).
func countTrailingPlain(cs []sim.Choice) int {
	n := 0
	for i := len(cs) - 1; i >= 0 && (cs[i].V == 0 || cs[i].N == 1); i-- {
		if cs[i].N > 1 {
			n++
		}
	}
	return n
}
