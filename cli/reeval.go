package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/synod-sim/synod/checker"
)

// Bounds of a reeval: what a user's directory may make it read.
const (
	reevalMaxFiles   = 1000
	reevalMaxEntries = 100_000
	reevalMaxBytes   = 64 << 20
	reevalMaxBudget  = time.Hour
)

// cmdReeval checks saved client histories (history.json in failure
// folders) for linearizability again: with a larger budget than the sweep
// gave them, or with a newer checker.
func cmdReeval(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("reeval", flag.ContinueOnError)
	budget := fs.Duration("budget", 30*time.Second, "time limit for each history's check")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) != 1 {
		return exitUsage, fail("reeval: want one directory or history file: simrun reeval DIR [-budget 30s]")
	}
	if *budget <= 0 || *budget > reevalMaxBudget {
		return exitUsage, fail("reeval: -budget %v must be in (0, %v]", *budget, reevalMaxBudget)
	}
	paths, err := savedHistories(pos[0])
	if err != nil {
		return exitUsage, err
	}
	if len(paths) == 0 {
		return exitUsage, fail("reeval: no history.json under %s (simrun run keeps one in each Multi-Paxos failure folder)", pos[0])
	}
	illegal, unknown := 0, 0
	for _, path := range paths {
		saved, err := readSavedHistory(path)
		if err != nil {
			return exitUsage, err
		}
		h, err := saved.Load()
		if err != nil {
			return exitUsage, fail("%s: %v", path, err)
		}
		res := saved.Check(h, *budget)
		switch res.Verdict {
		case checker.LinIllegal:
			illegal++
			fmt.Fprintf(stdout, "ILLEGAL %s: %s\n", path, res.Message)
		case checker.LinUnknown:
			unknown++
			fmt.Fprintf(stdout, "INCONCLUSIVE %s: %s\n", path, res.Message)
		default:
			fmt.Fprintf(stdout, "ok %s: %d operations linearizable (%s)\n", path, h.Len(), strings.Join(saved.Models, ", "))
		}
	}
	fmt.Fprintf(stdout, "%d histories: %d linearizable, %d not, %d undecided within %v each\n", len(paths), len(paths)-illegal-unknown, illegal, unknown, *budget)
	switch {
	case illegal > 0:
		return exitViolation, nil
	case unknown > 0:
		return exitInconclusive, nil
	}
	return exitOK, nil
}

// savedHistories lists the history.json files at or under root, in lexical
// order, within the reeval bounds.
func savedHistories(root string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fail("reeval: %v", err)
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var out []string
	seen := 0
	errTooMany := errors.New("too many")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if seen++; seen > reevalMaxEntries {
			return fmt.Errorf("more than %d entries under %s: point reeval at a narrower directory", reevalMaxEntries, root)
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), "history.json") {
			if len(out) == reevalMaxFiles {
				return errTooMany
			}
			out = append(out, path)
		}
		return nil
	})
	if errors.Is(err, errTooMany) {
		return nil, fail("reeval: more than %d histories under %s: point it at a narrower directory", reevalMaxFiles, root)
	}
	if err != nil {
		return nil, fail("reeval: %v", err)
	}
	return out, nil
}

func readSavedHistory(path string) (checker.SavedHistory, error) {
	var saved checker.SavedHistory
	f, err := os.Open(path)
	if err != nil {
		return saved, fail("reeval: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, reevalMaxBytes+1))
	if err != nil {
		return saved, fail("reeval: %s: %v", path, err)
	}
	if len(data) > reevalMaxBytes {
		return saved, fail("reeval: %s is larger than the %d MB limit", path, reevalMaxBytes>>20)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&saved); err != nil {
		return saved, fail("reeval: %s is not a saved history: %v", path, err)
	}
	return saved, nil
}
