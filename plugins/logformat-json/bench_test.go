package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// benchBatch is the batch size the event bus sends sinks.
const benchBatch = 512

func benchEvents() []event.Event {
	events := make([]event.Event, benchBatch)
	t0 := time.Date(2024, 5, 17, 13, 4, 5, 0, time.UTC)
	for i := range events {
		events[i] = event.Event{
			Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond), MetricName: "session.create",
			Level: event.LevelInfo, Message: fmt.Sprintf("session %d created for alice on db1", i), Component: "ssh",
			Host: "gw1", RequestIP: "10.0.0.5", RequestPort: "50122", UserAgent: "OpenSSH_9.2p1 Debian-2",
			UserName: "alice", TargetName: "db1", VS: "10.0.0.1:22", RS: "10.0.1.9:22", Protocol: "ssh",
			SessionID: fmt.Sprintf("s-%06d", i), Result: "success",
			Extra: map[string]string{"bytes": fmt.Sprint(i * 1024), "direction": "in"},
		}
	}
	return events
}

// BenchmarkFormat compares formatting in process (baseline) with the same
// formatting through the launched plugin binary (vigil); `make
// bench` prints vigil/baseline.
func BenchmarkFormat(b *testing.B) {
	sdktest.BenchLogFormat(b, newFormatter(), sdktest.PluginBinary(b, ".", "vigil-plugin-logformat-json"), benchEvents())
}
