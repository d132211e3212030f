package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A storage plugin's side channel carries open files: when the content of
// a Put is a regular file (the recording pipeline uploads spool files), the
// host passes the file itself (SCM_RIGHTS, fdpass.go) with a token, and the
// Put call carries the token, the offset and the size instead of the bytes.
// The plugin reads the file where it lies - an S3 upload sends its parts
// in parallel straight from it - and none of it goes through TLS and
// HTTP/2 framing twice. Anything else (other readers, a plugin without side
// channels, one served in process by sdktest) is streamed over gRPC.
//
// On the channel, the plugin first says storageSideHello, so that the host
// never passes files to a plugin that would not take them (one built with
// an SDK without side channels ignores the token and would read an empty
// stream). Then the host sends messages of 8 bytes, a token (big-endian,
// never 0), each with one file descriptor.

// storageSideHello is the plugin's first message on its side channel.
const storageSideHello = "vsfd/1\x00\x00"

// Bounds of what the plugin holds for the host.
const (
	// fileWait is how long a Put waits for the file of its token, beyond
	// its context: the host sends the file before it starts the call, so
	// only a plugin too busy to read its side channel sees it late.
	fileWait = 10 * time.Second
	// unclaimedFileTimeout is how long a file no Put claimed is kept.
	unclaimedFileTimeout = 30 * time.Second
	// maxUnclaimedFiles is how many files wait for their Put at most;
	// more are closed as they come.
	maxUnclaimedFiles = 64
)

// storageSideChannels is how many side channels (sidechan.go) the host
// gives a storage plugin: one carries the files of every Put.
func storageSideChannels() int { return 1 }

// storageInbox is the plugin's inbox of passed files, set by
// serveStorageSide before the gRPC server starts; nil without side
// channels.
var storageInbox atomic.Pointer[fileInbox]

// serveStorageSide takes the files the host passes on the plugin's side
// channels, for storageServer.Put to claim.
func serveStorageSide(_ Storage, conns []*net.UnixConn) {
	in := newFileInbox()
	storageInbox.Store(in)
	for _, c := range conns {
		if _, err := c.Write([]byte(storageSideHello)); err != nil {
			Logger().Warn("storage side channel: files go over gRPC", "error", err)
			c.Close()
			continue
		}
		go in.serve(c)
	}
}

// fileInbox holds the files the host passed until the Put of their token
// claims them. Files no Put claims are closed after unclaimedTimeout, and
// at most maxUnclaimed are held: a confused or hostile host cannot make
// the plugin keep descriptors without bound.
type fileInbox struct {
	wait             time.Duration
	unclaimedTimeout time.Duration
	maxUnclaimed     int

	mu      sync.Mutex
	slots   map[uint64]*fileSlot
	holding int // slots with a file
}

// fileSlot is one token's file, or a Put waiting for it.
type fileSlot struct {
	f       *os.File
	ready   chan struct{} // closed once f is set, for a waiting Put
	claimed bool          // a Put waits for it
	expiry  *time.Timer
}

func newFileInbox() *fileInbox {
	return &fileInbox{
		wait: fileWait, unclaimedTimeout: unclaimedFileTimeout, maxUnclaimed: maxUnclaimedFiles,
		slots: map[uint64]*fileSlot{},
	}
}

// serve receives files on c until the host closes it.
func (in *fileInbox) serve(c *net.UnixConn) {
	defer c.Close()
	r := newFileReceiver(c)
	var msg [8]byte
	for {
		files, err := r.receive(msg[:])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				Logger().Warn("storage side channel: closed", "error", err)
			}
			return
		}
		tok := binary.BigEndian.Uint64(msg[:])
		if len(files) != 1 || tok == 0 {
			Logger().Warn("storage side channel: message refused", "token", tok, "files", len(files))
			for _, f := range files {
				f.Close()
			}
			continue
		}
		in.deliver(tok, files[0])
	}
}

// deliver gives f to the Put waiting for tok, or holds it for one to come.
func (in *fileInbox) deliver(tok uint64, f *os.File) {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.slots[tok]
	switch {
	case s != nil && s.claimed && s.f == nil:
		s.f = f
		in.holding++
		close(s.ready)
		return
	case s != nil:
		Logger().Warn("storage side channel: a second file for one token, closed", "token", tok)
		f.Close()
		return
	case in.holding >= in.maxUnclaimed:
		Logger().Warn("storage side channel: too many unclaimed files, closed", "token", tok)
		f.Close()
		return
	}
	s = &fileSlot{f: f, ready: make(chan struct{})}
	close(s.ready)
	in.slots[tok] = s
	in.holding++
	s.expiry = time.AfterFunc(in.unclaimedTimeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.slots[tok] == s && !s.claimed {
			delete(in.slots, tok)
			in.holding--
			s.f.Close()
			Logger().Warn("storage side channel: no Put claimed a file, closed", "token", tok)
		}
	})
}

