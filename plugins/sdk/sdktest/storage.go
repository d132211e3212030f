package sdktest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// StorageConformance runs the suite every storage backend must pass, through
// whatever newStorage returns: the implementation itself, the in-process
// gRPC harness (ServeStorage) or a launched binary (LaunchStorage).
//
// newStorage is called once per subtest, with the subtest's t. It may return
// a fresh store or a shared one: every subtest keeps to keys under a prefix
// of its own.
func StorageConformance(t *testing.T, newStorage func(t *testing.T) sdk.Storage) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, s sdk.Storage, p string)
	}{
		{"RoundTrip", storageRoundTrip},
		{"Overwrite", storageOverwrite},
		{"Ranges", storageRanges},
		{"MissingKeys", storageMissingKeys},
		{"InvalidKeys", storageInvalidKeys},
		{"AtomicPut", storageAtomicPut},
		{"ContentMismatch", storageContentMismatch},
		{"CanceledPut", storageCanceledPut},
		{"LargeObject", storageLargeObject},
		{"FromFiles", storageFromFiles},
		{"ConcurrentPuts", storageConcurrentPuts},
		{"List", storageList},
		{"Metadata", storageMetadata},
		{"Presign", storagePresign},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStorage(t)
			c.run(t, s, fmt.Sprintf("conformance-%s-%s/", c.name, randomHex(4)))
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// pattern returns n deterministic, not too compressible bytes.
func pattern(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func put(t *testing.T, s sdk.Storage, key string, content []byte, opts sdk.PutOptions) sdk.ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(content), int64(len(content)), opts)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(content), err)
	}
	if info.Key != key || info.Size != int64(len(content)) {
		t.Fatalf("Put(%q) returned key %q size %d, want size %d", key, info.Key, info.Size, len(content))
	}
	return info
}

func get(t *testing.T, s sdk.Storage, key string, offset, length int64) ([]byte, sdk.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key, offset, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, offset, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): read: %v", key, offset, length, err)
	}
	return b, info
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, want)
	}
}

// checkSHA256 allows a backend not to know the hash, never to report a wrong
// one.
func checkSHA256(t *testing.T, what, got string, content []byte) {
	t.Helper()
	if got != "" && got != sha256Hex(content) {
		t.Fatalf("%s: SHA256 %q, want %q (or empty)", what, got, sha256Hex(content))
	}
}

func storageRoundTrip(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	key := p + "a/b/c.txt"
	content := []byte("hello, vigil\n")
	before := time.Now().Add(-time.Hour)
	put(t, s, key, content, sdk.PutOptions{ContentType: "text/plain"})

	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head.Key != key || head.Size != int64(len(content)) || head.ContentType != "text/plain" {
		t.Fatalf("Head = %+v, want key %q size %d content type text/plain", head, key, len(content))
	}
	if head.ModTime.Before(before) || head.ModTime.After(time.Now().Add(time.Hour)) {
		t.Fatalf("Head ModTime %v is not about now", head.ModTime)
	}
	checkSHA256(t, "Head", head.SHA256, content)

	got, info := get(t, s, key, 0, -1)
	if !bytes.Equal(got, content) {
		t.Fatalf("Get = %q, want %q", got, content)
	}
	if info.Size != int64(len(content)) {
		t.Fatalf("Get info size %d, want %d", info.Size, len(content))
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = s.Head(ctx, key)
	wantErr(t, "Head after Delete", err, sdk.ErrNotFound)
	_, _, err = s.Get(ctx, key, 0, -1)
	wantErr(t, "Get after Delete", err, sdk.ErrNotFound)
	wantErr(t, "Delete after Delete", s.Delete(ctx, key), sdk.ErrNotFound)

	// An empty object is an object.
	put(t, s, p+"empty", nil, sdk.PutOptions{})
	if got, _ := get(t, s, p+"empty", 0, -1); len(got) != 0 {
		t.Fatalf("Get(empty) = %q", got)
	}
}

func storageOverwrite(t *testing.T, s sdk.Storage, p string) {
	key := p + "obj"
	put(t, s, key, []byte("first version, longer"), sdk.PutOptions{})
	put(t, s, key, []byte("second"), sdk.PutOptions{})
	if got, _ := get(t, s, key, 0, -1); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q", got)
	}
	head, err := s.Head(context.Background(), key)
	if err != nil || head.Size != 6 {
		t.Fatalf("after overwrite Head = %+v, %v", head, err)
	}
	checkSHA256(t, "Head after overwrite", head.SHA256, []byte("second"))
}

