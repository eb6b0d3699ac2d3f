package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/sim"
)

func TestHistoryNotesMarkFaultsLeadersAndServers(t *testing.T) {
	lines := []sim.Line{
		{At: 10, Text: "fault crash n1"},
		{At: 20, Text: "n0 leads at ballot 1.0, recovering slots up to 0"},
		{At: 30, Text: "fault partition halves cut=0>2,2>0"},
		{At: 35, Text: "deliver n0->n4 reply c4#1 ok"},
		{At: 36, Text: "deliver n3->n0 request put(k0) c3#1"},
		{At: 40, Text: "fault restart n1"},
		{At: 50, Text: "fault partition heals"},
		{At: 60, Text: "fault crash n2"},
		{At: 70, Text: "fault crash n0"},
		{At: 80, Text: "fault heal, but n2 stay down for good"},
		{At: 90, Text: "deliver n1->n3 reply c3#1 ok"},
	}
	got := historyNotes(lines, 3)
	want := []checker.Annotation{
		{Client: 0, Start: 20, End: 20, Text: "leads", Details: lines[1].Text, Color: noteLeader},
		{Client: 4, Start: 35, End: 35, Text: "n0", Details: "answered by replica n0", Color: noteReply},
		{Client: 1, Start: 10, End: 40, Text: "down", Details: "n1 down", Color: noteDown},
		{Tag: "network", Start: 30, End: 50, Text: "partition halves cut=0>2,2>0", Color: notePartition},
		{Client: 0, Start: 70, End: 80, Text: "down", Details: "n0 down", Color: noteDown},
		{Client: 3, Start: 90, End: 90, Text: "n1", Details: "answered by replica n1", Color: noteReply},
		{Client: 2, Start: 60, End: 90, Text: "down", Details: "n2 down for good", Color: noteDown},
	}
	require.Equal(t, want, got)
}
