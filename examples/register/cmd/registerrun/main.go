// Command registerrun is simrun over the toy register (and Synod's own
// scenarios): go run ./examples/register/cmd/registerrun run -bug ack-before-sync
package main

import (
	"os"

	"github.com/synod-sim/synod/cli"
	_ "github.com/synod-sim/synod/examples/register"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
