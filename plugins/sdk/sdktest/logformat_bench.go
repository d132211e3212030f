package sdktest

import (
	"context"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// FormatRounds is how many Format calls one iteration of BenchLogFormat
// makes: enough for a sustained rate (a few hundred thousand events,
// garbage collections included) even at `make bench`'s -benchtime 1x.
const FormatRounds = 200

// BenchLogFormat is a logformat plugin's BenchmarkFormat. It formats
// events (one batch, as a sink sends it) FormatRounds times per iteration
// with inproc, the plugin's formatter in this process (baseline), and with
// the plugin executable at path, launched as vigild launches it (vigil:
// its side channels, as vigild's sinks use them), and reports the events/s of each; `make bench` prints vigil's
// share of baseline's. One call before the timer opens each side: the
// first call through a fresh connection pays for its setup.
func BenchLogFormat(b *testing.B, inproc sdk.LogFormatter, path string, events []event.Event) {
	b.Run("baseline", func(b *testing.B) { benchFormat(b, inproc, events) })
	b.Run("vigil", func(b *testing.B) { benchFormat(b, LaunchLogFormatter(b, path, nil), events) })
}

func benchFormat(b *testing.B, f sdk.LogFormatter, events []event.Event) {
	ctx := context.Background()
	if _, err := f.Format(ctx, events); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for range FormatRounds {
			lines, err := f.Format(ctx, events)
			if err != nil || len(lines) != len(events) {
				b.Fatalf("Format = %d lines for %d events, %v", len(lines), len(events), err)
			}
		}
	}
	b.ReportMetric(float64(b.N*FormatRounds*len(events))/b.Elapsed().Seconds(), "events/s")
}
