package capture

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// sampleSegment writes a sealed one-segment capture with several
// checkpoints and returns its path, bytes and frames.
func sampleSegment(t *testing.T) (string, []byte, []frame) {
	t.Helper()
	tw := newTestWriter(t, func(o *Options) { o.CheckpointBytes = 300 })
	for i := range 40 {
		mustWrite(t, tw.Writer, Output, 1, fmt.Appendf(nil, "output line %02d %s\r\n", i, strings.Repeat("=", 30)))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := tw.sealedPaths()[0]
	b := readFile(t, path)
	return path, b, frames(t, b)
}

// nth returns the index of the n-th (0-based) frame of kind k.
func nth(t *testing.T, fs []frame, k Kind, n int) int {
	t.Helper()
	for i, f := range fs {
		if f.kind == k {
			if n == 0 {
				return i
			}
			n--
		}
	}
	t.Fatalf("no %v number %d", k, n)
	return 0
}

func TestVerifyAltered(t *testing.T) {
	_, orig, fs := sampleSegment(t)
	cp2 := nth(t, fs, KindCheckpoint, 2)
	trailer := len(fs) - 1
	if fs[trailer].kind != KindTrailer {
		t.Fatal("last record is not the trailer")
	}
	dataAfter := func(i int) int { // first data record after frame i
		for j := i + 1; j < len(fs); j++ {
			if fs[j].kind.IsData() {
				return j
			}
		}
		t.Fatal("no data record after", i)
		return 0
	}
	lastBefore := func(i int) int { return i - 1 }
	for _, tc := range []struct {
		name   string
		record int   // frame index expected in the verdict
		offset int64 // -1: the frame's offset
		mutate func(b []byte) []byte
	}{
		{"payload byte", dataAfter(cp2), -1, func(b []byte) []byte {
			b[fs[dataAfter(cp2)].end-3] ^= 0x01
			return b
		}},
		{"last payload before a checkpoint", lastBefore(cp2), -1, func(b []byte) []byte {
			b[fs[lastBefore(cp2)].end-1] ^= 0x80
			return b
		}},
		{"kind to another data kind", dataAfter(cp2), -1, func(b []byte) []byte {
			b[fs[dataAfter(cp2)].off] = byte(Stderr)
			return b
		}},
		{"kind to garbage", dataAfter(cp2), -1, func(b []byte) []byte {
			b[fs[dataAfter(cp2)].off] = 0x7f
			return b
		}},
		{"length longer", dataAfter(cp2), -1, func(b []byte) []byte {
			b[fs[dataAfter(cp2)].off+1]++
			return b
		}},
		{"length shorter", dataAfter(cp2), -1, func(b []byte) []byte {
			b[fs[dataAfter(cp2)].off+1]--
			return b
		}},
		{"record deleted", dataAfter(cp2), -1, func(b []byte) []byte {
			f := fs[dataAfter(cp2)]
			return append(b[:f.off:f.off], b[f.end:]...)
		}},
		{"record duplicated", dataAfter(cp2) + 1, -1, func(b []byte) []byte {
			f := fs[dataAfter(cp2)]
			out := append([]byte{}, b[:f.end]...)
			out = append(out, b[f.off:f.end]...)
			return append(out, b[f.end:]...)
		}},
		{"checkpoint signature", cp2, -1, func(b []byte) []byte {
			b[fs[cp2].end-10] ^= 0x40
			return b
		}},
		{"checkpoint chain field", cp2, -1, func(b []byte) []byte {
			b[fs[cp2].bodyOff+32+2] ^= 0x01
			return b
		}},
		{"checkpoint tags", cp2, -1, func(b []byte) []byte {
			b[fs[cp2].end-64-2] ^= 0x01
			return b
		}},
		{"header session id", 0, -1, func(b []byte) []byte {
			b[fs[0].end-1] ^= 0x20
			return b
		}},
		{"trailer signature", trailer, -1, func(b []byte) []byte {
			b[fs[trailer].end-1] ^= 0x01
			return b
		}},
		{"magic", 0, 0, func(b []byte) []byte {
			b[1] = 'X'
			return b
		}},
		{"bytes after the trailer", len(fs), int64(len(orig)), func(b []byte) []byte {
			return append(b, 0, 0, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.vsl")
			writeFile(t, path, tc.mutate(bytes.Clone(orig)))
			res := Verify([]string{path}, pubOf(testKey(1)))
			wantOff := tc.offset
			if wantOff < 0 {
				wantOff = fs[tc.record].off
			}
			if res.Status != Altered || res.Record != uint64(tc.record) || res.Offset != wantOff {
				t.Fatalf("got %s (%v), want altered at record %d (offset %d)", res.Describe(), res.Err, tc.record, wantOff)
			}
			if res.Path != path {
				t.Errorf("path %q", res.Path)
			}
			// The reader yields only what verified before the bad record.
			r, err := Open([]string{path}, pubOf(testKey(1)), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for {
				x, err := r.Next()
				if err != nil {
					var ve *VerifyError
					if !errors.As(err, &ve) || ve.Result.Status != Altered {
						t.Fatalf("reader: %v", err)
					}
					break
				}
				if x.Index >= uint64(tc.record) {
					t.Fatalf("reader yielded record %d, at or past the altered one", x.Index)
				}
			}
		})
	}
}

func TestVerifyTruncated(t *testing.T) {
	_, orig, fs := sampleSegment(t)
	cp1, cp3 := nth(t, fs, KindCheckpoint, 1), nth(t, fs, KindCheckpoint, 3)
	lastCP := 0
	for i, f := range fs {
		if f.kind == KindCheckpoint {
			lastCP = i
		}
	}
	ordinal := func(i int) int { // 1-based checkpoint number of frame i
		n := 0
		for _, f := range fs[:i+1] {
			if f.kind == KindCheckpoint {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name    string
		cut     int64
		cp      int
		records uint64
	}{
		{"right after a checkpoint", fs[cp3].end, ordinal(cp3), uint64(cp3 + 1)},
		{"inside a data record", fs[cp3+1].off + 5, ordinal(cp3), uint64(cp3 + 1)},
		{"between data records", fs[cp1+2].off, ordinal(cp1), uint64(cp1 + 1)},
		{"inside the trailer", fs[len(fs)-1].off + 40, ordinal(lastCP), uint64(lastCP + 1)},
		{"before the first checkpoint", fs[1].off, 0, 0},
		{"inside the header", fs[0].off + 3, 0, 0},
		{"magic only", int64(len(Magic)), 0, 0},
		{"part of the magic", 3, 0, 0},
		{"empty", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.vsl")
			writeFile(t, path, orig[:tc.cut])
			res := Verify([]string{path}, pubOf(testKey(1)))
			if res.Status != Truncated || res.Checkpoint != tc.cp || res.SegmentRecords != tc.records {
				t.Fatalf("got %s (%v), want truncated after checkpoint %d (%d records verified)", res.Describe(), res.Err, tc.cp, tc.records)
			}
			want := fmt.Sprintf("truncated after checkpoint %d (%d records verified)", tc.cp, tc.records)
			if res.Describe() != want {
				t.Errorf("Describe: %q, want %q", res.Describe(), want)
			}
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	path, _, _ := sampleSegment(t) // signed by testKey(1)
	res := Verify([]string{path}, pubOf(testKey(2)))
	if res.Status != WrongKey || res.KeyID != KeyID(pubOf(testKey(1))) || res.WantKeyID != KeyID(pubOf(testKey(2))) {
		t.Fatalf("got %s", res.Describe())
	}
	want := "signed by key " + KeyID(pubOf(testKey(1))) + ", expected " + KeyID(pubOf(testKey(2)))
	if res.Describe() != want {
		t.Errorf("Describe: %q, want %q", res.Describe(), want)
	}
	if _, err := Open([]string{path}, nil, ReadOptions{}); !errors.Is(err, ErrBadPublicKey) {
		t.Errorf("a verifying reader without a key: %v", err)
	}
}

func TestVerifyMultiSegmentVerdicts(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) { o.SegmentMaxBytes = 2048; o.CheckpointBytes = 256 })
	for i := range 100 {
		mustWrite(t, tw.Writer, Output, 0, fmt.Appendf(nil, "%03d %s\n", i, strings.Repeat("-", 20)))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	paths := tw.sealedPaths()
	if len(paths) < 3 {
		t.Fatalf("%d segments", len(paths))
	}
	// Cut segment 1 in the middle: the verdict names it, and counts the
	// records of segment 0 as verified.
	b := readFile(t, paths[1])
	writeFile(t, paths[1], b[:len(b)/2])
	res := Verify(paths, pubOf(testKey(1)))
	if res.Status != Truncated || res.Path != paths[1] || res.Segment != 1 || res.Segments != 1 {
		t.Fatalf("got %s: %s, segment %d, %d segments verified", res.Path, res.Describe(), res.Segment, res.Segments)
	}
	if res.Records <= res.SegmentRecords {
		t.Errorf("records %d should count segment 0's too (segment 1: %d)", res.Records, res.SegmentRecords)
	}
	if r := Verify([]string{filepath.Join(t.TempDir(), "missing.vsl")}, pubOf(testKey(1))); r.Status != Unreadable {
		t.Errorf("missing file: %s", r.Describe())
	}
}

func TestInsecureReadOfAlteredFile(t *testing.T) {
	_, orig, fs := sampleSegment(t)
	b := bytes.Clone(orig)
	b[fs[nth(t, fs, Output, 5)].end-3] ^= 0x01
	path := filepath.Join(t.TempDir(), "x.vsl")
	writeFile(t, path, b)
	got, res, err := readAll(t, []string{path}, nil)
	if err != nil || len(got) != 40 || res.Status != NotVerified {
		t.Fatalf("insecure read: %d records, %v, %+v", len(got), err, res)
	}
	if !strings.HasPrefix(got[5].payload, "output line 05") {
		t.Errorf("record 5: %q", got[5].payload)
	}
	writeFile(t, path, []byte("hello, not a capture"))
	if _, _, err := readAll(t, []string{path}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("insecure read of a non-capture: %v", err)
	}
}
