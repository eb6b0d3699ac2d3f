// Command simrun runs Synod scenarios over many seeds, replays, shrinks and
// draws failing traces, checks small configurations exhaustively, and
// lists what it can run: package cli's Main over Synod's scenarios.
//
// Exit status: 0 no violation, 1 a violation found, 2 usage or input error,
// 3 a check was inconclusive (never counted as a pass).
package main

import (
	"os"
	"runtime/debug"

	"github.com/synod-sim/synod/cli"
)

func main() {
	// Runs allocate short-lived worlds by the million and keep little alive:
	// trading memory for fewer collections is worth a quarter of a sweep's
	// time. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
