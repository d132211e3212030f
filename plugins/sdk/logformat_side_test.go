package sdk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	logformatv1 "github.com/vigilgw/vigil/plugins/sdk/proto/logformat/v1"
)

// recordingFormatter writes each event as its Go syntax (a faithful record
// of what arrived) and keeps deep copies of the events, as the contract
// asks of a formatter that keeps anything. A message "fail:<text>" makes
// Format fail with ErrInvalidConfig; "short" makes it return a line less.
type recordingFormatter struct {
	mu  sync.Mutex
	got []event.Event
}

func (f *recordingFormatter) Info(context.Context) (Info, error) {
	return Info{Kind: KindLogFormat, Name: "recording", Version: "1", APIVersions: []int{1}}, nil
}

func (f *recordingFormatter) Configure(context.Context, []byte) error { return nil }

func (f *recordingFormatter) Format(_ context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, 0, len(events))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		if msg, ok := strings.CutPrefix(e.Message, "fail:"); ok {
			return nil, fmt.Errorf("logformat-recording: %s: %w", msg, ErrInvalidConfig)
		}
		if e.Message == "short" {
			continue
		}
		c := e
		c.Message = strings.Clone(e.Message)
		c.UserAgent = strings.Clone(e.UserAgent)
		c.Extra = maps.Clone(e.Extra)
		for k, v := range c.Extra {
			delete(c.Extra, k)
			c.Extra[strings.Clone(k)] = strings.Clone(v)
		}
		f.got = append(f.got, c)
		lines = append(lines, fmt.Appendf(nil, "%q %q %q %v", e.Message, e.UserAgent, e.UserName, e.Extra))
	}
	return lines, nil
}

// grpcCalls serves the client's gRPC Format calls in process, straight to
// a logFormatServer, and counts them.
type grpcCalls struct {
	logformatv1.LogFormatClient
	srv   *logFormatServer
	calls atomic.Int32
}

func (g *grpcCalls) Format(ctx context.Context, req *logformatv1.FormatRequest, _ ...grpc.CallOption) (*logformatv1.FormatResponse, error) {
	g.calls.Add(1)
	return g.srv.Format(ctx, req)
}

// lanePair is a logFormatClient with n lanes whose plugin ends are served
// in process by serveLogFormatSide (or left to the test: plugin), and a
// gRPC path counted by grpc.
type lanePair struct {
	c      *logFormatClient
	grpc   *grpcCalls
	plugin []*net.UnixConn
}

func newLanePair(t *testing.T, impl LogFormatter, n int, serve bool) *lanePair {
	t.Helper()
	host, child, err := newSideChannels(n)
	if err != nil {
		t.Fatal(err)
	}
	p := &lanePair{grpc: &grpcCalls{srv: &logFormatServer{impl: impl}}}
	for i, f := range child {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		p.plugin = append(p.plugin, c.(*net.UnixConn))
		t.Cleanup(func() { p.plugin[i].Close() })
	}
	if serve {
		serveLogFormatSide(impl, p.plugin)
	}
	p.c = &logFormatClient{clientBase: clientBase{kind: KindLogFormat, done: context.Background()}, c: p.grpc}
	p.c.useSideChannels(host)
	t.Cleanup(func() {
		for _, c := range host {
			c.Close()
		}
	})
	return p
}

func sideEvents(n int) []event.Event {
	evs := wireEvents()
	out := make([]event.Event, n)
	for i := range out {
		out[i] = evs[i%len(evs)]
		out[i].Seq = uint64(i)
		out[i].Message = fmt.Sprintf("m%07dz %s", i, out[i].Message)
	}
	return out
}

// TestLanesCarryEventsByteForByte: over the lanes, the plugin gets every
// event as sent (strings, times, extras; none of a batch before), the host
// one line per event in order, and no gRPC call is made.
func TestLanesCarryEventsByteForByte(t *testing.T) {
	impl := &recordingFormatter{}
	p := newLanePair(t, impl, 2, true)
	for _, n := range []int{1, 7, 300, 1000, 5} { // the last batch smaller than the ones before
		events := sideEvents(n)
		impl.mu.Lock()
		impl.got = nil
		impl.mu.Unlock()
		lines, err := p.c.Format(context.Background(), events)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := (&recordingFormatter{}).Format(context.Background(), events)
		if !reflect.DeepEqual(lines, want) {
			t.Fatalf("%d events: lines differ from the formatter's in process", n)
		}
		impl.mu.Lock()
		got := impl.got
		impl.mu.Unlock()
		if len(got) != n {
			t.Fatalf("plugin got %d events, sent %d", len(got), n)
		}
		// Lanes may take parts in any order: match events by Seq.
		bySeq := map[uint64]event.Event{}
		for _, e := range got {
			bySeq[e.Seq] = e
		}
		for i, e := range events {
			g := bySeq[e.Seq]
			if e.Time.IsZero() && g.Time.IsZero() {
				g.Time = e.Time
			}
			if len(e.Extra) == 0 && len(g.Extra) == 0 {
				g.Extra = e.Extra // an empty map travels as none
			}
			if !reflect.DeepEqual(g, e) {
				t.Fatalf("%d events: event %d changed on the lane:\nsent %+v\ngot  %+v", n, i, e, g)
			}
		}
	}
	if c := p.grpc.calls.Load(); c != 0 {
		t.Errorf("%d gRPC calls; every batch should have taken the lanes", c)
	}
	if live := p.c.lanes.live.Load(); live != 2 {
		t.Errorf("%d lanes live after good calls, want 2", live)
	}
}

