package main

import (
	"strconv"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// benchBatch is a realistic batch of 512 events: logins, sessions and
// recording views with the fields the core fills in.
func benchBatch() []event.Event {
	metrics := []string{"account.login.successful", "session.create", "session.destroy",
		"account.login.failed_invalid_password", "recording.play", "http.request"}
	evs := make([]event.Event, 512)
	for i := range evs {
		evs[i] = event.Event{Seq: uint64(i + 1), Time: t0, MetricName: metrics[i%len(metrics)],
			Level: "INFO", Message: "User bob" + strconv.Itoa(i) + " did something on db-prod",
			Component: "ssh", Host: "vigil1", RequestIP: "192.0.2.10", RequestPort: "50022",
			UserAgent: "SSH-2.0-OpenSSH_9.2p1 Debian-2", UserID: "u-" + strconv.Itoa(i), UserName: "bob" + strconv.Itoa(i),
			TargetID: "t-9", TargetName: "db-prod", VS: "10.0.0.1:22", RS: "10.1.0.5:22", Protocol: "ssh",
			SessionID: "s-" + strconv.Itoa(i), Result: "success",
			Extra: map[string]string{"duration": "66", "bytes": "1048576", "path": "/var/lib/vigil/spool/x.vsl"}}
	}
	return evs
}

// BenchmarkFormat formats batches of 512 events in process (baseline) and
// through the launched plugin (vigil); `make bench` prints the
// ratio of their events/s.
func BenchmarkFormat(b *testing.B) {
	sdktest.BenchLogFormat(b, newFormatter(), pluginBinary(b), benchBatch())
}
