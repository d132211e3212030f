package events

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openBus(t testing.TB, cfg Config) *Bus {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.MaintainInterval == 0 {
		// Tests call maintain themselves where it matters.
		cfg.MaintainInterval = time.Hour
	}
	b, err := Open(cfg)
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ev(i int) event.Event {
	return event.Event{MetricName: "test.event", Component: "test", Message: "event " + strconv.Itoa(i),
		Extra: map[string]string{"i": strconv.Itoa(i)}}
}

func publishN(t testing.TB, b *Bus, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := b.Publish(ev(i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// drain reads until the consumer has nothing more within a short wait and
// returns what it read, acking as it goes when ack is set.
func drain(t testing.TB, c *Consumer, ack bool) []event.Event {
	t.Helper()
	var out []event.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		evs, err := c.Next(ctx, 50)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		out = append(out, evs...)
		if ack {
			if err := c.Ack(evs[len(evs)-1].Seq); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
	}
}

func seqs(evs []event.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []event.Event{
		{MetricName: "a", Time: time.Unix(0, 1).UTC()},
		{
			Time: time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC), MetricName: "session.create",
			Level: "INFO", Message: "line1\nline2 \"quoted\" ]", Component: "ssh", Process: "vigild",
			Host: "gw1", ServerID: "srv", RequestIP: "10.0.0.1", RequestPort: "5555", UserAgent: "ua",
			UserID: "u1", UserName: "alice", Domain: "corp", TargetID: "t1", TargetName: "db",
			TargetFriendlyName: "Database", VS: "1.2.3.4:22", RS: "5.6.7.8:22", Protocol: "ssh",
			SessionID: "s-1", Result: "success", Reason: "ok",
			Extra: map[string]string{"bytes": "10", "path": "/x y", "bad": "\xff\xfe"},
		},
		{MetricName: "before epoch", Time: time.Date(1960, 1, 1, 0, 0, 0, 5, time.UTC)},
	}
	for _, want := range tests {
		t.Run(want.MetricName, func(t *testing.T) {
			got, err := decodeEvent(encodeEvent(nil, &want))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
			}
		})
	}
	full := encodeEvent(nil, &tests[1])
	for _, cut := range []int{0, 1, 5, len(full) / 2, len(full) - 1} {
		if _, err := decodeEvent(full[:cut]); err == nil {
			t.Errorf("decoding %d of %d bytes succeeded", cut, len(full))
		}
	}
}

func TestPublishFillsDefaults(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}
	b := openBus(t, Config{Host: "gw1", ServerID: "srv-1", Process: "vigild", Now: clock.Now})
	c, err := b.Consumer("t", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   event.Event
		want event.Event
	}{
		{"empty fields filled",
			event.Event{MetricName: "m"},
			event.Event{Seq: 1, MetricName: "m", Time: clock.now.UTC(), Level: "INFO", Component: "core",
				Host: "gw1", ServerID: "srv-1", Process: "vigild"}},
		{"given fields kept, time made UTC",
			event.Event{Seq: 77, MetricName: "m", Time: clock.now.Add(-time.Hour), Level: "ERROR", Component: "ssh",
				Host: "other", ServerID: "s2", Process: "p"},
			event.Event{Seq: 2, MetricName: "m", Time: clock.now.Add(-time.Hour).UTC(), Level: "ERROR", Component: "ssh",
				Host: "other", ServerID: "s2", Process: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Publish(tt.in); err != nil {
				t.Fatal(err)
			}
			got, err := c.Next(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("got %#v\nwant %#v", got[0], tt.want)
			}
			if got[0].Time.Location() != time.UTC {
				t.Fatalf("time not in UTC: %v", got[0].Time.Location())
			}
		})
	}
	if err := b.Publish(event.Event{Message: "no metric"}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("publish without metric name: %v", err)
	}
}

func TestConcurrentPublishersAllDeliveredInOrder(t *testing.T) {
	b := openBus(t, Config{SegmentMaxBytes: 64 << 10})
	c, err := b.Consumer("all", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 250
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if i%10 == 0 {
					batch := []event.Event{ev(w*each + i), ev(w*each + i)}
					if err := b.PublishBatch(batch); err != nil {
						t.Error(err)
					}
					continue
				}
				if err := b.Publish(ev(w*each + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	want := writers * (each + each/10)
	got := drain(t, c, true)
	if !reflect.DeepEqual(seqs(got), seqRange(1, uint64(want))) {
		t.Fatalf("got %d events, want seqs 1..%d in order", len(got), want)
	}
}

func TestNextBlocksUntilPublish(t *testing.T) {
	b := openBus(t, Config{})
	c, err := b.Consumer("t", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []event.Event, 1)
	go func() {
		evs, err := c.Next(context.Background(), 10)
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	publishN(t, b, 0, 1)
	if evs := <-got; len(evs) != 1 || evs[0].Seq != 1 {
		t.Fatalf("got %v", evs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Next(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("next on a cancelled context: %v", err)
	}
}

func TestCursorPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, Config{Dir: dir})
	c, err := b.Consumer("sink.a", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b, 0, 30)
	evs, err := c.Next(context.Background(), 20)
	if err != nil || len(evs) != 20 {
		t.Fatalf("next: %d, %v", len(evs), err)
	}
	if err := c.Ack(12); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack(40); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("ack beyond delivered: %v", err)
	}
	c.Close()
	b.Close()

	b2 := openBus(t, Config{Dir: dir})
	c2, err := b2.Consumer("sink.a", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, c2, true)
	if !reflect.DeepEqual(seqs(got), seqRange(13, 30)) {
		t.Fatalf("after reopen got %v, want 13..30", seqs(got))
	}
	// A new consumer starts at the oldest event kept, or at the end.
	fresh, err := b2.Consumer("fresh", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, fresh, false); len(got) != 30 || got[0].Seq != 1 {
		t.Fatalf("fresh consumer got %v", seqs(got))
	}
	late, err := b2.Consumer("late", ConsumerOptions{StartAtEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b2, 30, 1)
	if got := drain(t, late, false); !reflect.DeepEqual(seqs(got), []uint64{31}) {
		t.Fatalf("consumer started at the end got %v", seqs(got))
	}
	if _, err := b2.Consumer("late", ConsumerOptions{}); !errors.Is(err, ErrConsumerActive) {
		t.Fatalf("second open of a consumer: %v", err)
	}
	if _, err := b2.Consumer("../x", ConsumerOptions{}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestRewindRedeliversUnacked(t *testing.T) {
	b := openBus(t, Config{})
	c, err := b.Consumer("t", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b, 0, 10)
	if _, err := c.Next(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack(4); err != nil {
		t.Fatal(err)
	}
	c.Rewind()
	if got := drain(t, c, false); !reflect.DeepEqual(seqs(got), seqRange(5, 10)) {
		t.Fatalf("after rewind got %v", seqs(got))
	}
}

func TestSegmentsDeletedOnlyWhenEveryConsumerIsPast(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, Config{Dir: dir, SegmentMaxBytes: 1 << 10, BufferMaxBytes: -1})
	fast, _ := b.Consumer("fast", ConsumerOptions{})
	slow, _ := b.Consumer("slow", ConsumerOptions{})
	publishN(t, b, 0, 100)
	segsBefore := len(b.j.Segments())
	drain(t, fast, true)
	b.maintain()
	if n := len(b.j.Segments()); n != segsBefore {
		t.Fatalf("segments deleted while a consumer lags: %d -> %d", segsBefore, n)
	}
	drain(t, slow, true)
	b.maintain()
	if n := len(b.j.Segments()); n != 1 {
		t.Fatalf("after both consumed, %d segments left, want only the head", n)
	}
	// A closed consumer still holds back deletion; a deleted one does not.
	slow.Close()
	publishN(t, b, 100, 100)
	drain(t, fast, true)
	b.maintain()
	if n := len(b.j.Segments()); n == 1 {
		t.Fatal("segments deleted under a closed consumer's cursor")
	}
	if err := b.DeleteConsumer("slow"); err != nil {
		t.Fatal(err)
	}
	b.maintain()
	if n := len(b.j.Segments()); n != 1 {
		t.Fatalf("after deleting the lagging consumer, %d segments left", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "cursors", "slow.cursor")); !os.IsNotExist(err) {
		t.Fatalf("cursor file of a deleted consumer: %v", err)
	}
}

// dropEvents returns the log.sink.dropped events among evs.
func dropEvents(evs []event.Event) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.MetricName == MetricSinkDropped {
			out = append(out, e)
		}
	}
	return out
}

func TestBufferLimitDropsOldestAndSaysSo(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name   string
		opts   ConsumerOptions
		before func() // between the two publishing rounds
		reason string
	}{
		{"bytes", ConsumerOptions{BufferMaxBytes: 8 << 10, BufferMaxAge: -1, Sink: "siem"}, func() {}, DropBufferBytes},
		{"age", ConsumerOptions{BufferMaxBytes: -1, BufferMaxAge: time.Hour, Sink: "siem"},
			func() { clock.Add(2 * time.Hour) }, DropBufferAge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBus(t, Config{SegmentMaxBytes: 1 << 10, SegmentMaxAge: time.Minute, Now: clock.Now})
			lag, err := b.Consumer("lagging", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			watchAll, err := b.Consumer("all", ConsumerOptions{BufferMaxBytes: -1, BufferMaxAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			// The lagging consumer reads a little and acks it.
			publishN(t, b, 0, 300)
			first, err := lag.Next(context.Background(), 5)
			if err != nil {
				t.Fatal(err)
			}
			lag.Ack(first[len(first)-1].Seq)
			tt.before()
			publishN(t, b, 300, 10)
			b.maintain()

			st := lag.Stats()
			if st.Dropped == 0 {
				t.Fatalf("nothing dropped: %+v", st)
			}
			got := drain(t, lag, true)
			// Everything after the skipped range arrives, in order, and the
			// drop is exactly the gap: 6 .. first seq received - 1.
			wantDropped := got[0].Seq - 6
			if st.Dropped != wantDropped {
				t.Fatalf("dropped %d, but the first event after the skip is %d (gap %d)", st.Dropped, got[0].Seq, wantDropped)
			}
			if !reflect.DeepEqual(seqs(got), seqRange(got[0].Seq, b.Head())) {
				t.Fatalf("after the skip: %v", seqs(got))
			}
			drops := dropEvents(drain(t, watchAll, true))
			if len(drops) != 1 {
				t.Fatalf("%d log.sink.dropped events, want 1", len(drops))
			}
			d := drops[0]
			if d.Level != event.LevelError || d.Extra["sink"] != "siem" || d.Extra["reason"] != tt.reason ||
				d.Extra["dropped"] != strconv.FormatUint(wantDropped, 10) {
				t.Fatalf("drop event %+v, want sink siem, %d dropped, reason %s", d, wantDropped, tt.reason)
			}
			// The count is kept in the cursor.
			lag.Close()
			b.maintain()
			again, err := b.Consumer("lagging", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if again.Stats().Dropped != wantDropped {
				t.Fatalf("dropped count after reopen: %d", again.Stats().Dropped)
			}
		})
	}
}

func TestBufferLimitSmallerThanSegmentsRefused(t *testing.T) {
	b := openBus(t, Config{SegmentMaxBytes: 1 << 20})
	if _, err := b.Consumer("x", ConsumerOptions{BufferMaxBytes: 1 << 20}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("got %v", err)
	}
}

func TestWatchSeesNewEvents(t *testing.T) {
	b := openBus(t, Config{})
	ch, missed, stop := b.Watch(4)
	publishN(t, b, 0, 6)
	var got []uint64
	for range 4 {
		got = append(got, (<-ch).Seq)
	}
	if !reflect.DeepEqual(got, []uint64{1, 2, 3, 4}) || missed() != 2 {
		t.Fatalf("watch got %v, missed %d", got, missed())
	}
	stop()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after stop")
	}
}

func TestTornTailRecoveredOnOpen(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, Config{Dir: dir})
	publishN(t, b, 0, 5)
	b.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 9, 9}) // half a record header: a torn write
	f.Close()

	b2 := openBus(t, Config{Dir: dir})
	c, _ := b2.Consumer("c", ConsumerOptions{})
	publishN(t, b2, 5, 1)
	got := drain(t, c, true)
	if !reflect.DeepEqual(seqs(got), seqRange(1, 7)) {
		t.Fatalf("got %v", seqs(got))
	}
	if got[5].MetricName != MetricJournalRecovered || got[5].Extra["truncated_bytes"] != "6" {
		t.Fatalf("recovery event: %+v", got[5])
	}
}

// The kill -9 test re-executes the test binary as a child that publishes
// and acknowledges, then dies without any chance to clean up.
const crashChildEnv = "VIGIL_EVENTS_CRASH_CHILD"

// TestMain runs this test binary as the child the kill -9 test starts
// when crashChildEnv is set, and as the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
	}
	os.Exit(m.Run())
}

// crashChild publishes and acknowledges, reports, and publishes on until
// it is killed.
func crashChild(dir string) {
	b, err := Open(Config{Dir: dir, MaintainInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, err := b.Consumer("sink", ConsumerOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	var published atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := range 250 {
				if err := b.Publish(ev(w*1000 + i)); err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				published.Add(1)
			}
		})
	}
	wg.Wait()
	evs, err := c.Next(context.Background(), 100)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c.Ack(evs[len(evs)-1].Seq)
	// Wait until the ack is on disk, then report and keep publishing
	// until killed.
	for {
		raw, _ := os.ReadFile(filepath.Join(dir, "cursors", "sink.cursor"))
		if strings.Contains(string(raw), `"seq":100,`) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("published %d acked 100\n", published.Load())
	for i := 0; ; i++ {
		if err := b.Publish(ev(100000 + i)); err != nil {
			os.Exit(1)
		}
		if i == 0 {
			fmt.Println("streaming")
		}
	}
}

func TestKill9KeepsPublishedEventsAndCursor(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var published int
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "published ") {
			published, _ = strconv.Atoi(strings.Fields(line)[1])
		}
		if line == "streaming" {
			break
		}
		if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
	}
	if published != 2000 {
		t.Fatalf("child published %d", published)
	}
	// Kill it mid-stream: some Publish calls are in flight.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	b := openBus(t, Config{Dir: dir})
	c, err := b.Consumer("sink", ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, c, true)
	if len(got) < published-100 || got[0].Seq != 101 {
		t.Fatalf("after kill -9: %d events from seq %d, want at least %d from 101", len(got), got[0].Seq, published-100)
	}
	if !reflect.DeepEqual(seqs(got), seqRange(101, got[len(got)-1].Seq)) {
		t.Fatal("a gap in the sequence after kill -9")
	}
	// The sequence goes on after the recovered tail.
	head := b.Head()
	publishN(t, b, 0, 1)
	if b.Head() != head+1 {
		t.Fatalf("head %d after one more publish, was %d", b.Head(), head)
	}
}

func TestClosedBus(t *testing.T) {
	b := openBus(t, Config{})
	c, _ := b.Consumer("c", ConsumerOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Next(context.Background(), 1)
		done <- err
	}()
	b.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("next on closing bus: %v", err)
	}
	if err := b.Publish(ev(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish on closed bus: %v", err)
	}
}

// BenchmarkPublish measures durable publishes per second from many
// concurrent publishers (group commit shares one fdatasync among them).
func BenchmarkPublish(b *testing.B) {
	bus := openBus(b, Config{})
	e := event.Event{MetricName: "session.create", Component: "ssh", Message: "session created",
		UserName: "alice", SessionID: "0123456789abcdef", VS: "10.0.0.1:22", RS: "10.0.0.2:22",
		RequestIP: "192.0.2.1", RequestPort: "51515", Protocol: "ssh", Result: "success"}
	b.SetParallelism(256)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bus.Publish(e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
