package sdk

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Passing open files over a Unix socket (SCM_RIGHTS): the receiving
// process gets its own descriptor of the same open file, whatever the
// file's name or permissions. A message is a fixed number of bytes, sent
// in one sendmsg together with the descriptor it is about.

// maxFilesPerMessage is how many descriptors a receive makes room for.
// A sender of this package sends one; room for more lets the receiver see
// (and close) extra ones instead of the kernel dropping them silently.
const maxFilesPerMessage = 4

// sendFile sends msg and f's descriptor in one message on c. f stays open
// and the caller's: the receiver gets a descriptor of its own.
func sendFile(c *net.UnixConn, msg []byte, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var werr error
	// Control holds f open while its descriptor is in use.
	if err := rc.Control(func(fd uintptr) {
		n, _, werr = c.WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	if werr == nil && n != len(msg) {
		werr = fmt.Errorf("sent %d of %d bytes", n, len(msg))
	}
	return werr
}

// fileReceiver reads the messages of one socket and the files that come
// with them.
type fileReceiver struct {
	c   *net.UnixConn
	oob []byte
}

func newFileReceiver(c *net.UnixConn) *fileReceiver {
	return &fileReceiver{c: c, oob: make([]byte, unix.CmsgSpace(4*maxFilesPerMessage))}
}

// receive fills msg with the next message and returns the files that came
// with it (none, one or, from a confused sender, several; the caller owns
// and must close them all). An error ends the socket: files that came with
// a partial message are closed.
func (r *fileReceiver) receive(msg []byte) ([]*os.File, error) {
	var files []*os.File
	for have := 0; have < len(msg); {
		n, oobn, _, _, err := r.c.ReadMsgUnix(msg[have:], r.oob)
		// Go asks for close-on-exec descriptors (MSG_CMSG_CLOEXEC).
		files = append(files, parseRights(r.oob[:oobn])...)
		have += n
		if err == nil && n == 0 {
			err = errors.New("empty read")
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
	}
	return files, nil
}

// parseRights returns the descriptors in a control message as files.
func parseRights(oob []byte) []*os.File {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "passed-file"))
		}
	}
	return files
}
