package capture

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxPayload/16+100) // split in two records
	for _, tc := range []struct {
		name        string
		recordInput bool
	}{
		{"input dropped", false},
		{"input recorded", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tw := newTestWriter(t, func(o *Options) { o.RecordInput = tc.recordInput })
			in := []rec{
				{Meta, 0, string(SessionMeta{SessionID: "s-1", User: "alice", Protocol: "ssh", Term: "xterm"}.Marshal())},
				{Resize, 1, string(AppendResize(nil, Size{Cols: 120, Rows: 40}))},
				{Output, 1, "hello\r\n"},
				{Input, 1, "ls\r"},
				{Stderr, 1, "warn\n"},
				{Output, 1, "\x00\x00\x00binary\xff\x00"},
				{Output, 2, ""},
				{Exec, 2, "uname -a"},
				{ExitStatus, 2, string(AppendExitStatus(nil, 3))},
				{Signal, 1, "TERM"},
				{Transfer, 1, string(FileTransfer{Path: "/etc/motd", Size: 12, Direction: "download", Protocol: "scp"}.Marshal())},
				{ScreenServer, 3, "RFB 003.008\n"},
				{ScreenClient, 3, "RFB 003.008\n"},
				{Marker, 0, "checkpoint A"},
				{Output, 1, string(big)},
			}
			for _, r := range in {
				mustWrite(t, tw.Writer, r.kind, r.ch, []byte(r.payload))
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			paths := tw.sealedPaths()
			if len(paths) != 1 {
				t.Fatalf("sealed %d segments, want 1", len(paths))
			}
			wantName := "20250304T050607.8901-acme-alice.vsl"
			if filepath.Base(paths[0]) != wantName {
				t.Errorf("file %s, want %s", filepath.Base(paths[0]), wantName)
			}
			if _, err := os.Stat(filepath.Join(tw.dir, "active", wantName)); !os.IsNotExist(err) {
				t.Errorf("segment still in the active directory: %v", err)
			}
			st, err := os.Stat(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o640 {
				t.Errorf("mode %04o, want 0640", st.Mode().Perm())
			}
			for _, d := range []string{"active", "sealed"} {
				if st, _ := os.Stat(filepath.Join(tw.dir, d)); st.Mode().Perm() != 0o750 {
					t.Errorf("%s mode %04o, want 0750", d, st.Mode().Perm())
				}
			}
			s := tw.sealed[0]
			if s.Size != st.Size() || len(s.FinalHash) != 64 || s.Recovered || s.Segment != 0 {
				t.Errorf("sealed segment %+v", s)
			}
			if want := hexSHA256File(t, paths[0]); s.SHA256 != want {
				t.Errorf("sealed segment's SHA-256 %s, the file's %s", s.SHA256, want)
			}

			got, res, err := readAll(t, paths, pubOf(testKey(1)))
			if err != nil {
				t.Fatal(err)
			}
			var want []rec
			for _, r := range in {
				if r.kind == Input && !tc.recordInput {
					continue
				}
				if len(r.payload) > MaxPayload {
					want = append(want, rec{r.kind, r.ch, r.payload[:MaxPayload]}, rec{r.kind, r.ch, r.payload[MaxPayload:]})
					continue
				}
				want = append(want, r)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("record %d: got %v %d %.40q, want %v %d %.40q", i, got[i].kind, got[i].ch, got[i].payload,
						want[i].kind, want[i].ch, want[i].payload)
				}
			}
			if res.Status != Intact || res.Segments != 1 || res.SessionID != "s-1" || res.Recovered {
				t.Errorf("result %+v", res)
			}
			if !res.Start.Equal(time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC)) || res.End.Before(res.Start) {
				t.Errorf("start %v end %v", res.Start, res.End)
			}
			if v := Verify(paths, pubOf(testKey(1))); v.Status != Intact || v.Records != res.Records {
				t.Errorf("Verify: %+v (reader counted %d records)", v, res.Records)
			}
		})
	}
}

