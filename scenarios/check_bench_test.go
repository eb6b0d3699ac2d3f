package scenarios

import (
	"runtime/debug"
	"testing"

	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/sim"
)

// benchCheck explores single/check and reports distinct states per second
// and allocations per state.
func benchCheck(b *testing.B, set string, cfg explore.Config) {
	b.ReportAllocs()
	// As simrun runs it (cmd/simrun sets GOGC=400): a depth-first search
	// keeps little alive, so the collector's pace is set by its garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var states uint64
	var complete bool
	for b.Loop() {
		r := searchScenario(b, "single/check", set, "", cfg)
		states += r.States
		complete = r.Complete
	}
	b.ReportMetric(float64(states)/b.Elapsed().Seconds(), "states/s")
	b.ReportMetric(float64(states)/float64(b.N), "states")
	if cfg.MaxStates == 0 && !complete {
		b.Fatal("the search did not exhaust the space")
	}
}

// BenchmarkCheck is the quick figure: the first 200,000 states of the spin
// anchor's configuration (3 nodes, 2 proposers, 1 round each, no loss),
// dead letters kept so that there are that many.
func BenchmarkCheck(b *testing.B) { benchCheck(b, "collect=0", explore.Config{MaxStates: 200_000}) }

// BenchmarkCheckDFS is BenchmarkCheck depth first, as spin searches.
func BenchmarkCheckDFS(b *testing.B) {
	benchCheck(b, "collect=0", explore.Config{MaxStates: 200_000, DFS: true})
}

// The spin anchor's configurations, exhausted; run them with -benchtime=1x:
// go test ./scenarios -run '^$' -bench CheckSpin -benchtime=1x -cpu 1
// Spin keeps every message in flight until it is delivered, as collect=0
// does: those are the figures to set beside spin's rate. The Collected
// variants are what simrun check runs by default.

// BenchmarkCheckSpinR1 exhausts the spin anchor's configuration.
func BenchmarkCheckSpinR1(b *testing.B) { benchCheck(b, "collect=0", explore.Config{DFS: true}) }

// BenchmarkCheckSpinR1Loss adds a drop for every message in flight.
func BenchmarkCheckSpinR1Loss(b *testing.B) {
	benchCheck(b, "drops=-1,collect=0", explore.Config{DFS: true})
}

// BenchmarkCheckSpinR1Collected is BenchmarkCheckSpinR1 with dead letters
// removed.
func BenchmarkCheckSpinR1Collected(b *testing.B) { benchCheck(b, "", explore.Config{DFS: true}) }

// BenchmarkCheckSpinR1LossCollected is BenchmarkCheckSpinR1Loss with dead
// letters removed.
func BenchmarkCheckSpinR1LossCollected(b *testing.B) {
	benchCheck(b, "drops=-1", explore.Config{DFS: true})
}

// BenchmarkCheckSpinR2 is two rounds per proposer, which spin did not
// exhaust in 40 minutes: depth first, dead letters removed.
func BenchmarkCheckSpinR2(b *testing.B) { benchCheck(b, "rounds=2", explore.Config{DFS: true}) }

// BenchmarkRestore compares the two ways to bring back a saved state: load
// a snapshot (clone-on-write world) or replay the choice prefix from the
// initial state, for states about 15 actions deep.
func BenchmarkRestore(b *testing.B) {
	sc, _ := Lookup("single/check")
	m, err := sc.Machine(Options{})
	if err != nil {
		b.Fatal(err)
	}
	root := m.Save()
	rng := sim.NewPRNG(1)
	var states []explore.State
	var paths [][]int
	for len(states) < 64 {
		m.Load(root)
		var path []int
		for len(path) < 15 && len(m.Actions()) > 0 {
			i := int(rng.Choose(uint64(len(m.Actions()))))
			path = append(path, i)
			if m.Apply(m.Actions()[i]) != nil {
				break
			}
		}
		states, paths = append(states, m.Save()), append(paths, path)
	}
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.Load(states[i%len(states)])
			_ = m.Fingerprint()
			i++
		}
	})
	b.Run("replay-prefix", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.Load(root)
			for _, a := range paths[i%len(paths)] {
				if m.Apply(m.Actions()[a]) != nil {
					break
				}
			}
			_ = m.Fingerprint()
			i++
		}
	})
}