// claim takes the file passed with tok, waiting for it until ctx ends or
// the inbox's wait is over.
func (in *fileInbox) claim(ctx context.Context, tok uint64) (*os.File, error) {
	in.mu.Lock()
	s := in.slots[tok]
	switch {
	case s == nil:
		s = &fileSlot{ready: make(chan struct{})}
		in.slots[tok] = s
	case s.claimed:
		in.mu.Unlock()
		return nil, fmt.Errorf("sdk: storage put: file %d is claimed by another Put", tok)
	}
	s.claimed = true
	in.mu.Unlock()

	timer := time.NewTimer(in.wait)
	defer timer.Stop()
	var err error
	select {
	case <-s.ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("sdk: storage put: file %d did not arrive on the side channel within %s", tok, in.wait)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.slots, tok)
	if s.expiry != nil {
		s.expiry.Stop()
	}
	f := s.f
	if f != nil {
		in.holding--
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	return f, nil
}

// unclaimed is how many files the inbox holds.
func (in *fileInbox) unclaimed() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.holding
}

// fileContent is the content of a Put passed as a file, as the plugin's
// implementation reads it: size bytes from the offset the host's reader
// was at. It is an io.ReaderAt and an io.Seeker too, so that an
// implementation can read parts in parallel (positions are relative to the
// content's start) and never moves the offset the host's file shares.
type fileContent struct {
	*io.SectionReader
	f *os.File
}

// openFileContent checks what the host passed before anything reads it:
// a regular file, open for reading, holding at least offset+size bytes. A
// file that does not hold them fails with ErrContentMismatch.
func openFileContent(f *os.File, offset, size int64) (*fileContent, error) {
	if offset < 0 || size < 0 {
		return nil, fmt.Errorf("sdk: storage put: passed file: offset %d and size %d must not be negative", offset, size)
	}
	var st unix.Stat_t
	var flags int
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			if err = unix.Fstat(int(fd), &st); err == nil {
				flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0)
			}
		})
		err = errors.Join(err, cerr)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("sdk: storage put: passed file: %w", err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, fmt.Errorf("sdk: storage put: passed file is not a regular file (mode %#o)", st.Mode)
	case flags&unix.O_ACCMODE == unix.O_WRONLY:
		return nil, errors.New("sdk: storage put: passed file is not open for reading")
	case st.Size < offset || st.Size-offset < size:
		return nil, fmt.Errorf("sdk: storage put: passed file holds %d bytes from offset %d, %d declared: %w",
			max(st.Size-offset, 0), offset, size, ErrContentMismatch)
	}
	return &fileContent{SectionReader: io.NewSectionReader(f, offset, size), f: f}, nil
}

// File returns the passed file and the offset in it where the content
// starts, for an implementation that reads it by other means (mmap,
// copy_file_range). The file is the SDK's: it is closed once Put returns,
// and its offset is shared with the host's, so it must be neither closed
// nor moved.
func (c *fileContent) File() (*os.File, int64) {
	_, off, _ := c.SectionReader.Outer()
	return c.f, off
}

func (c *fileContent) close() { c.f.Close() }

// fileSender is the host's end of a storage plugin's side channel.
type fileSender struct {
	c     *net.UnixConn
	ready atomic.Bool // the plugin said hello and the channel is open
	mu    sync.Mutex
	last  uint64 // the last token sent
}

func newFileSender(c *net.UnixConn) *fileSender {
	s := &fileSender{c: c}
	go s.watch()
	return s
}

// watch waits for the plugin's hello, then for the channel to close.
func (s *fileSender) watch() {
	var hello [len(storageSideHello)]byte
	if _, err := io.ReadFull(s.c, hello[:]); err != nil || string(hello[:]) != storageSideHello {
		return
	}
	s.ready.Store(true)
	// The plugin sends nothing more: this returns when it exits or Kill
	// closes the channel.
	_, _ = io.Copy(io.Discard, s.c)
	s.ready.Store(false)
}

// send passes f to the plugin and returns its token.
func (s *fileSender) send(f *os.File) (uint64, error) {
	if !s.ready.Load() {
		return 0, errSideChannelClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], s.last)
	if err := sendFile(s.c, msg[:], f); err != nil {
		return 0, err
	}
	return s.last, nil
}

// passableFile returns the offset f is at when its content from there is
// exactly size bytes of a regular file, the content a Put can pass as the
// file itself. Anything else is streamed, and a size that does not match
// fails as it does for any reader.
func passableFile(r io.Reader, size int64) (*os.File, int64, bool) {
	f, ok := r.(*os.File)
	if !ok || size < 0 {
		return nil, 0, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, 0, false
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil || st.Size()-off != size {
		return nil, 0, false
	}
	return f, off, true
}
