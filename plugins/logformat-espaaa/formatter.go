package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// config is the plugin's settings.
type config struct {
	CEF      bool   `json:"cef"`
	Vendor   string `json:"vendor"`
	Product  string `json:"product"`
	Version  string `json:"version"`
	Timezone string `json:"timezone"`

	location *time.Location
}

func defaultConfig() config {
	return config{Vendor: "Vigil", Product: "Gateway", Version: sdk.BuildVersion, Timezone: "Local", location: time.Local}
}

// parseConfig decodes the settings, refusing unknown keys, and fills the
// defaults of the keys left out or empty.
func parseConfig(configJSON []byte) (config, error) {
	cfg := defaultConfig()
	var in config
	if len(bytes.TrimSpace(configJSON)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(configJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return cfg, fmt.Errorf("logformat-espaaa: config: %v: %w", err, sdk.ErrInvalidConfig)
		}
		if dec.More() {
			return cfg, fmt.Errorf("logformat-espaaa: config: trailing data after the object: %w", sdk.ErrInvalidConfig)
		}
	}
	cfg.CEF = in.CEF
	for _, f := range []struct {
		name  string
		in    string
		out   *string
		limit int
	}{
		{"vendor", in.Vendor, &cfg.Vendor, cefspec.MaxDeviceVendor},
		{"product", in.Product, &cfg.Product, cefspec.MaxDeviceProduct},
		{"version", in.Version, &cfg.Version, cefspec.MaxDeviceVersion},
		{"timezone", in.Timezone, &cfg.Timezone, 255},
	} {
		if len(f.in) > f.limit {
			return cfg, fmt.Errorf("logformat-espaaa: config: %s is %d bytes, at most %d: %w",
				f.name, len(f.in), f.limit, sdk.ErrInvalidConfig)
		}
		if f.in != "" {
			*f.out = f.in
		}
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return cfg, fmt.Errorf("logformat-espaaa: config: timezone: %v: %w", err, sdk.ErrInvalidConfig)
	}
	cfg.location = loc
	return cfg, nil
}

// formatter is the plugin: it holds the settings Configure set and formats
// batches concurrently.
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

// Info reports the plugin's kind, name, version and API versions.
func (f *formatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "espaaa", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindLogFormat)}, nil
}

// Configure sets the form (plain or CEF), the CEF header and the time zone
// for the lines to come.
func (f *formatter) Configure(_ context.Context, configJSON []byte) error {
	cfg, err := parseConfig(configJSON)
	if err != nil {
		return err
	}
	f.cfg.Store(&cfg)
	return nil
}

// Format returns one ESP line per event. The lines share one buffer.
func (f *formatter) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("logformat-espaaa: %w", err)
	}
	cfg := f.cfg.Load()
	lines := make([][]byte, len(events))
	buf := make([]byte, 0, 256*len(events))
	for i := range events {
		start := len(buf)
		buf = appendEvent(buf, &events[i], cfg)
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines, nil
}
