package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// formatter is the plugin. It has no settings, so it holds no state and
// formats batches concurrently.
type formatter struct{}

var _ sdk.LogFormatter = (*formatter)(nil)

func newFormatter() *formatter { return &formatter{} }

// Info reports the plugin's kind, name, version and API versions.
func (f *formatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "userlog", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindLogFormat)}, nil
}

// Configure accepts an empty configuration only: the plugin has no settings,
// and a key given to it is a mistake worth reporting.
func (f *formatter) Configure(_ context.Context, configJSON []byte) error {
	if len(bytes.TrimSpace(configJSON)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	var none struct{}
	if err := dec.Decode(&none); err != nil {
		return fmt.Errorf("logformat-userlog: config: %v (the plugin has no settings): %w", err, sdk.ErrInvalidConfig)
	}
	if dec.More() {
		return fmt.Errorf("logformat-userlog: config: trailing data after the object: %w", sdk.ErrInvalidConfig)
	}
	return nil
}

// Format returns one user-log line per event. The lines share one buffer.
func (f *formatter) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("logformat-userlog: %w", err)
	}
	lines := make([][]byte, len(events))
	buf := make([]byte, 0, 128*len(events))
	for i := range events {
		start := len(buf)
		buf = appendEvent(buf, &events[i])
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines, nil
}
