package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// mergeInput is one summary to merge, with where it came from.
type mergeInput struct {
	path string
	rep  runReport
}

func cmdMerge(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the merged summary as one JSON object, in the format of run -json (so merged summaries merge again)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) == 0 {
		return exitUsage, fail("merge: want the summaries written by simrun run -json: simrun merge A.json B.json ...")
	}
	var ins []mergeInput
	for _, path := range pos {
		rep, err := readSummary(path)
		if err != nil {
			return exitUsage, err
		}
		ins = append(ins, mergeInput{path, rep})
	}
	merged, missing, err := mergeReports(ins)
	if err != nil {
		return exitUsage, err
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(merged); err != nil {
			return exitUsage, err
		}
	} else {
		printReport(stdout, merged)
		fmt.Fprintf(stdout, "merged %d summaries\n", len(ins))
		for _, m := range missing {
			fmt.Fprintf(stdout, "INCOMPLETE: %s\n", m)
		}
	}
	switch {
	case len(merged.Violations) > 0:
		return exitViolation, nil
	case len(merged.Inconclusive) > 0 || len(missing) > 0:
		return exitInconclusive, nil
	}
	return exitOK, nil
}

// maxSummaryBytes bounds a summary merge reads.
const maxSummaryBytes = 32 << 20

// readSummary reads one run -json summary, insisting on the fields a merge
// needs, so that any other JSON is refused with one line.
func readSummary(path string) (runReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return runReport{}, fail("merge: cannot read summary: %v", err)
	}
	defer f.Close()
	// A summary lists every failing seed but is still far smaller than
	// this; past it (a device, a wrong file) the input is refused unread.
	br := bufio.NewReader(f)
	if head, _ := br.Peek(512); len(bytes.TrimLeft(head, " \t\r\n")) > 0 && bytes.TrimLeft(head, " \t\r\n")[0] != '{' {
		return runReport{}, fail("merge: %s is not a JSON summary of simrun run -json (it does not start with '{')", path)
	}
	data, err := io.ReadAll(io.LimitReader(br, maxSummaryBytes+1))
	if err != nil {
		return runReport{}, fail("merge: cannot read summary: %v", err)
	}
	if len(data) > maxSummaryBytes {
		return runReport{}, fail("merge: %s is larger than the %d MB a summary may be", path, maxSummaryBytes>>20)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return runReport{}, fail("merge: %s is not a JSON summary of simrun run -json (%v)", path, err)
	}
	for _, k := range []string{"scenarios", "bug", "first_seed", "seeds", "runs", "events", "digest", "violations"} {
		if _, ok := fields[k]; !ok {
			return runReport{}, fail("merge: %s is not a summary of simrun run -json: it has no %q field", path, k)
		}
	}
	var rep runReport
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rep); err != nil {
		return runReport{}, fail("merge: %s: %v", path, err)
	}
	if _, err := strconv.ParseUint(rep.Digest, 16, 64); err != nil || len(rep.Digest) != 16 {
		return runReport{}, fail("merge: %s: digest %q is not 16 hex digits", path, rep.Digest)
	}
	if len(rep.Scenarios) == 0 {
		return runReport{}, fail("merge: %s: the summary lists no scenarios", path)
	}
	if rep.Runs != uint64(len(rep.Scenarios))*rep.Seeds {
		return runReport{}, fail("merge: %s: %d runs is not %d scenarios times %d seeds: the summary is damaged", path, rep.Runs, len(rep.Scenarios), rep.Seeds)
	}
	return rep, nil
}

