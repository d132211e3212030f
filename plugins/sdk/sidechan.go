package sdk

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Side channels carry a plugin kind's bulk data beside go-plugin's gRPC
// connection: a logformat plugin's event batches, a storage plugin's open
// files. Each is one end of a Unix socket pair the host makes before it
// starts the plugin process and hands it as an inherited file descriptor
// (exec's ExtraFiles: fds 3, 4, ... in the plugin). Nothing else can reach
// such a socket: it has no name in the filesystem and no other process
// holds either end, so it needs neither the TLS nor the framing of the gRPC
// link, whose socket is a file any local process could try. The gRPC link
// stays the control channel, and the path for everything when a plugin has
// no side channels (attached in process by sdktest, or a plugin from an SDK
// without them).
//
// What flows on a kind's side channels is that kind's business
// (logformat_side.go, storage_side.go); this file only makes, passes and
// finds them.

// sideChannelsEnv tells the plugin process how many side channels it
// inherited, as fds 3, 4, ... in order.
const sideChannelsEnv = "VIGIL_PLUGIN_SIDE_CHANNELS"

// firstSideFD is the descriptor of the first inherited side channel: exec
// puts ExtraFiles after stdin, stdout and stderr.
const firstSideFD = 3

// maxSideChannels bounds what a plugin accepts from its environment.
const maxSideChannels = 64

// sideChannelCount is how many side channels the host gives a plugin of
// kind; 0 for kinds that use none.
func sideChannelCount(kind Kind) int {
	switch kind {
	case KindLogFormat:
		return logFormatSideChannels()
	case KindStorage:
		return storageSideChannels()
	}
	return 0
}

// newSideChannels makes n socket pairs. host are the host's ends, ready to
// use; child are the plugin's, for exec's ExtraFiles, which the host closes
// once the process started (or failed to).
func newSideChannels(n int) (host []*net.UnixConn, child []*os.File, err error) {
	closeAll := func() {
		for _, c := range host {
			c.Close()
		}
		for _, f := range child {
			f.Close()
		}
	}
	for i := range n {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("side channel %d: socketpair: %w", i, err)
		}
		c, err := unixConnFromFD(fds[0], fmt.Sprintf("vigil-side-%d-host", i))
		if err != nil {
			unix.Close(fds[1])
			closeAll()
			return nil, nil, fmt.Errorf("side channel %d: %w", i, err)
		}
		host = append(host, c)
		child = append(child, os.NewFile(uintptr(fds[1]), fmt.Sprintf("vigil-side-%d-plugin", i)))
	}
	return host, child, nil
}

// unixConnFromFD wraps fd as a *net.UnixConn and closes fd (the conn holds
// a duplicate, close-on-exec).
func unixConnFromFD(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%s is a %T, not a Unix socket", name, c)
	}
	return uc, nil
}

// inheritedSideChannels returns the side channels this plugin process
// inherited, once: later calls get the same conns (or the same error).
// None (and no error) when the host passed none.
var inheritedSideChannels = sync.OnceValues(func() ([]*net.UnixConn, error) {
	v := os.Getenv(sideChannelsEnv)
	if v == "" {
		return nil, nil
	}
	// Not for the plugin's own children (a recorder's ffmpeg, say).
	os.Unsetenv(sideChannelsEnv)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxSideChannels {
		return nil, fmt.Errorf("sdk: %s=%q: want a count from 0 to %d", sideChannelsEnv, v, maxSideChannels)
	}
	conns := make([]*net.UnixConn, 0, n)
	for i := range n {
		fd := firstSideFD + i
		// Check it is a socket before wrapping it: a plugin started by hand
		// with the variable set must fail clearly, not take its stdin.
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("sdk: side channel %d: fd %d is not an inherited socket", i, fd)
		}
		c, err := unixConnFromFD(fd, fmt.Sprintf("vigil-side-%d", i))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("sdk: side channel %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
})

// sideChannelUser is a host-side client that uses side channels once the
// plugin is up. The Client keeps owning them: Kill closes them, and the
// user's calls then fail with errSideChannelClosed or another error.
type sideChannelUser interface {
	useSideChannels(conns []*net.UnixConn)
}

// errSideChannelClosed is what a side channel's user returns once the
// channel is gone, to fall back to gRPC.
var errSideChannelClosed = errors.New("side channel closed")

// serveSideChannels starts what the plugin side of kind does with its
// inherited side channels. A plugin without any serves everything over gRPC.
func serveSideChannels(kind Kind, impl Plugin) {
	conns, err := inheritedSideChannels()
	if err != nil {
		Logger().Warn("no side channels: data goes over gRPC", "error", err)
		return
	}
	if len(conns) == 0 {
		return
	}
	switch kind {
	case KindLogFormat:
		serveLogFormatSide(impl.(LogFormatter), conns)
	case KindStorage:
		serveStorageSide(impl.(Storage), conns)
	default:
		for _, c := range conns {
			c.Close()
		}
	}
}
