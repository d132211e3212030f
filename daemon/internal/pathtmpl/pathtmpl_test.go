package pathtmpl

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		scheme    string
		bucket    string
		endpoint  string
		plainHTTP bool
		root      string
		prefix    string
		vars      []string
	}{
		{
			in:     "s3://kasm@storage.googleapis.com/recordings/{user_id}/{target_friendly_name}-{start_date}.{ext}",
			scheme: "s3", bucket: "kasm", endpoint: "storage.googleapis.com",
			prefix: "recordings/", vars: []string{"user_id", "target_friendly_name", "start_date", "ext"},
		},
		{
			in:     "s3://bucket-name/folder/{username}/{session_id}.{ext}",
			scheme: "s3", bucket: "bucket-name", endpoint: DefaultS3Endpoint,
			prefix: "folder/", vars: []string{"username", "session_id", "ext"},
		},
		{
			in:     "s3://rec@http://minio.lan:9000/{session_id}/{segment}.{ext}",
			scheme: "s3", bucket: "rec", endpoint: "minio.lan:9000", plainHTTP: true,
			vars: []string{"session_id", "segment", "ext"},
		},
		{
			in:     "s3://rec@https://[::1]:9000/a/{session_id}-{session_id}.{ext}",
			scheme: "s3", bucket: "rec", endpoint: "[::1]:9000",
			prefix: "a/", vars: []string{"session_id", "ext"},
		},
		{
			in:     "S3://kasm_session_recordings@10.0.0.5/r.{ext}",
			scheme: "s3", bucket: "kasm_session_recordings", endpoint: "10.0.0.5",
			prefix: "r.", vars: []string{"ext"},
		},
		{
			in:     "file:///var/lib/vigil/recordings/{username}/{session_id}/{segment}.{ext}",
			scheme: "file", root: "/var/lib/vigil/recordings",
			vars: []string{"username", "session_id", "segment", "ext"},
		},
		{
			in:     "file:///srv/rec/x-{session_id}.{ext}",
			scheme: "file", root: "/srv/rec", prefix: "x-", vars: []string{"session_id", "ext"},
		},
		{
			in:     "file:///{session_id}.{ext}",
			scheme: "file", root: "/", vars: []string{"session_id", "ext"},
		},
		{
			in:     "file:///srv/all.mp4",
			scheme: "file", root: "/srv", prefix: "all.mp4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tp, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tp.Scheme() != tt.scheme || tp.Bucket() != tt.bucket || tp.Endpoint() != tt.endpoint ||
				tp.PlainHTTP() != tt.plainHTTP || tp.Root() != tt.root || tp.Prefix() != tt.prefix {
				t.Errorf("got scheme=%q bucket=%q endpoint=%q plain=%v root=%q prefix=%q",
					tp.Scheme(), tp.Bucket(), tp.Endpoint(), tp.PlainHTTP(), tp.Root(), tp.Prefix())
			}
			if got := tp.Variables(); !slices.Equal(got, tt.vars) {
				t.Errorf("Variables() = %q, want %q", got, tt.vars)
			}
			if tp.String() != tt.in {
				t.Errorf("String() = %q", tp.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{"s3://b/{user}.mp4", ErrUnknownVariable, "pathtmpl: unknown variable {user}"},
		{"s3://b/{}.mp4", ErrUnknownVariable, "{}"},
		{"s3://b/{kasm_id}.mp4", ErrUnknownVariable, "{kasm_id}"},
		{"s3://b/{username.mp4", ErrBrace, "unclosed { at offset 0"},
		{"s3://b/a{b{username}", ErrBrace, "unclosed {"},
		{"s3://b/user}.mp4", ErrBrace, "unmatched }"},
		{"s3:///folder/x", ErrBucket, "empty bucket"},
		{"s3://@host/x", ErrBucket, "empty bucket"},
		{"s3://{username}/x", ErrBucket, "variables are not allowed"},
		{"s3://my bucket/x", ErrBucket, "my bucket"},
		{"s3://b@/x", ErrEndpoint, "empty endpoint"},
		{"s3://b@http:///x", ErrEndpoint, "empty endpoint"},
		{"s3://b@{target_id}/x", ErrEndpoint, "variables"},
		{"s3://b@host:99999/x", ErrEndpoint, "port"},
		{"s3://b@ho st/x", ErrEndpoint, "host name"},
		{"s3://b", ErrPath, "no object key"},
		{"s3://b@host", ErrPath, "no object key"},
		{"s3://b/", ErrPath, "empty object key"},
		{"s3://b//x/{ext}", ErrPath, "empty path segment"},
		{"s3://b/x/{ext}/", ErrPath, "empty path segment"},
		{"s3://b/a/../{ext}", ErrPath, `".."`},
		{"s3://b/a/./{ext}", ErrPath, `"."`},
		{"s3://b/a..{ext}", ErrPath, `".."`},
		{"s3://b/a\\b/{ext}", ErrPath, "backslash"},
		{"s3://b/a\nb/{ext}", ErrPath, "control"},
		{"s3://b/\xff{ext}", ErrPath, "UTF-8"},
		{"file://relative/{ext}", ErrPath, "absolute"},
		{"file:///srv/../etc/{ext}", ErrPath, `".."`},
		{"file:///srv//{ext}", ErrPath, "empty path segment"},
		{"ftp://host/x", ErrScheme, `"ftp"`},
		{"/var/lib/vigil/{ext}", ErrScheme, "no scheme"},
		{"", ErrScheme, "no scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "pathtmpl: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestRender(t *testing.T) {
	vars := Values{
		SessionID: "10307f51-fd27-49f3-a84a-7aaa2f81d26e", UserID: "u1", Username: "admin@kasm.local",
		TargetFriendlyName: "windows",
		Created:            time.Date(2023, 12, 9, 21, 12, 45, 386547000, time.UTC),
		Started:            time.Date(2023, 12, 10, 20, 27, 13, 853047000, time.FixedZone("x", 3600)),
		Segment:            3, Ext: "mp4",
	}.Map(time.UnixMilli(1706554545220))
	tests := []struct {
		tmpl, want, location string
		vars                 map[string]string
	}{
		{
			tmpl:     "s3://kasm@storage.googleapis.com/recordings/{username}/{start_date}/{session_id}.{current_epoch}.{ext}",
			vars:     vars,
			want:     "recordings/admin@kasm.local/2023-12-10/10307f51-fd27-49f3-a84a-7aaa2f81d26e.1706554545220.mp4",
			location: "s3://kasm@storage.googleapis.com/recordings/admin@kasm.local/2023-12-10/10307f51-fd27-49f3-a84a-7aaa2f81d26e.1706554545220.mp4",
		},
		{
			tmpl:     "file:///var/rec/{username}/{session_id}/{segment}.{ext}",
			vars:     vars,
			want:     "admin@kasm.local/10307f51-fd27-49f3-a84a-7aaa2f81d26e/0003.mp4",
			location: "file:///var/rec/admin@kasm.local/10307f51-fd27-49f3-a84a-7aaa2f81d26e/0003.mp4",
		},
		{
			tmpl: "s3://b/{created_timestamp}-{target_friendly_name}.{ext}",
			vars: vars,
			want: "2023-12-09_21_12_45.386547-windows.mp4",
		},
		{
			tmpl:     "s3://b@http://minio:9000/{username}/{session_id}.{ext}",
			vars:     map[string]string{"username": "../../etc", "session_id": "a/b", "ext": ""},
			want:     "______etc/a_b._",
			location: "s3://b@http://minio:9000/______etc/a_b._",
		},
		{
			tmpl: "file:///r/{username}",
			vars: map[string]string{"username": ".hidden"},
			want: "_hidden",
		},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tp, err := Parse(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tp.Render(tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
			if tt.location != "" && tp.Location(got) != tt.location {
				t.Errorf("Location = %q, want %q", tp.Location(got), tt.location)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tp, err := Parse("s3://b/{username}/{session_id}.{ext}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Render(map[string]string{"username": "a", "ext": "mp4"}); !errors.Is(err, ErrMissingVariable) || !strings.Contains(err.Error(), "{session_id}") {
		t.Errorf("missing variable: got %v", err)
	}
	long, err := Parse("s3://b/" + strings.Repeat("x", 200) + "{username}{session_id}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.Render(map[string]string{"username": "a", "session_id": strings.Repeat("y", 100)}); !errors.Is(err, ErrKeyTooLong) {
		t.Errorf("long segment: got %v", err)
	}
	deep, err := Parse("s3://b/" + strings.Repeat("dir/", 300) + "{ext}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deep.Render(map[string]string{"ext": "mp4"}); !errors.Is(err, ErrKeyTooLong) {
		t.Errorf("long key: got %v", err)
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "_"},
		{"alice", "alice"},
		{"Admin@Kasm.Local", "Admin@Kasm.Local"},
		{"José-Ünal_1", "José-Ünal_1"},
		{".", "_"},
		{"..", "__"},
		{"a..b", "a__b"},
		{"a.", "a_"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{"a\x00b\nc\r", "a_b_c_"},
		{"a\xffb", "a_b"},
		{"a\u202eb", "a_b"},
		{"a b:c", "a_b_c"},
		{strings.Repeat("é", 100), strings.Repeat("é", MaxValueBytes/2)},
		{strings.Repeat("a", 127) + ".b", strings.Repeat("a", 127) + "_"},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct {
		tmpl      string
		allowHTTP bool
		want      string
		err       error
	}{
		{"s3://b/{ext}", false, "https://s3.amazonaws.com", nil},
		{"s3://b@minio:9000/{ext}", false, "https://minio:9000", nil},
		{"s3://b@https://minio:9000/{ext}", true, "https://minio:9000", nil},
		{"s3://b@http://minio:9000/{ext}", true, "http://minio:9000", nil},
		{"s3://b@http://minio:9000/{ext}", false, "", ErrPlainHTTP},
		{"file:///r/{ext}", false, "", nil},
	}
	for _, tt := range tests {
		tp, err := Parse(tt.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.EndpointURL(tt.allowHTTP)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s allowHTTP=%v: got %q, %v; want %q, %v", tt.tmpl, tt.allowHTTP, got, err, tt.want, tt.err)
		}
	}
}

func TestNamesCoverValues(t *testing.T) {
	m := Values{}.Map(time.Unix(0, 0))
	for _, n := range Names() {
		if _, ok := m[n]; !ok {
			t.Errorf("Values.Map lacks %q", n)
		}
	}
	if len(m) != len(Names()) {
		t.Errorf("Values.Map has %d variables, Names %d", len(m), len(Names()))
	}
}

// checkKey asserts the invariants every rendered key keeps.
func checkKey(t *testing.T, key string) {
	t.Helper()
	if strings.HasPrefix(key, "/") {
		t.Fatalf("key %q starts with /", key)
	}
	if strings.Contains(key, "..") {
		t.Fatalf("key %q contains ..", key)
	}
	if strings.Contains(key, "//") || strings.HasSuffix(key, "/") {
		t.Fatalf("key %q has an empty segment", key)
	}
	if strings.ContainsRune(key, '\\') || !utf8.ValidString(key) || len(key) > MaxKeyBytes {
		t.Fatalf("key %q has a backslash, invalid UTF-8 or is too long", key)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			t.Fatalf("key %q has a control character", key)
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add("s3://b@e/rec/{username}/{session_id}/{segment}.{ext}", "../../etc", "a/b", "\n\x00", "\xff\xfe")
	f.Add("file:///srv/{username}-{target_friendly_name}.{ext}", ".", "..", "...", "")
	f.Add("s3://b/{username}{session_id}{target_id}{ext}", ".a.", "b.", ".c", `\x`)
	f.Add("file:///{ext}", "/", "/..", "./.", "\u202e")
	f.Fuzz(func(t *testing.T, tmpl, a, b, c, d string) {
		tp, err := Parse(tmpl)
		if err != nil {
			return
		}
		fixed := 0
		for _, p := range tp.parts {
			fixed += len(p.lit)
		}
		vals := []string{a, b, c, d}
		vars := map[string]string{}
		for i, n := range Names() {
			vars[n] = vals[i%len(vals)]
		}
		key, err := tp.Render(vars)
		if err != nil {
			if !errors.Is(err, ErrKeyTooLong) {
				t.Fatalf("Render: %v", err)
			}
			return
		}
		checkKey(t, key)
		// Values add no segments: the key has exactly the template's slashes.
		if got, want := strings.Count(key, "/"), strings.Count(strings.Join(litParts(tp), ""), "/"); got != want {
			t.Fatalf("key %q has %d slashes, template %d", key, got, want)
		}
		for _, v := range vals {
			s := Sanitize(v)
			if s == "" || strings.ContainsAny(s, "/\\") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") ||
				strings.Contains(s, "..") || len(s) > MaxValueBytes || !utf8.ValidString(s) {
				t.Fatalf("Sanitize(%q) = %q", v, s)
			}
		}
	})
}

func litParts(tp *Template) []string {
	var out []string
	for _, p := range tp.parts {
		out = append(out, p.lit)
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"s3://kasm@storage.googleapis.com/recordings/{user_id}/{start_date}.{ext}",
		"s3://b@http://[::1]:9000/{ext}", "file:///a/{ext}", "file:///", "s3://", "{", "}", "s3://b/{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pathtmpl: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		vars := map[string]string{}
		for _, n := range Names() {
			vars[n] = "v"
		}
		key, err := tp.Render(vars)
		if err != nil {
			if !errors.Is(err, ErrKeyTooLong) {
				t.Fatalf("Render: %v", err)
			}
			return
		}
		checkKey(t, key)
	})
}
