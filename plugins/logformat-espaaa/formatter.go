package main

import (
	"context"
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
	if err := sdk.DecodeConfig("logformat-espaaa", configJSON, &in); err != nil {
		return cfg, err
	}
	cfg.CEF = in.CEF
	if o := sdk.ApplyOverrides(
		sdk.StringOverride{Key: "vendor", Value: in.Vendor, Dst: &cfg.Vendor, Max: cefspec.MaxDeviceVendor},
		sdk.StringOverride{Key: "product", Value: in.Product, Dst: &cfg.Product, Max: cefspec.MaxDeviceProduct},
		sdk.StringOverride{Key: "version", Value: in.Version, Dst: &cfg.Version, Max: cefspec.MaxDeviceVersion},
		sdk.StringOverride{Key: "timezone", Value: in.Timezone, Dst: &cfg.Timezone, Max: 255},
	); o != nil {
		return cfg, fmt.Errorf("logformat-espaaa: config: %s is %d bytes, at most %d: %w",
			o.Key, len(o.Value), o.Max, sdk.ErrInvalidConfig)
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
	return sdk.AppendLines(events, 256, func(dst []byte, e *event.Event) []byte {
		return appendEvent(dst, e, cfg)
	}), nil
}
