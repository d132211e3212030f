package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
)

func TestParseConfig(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		json    string
		wantErr string // "" = valid
		check   func(t *testing.T, s settings)
	}{
		{name: "minimal https", json: `{"bucket":"rec"}`, check: func(t *testing.T, s settings) {
			if s.endpoint != defaultEndpoint || !s.secure || !s.pathStyle || s.partSize != defaultPartSize ||
				s.maxConcurrency != defaultMaxConcurrency || s.maxRetries != defaultMaxRetries || s.prefix != "" || s.tlsConfig != nil {
				t.Fatalf("defaults not applied: %+v", s)
			}
		}},
		{name: "url endpoint decides secure", json: `{"bucket":"rec","endpoint":"http://127.0.0.1:9000","allow_http":true}`, check: func(t *testing.T, s settings) {
			if s.endpoint != "127.0.0.1:9000" || s.secure {
				t.Fatalf("endpoint %q secure %t", s.endpoint, s.secure)
			}
		}},
		{name: "host endpoint with secure false", json: `{"bucket":"rec","endpoint":"minio.lan:9000","secure":false,"allow_http":true}`, check: func(t *testing.T, s settings) {
			if s.endpoint != "minio.lan:9000" || s.secure {
				t.Fatalf("endpoint %q secure %t", s.endpoint, s.secure)
			}
		}},
		{name: "sizes and prefix", json: `{"bucket":"rec","part_size":"8 MiB","max_concurrency":2,"prefix":"site-a/recordings/","path_style":false}`, check: func(t *testing.T, s settings) {
			if s.partSize != 8<<20 || s.maxConcurrency != 2 || s.prefix != "site-a/recordings/" || s.pathStyle {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "part size as a number", json: `{"bucket":"rec","part_size":6000000}`, check: func(t *testing.T, s settings) {
			if s.partSize != 6000000 {
				t.Fatalf("part size %d", s.partSize)
			}
		}},
		{name: "tls_verify off", json: `{"bucket":"rec","tls_verify":false}`, check: func(t *testing.T, s settings) {
			if s.tlsConfig == nil || !s.tlsConfig.InsecureSkipVerify {
				t.Fatal("tls_verify=false did not turn verification off")
			}
		}},
		{name: "empty configuration has no bucket", json: ``, wantErr: "bucket"},
		{name: "plain http needs allow_http", json: `{"bucket":"rec","endpoint":"http://minio.lan"}`, wantErr: "allow_http"},
		{name: "unknown key", json: `{"bucket":"rec","buckit":"x"}`, wantErr: "buckit"},
		{name: "trailing data", json: `{"bucket":"rec"} {}`, wantErr: "trailing"},
		{name: "scheme", json: `{"bucket":"rec","endpoint":"ftp://x"}`, wantErr: "scheme"},
		{name: "endpoint with a path", json: `{"bucket":"rec","endpoint":"https://x/bucket"}`, wantErr: "nothing more"},
		{name: "endpoint contradicts secure", json: `{"bucket":"rec","endpoint":"https://x","secure":false}`, wantErr: "contradicts"},
		{name: "bad port", json: `{"bucket":"rec","endpoint":"x:99999"}`, wantErr: "port"},
		{name: "bad bucket", json: `{"bucket":"rec/../x"}`, wantErr: "bucket"},
		{name: "prefix climbs", json: `{"bucket":"rec","prefix":"a/../../b"}`, wantErr: "prefix"},
		{name: "key without secret", json: `{"bucket":"rec","access_key":"AK"}`, wantErr: "go together"},
		{name: "part size too small", json: `{"bucket":"rec","part_size":"1MiB"}`, wantErr: "part_size"},
		{name: "part size nonsense", json: `{"bucket":"rec","part_size":"lots"}`, wantErr: "16MiB"},
		{name: "concurrency", json: `{"bucket":"rec","max_concurrency":1000}`, wantErr: "max_concurrency"},
		{name: "retries", json: `{"bucket":"rec","max_retries":-1}`, wantErr: "max_retries"},
		{name: "ca file over http", json: `{"bucket":"rec","endpoint":"http://x","allow_http":true,"ca_file":"` + ca + `"}`, wantErr: "https endpoints only"},
		{name: "ca file without a certificate", json: `{"bucket":"rec","ca_file":"` + ca + `"}`, wantErr: "no PEM certificate"},
		{name: "ca file missing", json: `{"bucket":"rec","ca_file":"/nonexistent/ca.pem"}`, wantErr: "ca_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseConfig([]byte(c.json))
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("parseConfig(%s): %v", c.json, err)
				}
				c.check(t, s)
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Fatalf("parseConfig(%s) = %v, want an ErrInvalidConfig mentioning %q", c.json, err, c.wantErr)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want byteSize
		ok   bool
	}{
		{"16MiB", 16 << 20, true},
		{"16 mib", 16 << 20, true},
		{"5MB", 5_000_000, true},
		{"1GiB", 1 << 30, true},
		{"2g", 2 << 30, true},
		{"512KiB", 512 << 10, true},
		{"1234", 1234, true},
		{"1234B", 1234, true},
		{"", 0, false},
		{"-1MiB", 0, false},
		{"1.5MiB", 0, false},
		{"MiB", 0, false},
		{"99999999999999GiB", 0, false},
	} {
		got, err := parseByteSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok=%t", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestPartSizeFor(t *testing.T) {
	b := &backend{settings: settings{partSize: 16 << 20}}
	for _, c := range []struct {
		size int64
		want int64
	}{
		{-1, 16 << 20},
		{1 << 30, 16 << 20},
		{16 << 20 * maxParts, 16 << 20},
		{200 << 30, 21 << 20}, // 200 GiB needs parts of just over 20 MiB
	} {
		got := b.partSizeFor(c.size)
		if got != c.want || c.size > 0 && (c.size+got-1)/got > maxParts {
			t.Errorf("partSizeFor(%d) = %d, want %d (and at most %d parts)", c.size, got, c.want, maxParts)
		}
	}
}

func TestMetadataEncoding(t *testing.T) {
	for _, v := range []string{
		"plain", "Zoë & co", "line\nbreak", " leading", "trailing ", "=?UTF-8?B?Zm9v?=", "", "tab\there",
		"日本語", "\x00nul", "../../etc/passwd",
	} {
		enc, err := encodeMetadata(map[string]string{"k": v}, "ab12")
		if err != nil {
			t.Fatalf("encodeMetadata(%q): %v", v, err)
		}
		wire := enc[amzMetaPrefix+"k"]
		for i := 0; i < len(wire); i++ {
			if wire[i] < 0x20 || wire[i] >= 0x7f {
				t.Fatalf("value %q travels as %q: not printable ASCII", v, wire)
			}
		}
		if strings.TrimSpace(wire) != wire {
			t.Fatalf("value %q travels as %q: an HTTP server would trim it", v, wire)
		}
		// What minio-go reports: canonical header case, prefix removed.
		meta, sha := decodeMetadata(map[string]string{"K": wire, "Vigil-Sha256": "AB12"})
		if meta["k"] != v || len(meta) != 1 || sha != "ab12" {
			t.Fatalf("round trip of %q: got %q (meta %v, sha %q)", v, meta["k"], meta, sha)
		}
	}
	for _, k := range []string{"Session-Id", "a b", "", "x/y", shaMetaKey, strings.Repeat("k", 129)} {
		if _, err := encodeMetadata(map[string]string{k: "v"}, ""); err == nil {
			t.Errorf("encodeMetadata accepted key %q", k)
		}
	}
}
