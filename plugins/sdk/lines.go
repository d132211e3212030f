package sdk

import "github.com/vigilgw/vigil/plugins/sdk/event"

// AppendLines is the loop of a LogFormatter's Format: it returns one line
// per event, in order, as appendEvent appends it. The lines share one
// buffer, allocated for about sizeHint bytes a line; each line's capacity
// ends at its length, so appending to one never overwrites the next.
func AppendLines(events []event.Event, sizeHint int, appendEvent func(dst []byte, e *event.Event) []byte) [][]byte {
	lines := make([][]byte, len(events))
	buf := make([]byte, 0, sizeHint*len(events))
	for i := range events {
		start := len(buf)
		buf = appendEvent(buf, &events[i])
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
}
