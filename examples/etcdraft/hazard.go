package etcdraft

import (
	"strings"
	"time"
)

// hazardPrefix opens the summary of a scenario built to show one of the
// hazards etcd raft's documentation names.
const hazardPrefix = "etcd raft hazard: "

// hazardOf is the hazard a scenario's summary names, or "": a hazard's runs
// are expected to fail, so the default sweep leaves it out.
func hazardOf(summary string) string {
	h, ok := strings.CutPrefix(summary, hazardPrefix)
	if !ok {
		return ""
	}
	return h
}

// shrinkBudgetOf is the shrink budget of a scenario's failures: a stale
// lease read's story (a leader cut off, a new one elected, a write there,
// the old leader's read) takes a long run, and shrinking it to under 200
// events takes longer than the default budget (488 -> 177 events in 90s).
func shrinkBudgetOf(name string) time.Duration {
	if name == "raft/lease-read" {
		return 2 * time.Minute
	}
	return 0
}
