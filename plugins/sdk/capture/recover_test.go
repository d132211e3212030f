package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRecoverAfterKill simulates kill -9: the active file is copied as it
// is on disk, without Close. Recover keeps every record up to the last
// checkpoint and seals the rest away.
func TestRecoverAfterKill(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail []byte // appended to the copy: what a dying write may leave
	}{
		{"clean cut", nil},
		{"half a record", []byte{byte(Output), 100, 1, 2, 3}},
		{"zeroes", make([]byte, 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tw := newTestWriter(t, func(o *Options) {
				o.CheckpointInterval = time.Hour // only CheckpointBytes triggers checkpoints here
				o.CheckpointBytes = 4096
			})
			var written []rec
			kept := 0 // records covered by the last checkpoint
			for i := range 33 {
				r := rec{Output, 0, fmt.Sprintf("%02d %0990d", i, i)}
				mustWrite(t, tw.Writer, r.kind, r.ch, []byte(r.payload))
				written = append(written, r)
				tw.drain()
				if tw.fl.count == tw.fl.coveredTo {
					kept = len(written)
				}
			}
			if kept == 0 || kept == len(written) {
				t.Fatalf("kept %d of %d: the test wants records before and after the last checkpoint", kept, len(written))
			}
			// "kill -9": what the kernel has is what write(2) got.
			onDisk := readFile(t, tw.Path())
			crash := t.TempDir()
			active := filepath.Join(crash, "active", filepath.Base(tw.Path()))
			if err := os.MkdirAll(filepath.Dir(active), 0o750); err != nil {
				t.Fatal(err)
			}
			writeFile(t, active, append(onDisk, tc.tail...))
			tw.Close()

			sealedDir := filepath.Join(crash, "sealed")
			s, err := Recover(active, testKey(1), sealedDir)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Recovered || s.Path != filepath.Join(sealedDir, filepath.Base(active)) || s.Segment != 0 {
				t.Errorf("sealed %+v", s)
			}
			if _, err := os.Stat(active); !os.IsNotExist(err) {
				t.Errorf("active file still there: %v", err)
			}
			got, res, err := readAll(t, []string{s.Path}, pubOf(testKey(1)))
			if err != nil || res.Status != Intact || !res.Recovered {
				t.Fatalf("recovered capture: %v %+v", err, res)
			}
			if len(got) != kept {
				t.Fatalf("recovered %d records, want the %d up to the last checkpoint", len(got), kept)
			}
			for i := range got {
				if got[i] != written[i] {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

func TestRecoverSealsFinishedSegmentAsIs(t *testing.T) {
	tw := newTestWriter(t, nil)
	mustWrite(t, tw.Writer, Output, 0, []byte("done"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash between the trailer and the move.
	sealed := tw.sealed[0]
	active := filepath.Join(t.TempDir(), filepath.Base(sealed.Path))
	writeFile(t, active, readFile(t, sealed.Path))
	sealedDir := t.TempDir()
	s, err := Recover(active, testKey(1), sealedDir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Recovered || s.SHA256 != sealed.SHA256 || s.FinalHash != sealed.FinalHash {
		t.Errorf("re-sealed %+v, want the original %+v", s, sealed)
	}
	// And a crash after the link into the sealed directory: same bytes
	// already there count as sealed.
	writeFile(t, active, readFile(t, sealed.Path))
	if _, err := Recover(active, testKey(1), sealedDir); err != nil {
		t.Errorf("second recovery of the same segment: %v", err)
	}
}

func TestRecoverRefuses(t *testing.T) {
	_, orig, fs := sampleSegment(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		key  byte
		want error
	}{
		{"nothing signed", orig[:fs[1].off], 1, ErrNoCheckpoint},
		{"empty", nil, 1, ErrNoCheckpoint},
		{"other key", orig, 2, nil},
	} {
		path := filepath.Join(dir, tc.name+".vsl")
		writeFile(t, path, tc.data)
		_, err := Recover(path, testKey(tc.key), filepath.Join(dir, "sealed"))
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the file must stay where it is: %v", tc.name, err)
		}
	}
}

func TestRecoverDir(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) { o.SegmentMaxBytes = 2048 })
	for i := range 200 {
		mustWrite(t, tw.Writer, Output, 0, fmt.Appendf(nil, "line %d ..............................\n", i))
	}
	tw.drain()
	segments := tw.fl.hdr.Segment
	if segments < 2 {
		t.Fatalf("only %d segments", segments+1)
	}
	tw.Close()
	// Move the sealed files back into an active directory, and cut the last
	// one as if it were still open.
	crash := t.TempDir()
	active := filepath.Join(crash, "active")
	if err := os.MkdirAll(active, 0o750); err != nil {
		t.Fatal(err)
	}
	paths := tw.sealedPaths()
	for i, p := range paths {
		b := readFile(t, p)
		if i == len(paths)-1 {
			b = b[:len(b)-20]
		}
		writeFile(t, filepath.Join(active, filepath.Base(p)), b)
	}
	writeFile(t, filepath.Join(active, "20250101T000000.0000-x-y.vsl"), []byte(Magic)) // nothing to keep
	writeFile(t, filepath.Join(active, "notes.txt"), []byte("not a capture"))
	sealed, err := RecoverDir(active, testKey(1), filepath.Join(crash, "sealed"))
	if !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("error %v, want the empty capture's ErrNoCheckpoint", err)
	}
	if len(sealed) != len(paths) {
		t.Fatalf("recovered %d segments, want %d", len(sealed), len(paths))
	}
	var got []string
	for i, s := range sealed {
		if s.Segment != i {
			t.Errorf("recovered out of order: %d at %d", s.Segment, i)
		}
		got = append(got, s.Path)
	}
	if !sealed[len(sealed)-1].Recovered || sealed[0].Recovered {
		t.Error("only the cut segment should be marked recovered")
	}
	if res := Verify(got, pubOf(testKey(1))); res.Status != Intact || res.Segments != len(paths) || !res.Recovered {
		t.Errorf("recovered session: %s", res.Describe())
	}
}
