package sdk

import (
	"os/exec"
	"syscall"
)

// setProcessAttributes makes the kernel kill the plugin when the host
// process dies, so a crashed vigild leaves no orphaned plugins behind.
func setProcessAttributes(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
