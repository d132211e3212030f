// Command vigilctl administers a Vigil appliance: users, groups, targets,
// live sessions, plugins, configuration, keys and signed session logs.
// Commands that only need the store work while vigild is stopped; the others
// talk to the running vigild over its control socket.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/vigilgw/vigil/daemon/internal/cli"
)

func main() {
	err := run(os.Args[1:])
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "vigilctl:", err)
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.Code)
	}
	os.Exit(1)
}
