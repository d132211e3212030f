// Command echoformat is the logformat plugin the sdk's tests launch as a
// real process: each line is the event's message, Go-quoted. A message
// "crash" makes the process exit in the middle of the call, and
// "invalid:<text>" makes Format fail with sdk.ErrInvalidConfig.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

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
		if e.Message == "crash" {
			os.Exit(3)
		}
		if text, ok := strings.CutPrefix(e.Message, "invalid:"); ok {
			return nil, fmt.Errorf("logformat-echo: %s: %w", text, sdk.ErrInvalidConfig)
		}
		lines[i] = strconv.AppendQuote(nil, e.Message)
	}
	return lines, nil
}

func main() { sdk.ServeLogFormatter(echo{}) }
