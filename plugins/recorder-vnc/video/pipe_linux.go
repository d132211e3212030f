package video

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is what growPipe asks for: the most an unprivileged process
// gets by default (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// growPipe enlarges the pipe to ffmpeg from the default 64 KiB, so that a
// frame of megabytes goes across in a few large copies instead of dozens of
// wake-ups of each side. It is an optimisation only: a kernel that refuses
// leaves the default, which works.
func growPipe(w *os.File) {
	if sc, err := w.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
		})
	}
}
