package cefwrite

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefparse"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
)

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want string
	}{
		{"plain", Header{"Vigil", "Gateway", "1.2.3", "8", "Logged on", 1},
			"CEF:0|Vigil|Gateway|1.2.3|8|Logged on|1|"},
		{"escapes pipe and backslash, not equals", Header{`V|i\g`, "P=Q", "1", "id", "a|b", 5},
			`CEF:0|V\|i\\g|P=Q|1|id|a\|b|5|`},
		{"line breaks and controls become U+FFFD", Header{"V\nx", "P\r", "1\x00", "id", "a\u2028b", 0},
			"CEF:0|V\uFFFDx|P\uFFFD|1\uFFFD|id|a\uFFFDb|0|"},
		{"invalid UTF-8 byte by byte", Header{"V\xff\xfe", "P", "1", "id", "N", 0},
			"CEF:0|V\uFFFD\uFFFD|P|1|id|N|0|"},
		{"severity clamped", Header{"V", "P", "1", "id", "N", 42}, "CEF:0|V|P|1|id|N|10|"},
		{"negative severity clamped", Header{"V", "P", "1", "id", "N", -3}, "CEF:0|V|P|1|id|N|0|"},
		{"version cut to 31 bytes", Header{"V", "P", strings.Repeat("9", 40), "id", "N", 1},
			"CEF:0|V|P|" + strings.Repeat("9", 31) + "|id|N|1|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendHeader(nil, tt.h)); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtAdd(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value string
		limit int
		want  string
	}{
		{"plain", "msg", "hello world", 1023, "msg=hello world"},
		{"equals and backslash", "msg", `a=b\c`, 1023, `msg=a\=b\\c`},
		{"forged key", "suser", "bob act=allow", 1023, `suser=bob act\=allow`},
		{"newlines", "msg", "a\nb\r\nc", 1023, `msg=a\nb\r\nc`},
		{"pipe stays raw", "msg", "a|b", 1023, "msg=a|b"},
		{"tab stays raw", "msg", "a\tb", 1023, "msg=a\tb"},
		{"NUL and DEL", "msg", "a\x00b\x7f", 1023, "msg=a\uFFFDb\uFFFD"},
		{"C1 NEL and separators", "msg", "a\u0085b\u2029", 1023, "msg=a\uFFFDb\uFFFD"},
		{"invalid UTF-8", "msg", "a\xc3", 1023, "msg=a\uFFFD"},
		{"cut on a rune boundary", "msg", "aé", 2, "msg=a"},
		{"cut never splits an escape", "msg", "ab=", 2, "msg=ab"},
		{"escape at the limit is whole", "msg", "ab=c", 3, `msg=ab\=`},
		{"replacement does not fit", "msg", "ab\x00", 4, "msg=ab"},
		{"empty value left out", "msg", "", 1023, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := StartExt(nil)
			e.AddMax(tt.key, tt.value, tt.limit)
			if got := string(e.Bytes()); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtDictionaryLimits(t *testing.T) {
	e := StartExt(nil)
	e.Add("dvchost", strings.Repeat("h", 500))
	e.Add("act", strings.Repeat("é", 100)) // 200 bytes, limit 63: 31 runes
	e.Add("cs1", strings.Repeat("x", 5000))
	e.Add("vigilCustom", strings.Repeat("y", 5000))
	e.AddInt("cn1", -42)
	fields, err := cefparse.ParseExtension(string(e.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"dvchost": 100, "act": 62, "cs1": 4000, "vigilCustom": cefspec.MaxCustomLen, "cn1": 3}
	if len(fields) != len(want) {
		t.Fatalf("got %d fields, want %d", len(fields), len(want))
	}
	for _, f := range fields {
		if len(f.Value) != want[f.Key] {
			t.Errorf("%s: %d bytes, want %d", f.Key, len(f.Value), want[f.Key])
		}
		if !utf8.ValidString(f.Value) {
			t.Errorf("%s: invalid UTF-8 after the cut", f.Key)
		}
	}
	if e.Len() != 5 {
		t.Errorf("Len() = %d, want 5", e.Len())
	}
}

func TestExtPanicsOnBadKey(t *testing.T) {
	for _, key := range []string{"", "a b", "a=b", "ké"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", key)
				}
			}()
			e := StartExt(nil)
			e.Add(key, "v")
		}()
	}
}

func TestFitAgreesWithAppend(t *testing.T) {
	for _, s := range []string{"", "plain", "a\nb", "x\xffy", "é|=\\", "\x00\u2028"} {
		e := StartExt(nil)
		e.Add("k", s)
		if got, want := FitValue(s, 1023), unescapeValue(t, string(e.Bytes())); got != want {
			t.Errorf("FitValue(%q) = %q, parsed %q", s, got, want)
		}
	}
	if got := FitHeader("a\nb|", 10); got != "a\uFFFDb|" {
		t.Errorf("FitHeader = %q", got)
	}
}

func unescapeValue(t *testing.T, v string) string {
	t.Helper()
	if v == "" {
		return ""
	}
	f, err := cefparse.ParseExtension(v)
	if err != nil {
		t.Fatal(err)
	}
	return f[0].Value
}

// FuzzRoundTrip writes arbitrary header fields and values and checks that
// the strict parser reads back exactly the cleaned, cut originals, from one
// line, with no forged key.
func FuzzRoundTrip(f *testing.F) {
	f.Add("Vigil", "Gateway|x", "dev", "Logged on", "bob act=allow", "line\nbreak\\", uint16(1023))
	f.Add("a\\", "|", "\r\n", "=", "\xff\xfe", "é日本\u2028", uint16(3))
	f.Add("", "", "", "", "", "", uint16(0))
	f.Add(strings.Repeat("v", 70), "p", "1", "n", strings.Repeat("=", 5000), strings.Repeat("é", 3000), uint16(4000))
	f.Fuzz(func(t *testing.T, vendor, product, version, name, v1, v2 string, limit uint16) {
		lim := int(limit)
		h := Header{Vendor: "V" + vendor, Product: "P" + product, Version: "1" + version, ClassID: "id", Name: "N" + name, Severity: 3}
		line := AppendHeader(nil, h)
		e := StartExt(line)
		e.AddMax("vigilLimited", v1, lim)
		e.Add("suser", v2)
		e.Add("vigilCustom", v1+v2)
		line = e.Bytes()
		if strings.ContainsAny(string(line), "\r\n") {
			t.Fatalf("raw line break in %s", short(string(line)))
		}
		r, err := cefparse.Parse(string(line))
		if err != nil {
			t.Fatalf("Parse(%s): %v", short(string(line)), err)
		}
		check := func(what, got, want string) {
			if got != want {
				t.Errorf("%s: got %s, want %s", what, short(got), short(want))
			}
		}
		check("vendor", r.DeviceVendor, FitHeader(h.Vendor, cefspec.MaxDeviceVendor))
		check("product", r.DeviceProduct, FitHeader(h.Product, cefspec.MaxDeviceProduct))
		check("version", r.DeviceVersion, FitHeader(h.Version, cefspec.MaxDeviceVersion))
		check("name", r.Name, FitHeader(h.Name, cefspec.MaxName))
		check("class id", r.DeviceEventClassID, "id")
		check("severity", r.Severity, "3")
		want := map[string]string{}
		for k, v := range map[string]string{
			"vigilLimited": FitValue(v1, lim),
			"suser":        FitValue(v2, cefspec.MaxLen("suser")),
			"vigilCustom":  FitValue(v1+v2, cefspec.MaxCustomLen),
		} {
			if v != "" {
				want[k] = v
			}
		}
		got := r.Map()
		if len(got) != len(r.Extension) || len(got) != len(want) {
			t.Fatalf("got %d fields (%d distinct), want %d", len(r.Extension), len(got), len(want))
		}
		for k, v := range want {
			check(k, got[k], v)
		}
	})
}

// short quotes s for a failure message, cut so that 10 KB values stay
// readable.
func short(s string) string {
	if len(s) > 200 {
		return strconv.Quote(s[:200]) + "..."
	}
	return strconv.Quote(s)
}
