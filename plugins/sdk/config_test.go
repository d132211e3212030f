package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		Name string `json:"name"`
	}
	for _, c := range []struct {
		name, json, want, err string
	}{
		{"empty keeps the default", "  ", "default", ""},
		{"a value", `{"name":"x"}`, "x", ""},
		{"unknown key", `{"nme":"x"}`, "default", `demo: config: json: unknown field "nme"`},
		{"trailing data", `{"name":"x"} {}`, "x", "demo: config: trailing data after the object"},
		{"not an object", `[1]`, "default", "demo: config: json: cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := cfg{Name: "default"}
			err := DecodeConfig("demo", []byte(c.json), &v)
			if c.err == "" {
				if err != nil || v.Name != c.want {
					t.Fatalf("DecodeConfig(%s) = %v, name %q; want nil, %q", c.json, err, v.Name, c.want)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.err) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("DecodeConfig(%s) = %v; want an error starting %q wrapping ErrInvalidConfig", c.json, err, c.err)
			}
		})
	}
}

func TestApplyOverrides(t *testing.T) {
	vendor, product := "Vigil", "Gateway"
	if bad := ApplyOverrides(
		StringOverride{Key: "vendor", Value: "", Dst: &vendor, Max: 5},
		StringOverride{Key: "product", Value: "GW", Dst: &product, Max: 5},
	); bad != nil || vendor != "Vigil" || product != "GW" {
		t.Fatalf("fitting overrides: bad %v, vendor %q, product %q", bad, vendor, product)
	}
	if bad := ApplyOverrides(
		StringOverride{Key: "vendor", Value: "toolong", Dst: &vendor, Max: 5},
		StringOverride{Key: "product", Value: "P", Dst: &product, Max: 5},
	); bad == nil || bad.Key != "vendor" || vendor != "Vigil" || product != "GW" {
		t.Fatalf("too long: bad %v, vendor %q, product %q; want vendor refused and nothing after it applied", bad, vendor, product)
	}
}

func TestAppendLines(t *testing.T) {
	evs := []event.Event{{MetricName: "a"}, {MetricName: "bb"}, {MetricName: "ccc"}}
	lines := AppendLines(evs, 1, func(dst []byte, e *event.Event) []byte { return append(dst, e.MetricName...) })
	if len(lines) != 3 || string(lines[0]) != "a" || string(lines[1]) != "bb" || string(lines[2]) != "ccc" {
		t.Fatalf("AppendLines = %q", lines)
	}
	// Appending to one line must not overwrite the next one in the shared buffer.
	_ = append(lines[0], 'X')
	if string(lines[1]) != "bb" {
		t.Fatalf("appending to line 0 changed line 1 to %q", lines[1])
	}
}
