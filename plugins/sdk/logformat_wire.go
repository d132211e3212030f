package sdk

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// This file writes and reads the EventBatch a FormatRequest carries in
// protobuf's wire format by hand (logformat.proto is the schema; the tests
// hold this code to the generated one): no message per event, no copy per
// value, and on the plugin side strings that point into the one buffer the
// request arrived in.

// Field numbers (logformat.proto, common.proto).
const (
	batchEvents      protowire.Number = 1 // EventBatch.events
	eventSeq         protowire.Number = 1
	eventTime        protowire.Number = 2
	eventFirstString protowire.Number = 3 // metric_name, then one per eventStringOffsets entry
	eventExtra       protowire.Number = 25
	eventRepeats     protowire.Number = 26
	extraKey         protowire.Number = 1
	extraValue       protowire.Number = 2
	timeSeconds      protowire.Number = 1
	timeNanos        protowire.Number = 2
)

// eventStringOffsets locates, in field-number order from eventFirstString,
// the event.Event fields that travel as the Event message's bytes fields.
// One table serves both directions, so they cannot disagree.
var eventStringOffsets = [...]uintptr{
	unsafe.Offsetof(event.Event{}.MetricName),
	unsafe.Offsetof(event.Event{}.Level),
	unsafe.Offsetof(event.Event{}.Message),
	unsafe.Offsetof(event.Event{}.Component),
	unsafe.Offsetof(event.Event{}.Process),
	unsafe.Offsetof(event.Event{}.Host),
	unsafe.Offsetof(event.Event{}.ServerID),
	unsafe.Offsetof(event.Event{}.RequestIP),
	unsafe.Offsetof(event.Event{}.RequestPort),
	unsafe.Offsetof(event.Event{}.UserAgent),
	unsafe.Offsetof(event.Event{}.UserID),
	unsafe.Offsetof(event.Event{}.UserName),
	unsafe.Offsetof(event.Event{}.Domain),
	unsafe.Offsetof(event.Event{}.TargetID),
	unsafe.Offsetof(event.Event{}.TargetName),
	unsafe.Offsetof(event.Event{}.TargetFriendlyName),
	unsafe.Offsetof(event.Event{}.VS),
	unsafe.Offsetof(event.Event{}.RS),
	unsafe.Offsetof(event.Event{}.Protocol),
	unsafe.Offsetof(event.Event{}.SessionID),
	unsafe.Offsetof(event.Event{}.Result),
	unsafe.Offsetof(event.Event{}.Reason),
}

const eventStringFields = len(eventStringOffsets)

func eventString(e *event.Event, i int) *string {
	return (*string)(unsafe.Add(unsafe.Pointer(e), eventStringOffsets[i]))
}

// Tags as they are written, one byte each but for the string fields past
// 15, which take two.
var (
	tagBatchEvent   = wireTag(batchEvents, protowire.BytesType)
	tagSeq          = wireTag(eventSeq, protowire.VarintType)
	tagTime         = wireTag(eventTime, protowire.BytesType)
	tagExtra        = wireTag(eventExtra, protowire.BytesType)
	tagRepeats      = wireTag(eventRepeats, protowire.VarintType)
	tagExtraKey     = wireTag(extraKey, protowire.BytesType)
	tagExtraValue   = wireTag(extraValue, protowire.BytesType)
	tagTimeSeconds  = wireTag(timeSeconds, protowire.VarintType)
	tagTimeNanos    = wireTag(timeNanos, protowire.VarintType)
	tagEventStrings = func() (tags [eventStringFields]string) {
		for i := range tags {
			tags[i] = wireTag(eventFirstString+protowire.Number(i), protowire.BytesType)
		}
		return tags
	}()
)

func wireTag(num protowire.Number, typ protowire.Type) string {
	return string(protowire.AppendTag(nil, num, typ))
}

// errMalformed: a message is not what logformat.proto says it is.
var errMalformed = errors.New("malformed message")

// appendVarint is protowire.AppendVarint with a short path for the one-byte
// varints that nearly every length here is.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// appendBytes appends a bytes field whose tag is tag.
func appendBytes(b []byte, tag, s string) []byte {
	b = append(b, tag...)
	return append(appendVarint(b, uint64(len(s))), s...)
}

// bytesSize is the size of a bytes field of n bytes whose tag is tag.
func bytesSize(tag string, n int) int {
	return len(tag) + protowire.SizeVarint(uint64(n)) + n
}

