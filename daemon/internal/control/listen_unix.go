package control

import (
	"net"
	"sync"
	"syscall"
)

// umaskMu serialises the process-wide umask change around bind.
var umaskMu sync.Mutex

func listenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	umaskMu.Unlock()
	return ln, err
}