// TestLanesCarryErrorsAsGRPCDoes: a formatter's error arrives as it does
// over gRPC: its message whole, errors.Is its sentinel; a wrong number of
// lines is refused the same way too. The lane stays in use.
func TestLanesCarryErrorsAsGRPCDoes(t *testing.T) {
	impl := &recordingFormatter{}
	p := newLanePair(t, impl, 1, true)
	viaGRPC := &logFormatClient{clientBase: clientBase{kind: KindLogFormat, done: context.Background()}, c: p.grpc}
	for _, events := range [][]event.Event{
		{{Message: "ok"}, {Message: "fail:bad table"}},
		{{Message: "ok"}, {Message: "short"}},
	} {
		_, laneErr := p.c.Format(context.Background(), events)
		_, grpcErr := viaGRPC.Format(context.Background(), events)
		if laneErr == nil || grpcErr == nil {
			t.Fatalf("Format(%v): lane %v, gRPC %v; want both to fail", events, laneErr, grpcErr)
		}
		if errors.Is(grpcErr, ErrInvalidConfig) != errors.Is(laneErr, ErrInvalidConfig) {
			t.Errorf("lane error %q and gRPC error %q differ in ErrInvalidConfig", laneErr, grpcErr)
		}
		if events[1].Message == "short" {
			if !strings.Contains(laneErr.Error(), "plugin returned 1 lines for 2 events") {
				t.Errorf("lane error %q does not say the lines are too few", laneErr)
			}
		} else if laneErr.Error() != grpcErr.Error() {
			t.Errorf("lane error %q, gRPC error %q", laneErr, grpcErr)
		}
	}
	lines, err := p.c.Format(context.Background(), sideEvents(3))
	if err != nil || len(lines) != 3 || p.c.lanes.live.Load() != 1 || p.grpc.calls.Load() != 2 {
		t.Fatalf("after the errors: %d lines, %v, %d lanes live, %d gRPC calls (the comparisons made 2)",
			len(lines), err, p.c.lanes.live.Load(), p.grpc.calls.Load())
	}
}

// answerOnce reads one request on c and writes resp, then closes c
// unless keep.
func answerOnce(t *testing.T, c net.Conn, resp []byte, keep bool) {
	t.Helper()
	if !keep {
		defer c.Close()
	}
	if _, err := readLaneRequest(c, nil); err != nil {
		t.Errorf("reading the request: %v", err)
		return
	}
	c.Write(resp)
}

func laneHeader(status byte, a, b uint32) []byte {
	h := []byte{status}
	h = binary.LittleEndian.AppendUint32(h, a)
	return binary.LittleEndian.AppendUint32(h, b)
}

// TestLanesDistrustThePlugin: whatever a plugin answers on a lane, the host
// neither panics nor allocates what it claims nor hangs past ctx: it
// refuses the answer, drops the lane, and formats over gRPC when the lane
// merely broke.
func TestLanesDistrustThePlugin(t *testing.T) {
	impl := &recordingFormatter{}
	events := sideEvents(2)
	for _, tc := range []struct {
		name     string
		answer   []byte // nil: close the lane instead
		wantErr  string // "" if the batch must succeed over gRPC
		timeout  bool
		keepLane bool
	}{
		{name: "closed mid-call"},
		{name: "half a header", answer: []byte{laneOK, 2}},
		{name: "unknown status", answer: laneHeader(7, 0, 0), wantErr: "response status 7"},
		{name: "too many lines", answer: laneHeader(laneOK, 1<<31, 0), wantErr: "plugin returned 2147483648 lines for 2 events"},
		{name: "lines beyond any message", answer: laneHeader(laneOK, 2, 1<<31), wantErr: "more than 67108864"},
		{name: "huge error", answer: laneHeader(laneError, 0, 1<<30), wantErr: "error status of 1073741824 bytes"},
		{name: "error that is no status", answer: append(laneHeader(laneError, 0, 3), 0xff, 0xff, 0xff), wantErr: "error status"},
		{name: "lengths that do not add up", keepLane: true,
			answer: append(append(laneHeader(laneOK, 2, 3), 1, 0, 0, 0, 1, 0, 0, 0), "abc"...), wantErr: "add up to 2 bytes, lines holds 3"},
		{name: "silence", timeout: true, wantErr: context.DeadlineExceeded.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newLanePair(t, impl, 1, false)
			done := make(chan struct{})
			go func() {
				defer close(done)
				switch {
				case tc.timeout:
					readLaneRequest(p.plugin[0], nil)
					io.Copy(io.Discard, p.plugin[0]) // until the host gives up on the lane
				case tc.answer == nil:
					readLaneRequest(p.plugin[0], nil)
					p.plugin[0].Close()
				default:
					answerOnce(t, p.plugin[0], tc.answer, tc.keepLane)
				}
			}()
			ctx := context.Background()
			if tc.timeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			lines, err := p.c.Format(ctx, events)
			switch {
			case tc.wantErr == "" && (err != nil || len(lines) != len(events) || p.grpc.calls.Load() == 0):
				t.Fatalf("Format = %d lines, %v after %d gRPC calls; want the batch formatted over gRPC", len(lines), err, p.grpc.calls.Load())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Format = %d lines, %v; want an error saying %q", len(lines), err, tc.wantErr)
			}
			if tc.timeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Format after the deadline = %v, want context.DeadlineExceeded", err)
			}
			if live := p.c.lanes.live.Load(); (live == 1) != tc.keepLane {
				t.Errorf("%d lanes live, want the lane kept: %v", live, tc.keepLane)
			}
			<-done
			if tc.keepLane {
				return // in step, but nothing serves it any more
			}
			// The lane is gone: the next batch goes over gRPC.
			if lines, err := p.c.Format(context.Background(), sideEvents(3)); err != nil || len(lines) != 3 {
				t.Errorf("next Format = %d lines, %v", len(lines), err)
			}
		})
	}
}