// appendEvent appends e to b as one element of an EventBatch's events;
// prev is the element before it, nil for the first. It leaves out what
// proto3 leaves out (empty values, zero numbers, the zero time) and the
// values prev has too (Event.repeats).
//
// It writes the event in one pass, reading the extras' map once, and then
// puts the event's length in front: in the two bytes it left for it, which
// most events need, or in as many as it takes, moving the event.
func appendEvent(b []byte, e, prev *event.Event) []byte {
	b = append(b, tagBatchEvent...)
	at := len(b)
	b = append(b, 0, 0)
	if e.Seq != 0 {
		b = append(b, tagSeq...)
		b = appendVarint(b, e.Seq)
	}
	if !e.Time.IsZero() {
		sec, nsec := e.Time.Unix(), e.Time.Nanosecond()
		n := 0
		if sec != 0 {
			n += len(tagTimeSeconds) + protowire.SizeVarint(uint64(sec))
		}
		if nsec != 0 {
			n += len(tagTimeNanos) + protowire.SizeVarint(uint64(nsec))
		}
		b = append(b, tagTime...)
		b = appendVarint(b, uint64(n))
		if sec != 0 {
			b = append(b, tagTimeSeconds...)
			b = appendVarint(b, uint64(sec))
		}
		if nsec != 0 {
			b = append(b, tagTimeNanos...)
			b = appendVarint(b, uint64(nsec))
		}
	}
	var repeats uint32
	for i := range eventStringOffsets {
		s := *eventString(e, i)
		switch {
		case s == "":
		case prev != nil && s == *eventString(prev, i):
			repeats |= 1 << i
		default:
			b = appendBytes(b, tagEventStrings[i], s)
		}
	}
	if repeats != 0 {
		b = append(b, tagRepeats...)
		b = appendVarint(b, uint64(repeats))
	}
	for k, v := range e.Extra {
		b = append(b, tagExtra...)
		b = appendVarint(b, uint64(extraSize(k, v)))
		if k != "" {
			b = appendBytes(b, tagExtraKey, k)
		}
		if v != "" {
			b = appendBytes(b, tagExtraValue, v)
		}
	}

	n := len(b) - at - 2
	switch size := protowire.SizeVarint(uint64(n)); {
	case size == 1:
		copy(b[at+1:], b[at+2:])
		b = b[:len(b)-1]
		b[at] = byte(n)
	case size == 2:
		b[at] = byte(n) | 0x80
		b[at+1] = byte(n >> 7)
	default:
		b = append(b, make([]byte, size-2)...)
		copy(b[at+size:], b[at+2:at+2+n])
		protowire.AppendVarint(b[:at], uint64(n))
	}
	return b
}

// appendBatch appends to b the first events, as an EventBatch's, that fit
// in formatBatchBytes (one at least), and says how many it took.
func appendBatch(b []byte, events []event.Event) ([]byte, int) {
	from, n := len(b), 0
	for n < len(events) && (n == 0 || len(b)-from < formatBatchBytes) {
		var prev *event.Event
		if n > 0 {
			prev = &events[n-1]
		}
		b = appendEvent(b, &events[n], prev)
		n++
	}
	return b, n
}

func extraSize(k, v string) int {
	n := 0
	if k != "" {
		n += bytesSize(tagExtraKey, len(k))
	}
	if v != "" {
		n += bytesSize(tagExtraValue, len(v))
	}
	return n
}

// nextField reads the field at the start of b: its number and type, and its
// value, as bytes for a bytes field and as a number for a varint. n is how
// many bytes it took, or a protowire error code (negative). The one-byte
// tags and lengths nearly every field here has take a short path.
func nextField(b []byte) (num protowire.Number, typ protowire.Type, v []byte, x uint64, n int) {
	if len(b) > 0 && b[0] < 0x80 && b[0]>>3 != 0 {
		num, typ, n = protowire.Number(b[0]>>3), protowire.Type(b[0]&7), 1
	} else if num, typ, n = protowire.ConsumeTag(b); n < 0 {
		return 0, 0, nil, 0, n
	}
	rest := b[n:]
	var m int
	switch typ {
	case protowire.BytesType:
		if len(rest) > 0 && rest[0] < 0x80 && int(rest[0]) < len(rest) {
			m = 1 + int(rest[0])
			v = rest[1:m:m]
		} else if v, m = protowire.ConsumeBytes(rest); m >= 0 {
			v = v[:len(v):len(v)]
		}
	case protowire.VarintType:
		if len(rest) > 0 && rest[0] < 0x80 {
			x, m = uint64(rest[0]), 1
		} else {
			x, m = protowire.ConsumeVarint(rest)
		}
	default:
		m = protowire.ConsumeFieldValue(num, typ, rest)
	}
	if m < 0 {
		return 0, 0, nil, 0, m
	}
	return num, typ, v, x, n + m
}

