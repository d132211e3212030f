package sdnotify

import (
	"strconv"

	"golang.org/x/sys/unix"
)

type unixTime struct{}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as sd_notify(3) wants
// with RELOADING=1.
func (unixTime) monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "0"
	}
	return strconv.FormatInt(ts.Nano()/1000, 10)
}
