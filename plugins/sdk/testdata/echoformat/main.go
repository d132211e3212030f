// Command echoformat is the logformat plugin the sdk's tests launch as a
// real process: each line is the event's message, Go-quoted.
package main

import (
	"context"
	"strconv"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

type echo struct{}

func (echo) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "echo", Version: "0.0.1", APIVersions: []int{1}}, nil
}

func (echo) Configure(_ context.Context, configJSON []byte) error {
	sdk.Logger().Info("echoformat configured", "config", string(configJSON))
	return nil
}

func (echo) Format(_ context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, len(events))
	for i, e := range events {
		lines[i] = strconv.AppendQuote(nil, e.Message)
	}
	return lines, nil
}

func main() { sdk.ServeLogFormatter(echo{}) }
