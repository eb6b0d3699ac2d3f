package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/sim"
)

// Colours of the history page's annotations.
const (
	noteDown      = "#f6c9c9"
	notePartition = "#fbe3b5"
	noteLeader    = "#d7e8fb"
	noteReply     = "#e4f3dd"
)

// historyNotes reads a Multi-Paxos run's trace for what a reader of its
// client history wants beside it: when replicas were down, when the
// network was cut (and the leader cut off), who led, and which replica
// answered each client. Clients' rows are numbered by node id, so the rows
// below the first client are the replicas': their faults and leadership
// go there.
func historyNotes(lines []sim.Line, replicas int) []checker.Annotation {
	var out []checker.Annotation
	down := map[int]int64{}
	var downOrder []int
	cut, cutText := int64(-1), ""
	var last int64
	closeCut := func(at int64) {
		if cut >= 0 {
			out = append(out, checker.Annotation{Tag: "network", Start: cut, End: at, Text: cutText, Color: notePartition})
			cut = -1
		}
	}
	for _, l := range lines {
		at := int64(l.At)
		last = at
		text := l.Text
		switch {
		case strings.HasPrefix(text, "fault crash n"):
			if id, err := strconv.Atoi(strings.TrimPrefix(text, "fault crash n")); err == nil {
				if _, open := down[id]; !open {
					downOrder = append(downOrder, id)
				}
				down[id] = at
			}
		case strings.HasPrefix(text, "fault restart n"):
			if id, err := strconv.Atoi(strings.TrimPrefix(text, "fault restart n")); err == nil {
				if from, open := down[id]; open {
					out = append(out, checker.Annotation{Client: id, Start: from, End: at, Text: "down", Details: fmt.Sprintf("n%d down", id), Color: noteDown})
					delete(down, id)
				}
			}
		case strings.HasPrefix(text, "fault heal"):
			closeCut(at)
			// The heal restarts every node but those it names as down
			// for good.
			for _, id := range downOrder {
				from, open := down[id]
				if open && !(strings.Contains(text, "down for good") && strings.Contains(text, fmt.Sprintf("n%d", id))) {
					out = append(out, checker.Annotation{Client: id, Start: from, End: at, Text: "down", Details: fmt.Sprintf("n%d down", id), Color: noteDown})
					delete(down, id)
				}
			}
		case strings.HasPrefix(text, "fault partition heals"), strings.HasPrefix(text, "fault leader cut heals"):
			closeCut(at)
		case strings.HasPrefix(text, "fault partition "), strings.HasPrefix(text, "fault cut the leader off"):
			closeCut(at)
			cut, cutText = at, strings.TrimPrefix(text, "fault ")
		case strings.Contains(text, " leads at ballot "):
			who, _, _ := strings.Cut(text, " ")
			if id, err := strconv.Atoi(strings.TrimPrefix(who, "n")); err == nil {
				out = append(out, checker.Annotation{Client: id, Start: at, End: at, Text: "leads", Details: text, Color: noteLeader})
			}
		case strings.HasPrefix(text, "deliver n") && strings.Contains(text, " reply "):
			from, to, ok := deliveryEnds(text)
			if ok && from < replicas && to >= replicas {
				out = append(out, checker.Annotation{Client: to, Start: at, End: at, Text: fmt.Sprintf("n%d", from), Details: "answered by replica n" + strconv.Itoa(from), Color: noteReply})
			}
		}
	}
	closeCut(last)
	for _, id := range downOrder {
		if from, open := down[id]; open {
			out = append(out, checker.Annotation{Client: id, Start: from, End: last, Text: "down", Details: fmt.Sprintf("n%d down for good", id), Color: noteDown})
		}
	}
	return out
}

// deliveryEnds reads "deliver nA->nB ..." for A and B.
func deliveryEnds(text string) (from, to int, ok bool) {
	ends, _, _ := strings.Cut(strings.TrimPrefix(text, "deliver n"), " ")
	a, b, found := strings.Cut(ends, "->n")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	return from, to, err1 == nil && err2 == nil
}
