package cefparse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Record
	}{
		{
			name: "loadmaster user log",
			line: "CEF:0|Kemp|LM|1.0|14|Request|1|vs=10.35.46.157:443 event=Request srcip=10.35.2.45 srcport=54548 method=GET url=https://10.35.46.157/ user=<ExampleUser>@kempqaesp.net useragent=Mozilla/5.0",
			want: Record{Version: 0, DeviceVendor: "Kemp", DeviceProduct: "LM", DeviceVersion: "1.0",
				DeviceEventClassID: "14", Name: "Request", Severity: "1", Extension: []Field{
					{"vs", "10.35.46.157:443"}, {"event", "Request"}, {"srcip", "10.35.2.45"},
					{"srcport", "54548"}, {"method", "GET"}, {"url", "https://10.35.46.157/"},
					{"user", "<ExampleUser>@kempqaesp.net"}, {"useragent", "Mozilla/5.0"},
				}},
		},
		{
			name: "loadmaster esp session timeout, values with spaces",
			line: "CEF:0|Kemp|LM|1.0|101|User session timeout|0|vs=10.35.46.242:443 event=User session timeout user=<ExampleUser>@parent.net domain=MULLTIDOMAIN msg=Deleted expired user session, start time:1629182393 duration:69 seconds",
			want: Record{DeviceVendor: "Kemp", DeviceProduct: "LM", DeviceVersion: "1.0",
				DeviceEventClassID: "101", Name: "User session timeout", Severity: "0", Extension: []Field{
					{"vs", "10.35.46.242:443"}, {"event", "User session timeout"},
					{"user", "<ExampleUser>@parent.net"}, {"domain", "MULLTIDOMAIN"},
					{"msg", "Deleted expired user session, start time:1629182393 duration:69 seconds"},
				}},
		},
		{
			name: "header escapes",
			line: `CEF:0|Ven\|dor|Pro\\duct|1.0|id|a\|b=c|Very-High|`,
			want: Record{DeviceVendor: "Ven|dor", DeviceProduct: `Pro\duct`, DeviceVersion: "1.0",
				DeviceEventClassID: "id", Name: "a|b=c", Severity: "Very-High"},
		},
		{
			name: "extension escapes, raw pipe and multiple spaces",
			line: `CEF:1|V|P|1|2|N|10|msg=a\=b \\ c\nd\re | f  act=x y=z  suser=`,
			want: Record{Version: 1, DeviceVendor: "V", DeviceProduct: "P", DeviceVersion: "1",
				DeviceEventClassID: "2", Name: "N", Severity: "10", Extension: []Field{
					{"msg", "a=b \\ c\nd\re | f "}, {"act", "x"}, {"y", "z "}, {"suser", ""},
				}},
		},
		{
			name: "typed dictionary values",
			line: "CEF:0|V|P|1|2|N|3|src=192.0.2.1 spt=65535 c6a2=2001:db8::1 rt=1631099835000 start=Sep 08 2021 07:17:15 cn1=-9000000000 tab=a\tb",
			want: Record{DeviceVendor: "V", DeviceProduct: "P", DeviceVersion: "1",
				DeviceEventClassID: "2", Name: "N", Severity: "3", Extension: []Field{
					{"src", "192.0.2.1"}, {"spt", "65535"}, {"c6a2", "2001:db8::1"},
					{"rt", "1631099835000"}, {"start", "Sep 08 2021 07:17:15"},
					{"cn1", "-9000000000"}, {"tab", "a\tb"},
				}},
		},
		{
			name: "non-ASCII values",
			line: "CEF:0|Véndor|P|1|2|Nämé|Low|suser=jürgen msg=日本語 テキスト",
			want: Record{DeviceVendor: "Véndor", DeviceProduct: "P", DeviceVersion: "1",
				DeviceEventClassID: "2", Name: "Nämé", Severity: "Low", Extension: []Field{
					{"suser", "jürgen"}, {"msg", "日本語 テキスト"},
				}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name string
		line string
		want string // part of the error message
	}{
		{"empty", "", `does not start with "CEF:"`},
		{"syslog prefix left on", "Sep 8 lb100 CEF:0|V|P|1|2|N|3|", `does not start with "CEF:"`},
		{"unknown version", "CEF:2|V|P|1|2|N|3|", "unknown CEF version"},
		{"too few header fields", "CEF:0|V|P|1|2|N|3", "not closed"},
		{"empty header field", "CEF:0|V||1|2|N|3|", "device product is empty"},
		{"unescaped pipe in name shifts the severity", "CEF:0|V|P|1|2|a|b|3|", "severity"},
		{"unescaped pipe in name shifts into the extension", "CEF:0|V|P|1|2|a|5|3|msg=x", "expected key="},
		{"escaped equals in header", `CEF:0|V|P|1|2|a\=b|3|`, "unknown escape in header"},
		{"lone backslash in header", `CEF:0|V|P|1|2|a\`, "unknown escape in header"},
		{"vendor too long", "CEF:0|" + long + "|P|1|2|N|3|", "longer than 63"},
		{"severity 11", "CEF:0|V|P|1|2|N|11|", "severity"},
		{"severity -1", "CEF:0|V|P|1|2|N|-1|", "severity"},
		{"severity 07", "CEF:0|V|P|1|2|N|07|", "severity"},
		{"severity lower case", "CEF:0|V|P|1|2|N|high|", "severity"},
		{"unescaped equals in value", "CEF:0|V|P|1|2|N|3|msg=a=b", "unescaped '='"},
		{"unescaped equals after a space", "CEF:0|V|P|1|2|N|3|msg=a =b", "unescaped '='"},
		{"escaped pipe in extension", `CEF:0|V|P|1|2|N|3|msg=a\|b`, `unknown escape \|`},
		{"escaped tab in extension", `CEF:0|V|P|1|2|N|3|msg=a\tb`, `unknown escape \t`},
		{"lone backslash at the end", `CEF:0|V|P|1|2|N|3|msg=a\`, "lone backslash"},
		{"raw newline in value", "CEF:0|V|P|1|2|N|3|msg=a\nb", "raw line break"},
		{"raw carriage return in header", "CEF:0|V|P|1|2|N\r|3|", "raw line break"},
		{"NUL", "CEF:0|V|P|1|2|N|3|msg=a\x00b", "control character"},
		{"NEL", "CEF:0|V|P|1|2|N|3|msg=a\u0085b", "control character"},
		{"line separator", "CEF:0|V|P|1|2|N|3|msg=a\u2028b", "control character"},
		{"invalid UTF-8", "CEF:0|V|P|1|2|N|3|msg=a\xffb", "invalid UTF-8"},
		{"key with a dash", "CEF:0|V|P|1|2|N|3|m-sg=a", "expected key="},
		{"value without key", "CEF:0|V|P|1|2|N|3|=a", "expected key="},
		{"leading space", "CEF:0|V|P|1|2|N|3| msg=a", "expected key="},
		{"no equals", "CEF:0|V|P|1|2|N|3|msg", "expected key="},
		{"duplicate key", "CEF:0|V|P|1|2|N|3|msg=a msg=b", "given twice"},
		{"dictionary string too long", "CEF:0|V|P|1|2|N|3|dvchost=" + strings.Repeat("h", 101), "longer than 100"},
		{"port not a number", "CEF:0|V|P|1|2|N|3|spt=http", "not an integer"},
		{"port out of range", "CEF:0|V|P|1|2|N|3|dpt=70000", "not a port"},
		{"src is IPv6", "CEF:0|V|P|1|2|N|3|src=::1", "not an IPv4"},
		{"src is a host name", "CEF:0|V|P|1|2|N|3|src=example.com", "not an IPv4"},
		{"c6a2 is IPv4", "CEF:0|V|P|1|2|N|3|c6a2=192.0.2.1", "not an IPv6"},
		{"rt is not a timestamp", "CEF:0|V|P|1|2|N|3|rt=yesterday", "not a timestamp"},
		{"cn1 is not a number", "CEF:0|V|P|1|2|N|3|cn1=1.5", "not a long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.line)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.line, r)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(tt.line) {
				t.Errorf("error %v carries no offset within the line", err)
			}
			if !strings.HasPrefix(err.Error(), "cefparse: ") {
				t.Errorf("error %q lacks the component prefix", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseExtension(t *testing.T) {
	got, err := ParseExtension(`vs=10.0.0.1:80 user=a\=b msg=x y`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{{"vs", "10.0.0.1:80"}, {"user", "a=b"}, {"msg", "x y"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if _, err := ParseExtension("msg=a\nb"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("raw newline: err = %v, want ErrInvalid", err)
	}
	if f, err := ParseExtension(""); err != nil || f != nil {
		t.Fatalf("empty: %v, %v", f, err)
	}
}

func TestRecordGetAndMap(t *testing.T) {
	r, err := Parse("CEF:0|V|P|1|2|N|3|a=1 b=2")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Get("b"); !ok || v != "2" {
		t.Errorf("Get(b) = %q, %v", v, ok)
	}
	if _, ok := r.Get("c"); ok {
		t.Error("Get(c) found a missing key")
	}
	if m := r.Map(); !reflect.DeepEqual(m, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("Map() = %v", m)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// holds no line break and no unescaped delimiter once re-read.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CEF:0|Kemp|LM|1.0|8|Logged on|1|vs=10.35.46.157:443 event=Logged on srcip=10.35.2.45 user=<ExampleUser>@kempqaesp.net msg=logged on",
		`CEF:0|V\|x|P|1|2|N|3|msg=a\=b \\ c\nd act=x`,
		"CEF:0|V|P|1|2|N|3|msg=a=b",
		"CEF:0|V|P|1|2|N|3|msg=a\nb",
		"CEF:1|V|P|1|2|N|Low|",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := Parse(line)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("accepted a raw line break: %q", line)
		}
		seen := map[string]bool{}
		for _, f := range r.Extension {
			if seen[f.Key] {
				t.Fatalf("duplicate key %q accepted", f.Key)
			}
			seen[f.Key] = true
		}
	})
}