// decodeEventBatch reads an EventBatch. The events' strings point into b,
// which must therefore never change afterwards.
func decodeEventBatch(b []byte) ([]event.Event, error) {
	n, err := countEvents(b)
	if err != nil {
		return nil, err
	}
	events := make([]event.Event, n)
	if err := decodeEvents(events, nil, b); err != nil {
		return nil, err
	}
	return events, nil
}

// countEvents checks that b is a sequence of fields and counts the events
// among them.
func countEvents(b []byte) (int, error) {
	count := 0
	for len(b) > 0 {
		num, typ, _, _, n := nextField(b)
		if n < 0 {
			return 0, fmt.Errorf("event batch: %w: %v", errMalformed, protowire.ParseError(n))
		}
		if num == batchEvents && typ == protowire.BytesType {
			count++
		}
		b = b[n:]
	}
	return count, nil
}

// decodeEvents reads the EventBatch b, which countEvents vouched for, into
// events: zero, one per event in b. The strings point into b. extras, if
// not nil, holds a map per event to reuse for its Extra, cleared, and
// keeps the maps made for the next call.
func decodeEvents(events []event.Event, extras []map[string]string, b []byte) error {
	i := 0
	for len(b) > 0 {
		num, typ, v, _, n := nextField(b)
		b = b[n:]
		if num != batchEvents || typ != protowire.BytesType {
			continue
		}
		var prev *event.Event
		if i > 0 {
			prev = &events[i-1]
		}
		var extra *map[string]string
		if extras != nil {
			extra = &extras[i]
		}
		if err := decodeEvent(&events[i], prev, extra, v); err != nil {
			return fmt.Errorf("event batch: %w: event %d: %v", errMalformed, i, err)
		}
		i++
	}
	return nil
}

// decodeEvent reads the Event b into e, which is zero; prev is the event
// before it in the batch, nil for the first. extra, if not nil, holds a
// map to reuse for e.Extra (and gets the one made if it holds none).
func decodeEvent(e, prev *event.Event, extra *map[string]string, b []byte) error {
	var repeats uint32
	for len(b) > 0 {
		num, typ, v, x, n := nextField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && num >= eventFirstString && num < eventFirstString+protowire.Number(eventStringFields):
			*eventString(e, int(num-eventFirstString)) = stringOf(v)
		case typ == protowire.VarintType && num == eventSeq:
			e.Seq = x
		case typ == protowire.BytesType && num == eventTime:
			t, err := decodeTime(v)
			if err != nil {
				return fmt.Errorf("time: %w", err)
			}
			e.Time = t
		case typ == protowire.BytesType && num == eventExtra:
			k, v, err := decodeExtra(v)
			if err != nil {
				return fmt.Errorf("extra: %w", err)
			}
			if e.Extra == nil {
				e.Extra = newExtra(extra)
			}
			e.Extra[k] = v
		case typ == protowire.VarintType && num == eventRepeats:
			repeats = uint32(x)
		}
	}
	if repeats == 0 {
		return nil
	}
	if prev == nil || repeats>>eventStringFields != 0 {
		return fmt.Errorf("repeats %#x: no such values before", repeats)
	}
	for ; repeats != 0; repeats &= repeats - 1 {
		i := bits.TrailingZeros32(repeats)
		*eventString(e, i) = *eventString(prev, i)
	}
	return nil
}

// newExtra returns an empty map for an event's extras: the one spare
// holds, cleared, or a new one, which spare then holds. A map grown past
// maxReusedExtras is left to the collector rather than cleared each time.
func newExtra(spare *map[string]string) map[string]string {
	if spare == nil {
		return make(map[string]string, 4)
	}
	if m := *spare; m != nil && len(m) <= maxReusedExtras {
		clear(m)
		return m
	}
	*spare = make(map[string]string, 4)
	return *spare
}

const maxReusedExtras = 64

// decodeTime reads a common.v1.Time; the instant arrives in UTC.
func decodeTime(b []byte) (time.Time, error) {
	var sec, nsec int64
	err := eachField(b, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
		switch {
		case typ == protowire.VarintType && num == timeSeconds:
			sec = int64(x)
		case typ == protowire.VarintType && num == timeNanos:
			nsec = int64(int32(x))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, nsec).UTC(), nil
}

func decodeExtra(b []byte) (key, value string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case typ == protowire.BytesType && num == extraKey:
			key = stringOf(v)
		case typ == protowire.BytesType && num == extraValue:
			value = stringOf(v)
		}
		return nil
	})
	return key, value, err
}

// eachField calls f with every field of b in turn, as nextField reads
// them, and stops at the first error.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, v, x, n := nextField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// stringOf converts without copying. It is safe because every buffer it is
// given here belongs to one received message alone and is never written
// again.
func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
