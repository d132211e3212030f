package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// config is the plugin's table from vigil.toml.
type config struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Version string `json:"version"`
}

// defaultConfig is what an empty table means.
func defaultConfig() config {
	return config{Vendor: "Vigil", Product: "Gateway", Version: sdk.BuildVersion}
}

// parseConfig decodes the plugin's table, refusing unknown keys, and fills
// defaults for the keys left out or empty.
func parseConfig(configJSON []byte) (config, error) {
	cfg := defaultConfig()
	var in config
	if len(bytes.TrimSpace(configJSON)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(configJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return cfg, fmt.Errorf("logformat-cef: config: %v: %w", err, sdk.ErrInvalidConfig)
		}
		if dec.More() {
			return cfg, fmt.Errorf("logformat-cef: config: trailing data after the object: %w", sdk.ErrInvalidConfig)
		}
	}
	for _, f := range []struct {
		name  string
		in    string
		out   *string
		limit int
	}{
		{"vendor", in.Vendor, &cfg.Vendor, cefspec.MaxDeviceVendor},
		{"product", in.Product, &cfg.Product, cefspec.MaxDeviceProduct},
		{"version", in.Version, &cfg.Version, cefspec.MaxDeviceVersion},
	} {
		if len(f.in) > f.limit {
			return cfg, fmt.Errorf("logformat-cef: config: %s is %d bytes, CEF allows %d: %w",
				f.name, len(f.in), f.limit, sdk.ErrInvalidConfig)
		}
		if f.in != "" {
			*f.out = f.in
		}
	}
	return cfg, nil
}

// formatter is the plugin: it holds the configuration Configure set and
// formats batches concurrently.
type formatter struct {
	cfg atomic.Pointer[config]
}

var _ sdk.LogFormatter = (*formatter)(nil)

func newFormatter() *formatter {
	f := &formatter{}
	cfg := defaultConfig()
	f.cfg.Store(&cfg)
	return f
}

// Configure sets vendor, product and version for the lines to come.
func (f *formatter) Configure(_ context.Context, configJSON []byte) error {
	cfg, err := parseConfig(configJSON)
	if err != nil {
		return err
	}
	f.cfg.Store(&cfg)
	return nil
}

// Format returns one CEF line per event. The lines share one buffer.
func (f *formatter) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("logformat-cef: %w", err)
	}
	cfg := f.cfg.Load()
	lines := make([][]byte, len(events))
	buf := make([]byte, 0, 512*len(events))
	for i := range events {
		start := len(buf)
		buf = appendEvent(buf, &events[i], cfg)
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines, nil
}

// Info reports the plugin's kind, name, version and API versions.
func (f *formatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "cef", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindLogFormat)}, nil
}
