package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Event is one line of a JSON event log: the schema's fields and, at the
// top level, the event's extra fields.
type Event map[string]any

// S is the string value of key ("" when absent or not a string).
func (e Event) S(key string) string {
	s, _ := e[key].(string)
	return s
}

// Seq is the event's position in the journal (0 when absent).
func (e Event) Seq() uint64 {
	f, _ := e["seq"].(float64)
	return uint64(f)
}

// Metric is the event's metric_name.
func (e Event) Metric() string { return e.S("metric_name") }

func (e Event) String() string {
	b, _ := json.Marshal(map[string]any(e))
	return string(b)
}

// ReadEvents reads a JSON-lines event file strictly: every line must be
// exactly one JSON object. A last line without its newline is still being
// written and is left for the next read. A missing file has no events.
func ReadEvents(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var out []Event
	for n, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(b) == 0 {
			break
		}
		var e Event
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("%s:%d: not one JSON object: %v: %q", path, n+1, err, line)
		}
		if dec.More() {
			return out, fmt.Errorf("%s:%d: more than one JSON value on the line: %q", path, n+1, line)
		}
		if e.Metric() == "" {
			return out, fmt.Errorf("%s:%d: event without metric_name: %q", path, n+1, line)
		}
		out = append(out, e)
	}
	return out, nil
}

// EventLog is the default JSON log of component:
// <log_dir>/<component>_json.log.
func (v *Vigild) EventLog(component string) string {
	return filepath.Join(v.LogDir, component+"_json.log")
}

// Events reads the default JSON log of component; a malformed line fails
// the test.
func (v *Vigild) Events(component string) []Event {
	v.t.Helper()
	return v.EventsIn(v.EventLog(component))
}

// EventsIn reads the JSON event file at path; a malformed line fails the
// test.
func (v *Vigild) EventsIn(path string) []Event {
	v.t.Helper()
	evs, err := ReadEvents(path)
	if err != nil {
		v.t.Fatalf("e2e: %v", err)
	}
	return evs
}

// Match selects events.
type Match func(Event) bool

// Fields matches events whose string fields have the given values.
func Fields(kv ...string) Match {
	return func(e Event) bool {
		for i := 0; i+1 < len(kv); i += 2 {
			if e.S(kv[i]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// Find returns the events of metric in evs that match every m.
func Find(evs []Event, metric string, m ...Match) []Event {
	var out []Event
next:
	for _, e := range evs {
		if e.Metric() != metric {
			continue
		}
		for _, f := range m {
			if !f(e) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// WaitEvent waits for an event of metric matching every m in the default
// JSON log of component and returns the first.
func (v *Vigild) WaitEvent(component, metric string, m ...Match) Event {
	v.t.Helper()
	return v.WaitEventIn(v.EventLog(component), metric, m...)
}

// WaitEventIn waits for an event of metric matching every m in the JSON
// event file at path and returns the first.
func (v *Vigild) WaitEventIn(path, metric string, m ...Match) Event {
	v.t.Helper()
	var found, last []Event
	Poll(v.t, EventTimeout, func() bool {
		last = v.EventsIn(path)
		found = Find(last, metric, m...)
		return len(found) > 0
	}, func() string {
		var names []string
		for _, e := range last {
			names = append(names, e.Metric())
		}
		return fmt.Sprintf("event %s in %s (have: %s)", metric, path, strings.Join(names, ", "))
	})
	return found[0]
}

// seqs counts the events of every <log_dir>/*_json.log by seq.
func (v *Vigild) seqs() (count map[uint64]int, highest uint64) {
	v.t.Helper()
	count = map[uint64]int{}
	logs, _ := filepath.Glob(filepath.Join(v.LogDir, "*_json.log"))
	for _, l := range logs {
		for _, e := range v.EventsIn(l) {
			s := e.Seq()
			if s == 0 {
				v.t.Fatalf("e2e: %s: event without a seq: %v", l, e)
			}
			count[s]++
			highest = max(highest, s)
		}
	}
	return count, highest
}

// WaitLogsComplete waits until the default JSON logs together hold every
// event of the journal from seq 1 to the highest they hold, at least
// atLeast: each event goes to its component's file, so a seq missing from
// all of them is an event lost. It returns the seqs written more than once
// (delivery is at-least-once).
func (v *Vigild) WaitLogsComplete(atLeast uint64) (duplicates []uint64) {
	v.t.Helper()
	var missing []uint64
	var highest uint64
	Poll(v.t, EventTimeout, func() bool {
		var count map[uint64]int
		count, highest = v.seqs()
		missing, duplicates = nil, nil
		for s := uint64(1); s <= highest; s++ {
			switch n := count[s]; {
			case n == 0:
				missing = append(missing, s)
			case n > 1:
				duplicates = append(duplicates, s)
			}
		}
		return len(missing) == 0 && highest >= atLeast
	}, func() string {
		return fmt.Sprintf("events 1..%d (at least %d) in %s/*_json.log; missing seqs %v", highest, atLeast, v.LogDir, missing)
	})
	return duplicates
}
