package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"golang.org/x/sys/unix"
)

// passedFile is content that is an open file (the sdk passes one when the
// host passed the file itself): File returns it and where the content
// starts in it.
type passedFile interface {
	File() (*os.File, int64)
}

// hashAt returns the SHA-256 of the size bytes of f from base, in hex. The
// content of a file is hashed where it lies in the page cache (mmap), not
// copied out first, which would add about a sixth to the cost.
func hashAt(ctx context.Context, f io.ReaderAt, base, size int64) (string, error) {
	var file *os.File
	switch r := f.(type) {
	case passedFile:
		var start int64
		file, start = r.File()
		base += start
	case *os.File:
		file = r
	}
	if file != nil && size > 0 {
		if sum, err := hashMapped(ctx, file, base, size); !errors.Is(err, errNotMapped) {
			return sum, err
		}
	}
	return hashRead(ctx, f, base, size)
}

// hashStep is how much is hashed between two checks of the context.
const hashStep = 1 << 20

var hashBuffers = sync.Pool{New: func() any { return new([hashStep]byte) }}

// hashRead hashes what it reads from f.
func hashRead(ctx context.Context, f io.ReaderAt, base, size int64) (string, error) {
	buf := hashBuffers.Get().(*[hashStep]byte)
	defer hashBuffers.Put(buf)
	h := sha256.New()
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], base+off)
		h.Write(buf[:n])
		off += int64(n)
		if err != nil && off < size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errNotMapped: the file could not be mapped; it is read instead.
var errNotMapped = errors.New("not mapped")

// hashMapped hashes the file's bytes through a read-only mapping. A file
// cut short while it is mapped makes a read of the mapping fault (SIGBUS):
// that fault becomes an error here, not a crash of the plugin.
func hashMapped(ctx context.Context, f *os.File, base, size int64) (sum string, err error) {
	page := int64(os.Getpagesize())
	start := base / page * page
	if size > int64(^uint(0)>>1)-(base-start) {
		return "", errNotMapped
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return "", errNotMapped
	}
	var m []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		m, merr = unix.Mmap(int(fd), start, int(size+base-start), unix.PROT_READ, unix.MAP_SHARED)
	}); err != nil || merr != nil {
		return "", errNotMapped
	}
	defer unix.Munmap(m)
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)

	// This goroutine's faults become panics while it reads the mapping,
	// and it recovers from them.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			sum, err = "", fmt.Errorf("the file changed size while it was read: %v", r)
		}
	}()
	h := sha256.New()
	content := m[base-start:]
	for off := 0; off < len(content); off += hashStep {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		h.Write(content[off:min(off+hashStep, len(content))])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
