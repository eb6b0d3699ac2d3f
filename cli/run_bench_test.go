package cli

import (
	"io"
	"testing"
)

// BenchmarkSweepTracing measures what writing failures costs a sweep of a
// bug that fails about half its seeds (even-quorum in multi/kv-partition:
// 44%): the default cap (traces of the first 10 failures and the first of
// each kind) against none at all. The target is within 10%; run
//
//	go test ./cmd/simrun -run '^$' -bench SweepTracing -benchtime 3x
//
// and compare the two lines (the JSON summary's writing_seconds gives the
// same figure for one real sweep: 0.2 s of 46 s for 50,000 seeds).
func BenchmarkSweepTracing(b *testing.B) {
	for _, traces := range []string{"10", "0"} {
		b.Run("traces="+traces, func(b *testing.B) {
			for b.Loop() {
				code := run([]string{"run", "-scenario", "multi/kv-partition", "-bug", "even-quorum", "-seeds", "2000",
					"-traces", traces, "-q", "-out", b.TempDir()}, io.Discard, io.Discard)
				if code != exitViolation {
					b.Fatalf("exit %d, want %d", code, exitViolation)
				}
			}
		})
	}
}
