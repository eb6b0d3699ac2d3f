package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/scenarios"
)

func cmdList(args []string, out io.Writer) (int, error) {
	if len(args) > 0 {
		return exitUsage, fail("list takes no arguments")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, s := range scenarios.All() {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Summary)
	}
	return exitOK, tw.Flush()
}

func cmdBugs(args []string, out io.Writer) (int, error) {
	if len(args) > 0 {
		return exitUsage, fail("bugs takes no arguments")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "BUG\tFOUND BY\tWHAT IT DOES\n")
	for _, b := range paxos.Catalogue {
		hunt := "-"
		if h, ok := scenarios.HuntFor(b.Name); ok {
			hunt = fmt.Sprintf("%s (<= %d seeds)", h.Scenario, h.Seeds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, hunt, b.Summary)
	}
	return exitOK, tw.Flush()
}