// TestLaneRequestsAreBounded: the plugin side refuses a request longer than
// a message before allocating it.
func TestLaneRequestsAreBounded(t *testing.T) {
	hdr := binary.LittleEndian.AppendUint32(nil, maxMessageSize+1)
	if _, err := readLaneRequest(bytes.NewReader(hdr), nil); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("readLaneRequest(%d bytes) = %v", maxMessageSize+1, err)
	}
	if _, err := readLaneRequest(bytes.NewReader(append(binary.LittleEndian.AppendUint32(nil, 10), "short"...)), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated request: %v", err)
	}
}

// TestLanesReuseNothingStale: a lane reuses its events and Extra maps, and
// a batch never sees a value of the one before it.
func TestLanesReuseNothingStale(t *testing.T) {
	var l laneBatch
	first := []event.Event{{Message: "a", Extra: map[string]string{"k": "v", "x": "y"}}, {Message: "b", Extra: map[string]string{"z": "1"}}}
	second := []event.Event{{Message: "c"}, {Message: "d", Extra: map[string]string{"k": "w"}}}
	for _, batch := range [][]event.Event{first, second} {
		b, _ := appendBatch(nil, batch)
		got, err := l.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, batch) {
			t.Fatalf("decoded %+v, want %+v", got, batch)
		}
	}
}

// FuzzLaneResponse: the host reads any bytes a plugin may send without
// panicking, and what it accepts is one line per event, the lines being
// the bytes the plugin said.
func FuzzLaneResponse(f *testing.F) {
	f.Add(append(append(laneHeader(laneOK, 2, 3), 1, 0, 0, 0, 2, 0, 0, 0), "abc"...), 2)
	f.Add(append(laneHeader(laneError, 0, 2), 0x08, 0x03), 1)
	f.Add(laneHeader(laneOK, 0, 0), 0)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		lines := make([][]byte, n)
		var scratch laneScratch
		if err := readLaneResponse(bytes.NewReader(data), &scratch, lines); err != nil {
			return
		}
		total := 0
		for _, l := range lines {
			total += len(l)
		}
		if want := laneResponseHeader + 4*n + total; want > len(data) || !bytes.Equal(bytes.Join(lines, nil), data[want-total:want]) {
			t.Fatalf("accepted lines that are not the response's")
		}
	})
}

// FuzzLaneRequest: the plugin side reads and formats any request without
// panicking, and answers every one with a response the host reads.
func FuzzLaneRequest(f *testing.F) {
	batch, _ := appendBatch(nil, wireEvents())
	f.Add(append(binary.LittleEndian.AppendUint32(nil, uint32(len(batch))), batch...))
	f.Add([]byte{3, 0, 0, 0, 0x0a, 0x01, 0xff})
	var l laneBatch
	impl := &recordingFormatter{}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readLaneRequest(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		resp := l.format(impl, req, nil)
		impl.got = nil
		switch resp[0] {
		case laneOK:
			n := int(binary.LittleEndian.Uint32(resp[1:]))
			if err := readLaneResponse(bytes.NewReader(resp), &laneScratch{}, make([][]byte, n)); err != nil {
				t.Fatalf("the host refuses the plugin's answer: %v", err)
			}
		case laneError:
			err := readLaneResponse(bytes.NewReader(resp), &laneScratch{}, nil)
			var se *laneStatusError
			if !errors.As(err, &se) {
				t.Fatalf("error answer read as %v", err)
			}
		default:
			t.Fatalf("status %d", resp[0])
		}
	})
}
