package sdk

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	commonv1 "github.com/vigilgw/vigil/plugins/sdk/proto/common/v1"
	logformatv1 "github.com/vigilgw/vigil/plugins/sdk/proto/logformat/v1"
)

// wireEvents are events that exercise every field and every path of the
// hand-written codec: values repeated from the event before and not,
// empty ones, long ones (lengths of two and three varint bytes), invalid
// UTF-8, the zero time, times before 1970, extras with empty keys and
// values.
func wireEvents() []event.Event {
	t0 := time.Date(2024, 5, 17, 13, 4, 5, 123456789, time.UTC)
	full := event.Event{
		Seq: 1, Time: t0, MetricName: "session.create", Level: "INFO", Message: "m\n|=\"\\]",
		Component: "ssh", Process: "vigild", Host: "gw1", ServerID: "srv", RequestIP: "10.0.0.5",
		RequestPort: "50122", UserAgent: "OpenSSH", UserID: "u1", UserName: "alice", Domain: "corp",
		TargetID: "t1", TargetName: "db1", TargetFriendlyName: "DB one", VS: "10.0.0.1:22",
		RS: "10.0.1.9:22", Protocol: "ssh", SessionID: "s-1", Result: "success", Reason: "ok",
		Extra: map[string]string{"a": "1", "": "empty key", "empty value": ""},
	}
	next := full
	next.Seq, next.Time, next.Message, next.UserName = 2, t0.Add(time.Second), "other", ""
	next.Extra = nil
	long := next
	long.Seq, long.Message, long.Reason = 300, strings.Repeat("x", 200), strings.Repeat("\xff", 20000)
	return []event.Event{
		full, next, long,
		{Seq: 1 << 40, Time: time.Unix(-5, 7).UTC(), Message: "before 1970"},
		{}, // nothing at all: the zero time, no Seq
		{Seq: 9, Time: time.Unix(10, 0).UTC(), Host: "gw1", Extra: map[string]string{}},
	}
}

