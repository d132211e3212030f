package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	storagev1 "github.com/vigilgw/vigil/plugins/sdk/proto/storage/v1"
)

// storageChildEnv makes this test binary a storage plugin serving
// probeStorage, launched by the tests below as a real process.
const storageChildEnv = "VIGIL_SDK_STORAGE_CHILD"

func init() {
	if os.Getenv(storageChildEnv) != "" {
		ServeStorage(&probeStorage{objects: map[string][]byte{}})
		os.Exit(0)
	}
}

// probeStorage keeps objects in memory and says in each stored object's
// metadata how its content came: "file" for a reader that is also an
// io.ReaderAt and io.Seeker (passed as a file), "stream" otherwise.
type probeStorage struct {
	mu      sync.Mutex
	objects map[string][]byte
	how     map[string]string
}

func (p *probeStorage) Info(context.Context) (Info, error) {
	return Info{Kind: KindStorage, Name: "probe", APIVersions: APIVersions(KindStorage)}, nil
}

func (p *probeStorage) Configure(context.Context, []byte) error { return nil }

func (p *probeStorage) Put(_ context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	how := "stream"
	if _, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		how = "file"
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return ObjectInfo{}, err
	}
	sum := sha256.Sum256(data)
	if size >= 0 && int64(len(data)) != size || opts.SHA256 != "" && opts.SHA256 != hex.EncodeToString(sum[:]) {
		return ObjectInfo{}, fmt.Errorf("probe: put %q: %w", key, ErrContentMismatch)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects[key] = data
	if p.how == nil {
		p.how = map[string]string{}
	}
	p.how[key] = how
	return ObjectInfo{Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Metadata: map[string]string{"how": how}}, nil
}

func (p *probeStorage) Get(_ context.Context, key string, _, _ int64) (io.ReadCloser, ObjectInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, ok := p.objects[key]
	if !ok {
		return nil, ObjectInfo{}, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), ObjectInfo{Key: key, Size: int64(len(data))}, nil
}

func (p *probeStorage) Head(_ context.Context, key string) (ObjectInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, ok := p.objects[key]
	if !ok {
		return ObjectInfo{}, ErrNotFound
	}
	return ObjectInfo{Key: key, Size: int64(len(data)), Metadata: map[string]string{"how": p.how[key]}}, nil
}

