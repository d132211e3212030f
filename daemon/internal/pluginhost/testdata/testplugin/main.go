// Command testplugin is the plugin pluginhost's tests launch as real
// processes. It behaves according to the name it is installed under,
// vigil-plugin-<kind>-<name>:
//
//	logformat-<any>   a formatter; a message "block" blocks until cancelled
//	logformat-badinfo reports API versions [99] in Info
//	logformat-wrongkind reports kind "storage" in Info
//	logformat-v99     serves only API version 99 (refused at the handshake)
//	logformat-badconfig refuses every configuration (ErrInvalidConfig)
//	logformat-picky   refuses every configuration but {"ok":true}
//	logformat-crash   exits with status 3 before serving
//	recorder-<any>    a recorder that reports progress 0, 50, 100
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

type base struct {
	kind sdk.Kind
	name string
}

func (b base) Info(context.Context) (sdk.Info, error) {
	info := sdk.Info{Kind: b.kind, Name: b.name, Version: "0.1.0-test", APIVersions: []int{1}}
	switch b.name {
	case "badinfo":
		info.APIVersions = []int{99}
	case "wrongkind":
		info.Kind = sdk.KindStorage
	}
	return info, nil
}

func (b base) Configure(_ context.Context, configJSON []byte) error {
	if b.name == "badconfig" {
		return fmt.Errorf("%s-%s: config: no configuration pleases me: %w", b.kind, b.name, sdk.ErrInvalidConfig)
	}
	if b.name == "picky" && string(configJSON) != `{"ok":true}` {
		return fmt.Errorf("%s-%s: config: want {\"ok\":true}: %w", b.kind, b.name, sdk.ErrInvalidConfig)
	}
	sdk.Logger().Info("test plugin configured", "plugin", string(b.kind)+"-"+b.name, "config", string(configJSON))
	return nil
}

type formatter struct{ base }

func (f formatter) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, len(events))
	for i, e := range events {
		if e.Message == "block" {
			sdk.Logger().Info("blocking format")
			<-ctx.Done()
			return nil, ctx.Err()
		}
		lines[i] = strconv.AppendQuote(nil, e.MetricName+" "+e.Message)
	}
	return lines, nil
}

type recorder struct{ base }

func (r recorder) Render(_ context.Context, req sdk.RenderRequest, progress func(int)) (sdk.RenderResult, error) {
	for _, p := range []int{0, 50, 100} {
		progress(p)
	}
	return sdk.RenderResult{Files: []sdk.Rendered{{Path: req.SessionID + ".cast", Role: "cast"}}}, nil
}

func main() {
	rest := strings.TrimPrefix(filepath.Base(os.Args[0]), "vigil-plugin-")
	kind, name, _ := strings.Cut(rest, "-")
	b := base{kind: sdk.Kind(kind), name: name}
	switch {
	case b.kind == sdk.KindRecorder:
		sdk.ServeRecorder(recorder{b})
	case name == "crash":
		fmt.Fprintln(os.Stderr, "testplugin: crashing on purpose")
		os.Exit(3)
	case name == "v99":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{99: {"logformat": &sdk.LogFormatPlugin{Impl: formatter{b}}}},
			GRPCServer:       plugin.DefaultGRPCServer,
			Logger:           sdk.Logger(),
		})
	default:
		sdk.ServeLogFormatter(formatter{b})
	}
}
