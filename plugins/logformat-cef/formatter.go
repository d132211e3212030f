package main

import (
	"context"
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
	if err := sdk.DecodeConfig("logformat-cef", configJSON, &in); err != nil {
		return cfg, err
	}
	if o := sdk.ApplyOverrides(
		sdk.StringOverride{Key: "vendor", Value: in.Vendor, Dst: &cfg.Vendor, Max: cefspec.MaxDeviceVendor},
		sdk.StringOverride{Key: "product", Value: in.Product, Dst: &cfg.Product, Max: cefspec.MaxDeviceProduct},
		sdk.StringOverride{Key: "version", Value: in.Version, Dst: &cfg.Version, Max: cefspec.MaxDeviceVersion},
	); o != nil {
		return cfg, fmt.Errorf("logformat-cef: config: %s is %d bytes, CEF allows %d: %w",
			o.Key, len(o.Value), o.Max, sdk.ErrInvalidConfig)
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
	return sdk.AppendLines(events, 512, func(dst []byte, e *event.Event) []byte {
		return appendEvent(dst, e, cfg)
	}), nil
}

// Info reports the plugin's kind, name, version and API versions.
func (f *formatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "cef", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindLogFormat)}, nil
}
