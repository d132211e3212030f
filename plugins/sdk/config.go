package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeConfig decodes a plugin's table from vigil.toml, the JSON Configure
// receives, into v, refusing unknown keys and trailing data. An empty
// configuration leaves v as it is. Its errors start with
// "<plugin>: config: " and wrap ErrInvalidConfig.
func DecodeConfig(plugin string, configJSON []byte, v any) error {
	if len(bytes.TrimSpace(configJSON)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: config: %v: %w", plugin, err, ErrInvalidConfig)
	}
	if dec.More() {
		return fmt.Errorf("%s: config: trailing data after the object: %w", plugin, ErrInvalidConfig)
	}
	return nil
}

// StringOverride is a string key of a plugin's configuration that replaces
// a default when it is set, within a limit.
type StringOverride struct {
	Key   string
	Value string  // as configured; "" keeps the default
	Dst   *string // the default, which Value replaces
	Max   int     // in bytes
}

// ApplyOverrides applies the overrides in order. It stops at the first
// value longer than its Max and returns that override, leaving the rest
// unapplied; it returns nil when every value fits.
func ApplyOverrides(overrides ...StringOverride) *StringOverride {
	for i := range overrides {
		o := &overrides[i]
		if len(o.Value) > o.Max {
			return o
		}
		if o.Value != "" {
			*o.Dst = o.Value
		}
	}
	return nil
}