func storageRanges(t *testing.T, s sdk.Storage, p string) {
	key := p + "ranges"
	content := pattern(1, 1000)
	put(t, s, key, content, sdk.PutOptions{})
	for _, c := range []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"whole", 0, -1, content},
		{"start", 0, 10, content[:10]},
		{"middle", 500, 100, content[500:600]},
		{"to end", 990, -1, content[990:]},
		{"past end", 995, 100, content[995:]},
		{"exactly to end", 900, 100, content[900:]},
		{"zero length", 10, 0, nil},
		{"at end", 1000, -1, nil},
		{"beyond end", 1500, 10, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, info := get(t, s, key, c.offset, c.length)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Get(%d, %d) = %d bytes, want %d bytes (content differs: %v)",
					c.offset, c.length, len(got), len(c.want), len(got) == len(c.want))
			}
			if info.Size != int64(len(content)) {
				t.Fatalf("Get(%d, %d) info size %d, want the whole object's %d", c.offset, c.length, info.Size, len(content))
			}
		})
	}
	_, _, err := s.Get(context.Background(), key, -1, 10)
	wantErr(t, "Get with a negative offset", err, sdk.ErrInvalidRange)
}

func storageMissingKeys(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	put(t, s, p+"dir/file", []byte("x"), sdk.PutOptions{})
	for _, key := range []string{p + "missing", p + "missing/deeper/still", p + "dir", p + "dir/file/below"} {
		_, _, err := s.Get(ctx, key, 0, -1)
		wantErr(t, fmt.Sprintf("Get(%q)", key), err, sdk.ErrNotFound)
		_, err = s.Head(ctx, key)
		wantErr(t, fmt.Sprintf("Head(%q)", key), err, sdk.ErrNotFound)
		wantErr(t, fmt.Sprintf("Delete(%q)", key), s.Delete(ctx, key), sdk.ErrNotFound)
	}
	objs, err := s.List(ctx, p+"missing/")
	if err != nil || len(objs) != 0 {
		t.Fatalf("List(missing/) = %v, %v; want no objects and no error", objs, err)
	}
}

// InvalidKeys are keys every backend refuses with ErrInvalidKey.
var InvalidKeys = []string{
	"", ".", "..", "../a", "a/..", "a/../../b", "./a", "a/./b", "a//b", "a/",
	"/etc/passwd", "/", "a\x00b", `a\b`, `..\..\windows`, "\xff\xfe",
}

func storageInvalidKeys(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	for _, key := range InvalidKeys {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			_, err := s.Put(ctx, key, bytes.NewReader([]byte("x")), 1, sdk.PutOptions{})
			wantErr(t, "Put", err, sdk.ErrInvalidKey)
			_, _, err = s.Get(ctx, key, 0, -1)
			wantErr(t, "Get", err, sdk.ErrInvalidKey)
			_, err = s.Head(ctx, key)
			wantErr(t, "Head", err, sdk.ErrInvalidKey)
			wantErr(t, "Delete", s.Delete(ctx, key), sdk.ErrInvalidKey)
			if _, err := s.Presign(ctx, key, "GET", time.Minute); !errors.Is(err, sdk.ErrInvalidKey) && !errors.Is(err, sdk.ErrUnsupported) {
				t.Fatalf("Presign: got %v, want ErrInvalidKey or ErrUnsupported", err)
			}
		})
	}
	for _, prefix := range []string{"..", "../", "a/../../b", "/etc", "a\x00", `a\b`, "a//b/", "\xff"} {
		_, err := s.List(ctx, prefix)
		wantErr(t, fmt.Sprintf("List(%q)", prefix), err, sdk.ErrInvalidKey)
	}
	// Nothing was written by any of the refused calls.
	objs, err := s.List(ctx, p)
	if err != nil || len(objs) != 0 {
		t.Fatalf("List(%q) = %v, %v", p, objs, err)
	}
}

