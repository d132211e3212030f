package main

import (
	"strconv"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// benchBatch is a realistic batch of 512 login and session events.
func benchBatch() []event.Event {
	metrics := []string{"account.login.successful", "session.create", "session.destroy",
		"account.login.failed_invalid_password", "session.timeout", "recording.play"}
	evs := make([]event.Event, 512)
	for i := range evs {
		evs[i] = event.Event{Seq: uint64(i + 1), Time: t0, MetricName: metrics[i%len(metrics)],
			Level: "INFO", Message: "User bob" + strconv.Itoa(i) + " did something on db-prod",
			Component: "ssh", Host: "vigil1", RequestIP: "192.0.2.10", RequestPort: "50022",
			UserName: "bob" + strconv.Itoa(i) + "@corp.example", Domain: "CORP", VS: "10.0.0.1:22",
			RS: "10.1.0.5:22", Protocol: "ssh", SessionID: "s-" + strconv.Itoa(i), Reason: "bad password",
			Extra: map[string]string{"start": "1631100796", "duration": "66", "aaa_server": "172.20.7.170",
				"aaa_protocol": "LDAP Unencrypted"}}
	}
	return evs
}

// BenchmarkFormat formats batches of 512 events in process (baseline) and
// through the launched plugin (vigil); `make bench` prints the
// ratio of their events/s.
func BenchmarkFormat(b *testing.B) {
	sdktest.BenchLogFormat(b, newFormatter(), pluginBinary(b), benchBatch())
}
