// Package checker watches a simulated cluster for broken safety properties
// after every step, and for lost liveness once the faults heal.
package checker

import "fmt"

// Violation is a broken property: which one, a message that names the nodes,
// slots and ballots involved, and the virtual time it was seen.
type Violation struct {
	Kind    string // e.g. "agreement", "validity", "liveness", "assertion"
	Message string
	Time    int64 // virtual microseconds
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%s violation at t=%dµs: %s", v.Kind, v.Time, v.Message)
}
