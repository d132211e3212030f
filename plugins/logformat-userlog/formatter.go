package main

import (
	"context"
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
	var none struct{}
	if err := sdk.DecodeConfig("logformat-userlog", configJSON, &none); err != nil {
		return fmt.Errorf("%w (the plugin has no settings)", err)
	}
	return nil
}

// Format returns one user-log line per event. The lines share one buffer.
func (f *formatter) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("logformat-userlog: %w", err)
	}
	return sdk.AppendLines(events, 128, appendEvent), nil
}