// TestEventBatchMatchesGeneratedCode holds the hand-written codec to
// logformat.proto: what appendEvent writes, the generated code reads as
// the same events, and what the generated code writes, decodeEventBatch
// reads back.
func TestEventBatchMatchesGeneratedCode(t *testing.T) {
	evs := wireEvents()
	b, _ := appendBatch(nil, evs)
	var batch logformatv1.EventBatch
	if err := proto.Unmarshal(b, &batch); err != nil {
		t.Fatalf("generated code cannot read appendEvent's batch: %v", err)
	}
	if len(batch.Events) != len(evs) {
		t.Fatalf("%d events read, %d written", len(batch.Events), len(evs))
	}
	// Expand Event.repeats the way the schema says, then compare.
	for i, pe := range batch.Events {
		got := fromGenerated(t, pe)
		if pe.Repeats != 0 {
			prev := &evs[i-1]
			for f := range eventStringFields {
				if pe.Repeats&(1<<f) != 0 {
					*eventString(&got, f) = *eventString(prev, f)
				}
			}
		}
		if !equalEvents(got, evs[i]) {
			t.Errorf("event %d: generated code read %+v, want %+v", i, got, evs[i])
		}
	}
	if batch.Events[1].Repeats == 0 {
		t.Error("the second event repeats most of the first, but Event.repeats is 0")
	}

	// The other way: the generated code writes (no repeats), decodeEventBatch reads.
	gen := &logformatv1.EventBatch{}
	for i := range evs {
		gen.Events = append(gen.Events, toGenerated(&evs[i]))
	}
	raw, err := proto.Marshal(gen)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{raw, b} {
		got, err := decodeEventBatch(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(evs) {
			t.Fatalf("%d events decoded, want %d", len(got), len(evs))
		}
		for i := range evs {
			if !equalEvents(got[i], evs[i]) {
				t.Errorf("event %d: decoded %+v, want %+v", i, got[i], evs[i])
			}
		}
	}
}

// equalEvents compares as the wire does: an empty Extra map is no map.
func equalEvents(a, b event.Event) bool {
	if len(a.Extra) == 0 && len(b.Extra) == 0 {
		a.Extra, b.Extra = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func toGenerated(e *event.Event) *logformatv1.Event {
	pe := &logformatv1.Event{Seq: e.Seq}
	if !e.Time.IsZero() {
		pe.Time = &commonv1.Time{Seconds: e.Time.Unix(), Nanos: int32(e.Time.Nanosecond())}
	}
	fields := generatedStrings(pe)
	for i := range eventStringFields {
		if s := *eventString(e, i); s != "" {
			*fields[i] = []byte(s)
		}
	}
	for k, v := range e.Extra {
		pe.Extra = append(pe.Extra, &logformatv1.Extra{Key: []byte(k), Value: []byte(v)})
	}
	return pe
}

func fromGenerated(t *testing.T, pe *logformatv1.Event) event.Event {
	t.Helper()
	e := event.Event{Seq: pe.Seq}
	if pe.Time != nil {
		e.Time = time.Unix(pe.Time.Seconds, int64(pe.Time.Nanos)).UTC()
	}
	for i, f := range generatedStrings(pe) {
		*eventString(&e, i) = string(*f)
	}
	for _, x := range pe.Extra {
		if e.Extra == nil {
			e.Extra = map[string]string{}
		}
		e.Extra[string(x.Key)] = string(x.Value)
	}
	return e
}

// generatedStrings lists the generated Event's bytes fields in field-number
// order, as eventStringOffsets lists event.Event's.
func generatedStrings(pe *logformatv1.Event) [eventStringFields]*[]byte {
	return [...]*[]byte{&pe.MetricName, &pe.Level, &pe.Message, &pe.Component, &pe.Process,
		&pe.Host, &pe.ServerId, &pe.RequestIp, &pe.RequestPort, &pe.UserAgent, &pe.UserId,
		&pe.UserName, &pe.Domain, &pe.TargetId, &pe.TargetName, &pe.TargetFriendlyName, &pe.Vs,
		&pe.Rs, &pe.Protocol, &pe.SessionId, &pe.Result, &pe.Reason}
}

// TestEventBatchRejectsMalformed: a batch that is not what the schema says
// is refused with errMalformed, never half read.
func TestEventBatchRejectsMalformed(t *testing.T) {
	evs := wireEvents()
	good := appendEvent(nil, &evs[0], nil)
	for name, b := range map[string][]byte{
		"truncated":              good[:len(good)-3],
		"bad tag":                {0x80},
		"length past the end":    {0x0a, 0x7f, 0x01},
		"repeats in first event": {0x0a, 0x03, 0xd0, 0x01, 0x01}, // field 26 = 1
		"repeats past the fields": append(appendEvent(nil, &evs[0], nil),
			0x0a, 0x06, 0xd0, 0x01, 0x80, 0x80, 0x80, 0x40), // bit 27
	} {
		if _, err := decodeEventBatch(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
}

// TestFormatCodecMatchesGeneratedCode: the Format call's codec writes
// messages the proto codec reads, and reads what it writes, compressed or
// not; every other message goes to the proto codec.
func TestFormatCodecMatchesGeneratedCode(t *testing.T) {
	c := formatCodec{}
	req := &logformatv1.FormatRequest{Events: []byte("batch"), EventsSnappy: []byte("z")}
	data, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var viaProto logformatv1.FormatRequest
	if err := proto.Unmarshal(data.Materialize(), &viaProto); err != nil || !proto.Equal(&viaProto, req) {
		t.Fatalf("proto read %v (%v), want %v", &viaProto, err, req)
	}
	var back logformatv1.FormatRequest
	if err := c.Unmarshal(data, &back); err != nil || !proto.Equal(&back, req) {
		t.Fatalf("codec read %v (%v), want %v", &back, err, req)
	}

	lines := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("long line "), 2000)}
	buf, lengths := joinLines(lines)
	resp := &logformatv1.FormatResponse{Lines: bytes.Clone(buf), LineLengths: append([]uint32(nil), lengths...)}
	want := proto.Clone(resp).(*logformatv1.FormatResponse)
	data, err = c.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	raw := data.Materialize()
	var respProto logformatv1.FormatResponse
	if err := proto.Unmarshal(raw, &respProto); err != nil || !proto.Equal(&respProto, want) {
		t.Fatalf("proto read %v (%v)", &respProto, err)
	}
	// What the proto codec writes (lengths packed) the codec reads.
	pb, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var respBack logformatv1.FormatResponse
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(pb)}, &respBack); err != nil || !proto.Equal(&respBack, want) {
		t.Fatalf("codec read %v (%v)", &respBack, err)
	}
	got := make([][]byte, len(lines))
	if err := splitLines(got, respBack.Lines, respBack.LineLengths); err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		if !bytes.Equal(got[i], lines[i]) {
			t.Fatalf("line %d = %q, want %q", i, got[i], lines[i])
		}
	}

	// Compressed, the lines come back the same.
	z, ok := compressLines(buf)
	if !ok {
		t.Fatal("20 KB of repeated text did not compress")
	}
	plain, err := decompressSnappy(z, maxMessageSize)
	if err != nil || !bytes.Equal(plain, buf) {
		t.Fatalf("decompressed %d bytes (%v), want %d", len(plain), err, len(buf))
	}
	if _, err := decompressSnappy(z, len(buf)-1); err == nil {
		t.Fatal("decompressSnappy exceeded its limit")
	}

	// Other messages pass through to the proto codec.
	info := &commonv1.InfoRequest{}
	if data, err := c.Marshal(info); err != nil {
		t.Fatal(err)
	} else if err := c.Unmarshal(data, &commonv1.InfoRequest{}); err != nil {
		t.Fatal(err)
	}
}

// TestSplitLinesRefusesMismatch: lengths that do not add up to the lines,
// or a count other than the events', are an error naming what is wrong.
func TestSplitLinesRefusesMismatch(t *testing.T) {
	for _, tc := range []struct {
		n       int
		buf     string
		lengths []uint32
		want    string
	}{
		{2, "ab", []uint32{2}, "returned 1 lines for 2 events"},
		{2, "ab", []uint32{1, 2}, "add up to more than the 2 bytes"},
		{2, "abc", []uint32{1, 1}, "add up to 2 bytes, lines holds 3"},
	} {
		err := splitLines(make([][]byte, tc.n), []byte(tc.buf), tc.lengths)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("splitLines(%q, %v) = %v, want %q", tc.buf, tc.lengths, err, tc.want)
		}
	}
}
