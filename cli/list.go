package cli

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/synod-sim/synod/planted"
	"github.com/synod-sim/synod/scenarios"
)

func cmdList(args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "also list each scenario's settings (-set key=value), with default and range")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, fail("list takes no arguments but -v")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, s := range scenarios.All() {
		mark := ""
		if s.Machine != nil {
			mark = " [simrun check]"
		}
		fmt.Fprintf(tw, "%s\t%s%s\n", s.Name, s.Summary, mark)
		if *verbose && len(s.Params) > 0 {
			// Settings line up among themselves, not with the summaries.
			if err := tw.Flush(); err != nil {
				return exitUsage, err
			}
			pw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, p := range s.Params {
				fmt.Fprintf(pw, "  %s=%s\t%s\t%s\n", p.Name, p.DefaultText(), p.Range(), p.Doc)
			}
			if err := pw.Flush(); err != nil {
				return exitUsage, err
			}
		}
	}
	if *verbose {
		fmt.Fprintln(tw, "\nsimrun run -scenario NAME -set key=value,... overrides settings (durations 250ms/2s/1500us, rates 0.02/2%/20000ppm, families crash+loss); a drawn setting, once set, is fixed in every run")
	}
	return exitOK, tw.Flush()
}

func cmdBugs(args []string, out io.Writer) (int, error) {
	if len(args) > 0 {
		return exitUsage, fail("bugs takes no arguments")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "BUG\tFOUND BY\tWHAT IT DOES\n")
	for _, b := range planted.All() {
		hunt := "-"
		if h, ok := scenarios.HuntFor(b.Name); ok {
			hunt = fmt.Sprintf("%s (<= %d seeds)", h.Scenario, h.Seeds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, hunt, b.Summary)
	}
	return exitOK, tw.Flush()
}