// mergeReports adds summaries of disjoint seed ranges of the same scenarios
// and bug. Digests are sums over runs, so they add too: the merge of the
// shards of a range has the digest of the range run whole. It also says
// which parts of a sharded range no summary covered.
func mergeReports(ins []mergeInput) (runReport, []string, error) {
	first := ins[0]
	names := func(r runReport) string { return strings.Join(slices.Sorted(slices.Values(r.Scenarios)), ",") }
	out := runReport{
		Scenarios: first.rep.Scenarios, Bug: first.rep.Bug, FirstSeed: math.MaxUint64,
		CheckDeterminism: true, Violations: []violationJSON{}, Inconclusive: []violationJSON{},
	}
	var digest uint64
	for _, in := range ins {
		r := in.rep
		if names(r) != names(first.rep) {
			return runReport{}, nil, fail("merge: %s ran %s but %s ran %s: merge summaries of one experiment", in.path, names(r), first.path, names(first.rep))
		}
		if r.Bug != first.rep.Bug {
			return runReport{}, nil, fail("merge: %s ran with bug %s but %s with bug %s", in.path, r.Bug, first.path, first.rep.Bug)
		}
		d, _ := strconv.ParseUint(r.Digest, 16, 64)
		digest += d
		out.Seeds += r.Seeds
		out.Runs += r.Runs
		out.Events += r.Events
		out.WallSeconds += r.WallSeconds
		out.CheckDeterminism = out.CheckDeterminism && r.CheckDeterminism
		if r.Seeds > 0 {
			out.FirstSeed = min(out.FirstSeed, r.FirstSeed)
		}
		out.Violations = append(out.Violations, r.Violations...)
		out.Inconclusive = append(out.Inconclusive, r.Inconclusive...)
		out.Coverage = mergeCoverage(out.Coverage, r.Coverage)
	}
	// Seed ranges must not overlap: a seed counted twice would make the
	// digest and counts wrong without anyone noticing.
	sorted := slices.Clone(ins)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].rep.FirstSeed < sorted[j].rep.FirstSeed })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.rep.Seeds > 0 && b.rep.Seeds > 0 && b.rep.FirstSeed <= a.rep.FirstSeed+a.rep.Seeds-1 {
			return runReport{}, nil, fail("merge: %s and %s both ran seed %d: each seed range once, please", a.path, b.path, b.rep.FirstSeed)
		}
	}
	for _, v := range [][]violationJSON{out.Violations, out.Inconclusive} {
		sort.SliceStable(v, func(i, j int) bool {
			if v[i].Scenario != v[j].Scenario {
				return v[i].Scenario < v[j].Scenario
			}
			return v[i].Seed < v[j].Seed
		})
	}
	if out.Seeds == 0 {
		out.FirstSeed = first.rep.FirstSeed
	}
	// Shards of one range carry on as a list, so that merged summaries
	// merge again and still know what is missing.
	var shards []string
	for _, in := range ins {
		if in.rep.Shard == "" || in.rep.RangeFirst != first.rep.RangeFirst || in.rep.RangeSeeds != first.rep.RangeSeeds {
			shards = nil
			break
		}
		shards = append(shards, strings.Split(in.rep.Shard, ",")...)
	}
	sort.SliceStable(shards, func(i, j int) bool {
		var a, b, n uint64
		fmt.Sscanf(shards[i], "%d/%d", &a, &n)
		fmt.Sscanf(shards[j], "%d/%d", &b, &n)
		return a < b
	})
	if len(shards) > 0 {
		out.Shard, out.RangeFirst, out.RangeSeeds = strings.Join(shards, ","), first.rep.RangeFirst, first.rep.RangeSeeds
	}
	out.Digest = fmt.Sprintf("%016x", digest)
	out.RunsPerSecond, out.EventsPerSecond = perSecond(out.Runs, out.WallSeconds), perSecond(out.Events, out.WallSeconds)
	return out, missingShards(ins), nil
}

// missingShards lists, for every sharded range among the inputs, the shards
// that no input covers.
func missingShards(ins []mergeInput) []string {
	type rangeKey struct{ first, seeds, n uint64 }
	have := map[rangeKey]map[uint64]bool{}
	var keys []rangeKey
	for _, in := range ins {
		if in.rep.Shard == "" {
			continue
		}
		for _, sh := range strings.Split(in.rep.Shard, ",") {
			var i, n uint64
			if _, err := fmt.Sscanf(sh, "%d/%d", &i, &n); err != nil || n == 0 {
				continue
			}
			k := rangeKey{in.rep.RangeFirst, in.rep.RangeSeeds, n}
			if have[k] == nil {
				have[k] = map[uint64]bool{}
				keys = append(keys, k)
			}
			have[k][i] = true
		}
	}
	var out []string
	for _, k := range keys {
		// Walk the gaps between the shards present, not every shard: a
		// count near 2^64 must not take 2^64 steps or lines.
		present := slices.Sorted(maps.Keys(have[k]))
		var gaps []string
		missing, prev := uint64(0), uint64(0)
		gap := func(lo, hi uint64) { // shards lo..hi are missing
			missing += hi - lo + 1
			switch {
			case len(gaps) == maxGapsListed:
			case lo == hi:
				gaps = append(gaps, fmt.Sprintf("%d/%d", lo, k.n))
			default:
				gaps = append(gaps, fmt.Sprintf("%d-%d of %d", lo, hi, k.n))
			}
		}
		for _, i := range present {
			if i > prev+1 {
				gap(prev+1, i-1)
			}
			prev = i
		}
		if prev < k.n { // k.n may be 2^64-1: no k.n+1 sentinel
			gap(prev+1, k.n)
		}
		if missing > 0 {
			more := ""
			if uint64(len(gaps)) < missing && len(gaps) == maxGapsListed {
				more = ", ..."
			}
			out = append(out, fmt.Sprintf("seeds %d-%d: no summary for %d shard(s): %s%s", k.first, k.first+k.seeds-1, missing, strings.Join(gaps, ", "), more))
		}
	}
	return out
}

// maxGapsListed bounds the runs of missing shards a merge names.
const maxGapsListed = 5

// mergeCoverage adds shards' seed counts per pair. Declared pairs are not
// judged on a merge: each shard ran too few seeds to say, and the sum is
// left to the reader (judged false).
func mergeCoverage(into, add []coverageJSON) []coverageJSON {
	for _, c := range add {
		i := slices.IndexFunc(into, func(x coverageJSON) bool { return x.Scenario == c.Scenario })
		if i < 0 {
			into = append(into, coverageJSON{Scenario: c.Scenario, Seeds: map[string]uint64{}, Declared: c.Declared})
			i = len(into) - 1
		}
		into[i].Runs += c.Runs
		for pair, n := range c.Seeds {
			into[i].Seeds[pair] += n
		}
	}
	return into
}