// failingReader yields n bytes, then fails with err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(b), r.n)
	for i := range b[:k] {
		b[i] = 'x'
	}
	r.n -= k
	return k, nil
}

func storageAtomicPut(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	key := p + "atomic"
	v1 := pattern(2, 1<<20)
	put(t, s, key, v1, sdk.PutOptions{})
	errBoom := errors.New("boom")

	for _, k := range []string{key, p + "atomic-new"} {
		_, err := s.Put(ctx, k, &failingReader{n: 600 << 10, err: errBoom}, 2<<20, sdk.PutOptions{})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Put(%q) with a reader failing midway: got %v, want an error wrapping the reader's", k, err)
		}
	}
	if got, _ := get(t, s, key, 0, -1); !bytes.Equal(got, v1) {
		t.Fatalf("the earlier version did not survive a failed Put (%d bytes now)", len(got))
	}
	_, err := s.Head(ctx, p+"atomic-new")
	wantErr(t, "Head of a key whose only Put failed", err, sdk.ErrNotFound)
	objs, err := s.List(ctx, p)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if keys := objectKeys(objs); !slices.Equal(keys, []string{key}) {
		t.Fatalf("List(%q) = %q, want only %q (no temporary files)", p, keys, key)
	}
}

func storageContentMismatch(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	key := p + "checked"
	v1 := []byte("version one")
	put(t, s, key, v1, sdk.PutOptions{SHA256: sha256Hex(v1)})
	v2 := []byte("version two")
	for _, c := range []struct {
		name string
		size int64
		sum  string
	}{
		{"wrong sha256", int64(len(v2)), sha256Hex([]byte("something else"))},
		{"size too large", int64(len(v2)) + 1, ""},
		{"size too small", int64(len(v2)) - 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{key, p + "never"} {
				_, err := s.Put(ctx, k, bytes.NewReader(v2), c.size, sdk.PutOptions{SHA256: c.sum})
				wantErr(t, fmt.Sprintf("Put(%q)", k), err, sdk.ErrContentMismatch)
			}
			if got, _ := get(t, s, key, 0, -1); !bytes.Equal(got, v1) {
				t.Fatalf("after a refused Put, Get = %q, want %q", got, v1)
			}
			_, err := s.Head(ctx, p+"never")
			wantErr(t, "Head of a key whose only Put was refused", err, sdk.ErrNotFound)
		})
	}
	// Unknown size, right sum.
	_, err := s.Put(ctx, key, bytes.NewReader(v2), -1, sdk.PutOptions{SHA256: sha256Hex(v2)})
	if err != nil {
		t.Fatalf("Put with size -1 and the right sha256: %v", err)
	}
	if got, _ := get(t, s, key, 0, -1); !bytes.Equal(got, v2) {
		t.Fatalf("Get = %q, want %q", got, v2)
	}
}

func storageCanceledPut(t *testing.T, s sdk.Storage, p string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Put(ctx, p+"canceled", bytes.NewReader([]byte("x")), 1, sdk.PutOptions{})
	if err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	_, err = s.Head(context.Background(), p+"canceled")
	wantErr(t, "Head after a canceled Put", err, sdk.ErrNotFound)
}

// largeSize is the size of the object streamed through LargeObject.
const largeSize = 20 << 20

