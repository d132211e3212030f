package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func openT(t *testing.T, dir string, opts Options) (*Journal, Recovery) {
	t.Helper()
	j, rec, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j, rec
}

func payload(i int) []byte { return fmt.Appendf(nil, "record-%06d", i) }

// readAll reads every durable record from at.
func readAll(t *testing.T, j *Journal, at Position) []Record {
	t.Helper()
	r, err := j.NewReader(at)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	defer r.Close()
	var out []Record
	for {
		recs, err := r.Read(nil, 100)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, rec := range recs {
			rec.Payload = append([]byte(nil), rec.Payload...)
			out = append(out, rec)
		}
	}
}

func checkSeqs(t *testing.T, recs []Record, first uint64, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if want := first + uint64(i); r.Seq != want {
			t.Fatalf("record %d: seq %d, want %d", i, r.Seq, want)
		}
	}
}

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentMaxBytes: 1024})
	for i := range 200 {
		seq, err := j.Append(payload(i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d", i, seq)
		}
	}
	if n := len(j.Segments()); n < 5 {
		t.Fatalf("want several segments, got %d", n)
	}
	recs := readAll(t, j, Position{})
	checkSeqs(t, recs, 1, 200)
	for i, r := range recs {
		if string(r.Payload) != string(payload(i)) {
			t.Fatalf("record %d: payload %q", i, r.Payload)
		}
	}
	if h := j.Head(); h != recs[199].End {
		t.Fatalf("head %+v, last end %+v", h, recs[199].End)
	}
	// Reading from the middle continues at the next record.
	checkSeqs(t, readAll(t, j, recs[99].End), 101, 100)
}

func TestConcurrentAppendsShareSyncs(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{})
	const writers, each = 32, 200
	var wg sync.WaitGroup
	seen := make([]bool, writers*each+1)
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := j.Append(payload(w*each + i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[seq] {
					t.Errorf("seq %d twice", seq)
				}
				seen[seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkSeqs(t, readAll(t, j, Position{}), 1, writers*each)
}

func TestReopenContinuesSequence(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := j.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	head := j.Head()
	j.Close()
	j2, rec := openT(t, dir, Options{})
	if rec.Next != head || rec.TruncatedBytes != 0 {
		t.Fatalf("recovery %+v, head was %+v", rec, head)
	}
	seq, err := j2.Append(payload(10))
	if err != nil || seq != 11 {
		t.Fatalf("append after reopen: seq %d, %v", seq, err)
	}
	checkSeqs(t, readAll(t, j2, Position{}), 1, 11)
}

func TestTornTailRecovery(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the newest segment file, whose intact size is size.
		damage func(t *testing.T, path string, size int64)
	}{
		{"partial record", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size-5); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage after last record", func(t *testing.T, path string, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7})
			f.Close()
		}},
		{"flipped byte in last record", func(t *testing.T, path string, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{0xff}, size-2)
			f.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j, _, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if _, err := j.Append(payload(i)); err != nil {
					t.Fatal(err)
				}
			}
			segs := j.Segments()
			j.Close()
			last := segs[len(segs)-1]
			path := filepath.Join(dir, segmentName(last.FirstSeq))
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path, st.Size())

			j2, rec := openT(t, dir, Options{})
			if rec.TruncatedBytes == 0 {
				t.Fatalf("nothing truncated: %+v", rec)
			}
			recs := readAll(t, j2, Position{})
			// Garbage after the tail keeps all 20; a damaged last record
			// loses exactly that one.
			want := 20
			if tt.name != "garbage after last record" {
				want = 19
			}
			checkSeqs(t, recs, 1, want)
			seq, err := j2.Append(payload(99))
			if err != nil || seq != uint64(want+1) {
				t.Fatalf("append after recovery: seq %d, %v; want %d", seq, err, want+1)
			}
			checkSeqs(t, readAll(t, j2, Position{}), 1, want+1)
		})
	}
}

func TestCorruptSealedRecordIsReportedAndSkippable(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentMaxBytes: 512})
	for i := range 60 {
		if _, err := j.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	segs := j.Segments()
	first := segs[0]
	f, err := os.OpenFile(filepath.Join(dir, segmentName(first.FirstSeq)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XX"), headerSize+recHeader+recMeta+2)
	f.Close()

	r, err := j.NewReader(Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(nil, 10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of damaged record: %v, want ErrCorrupt", err)
	}
	at, err := r.SkipSegment()
	if err != nil {
		t.Fatal(err)
	}
	if at.Seq != segs[1].FirstSeq-1 {
		t.Fatalf("skip landed at %+v, want seq %d", at, segs[1].FirstSeq-1)
	}
	recs, err := r.Read(nil, 1)
	if err != nil || len(recs) != 1 || recs[0].Seq != segs[1].FirstSeq {
		t.Fatalf("after skip: %v, %v", recs, err)
	}
}

func TestRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentMaxBytes: 512})
	for i := range 60 {
		if _, err := j.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	segs := j.Segments()
	if len(segs) < 4 {
		t.Fatalf("want ≥4 segments, got %d", len(segs))
	}
	n, err := j.RemoveBefore(segs[2].End - 1)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2", n, err)
	}
	if _, err := j.NewReader(Position{}); !errors.Is(err, ErrGone) {
		t.Fatalf("reader at a removed position: %v, want ErrGone", err)
	}
	if o := j.Oldest(); o.Seq != segs[2].FirstSeq-1 || o.Pos != segs[2].Start {
		t.Fatalf("oldest %+v", o)
	}
	checkSeqs(t, readAll(t, j, j.Oldest()), segs[2].FirstSeq, 60-int(segs[2].FirstSeq)+1)
	// The head is never removed.
	if _, err := j.RemoveBefore(j.Head().Pos + 1); err != nil {
		t.Fatal(err)
	}
	if len(j.Segments()) != 1 {
		t.Fatalf("segments left: %d", len(j.Segments()))
	}
	seq, err := j.Append(payload(60))
	if err != nil || seq != 61 {
		t.Fatalf("append: %d %v", seq, err)
	}
}

func TestAppendAfterCloseFails(t *testing.T) {
	j, _, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := j.Append(payload(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

// copyDir copies the regular files of src into a new directory: the state
// a crash would leave, taken while the journal is open.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestPreallocatedZerosAreNotATornWrite(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentMaxBytes: 4096})
	for i := range 100 {
		if _, err := j.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	segs := j.Segments()
	// A crash with the head preallocated: its zeros are no damage.
	crashed := copyDir(t, dir)
	// A crash between creating a segment and trimming the one before it:
	// that one still ends in zeros.
	first := filepath.Join(crashed, segmentName(segs[0].FirstSeq))
	f, err := os.OpenFile(first, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 1000))
	f.Close()

	j2, rec := openT(t, crashed, Options{SegmentMaxBytes: 4096})
	if rec.TruncatedBytes != 0 {
		t.Fatalf("zeros reported as a torn write: %+v", rec)
	}
	checkSeqs(t, readAll(t, j2, Position{}), 1, 100)
	if st, _ := os.Stat(first); st.Size() != segs[0].End-segs[0].Start+headerSize {
		t.Fatalf("zero tail of a sealed segment kept: %d bytes", st.Size())
	}
}
