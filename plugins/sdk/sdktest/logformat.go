package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// HostileValues are values a client can put into an event (a user name, a
// user agent, a target name) that a log format must escape so that a line
// stays one line and keeps its structure.
var HostileValues = []string{
	"line\nbreak",
	"carriage\rreturn\r\n",
	"pipe|pipe",
	"equals=equals",
	`quote"quote`,
	`back\slash\`,
	"]bracket[",
	"{\"json\": true}",
	"CEF:0|a|b|c|d|e|10|x=y",
	"nul\x00byte",
	"tab\tand\vvertical\fform",
	"line\u2028and\u2029paragraph separators\u0085",
	"invalid \xff\xfe utf-8 \xc3\x28",
	"ansi \x1b[31mred\x1b[0m",
	"%s%n%x",
	strings.Repeat("x", 10<<10),
	strings.Repeat("\n\r|=\"\\]", 10<<10/7),
}

// marker tags event i so that tests can find it in whatever format the line
// has: letters and digits survive every escaping.
func marker(i int) string { return fmt.Sprintf("m%07dz", i) }

func baseEvent(i int) event.Event {
	return event.Event{
		Seq:        uint64(i + 1),
		Time:       time.Date(2024, 5, 17, 13, 4, 5, 123456789, time.UTC).Add(time.Duration(i) * time.Millisecond),
		MetricName: "session.create",
		Level:      event.LevelInfo,
		Message:    marker(i) + " session created",
		Component:  "ssh",
	}
}

// hostileEvent sets every field, and extra keys and values, to v.
func hostileEvent(i int, v string) event.Event {
	e := baseEvent(i)
	e.MetricName, e.Level = v, v
	e.Message = marker(i) + v
	e.Component, e.Process, e.Host, e.ServerID = v, v, v, v
	e.RequestIP, e.RequestPort, e.UserAgent, e.UserID, e.UserName, e.Domain = v, v, v, v, v, v
	e.TargetID, e.TargetName, e.TargetFriendlyName, e.VS, e.RS, e.Protocol = v, v, v, v, v, v
	e.SessionID, e.Result, e.Reason = v, v, v
	e.Extra = map[string]string{"value": v, v: v, "k" + v: "x", "message": v}
	return e
}

// LogFormatConformance runs the suite every log format must pass against f,
// configured already (directly, through ServeLogFormatter or through
// LaunchLogFormatter).
func LogFormatConformance(t *testing.T, f sdk.LogFormatter) {
	t.Run("OneLinePerEventInOrder", func(t *testing.T) {
		events := make([]event.Event, 100)
		for i := range events {
			events[i] = baseEvent(i)
		}
		checkLines(t, f, events)
	})
	t.Run("MinimalEvent", func(t *testing.T) {
		e := event.Event{Time: time.Now(), MetricName: "core.start", Level: event.LevelInfo, Message: marker(0), Component: "core"}
		checkLines(t, f, []event.Event{e})
	})
	t.Run("Hostile", func(t *testing.T) {
		for i, v := range HostileValues {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				checkLines(t, f, []event.Event{hostileEvent(0, v), baseEvent(1)})
			})
		}
		// All at once, in one batch.
		events := make([]event.Event, len(HostileValues))
		for i, v := range HostileValues {
			events[i] = hostileEvent(i, v)
		}
		checkLines(t, f, events)
	})
	t.Run("EmptyBatch", func(t *testing.T) {
		for _, events := range [][]event.Event{nil, {}} {
			lines, err := f.Format(context.Background(), events)
			if err != nil || len(lines) != 0 {
				t.Fatalf("Format(%v) = %d lines, %v; want none and no error", events, len(lines), err)
			}
		}
	})
	t.Run("Batch10k", func(t *testing.T) {
		events := make([]event.Event, 10000)
		for i := range events {
			events[i] = baseEvent(i)
			events[i].UserName = fmt.Sprintf("user%d", i%17)
			events[i].Extra = map[string]string{"bytes": fmt.Sprint(i * 31)}
		}
		checkLines(t, f, events)
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for range 5 {
					events := make([]event.Event, 100)
					for i := range events {
						events[i] = hostileEvent(i, HostileValues[(g+i)%len(HostileValues)])
						if len(HostileValues[(g+i)%len(HostileValues)]) > 1000 {
							events[i] = baseEvent(i) // long values have their own subtest
						}
					}
					if err := formatAndCheck(f, events); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func checkLines(t *testing.T, f sdk.LogFormatter, events []event.Event) {
	t.Helper()
	if err := formatAndCheck(f, events); err != nil {
		t.Fatal(err)
	}
}

// formatAndCheck formats events and checks the lines: one per event, in
// order (each carries its event's marker), none empty, none holding a raw
// line break.
func formatAndCheck(f sdk.LogFormatter, events []event.Event) error {
	lines, err := f.Format(context.Background(), events)
	if err != nil {
		return fmt.Errorf("Format(%d events): %w", len(events), err)
	}
	if len(lines) != len(events) {
		return fmt.Errorf("Format(%d events) returned %d lines", len(events), len(lines))
	}
	for i, line := range lines {
		if len(line) == 0 {
			return fmt.Errorf("line %d is empty", i)
		}
		if j := bytes.IndexAny(line, "\n\r"); j >= 0 {
			return fmt.Errorf("line %d holds a raw %q at byte %d: %q", i, line[j], j, abbreviate(line))
		}
		m := marker(i)
		if !strings.HasPrefix(events[i].Message, m) {
			continue
		}
		if !bytes.Contains(line, []byte(m)) {
			return fmt.Errorf("line %d does not carry event %d's message marker %q: lines out of order or message lost: %q", i, i, m, abbreviate(line))
		}
	}
	return nil
}

func abbreviate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
