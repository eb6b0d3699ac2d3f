package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/synod-sim/synod/cli"
)

// ExampleMain embeds simrun: a user's main registers their scenarios and
// hands the command line to Main, which answers as simrun does (here a
// sweep of five seeds of a built-in scenario, read back from its JSON
// summary; the digest does not depend on workers or scheduling).
func ExampleMain() {
	var out bytes.Buffer
	code := cli.Main([]string{"run", "-scenario", "single/basic", "-seeds", "5", "-json", "-q"}, &out, io.Discard)
	var summary struct {
		Runs       int   `json:"runs"`
		Violations []any `json:"violations"`
	}
	if err := json.Unmarshal(out.Bytes(), &summary); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit", code, "runs", summary.Runs, "violations", len(summary.Violations))
	// Output: exit 0 runs 5 violations 0
}
