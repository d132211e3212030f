package capture

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// testWriter opens a writer in a fresh spool; sealed collects OnSeal.
type testWriter struct {
	*Writer
	dir    string
	mu     sync.Mutex
	sealed []SealedSegment
}

func newTestWriter(t testing.TB, tweak func(*Options)) *testWriter {
	t.Helper()
	dir := t.TempDir()
	tw := &testWriter{dir: dir}
	opts := Options{
		ActiveDir: filepath.Join(dir, "active"),
		SealedDir: filepath.Join(dir, "sealed"),
		Team:      "acme",
		User:      "alice",
		SessionID: "s-1",
		Start:     time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC),
		Key:       testKey(1),
		OnSeal: func(s SealedSegment) {
			tw.mu.Lock()
			tw.sealed = append(tw.sealed, s)
			tw.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tw.Writer = w
	return tw
}

func (tw *testWriter) sealedPaths() []string {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	var out []string
	for _, s := range tw.sealed {
		out = append(out, s.Path)
	}
	return out
}

// drain waits until the flusher has processed every record written so far,
// so that a test may look at its state.
func (w *Writer) drain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cur.wait = true
	w.work <- w.cur
	<-w.processed
	w.cur = <-w.free
}

func mustWrite(t testing.TB, w *Writer, kind Kind, ch uint32, p []byte) {
	t.Helper()
	if err := w.Write(kind, ch, p); err != nil {
		t.Fatal(err)
	}
}

type rec struct {
	kind    Kind
	ch      uint32
	payload string
}

// readAll reads every data record, verified unless pub is nil.
func readAll(t testing.TB, paths []string, pub ed25519.PublicKey) ([]rec, Result, error) {
	t.Helper()
	r, err := Open(paths, pub, ReadOptions{Insecure: pub == nil})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []rec
	for {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, r.Result(), nil
		}
		if err != nil {
			return out, r.Result(), err
		}
		out = append(out, rec{x.Kind, x.Channel, string(x.Payload)})
	}
}

// frame is one record's place in a segment file.
type frame struct {
	kind    Kind
	off     int64
	bodyOff int64
	end     int64
}

// frames lists the records of a well-formed segment.
func frames(t testing.TB, b []byte) []frame {
	t.Helper()
	if string(b[:len(Magic)]) != Magic {
		t.Fatal("no magic")
	}
	var out []frame
	for off := int64(len(Magic)); off < int64(len(b)); {
		l, n := binary.Uvarint(b[off+1:])
		if n <= 0 {
			t.Fatalf("bad frame at %d", off)
		}
		f := frame{kind: Kind(b[off]), off: off, bodyOff: off + 1 + int64(n)}
		f.end = f.bodyOff + int64(l)
		out = append(out, f)
		off = f.end
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// hexSHA256File is the SHA-256 of the file at path, read back.
func hexSHA256File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