func TestRecordTimes(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) { o.Start = time.Now().Add(-time.Minute) })
	mustWrite(t, tw.Writer, Output, 0, []byte("a"))
	time.Sleep(20 * time.Millisecond)
	mustWrite(t, tw.Writer, Output, 0, []byte("b"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(tw.sealedPaths(), pubOf(testKey(1)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, _ := r.Next()
	b, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if a.Time < time.Minute || a.Time > 2*time.Minute {
		t.Errorf("first record at %v into the segment, want about a minute (the session started a minute ago)", a.Time)
	}
	if d := b.Time - a.Time; d < 20*time.Millisecond {
		t.Errorf("records %v apart, want at least 20ms", d)
	}
	if time.Since(b.At) > time.Minute || b.At.After(time.Now()) {
		t.Errorf("At %v is not about now", b.At)
	}
}

func TestWriteRefuses(t *testing.T) {
	tw := newTestWriter(t, nil)
	for _, tc := range []struct {
		kind    Kind
		payload []byte
		want    error
	}{
		{KindCheckpoint, nil, ErrInvalidKind},
		{KindHeader, nil, ErrInvalidKind},
		{Kind(99), nil, ErrInvalidKind},
		{Meta, make([]byte, MaxPayload+1), ErrTooLarge},
	} {
		if err := tw.Write(tc.kind, 0, tc.payload); !errors.Is(err, tc.want) {
			t.Errorf("Write(%v): %v, want %v", tc.kind, err, tc.want)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tw.Write(Output, 0, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := tw.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	dir := t.TempDir()
	good := Options{ActiveDir: dir + "/a", SealedDir: dir + "/s", SessionID: "x", Key: testKey(1)}
	for _, tc := range []struct {
		name  string
		tweak func(*Options)
	}{
		{"no dirs", func(o *Options) { o.ActiveDir = "" }},
		{"no key", func(o *Options) { o.Key = nil }},
		{"no session", func(o *Options) { o.SessionID = "" }},
		{"tiny segments", func(o *Options) { o.SegmentMaxBytes = 100 }},
		{"huge checkpoints", func(o *Options) { o.CheckpointBytes = MaxCheckpointBytes + 1 }},
		{"negative", func(o *Options) { o.CheckpointInterval = -1 }},
	} {
		o := good
		tc.tweak(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, o)
		}
	}
	o := good
	if err := o.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if o.SegmentMaxBytes != DefaultSegmentMaxBytes || o.CheckpointInterval != time.Second || o.CheckpointBytes != 1<<20 {
		t.Errorf("defaults %+v", o)
	}
}

// TestSameNameRefused: a second session that would reuse a file name fails
// instead of writing into the first one's capture.
func TestSameNameRefused(t *testing.T) {
	tw := newTestWriter(t, nil)
	defer tw.Close()
	o := tw.opts
	if _, err := New(o); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second writer with the same name: %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) {
		o.RecordInput = true
		o.CheckpointBytes = 8 << 10
		o.SegmentMaxBytes = 64 << 10
	})
	const n = 2000
	var wg sync.WaitGroup
	for _, dir := range []struct {
		kind Kind
		ch   uint32
	}{{Output, 1}, {Input, 2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := tw.Write(dir.kind, dir.ch, fmt.Appendf(nil, "%s %d;", dir.kind, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	paths := tw.sealedPaths()
	if len(paths) < 2 {
		t.Fatalf("%d segments; the test wants segments to roll under concurrent writes", len(paths))
	}
	got, res, err := readAll(t, paths, pubOf(testKey(1)))
	if err != nil || res.Status != Intact {
		t.Fatalf("%v %+v", err, res)
	}
	next := map[uint32]int{}
	for _, r := range got {
		if r.kind != Output && r.kind != Input {
			continue
		}
		if want := fmt.Sprintf("%s %d;", r.kind, next[r.ch]); r.payload != want {
			t.Fatalf("channel %d: %q, want %q", r.ch, r.payload, want)
		}
		next[r.ch]++
	}
	if next[1] != n || next[2] != n {
		t.Errorf("read %d and %d records, want %d each", next[1], next[2], n)
	}
}

// TestOverhead: bulk output costs at most 1% more bytes on disk than it
// carries, whatever the bytes are.
func TestOverhead(t *testing.T) {
	const chunk, total = 32 << 10, 16 << 20
	random := make([]byte, chunk)
	rand.Read(random)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"random", random},
		{"NUL bytes", make([]byte, chunk)},
		{"ANSI text", bytes.Repeat([]byte("\x1b[1;32mok\x1b[0m \"quoted\" \\ line\r\n"), chunk/16)[:chunk]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tw := newTestWriter(t, nil)
			for range total / chunk {
				mustWrite(t, tw.Writer, Output, 0, tc.data)
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			size := tw.sealed[0].Size
			ratio := float64(size) / float64(total)
			t.Logf("%d bytes of output, %d bytes on disk: ratio %.5f", total, size, ratio)
			if ratio > 1.01 {
				t.Errorf("bytes on disk per output byte %.5f, want at most 1.01", ratio)
			}
		})
	}
}

// TestWriteDoesNotAllocate: in steady state a record costs no allocation,
// whatever its size, checkpoints included (a signature every MiB is far
// below one allocation per record).
func TestWriteDoesNotAllocate(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) { o.RecordInput = true })
	defer tw.Close()
	for _, size := range []int{1, 100, 4 << 10, 32 << 10, bigPayload} {
		p := make([]byte, size)
		for range 200 { // warm up: blocks, buffers, tags
			mustWrite(t, tw.Writer, Output, 0, p)
		}
		tw.drain()
		if n := testing.AllocsPerRun(500, func() { tw.Write(Input, 1, p) }); n != 0 {
			t.Errorf("%d-byte records: %v allocations per record", size, n)
		}
	}
}

// TestQuietWriterHoldsNoBuffers: once what was written is handed over, a
// writer keeps no block or output buffer, so that idle sessions cost
// little memory.
func TestQuietWriterHoldsNoBuffers(t *testing.T) {
	tw := newTestWriter(t, nil)
	defer tw.Close()
	for _, size := range []int{10, 40 << 10, bigPayload, 3 * blockSize} {
		mustWrite(t, tw.Writer, Output, 0, make([]byte, size))
		tw.drain()
		// drain received processed after the flusher was done with
		// the block, so reading its state here does not race.
		if tw.cur.buf != nil || tw.fl.buf != nil {
			t.Errorf("after a %d-byte record: block buffer %d bytes, output buffer %d bytes held",
				size, cap(tw.cur.buf), cap(tw.fl.buf))
		}
	}
}

// TestQuietSessionCheckpointed: records written and then nothing more are
// signed and on disk within the checkpoint interval, without another write.
func TestQuietSessionCheckpointed(t *testing.T) {
	tw := newTestWriter(t, func(o *Options) { o.CheckpointInterval = 100 * time.Millisecond })
	defer tw.Close()
	for _, s := range []string{"one", "two", "three"} {
		mustWrite(t, tw.Writer, Output, 0, []byte(s))
	}
	active := tw.Path()
	sdktest.WaitFor(t, 10*time.Second, "the quiet session's records to be checkpointed on disk", func() bool {
		res := Verify([]string{active}, pubOf(testKey(1)))
		// Truncated (no trailer yet) after a checkpoint that covers all
		// of: header, initial checkpoint, 3 records, checkpoint.
		return res.Status == Truncated && res.SegmentRecords == 6
	})
}

func TestSegmentRoll(t *testing.T) {
	const max = 4096
	tw := newTestWriter(t, func(o *Options) {
		o.SegmentMaxBytes = max
		o.Team = "ops/../x"
		o.User = "bob smith"
	})
	meta := SessionMeta{SessionID: "s-1", User: "bob", Term: "vt100"}.Marshal()
	mustWrite(t, tw.Writer, Meta, 0, meta)
	mustWrite(t, tw.Writer, Resize, 7, AppendResize(nil, Size{Cols: 100, Rows: 30}))
	var want strings.Builder
	for i := range 300 {
		line := fmt.Sprintf("line %03d %s\r\n", i, strings.Repeat("x", i%40))
		want.WriteString(line)
		mustWrite(t, tw.Writer, Output, 7, []byte(line))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	paths := tw.sealedPaths()
	if len(paths) < 4 {
		t.Fatalf("%d segments, want several", len(paths))
	}
	base := "20250304T050607.8901-ops__._x-bob_smith"
	for i, p := range paths {
		if filepath.Base(p) != SegmentFileName(base, i) {
			t.Errorf("segment %d named %s, want %s", i, filepath.Base(p), SegmentFileName(base, i))
		}
		if tw.sealed[i].Segment != i {
			t.Errorf("OnSeal %d reports segment %d", i, tw.sealed[i].Segment)
		}
		if tw.sealed[i].Size > max {
			t.Errorf("segment %d is %d bytes, over %d", i, tw.sealed[i].Size, max)
		}
		if want := hexSHA256File(t, p); tw.sealed[i].SHA256 != want {
			t.Errorf("segment %d: OnSeal's SHA-256 %s, the file's %s", i, tw.sealed[i].SHA256, want)
		}
	}
	pub := pubOf(testKey(1))

	// Each segment starts with what a renderer needs, and reads alone.
	for i, p := range paths {
		got, res, err := readAll(t, []string{p}, pub)
		if err != nil || res.Status != Intact {
			t.Fatalf("segment %d alone: %v %+v", i, err, res)
		}
		if got[0] != (rec{Meta, 0, string(meta)}) || got[1].kind != Resize || got[1].ch != 7 {
			t.Errorf("segment %d starts with %v, %v", i, got[0], got[1])
		}
	}

	// The whole chain reads back, and VerifyFile finds the segments from
	// segment 0's name.
	got, res, err := readAll(t, paths, pub)
	if err != nil || res.Status != Intact || res.Segments != len(paths) {
		t.Fatalf("%v %+v", err, res)
	}
	var text strings.Builder
	for _, r := range got {
		if r.kind == Output {
			text.WriteString(r.payload)
		}
	}
	if text.String() != want.String() {
		t.Error("output differs after the round trip through segments")
	}
	if v := VerifyFile(paths[0], pub); v.Status != Intact || v.Segments != len(paths) {
		t.Errorf("VerifyFile: %+v", v)
	}

	// Links: a missing or reordered segment breaks the chain.
	for _, tc := range []struct {
		name  string
		paths []string
		bad   string // the segment named in the verdict
	}{
		{"missing segment", append([]string{paths[0]}, paths[2:]...), paths[2]},
		{"swapped segments", append([]string{paths[0], paths[2], paths[1]}, paths[3:]...), paths[2]},
		{"later segment first", paths[1:], ""},
	} {
		res := Verify(tc.paths, pub)
		if tc.bad == "" {
			if res.Status != Intact {
				t.Errorf("%s: %+v (a later segment verifies on its own)", tc.name, res)
			}
			continue
		}
		if res.Status != Altered || res.Path != tc.bad || res.Record != 0 {
			t.Errorf("%s: %s: %s (%v), want altered at record 0 of %s", tc.name, res.Path, res.Describe(), res.Err, tc.bad)
		}
	}

	// Deleting the last segment shows when the session is verified as a
	// whole: the one before says the session continues.
	if err := os.Remove(paths[len(paths)-1]); err != nil {
		t.Fatal(err)
	}
	last := len(paths) - 1
	v := VerifyFile(paths[0], pub)
	if v.Status != Truncated || v.MissingSegment != last || v.Path != paths[last-1] {
		t.Errorf("session without its last segment: %s (%s)", v.Describe(), v.Path)
	}
	if want := fmt.Sprintf("truncated: segment %d is missing (", last); !strings.HasPrefix(v.Describe(), want) {
		t.Errorf("Describe %q, want %q...", v.Describe(), want)
	}
	if v := Verify(paths[:last], pub); v.Status != Intact {
		t.Errorf("segments verified as such, not as a session: %s", v.Describe())
	}
	if v := VerifyFile(paths[last-1], pub); v.Status != Intact {
		t.Errorf("a later segment alone: %s", v.Describe())
	}
}
