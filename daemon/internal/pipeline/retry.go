package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// PluginUnavailable reports whether err says the plugin is gone or
// restarting rather than that the work failed: an error wrapping
// sdk.ErrPluginUnavailable (what the SDK's clients and the plugin host
// return for a call cut short by the plugin's exit), or a bare gRPC
// Unavailable status.
func PluginUnavailable(err error) bool {
	if errors.Is(err, sdk.ErrPluginUnavailable) {
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	return errors.As(err, &se) && se.GRPCStatus().Code() == codes.Unavailable
}

// backoff is base doubled for every attempt after the first, capped.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// The store keeps one attempt counter per job, which counts every claim.
// Render failures that count against EncodeMaxFailures are kept in the
// job's last error instead, which every encode failure rewrites with the
// count so far, so the count survives restarts and shows in `vigilctl
// recordings jobs`.
var renderFailuresRE = regexp.MustCompile(`^render failures ([0-9]+) of [0-9]+: `)

// renderFailures reads the count from a job's last error.
func renderFailures(lastError string) int {
	m := renderFailuresRE.FindStringSubmatch(lastError)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// renderCause is the last error of an encode job that failed with err.
func renderCause(failures, limit int, what string, err error) string {
	return fmt.Sprintf("render failures %d of %d: %s: %v", failures, limit, what, err)
}
