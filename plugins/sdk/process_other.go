//go:build !linux

package sdk

import "os/exec"

// setProcessAttributes has nothing to set where there is no parent-death
// signal.
func setProcessAttributes(*exec.Cmd) {}