func storageLargeObject(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	key := p + "large.bin"
	content := pattern(3, largeSize)
	info, err := s.Put(ctx, key, &oneByOne{r: bytes.NewReader(content)}, largeSize, sdk.PutOptions{SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatalf("Put 20 MiB: %v", err)
	}
	if info.Size != largeSize {
		t.Fatalf("Put returned size %d", info.Size)
	}
	rc, ginfo, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil || n != largeSize || hex.EncodeToString(h.Sum(nil)) != sha256Hex(content) || ginfo.Size != largeSize {
		t.Fatalf("Get streamed %d bytes (err %v), info size %d; content intact: %v",
			n, err, ginfo.Size, hex.EncodeToString(h.Sum(nil)) == sha256Hex(content))
	}
	off := int64(10<<20 + 7)
	got, _ := get(t, s, key, off, 1<<20)
	if !bytes.Equal(got, content[off:off+1<<20]) {
		t.Fatal("a 1 MiB range in the middle of the large object differs")
	}
	head, err := s.Head(ctx, key)
	if err != nil || head.Size != largeSize {
		t.Fatalf("Head = %+v, %v", head, err)
	}
	checkSHA256(t, "Head", head.SHA256, content)
}

// contentFile writes junk and then content to a new file, opens it
// read-only and leaves it at content's first byte, as the recording
// pipeline hands a spool file to Put (a launched plugin is passed the file
// itself; see sdk's storage side channel).
func contentFile(t *testing.T, junk, content []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(path, append(slices.Clip(junk), content...), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Seek(int64(len(junk)), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

// storageFromFiles puts content that is an open file, from an offset:
// what is stored is the file from there, checked against the declared
// size and SHA-256 like any other content.
func storageFromFiles(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	junk := []byte("not part of the content")
	for _, size := range []int{0, 1000, largeSize + 12345} {
		content := pattern(uint64(size), size)
		key := fmt.Sprintf("%sok-%d", p, size)
		f := contentFile(t, junk, content)
		info, err := s.Put(ctx, key, f, int64(size), sdk.PutOptions{SHA256: sha256Hex(content)})
		if err != nil {
			t.Fatalf("Put(%q) of a %d-byte file: %v", key, size, err)
		}
		if info.Size != int64(size) {
			t.Fatalf("Put(%q) returned size %d, want %d", key, info.Size, size)
		}
		checkSHA256(t, "Put", info.SHA256, content)
		if got, _ := get(t, s, key, 0, -1); !bytes.Equal(got, content) {
			t.Fatalf("Get(%q) = %d bytes that differ from the %d put from the file", key, len(got), size)
		}
	}

	// Refused: nothing is stored, and an earlier version survives.
	content := pattern(9, largeSize+12345)
	kept := p + "ok-1000"
	for _, c := range []struct {
		name string
		file []byte
		size int64
		sum  string
	}{
		{"wrong sha256", content, int64(len(content)), sha256Hex([]byte("other"))},
		{"wrong sha256, small", content[:1000], 1000, sha256Hex([]byte("other"))},
		{"file shorter than declared", content, int64(len(content)) + 1, ""},
		{"file longer than declared", content, int64(len(content)) - 1, sha256Hex(content[:len(content)-1])},
	} {
		for _, key := range []string{kept, p + "never"} {
			_, err := s.Put(ctx, key, contentFile(t, junk, c.file), c.size, sdk.PutOptions{SHA256: c.sum})
			wantErr(t, fmt.Sprintf("%s: Put(%q)", c.name, key), err, sdk.ErrContentMismatch)
		}
	}
	if got, _ := get(t, s, kept, 0, -1); !bytes.Equal(got, pattern(1000, 1000)) {
		t.Fatal("an earlier version did not survive refused Puts from files")
	}
	_, err := s.Head(ctx, p+"never")
	wantErr(t, "Head of a key whose Puts from files were all refused", err, sdk.ErrNotFound)
	objs, err := s.List(ctx, p)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if keys, want := objectKeys(objs), []string{p + "ok-0", p + "ok-1000", p + fmt.Sprintf("ok-%d", largeSize+12345)}; !slices.Equal(keys, want) {
		t.Fatalf("List(%q) = %q, want %q", p, keys, want)
	}
}

// oneByOne hands out content in uneven small reads, as a network source
// does.
type oneByOne struct {
	r io.Reader
	i int
}

func (o *oneByOne) Read(b []byte) (int, error) {
	o.i++
	return o.r.Read(b[:min(len(b), 1000+(o.i%7)*4093)])
}

func storageConcurrentPuts(t *testing.T, s sdk.Storage, p string) {
	const n = 8
	contents := make(map[string][]byte, n)
	for i := range n {
		contents[fmt.Sprintf("%sconc/%02d", p, i)] = pattern(uint64(100+i), 300<<10+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for key, content := range contents {
		wg.Go(func() {
			if _, err := s.Put(context.Background(), key, bytes.NewReader(content), int64(len(content)), sdk.PutOptions{}); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	objs, err := s.List(context.Background(), p+"conc/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if keys, want := objectKeys(objs), slices.Sorted(maps.Keys(contents)); !slices.Equal(keys, want) {
		t.Fatalf("List = %q, want %q", keys, want)
	}
	for _, o := range objs {
		if o.Size != int64(len(contents[o.Key])) {
			t.Fatalf("List entry %q size %d, want %d", o.Key, o.Size, len(contents[o.Key]))
		}
		if got, _ := get(t, s, o.Key, 0, -1); !bytes.Equal(got, contents[o.Key]) {
			t.Fatalf("Get(%q) differs from what was put", o.Key)
		}
	}
}

func objectKeys(objs []sdk.ObjectInfo) []string {
	keys := []string{}
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func storageList(t *testing.T, s sdk.Storage, p string) {
	keys := []string{p + "list/a", p + "list/b/c", p + "list/b/d", p + "list-x", p + "listx", p + "other/z"}
	for i, k := range keys {
		put(t, s, k, bytes.Repeat([]byte{'k'}, i+1), sdk.PutOptions{})
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{p + "list/", []string{p + "list/a", p + "list/b/c", p + "list/b/d"}},
		{p + "list/b", []string{p + "list/b/c", p + "list/b/d"}},
		{p + "list", []string{p + "list-x", p + "list/a", p + "list/b/c", p + "list/b/d", p + "listx"}},
		{p + "nothing", []string{}},
		{p, slices.Sorted(slices.Values(keys))},
	} {
		objs, err := s.List(context.Background(), c.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", c.prefix, err)
		}
		if got := objectKeys(objs); !slices.Equal(got, c.want) {
			t.Fatalf("List(%q) = %q, want %q (sorted by key)", c.prefix, got, c.want)
		}
		for _, o := range objs {
			if want := int64(slices.Index(keys, o.Key) + 1); o.Size != want {
				t.Fatalf("List(%q): %q has size %d, want %d", c.prefix, o.Key, o.Size, want)
			}
			if o.ModTime.IsZero() {
				t.Fatalf("List(%q): %q has no ModTime", c.prefix, o.Key)
			}
		}
	}
}

func storageMetadata(t *testing.T, s sdk.Storage, p string) {
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		contentType string
		meta        map[string]string
	}{
		{"none", "", nil},
		{"several", "video/mp4", map[string]string{"session-id": "s-42", "user": "alice", "team": "Zoë & co"}},
		{"cast", "application/x-asciicast", map[string]string{"segment": "3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := p + c.name
			put(t, s, key, []byte(c.name), sdk.PutOptions{ContentType: c.contentType, Metadata: c.meta})
			head, err := s.Head(ctx, key)
			if err != nil {
				t.Fatalf("Head: %v", err)
			}
			_, ginfo := get(t, s, key, 0, -1)
			for what, info := range map[string]sdk.ObjectInfo{"Head": head, "Get": ginfo} {
				if info.ContentType != c.contentType {
					t.Errorf("%s content type %q, want %q", what, info.ContentType, c.contentType)
				}
				if len(info.Metadata) != len(c.meta) || (len(c.meta) > 0 && !maps.Equal(info.Metadata, c.meta)) {
					t.Errorf("%s metadata %v, want %v", what, info.Metadata, c.meta)
				}
			}
		})
	}
}

func storagePresign(t *testing.T, s sdk.Storage, p string) {
	key := p + "presigned"
	put(t, s, key, []byte("x"), sdk.PutOptions{})
	for _, method := range []string{"GET", "PUT"} {
		url, err := s.Presign(context.Background(), key, method, 5*time.Minute)
		switch {
		case errors.Is(err, sdk.ErrUnsupported):
		case err != nil:
			t.Fatalf("Presign(%s): %v, want a URL or ErrUnsupported", method, err)
		case url == "":
			t.Fatalf("Presign(%s) returned an empty URL and no error", method)
		}
	}
}
