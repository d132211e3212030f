package main

import (
	"strconv"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// benchBatch is a realistic batch of 512 events of every shape.
func benchBatch() []event.Event {
	metrics := []string{"account.login.successful", "session.create", "session.destroy",
		"account.login.failed_invalid_password", "http.request", "recording.play"}
	evs := make([]event.Event, 512)
	for i := range evs {
		evs[i] = event.Event{Seq: uint64(i + 1), Time: t0, MetricName: metrics[i%len(metrics)],
			Level: "INFO", Message: "User bob" + strconv.Itoa(i) + " did something on db-prod",
			Component: "ssh", Host: "vigil1", RequestIP: "192.0.2.10", RequestPort: "50022",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			UserName:  "bob" + strconv.Itoa(i), VS: "10.0.0.1:22", RS: "10.1.0.5:22", Protocol: "ssh",
			TargetName: "db-prod", SessionID: "s-" + strconv.Itoa(i),
			Extra: map[string]string{"method": "GET", "uri": "https://wiki.internal/page?q=" + strconv.Itoa(i)}}
	}
	return evs
}

// BenchmarkFormat formats batches of 512 events in process (baseline) and
// through the launched plugin (vigil); `make bench` prints the
// ratio of their events/s.
func BenchmarkFormat(b *testing.B) {
	sdktest.BenchLogFormat(b, newFormatter(), pluginBinary(b), benchBatch())
}
