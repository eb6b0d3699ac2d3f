package etcdraft

import "strings"

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