func (p *probeStorage) List(context.Context, string) ([]ObjectInfo, error) {
	return nil, ErrUnsupported
}
func (p *probeStorage) Delete(context.Context, string) error { return ErrUnsupported }
func (p *probeStorage) Presign(context.Context, string, string, time.Duration) (string, error) {
	return "", ErrUnsupported
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// launchProbe starts this test binary as a storage plugin process and
// waits until it said hello on its side channel.
func launchProbe(t *testing.T) (*Client, *storageClient) {
	t.Helper()
	c, err := Launch(context.Background(), LaunchConfig{Kind: KindStorage, Path: os.Args[0], Env: []string{storageChildEnv + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	sc := c.Plugin().(*storageClient)
	fs := sc.files.Load()
	if fs == nil {
		t.Fatal("the storage client has no side channel")
	}
	waitFor(t, "the plugin's hello on the side channel", fs.ready.Load)
	return c, sc
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tempFile writes content to a new file and opens it read-only.
func tempFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestStoragePutPassesFiles(t *testing.T) {
	_, s := launchProbe(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("0123456789abcdef"), 70000) // 1.1 MB, several chunks if streamed
	f := tempFile(t, append([]byte("head"), content...))
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}

	info, err := s.Put(ctx, "from-file", f, int64(len(content)), PutOptions{SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["how"] != "file" {
		t.Errorf("a file's content came as %q, want passed as a file", info.Metadata["how"])
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 4+int64(len(content)) {
		t.Errorf("the file is at offset %d after the Put, want its end %d", off, 4+len(content))
	}
	rc, _, err := s.Get(ctx, "from-file", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Get read %d bytes (%v), want the %d bytes after the file's offset", len(got), err, len(content))
	}

	// Any other reader is streamed.
	info, err = s.Put(ctx, "from-memory", bytes.NewReader(content), int64(len(content)), PutOptions{})
	if err != nil || info.Metadata["how"] != "stream" {
		t.Errorf("bytes.Reader: Put = %q, %v; want streamed", info.Metadata["how"], err)
	}

	// A wrong declared sha256 on the file path is refused and stores nothing.
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "wrong-sum", f, int64(len(content)), PutOptions{SHA256: sha256Hex([]byte("other"))})
	if !errors.Is(err, ErrContentMismatch) {
		t.Errorf("file with a wrong sha256: Put = %v, want ErrContentMismatch", err)
	}
	if _, err := s.Head(ctx, "wrong-sum"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head after the refused Put = %v, want ErrNotFound", err)
	}

	// A file that does not hold exactly the declared size is streamed, and
	// fails as any reader would.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "longer", f, int64(len(content)), PutOptions{})
	if !errors.Is(err, ErrContentMismatch) {
		t.Errorf("file longer than declared: Put = %v, want ErrContentMismatch", err)
	}
}

func TestStoragePluginRefusesShortOrFakeFiles(t *testing.T) {
	_, s := launchProbe(t)
	ctx := context.Background()
	fs := s.files.Load()
	short := tempFile(t, []byte("only ten b"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, c := range []struct {
		name string
		f    *os.File
		off  int64
		size int64
		want string
	}{
		{"short file", short, 0, 1 << 20, "passed file holds 10 bytes from offset 0, 1048576 declared"},
		{"offset past the end", short, 20, 1, "passed file holds 0 bytes from offset 20, 1 declared"},
		{"pipe", r, 0, 1, "passed file is not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := fs.send(c.f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.put(ctx, "put", &storagev1.PutHeader{Key: "fake", Size: c.size, FileToken: tok, FileOffset: c.off}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Put of a %s = %v, want an error saying %q", c.name, err, c.want)
			}
			if c.name != "pipe" && !errors.Is(err, ErrContentMismatch) {
				t.Errorf("Put of a %s = %v, want ErrContentMismatch", c.name, err)
			}
			if _, err := s.Head(ctx, "fake"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Head after the refused Put = %v, want ErrNotFound", err)
			}
		})
	}
	// A token the plugin never got a file for fails too (the inbox's wait
	// is bounded by the call's context).
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.put(tctx, "put", &storagev1.PutHeader{Key: "fake", Size: 10, FileToken: 1 << 40}, nil); err == nil {
		t.Error("Put with a token no file came with succeeded")
	}
}

func TestOpenFileContentChecksTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	wo, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openFileContent(wo, 0, 5); err == nil || !strings.Contains(err.Error(), "not open for reading") {
		t.Errorf("write-only file: %v", err)
	}
	wo.Close()
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := openFileContent(ro, -1, 5); err == nil {
		t.Error("a negative offset was accepted")
	}
	c, err := openFileContent(ro, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Seek(7, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	b := make([]byte, 2)
	n, _ := c.ReadAt(b, 3)
	if string(got) != "34567" || string(b[:n]) != "67" {
		t.Errorf("content reads %q and at 3 %q, want %q and %q whatever the file's own offset", got, b[:n], "34567", "67")
	}
	if f, off := c.File(); f != ro || off != 3 {
		t.Errorf("File() = %v, %d; want the passed file and offset 3", f, off)
	}
}

// inboxPair is a side channel with a fileInbox serving the plugin's end.
func inboxPair(t *testing.T, in *fileInbox) *net.UnixConn {
	t.Helper()
	host, child, err := newSideChannels(1)
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := unixConnFromFD(int(child[0].Fd()), "plugin-end")
	child[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	go in.serve(plugin)
	t.Cleanup(func() { host[0].Close() })
	return host[0]
}

func tokenMsg(tok uint64) []byte { return binary.BigEndian.AppendUint64(nil, tok) }

func TestFileInboxTakesFilesFromTheSideChannel(t *testing.T) {
	in := newFileInbox()
	host := inboxPair(t, in)
	f := tempFile(t, []byte("passed"))
	ctx := context.Background()

	// The claim may come first: it waits for the file.
	got := make(chan *os.File, 1)
	go func() {
		g, err := in.claim(ctx, 7)
		if err != nil {
			t.Error(err)
		}
		got <- g
	}()
	waitFor(t, "the claim to wait", func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.slots[7] != nil
	})
	if err := sendFile(host, tokenMsg(7), f); err != nil {
		t.Fatal(err)
	}
	g := <-got
	if g == nil {
		t.Fatal("no file")
	}
	b, _ := io.ReadAll(io.NewSectionReader(g, 0, 100))
	g.Close()
	if string(b) != "passed" {
		t.Errorf("the passed file reads %q", b)
	}

	// Messages without exactly one file are dropped (their files closed);
	// the channel stays in step for the next one.
	if _, err := host.Write(tokenMsg(8)); err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	if _, _, err := host.WriteMsgUnix(tokenMsg(9), unix.UnixRights(fd, fd), nil); err != nil {
		t.Fatal(err)
	}
	if err := sendFile(host, tokenMsg(10), f); err != nil {
		t.Fatal(err)
	}
	g, err := in.claim(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if n := in.unclaimed(); n != 0 {
		t.Errorf("the inbox holds %d files after malformed messages, want 0", n)
	}
	for _, tok := range []uint64{8, 9} {
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		if _, err := in.claim(cctx, tok); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("claim of token %d of a malformed message = %v, want no file", tok, err)
		}
		cancel()
	}
}

func TestFileInboxBoundsWhatItHolds(t *testing.T) {
	in := newFileInbox()
	in.maxUnclaimed = 3
	in.unclaimedTimeout = time.Second
	in.wait = 50 * time.Millisecond
	content := tempFile(t, []byte("x"))
	dup := func() *os.File {
		fd, err := unix.Dup(int(content.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), "dup")
	}

	var held []*os.File
	for tok := uint64(1); tok <= 3; tok++ {
		f := dup()
		held = append(held, f)
		in.deliver(tok, f)
	}
	extra, second := dup(), dup()
	in.deliver(4, extra)  // over the bound
	in.deliver(1, second) // a second file for a token
	for name, f := range map[string]*os.File{"a file over the bound": extra, "a second file for a token": second} {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s was kept open (Close = %v)", name, err)
		}
	}
	if n := in.unclaimed(); n != 3 {
		t.Errorf("the inbox holds %d files, want its bound 3", n)
	}

	// Files no Put claims are closed after the timeout.
	waitFor(t, "unclaimed files to be closed", func() bool { return in.unclaimed() == 0 })
	for i, f := range held {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("unclaimed file %d was kept open (Close = %v)", i+1, err)
		}
	}

	// A claim waits no longer than the inbox's wait.
	start := time.Now()
	if _, err := in.claim(context.Background(), 99); err == nil || !strings.Contains(err.Error(), "did not arrive") {
		t.Errorf("claim of a token that never comes = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the claim waited %s", d)
	}
	// A file that comes after its claim gave up is held, then closed.
	late := dup()
	in.deliver(99, late)
	waitFor(t, "the late file to be closed", func() bool { return in.unclaimed() == 0 })
	if err := late.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("a file that came late was kept open (Close = %v)", err)
	}
}
