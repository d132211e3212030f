package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
)

// keyPipeline is a pipeline with only what key building needs.
func keyPipeline(t *testing.T, location string) *Pipeline {
	t.Helper()
	tmpl, err := pathtmpl.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{cfg: Config{RendersDir: t.TempDir()}}
	p.tun.Store(&Tunables{UploadLocation: location, tmpl: tmpl})
	return p
}

// TestHostileNamesGiveSafeKeys builds the keys of a segment for user and
// target names a hostile directory or client could produce: every key is
// a valid storage key, has exactly the template's levels, and holds no
// "..", control character or stray separator.
func TestHostileNamesGiveSafeKeys(t *testing.T) {
	p := keyPipeline(t, "s3://rec@minio.lan:9000/vigil/{username}/{target_friendly_name}/{session_id}/{segment}.{ext}")
	for _, name := range []string{
		"../../etc", "a/b", "line\nbreak", "", "..", ".", ".hidden", `back\slash`, "nul\x00byte", "tab\tand space",
		"ünïcødé 名前", "\u202eevil", "\xff\xfe", strings.Repeat("x", 300), "a/../../../b", "%2e%2e%2f",
	} {
		sess := store.Session{ID: "01JABCDEFGHJKMNPQRSTVWXYZ0", UserName: name, TargetFriendlyName: name, StartedAt: time.Now()}
		objs, err := p.objects(sess, store.Segment{SessionID: sess.ID, N: 2, Path: "/spool/x.vsl"}, store.Job{Created: time.Now()})
		if err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		key := objs[0].key
		if err := sdk.ValidateKey(key); err != nil {
			t.Errorf("name %q gives key %q: %v", name, key, err)
		}
		parts := strings.Split(key, "/")
		if len(parts) != 5 || parts[0] != "vigil" || parts[3] != sess.ID || parts[4] != "0003.vsl" {
			t.Errorf("name %q gives key %q: not vigil/<user>/<target>/<session>/0003.vsl", name, key)
		}
		for _, seg := range parts {
			if seg == "" || strings.Contains(seg, "..") || strings.HasPrefix(seg, ".") {
				t.Errorf("name %q gives key %q with segment %q", name, key, seg)
			}
		}
		if strings.IndexFunc(key, func(r rune) bool { return unicode.IsControl(r) || r == '\\' || r == unicode.ReplacementChar }) >= 0 {
			t.Errorf("name %q gives key %q with a control character, backslash or invalid byte", name, key)
		}
	}
}

// TestKeysOfASegment: every file of a segment gets its own key, the
// variables are filled from the session, and {current_epoch} comes from
// the upload job, so a retry gives the same keys.
func TestKeysOfASegment(t *testing.T) {
	p := keyPipeline(t, "s3://rec/{user_id}/{username}/{target_id}/{start_date}/{session_id}-{segment}-{current_epoch}.{ext}")
	sess := store.Session{ID: "S1", UserID: 42, UserName: "alice", TargetID: 9, TargetName: "db",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	seg := store.Segment{SessionID: "S1", N: 0, Path: "/spool/a.vsl", Size: 10, SHA256: "ab"}
	dir := p.renderDir("S1", 0)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	files := []renderedFile{
		{Name: "a.cast", Role: "cast"}, {Name: "a.transcript.tsv", Role: "transcript"},
		{Name: "a.mp4", Role: "video"}, {Name: "b.webm", Role: "video"}, {Name: "poster.PNG", Role: "poster"},
		{Name: "t1.jpg", Role: "thumbnail", Offset: 10 * time.Second},
		{Name: "t2.jpg", Role: "thumbnail", Offset: 10500 * time.Millisecond},
		{Name: "t3.jpg", Role: "thumbnail", Offset: 20 * time.Second},
		{Name: "strip", Role: "thumbnail"},
	}
	if err := writeManifest(dir, manifest{Version: manifestVersion, Files: files}); err != nil {
		t.Fatal(err)
	}
	created := time.UnixMilli(1706554545220)
	objs, err := p.objects(sess, seg, store.Job{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "42/alice/9/2026-01-02/S1-0001-1706554545220."
	want := []string{"vsl", "cast", "txt", "mp4", "webm", "poster.png", "thumb-0010.jpg", "thumb-0010-2.jpg", "thumb-0020.jpg", "thumb-0000.jpg"}
	if len(objs) != len(want) {
		t.Fatalf("%d objects, want %d", len(objs), len(want))
	}
	for i, o := range objs {
		if o.key != prefix+want[i] {
			t.Errorf("object %d (%s %s): key %q, want %q", i, o.role, filepath.Base(o.path), o.key, prefix+want[i])
		}
	}
	again, err := p.objects(sess, seg, store.Job{Created: created})
	if err != nil || again[0].key != objs[0].key {
		t.Fatalf("keys differ between two runs: %v", err)
	}
}

func TestUniqueExt(t *testing.T) {
	used := map[string]bool{"vsl": true}
	for _, c := range []struct {
		f    renderedFile
		want string
	}{
		{renderedFile{Name: "x.cast", Role: "cast"}, "cast"},
		{renderedFile{Name: "y.cast", Role: "cast"}, "cast-2.cast"},
		{renderedFile{Name: "x.mp4", Role: "video"}, "mp4"},
		{renderedFile{Name: "y.mp4", Role: "video"}, "video-2.mp4"},
		{renderedFile{Name: "noext", Role: "video"}, "video-3.mp4"},
		{renderedFile{Name: "x.tsv", Role: "transcript"}, "txt"},
		{renderedFile{Name: "p.jpeg", Role: "poster"}, "poster.jpeg"},
		{renderedFile{Name: "p.weird-ext!", Role: "poster"}, "poster.jpg"},
		{renderedFile{Name: "t.jpg", Role: "thumbnail", Offset: 3661 * time.Second}, "thumb-3661.jpg"},
		{renderedFile{Name: "t.jpg", Role: "thumbnail", Offset: 3661 * time.Second}, "thumb-3661-2.jpg"},
	} {
		if got := uniqueExt(c.f, used); got != c.want {
			t.Errorf("uniqueExt(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// TestUploadLocationErrors: New refuses templates that are wrong or would
// make two files share a key, with an error naming the problem.
func TestUploadLocationErrors(t *testing.T) {
	for _, c := range []struct {
		location string
		want     string
		is       error
	}{
		{"s3://rec/{username}/{nope}/{session_id}/{segment}.{ext}", "{nope}", pathtmpl.ErrUnknownVariable},
		{"s3://rec/{username}/{session_id}.{ext}", "{segment}", ErrConfig},
		{"s3://rec/{session_id}/{segment}.vsl", "{ext}", ErrConfig},
		{"s3://rec/{segment}.{ext}", "{session_id}", ErrConfig},
		{"ftp://rec/{session_id}/{segment}.{ext}", "scheme", pathtmpl.ErrScheme},
		{"s3://rec/../{session_id}/{segment}.{ext}", "..", pathtmpl.ErrPath},
	} {
		cfg := Config{Store: &store.Store{}, Events: &eventLog{}, Storage: nopStorage{}, SealedDir: "/s", RendersDir: "/r",
			PublicKey: make([]byte, 32), UploadLocation: c.location}
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) || !errors.Is(err, ErrConfig) {
			t.Errorf("New(%q) = %v; want an ErrConfig naming %q and wrapping %v", c.location, err, c.want, c.is)
		}
	}
}

// nopStorage is a Storage that is never called: for New's checks.
type nopStorage struct{ Storage }

func TestCheckRendered(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.cast": "cast", "a.tsv": "0\thello\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		files []sdk.Rendered
		ok    bool
	}{
		{"relative names", []sdk.Rendered{{Path: "a.cast", Role: "cast"}, {Path: "a.tsv", Role: "transcript"}}, true},
		{"absolute inside", []sdk.Rendered{{Path: filepath.Join(dir, "a.cast"), Role: "cast"}}, true},
		{"absolute outside", []sdk.Rendered{{Path: "/etc/passwd", Role: "cast"}}, false},
		{"climbing", []sdk.Rendered{{Path: "../a.cast", Role: "cast"}}, false},
		{"in a subdirectory", []sdk.Rendered{{Path: "sub/a.cast", Role: "cast"}}, false},
		{"a directory", []sdk.Rendered{{Path: "sub", Role: "cast"}}, false},
		{"a symbolic link", []sdk.Rendered{{Path: "link", Role: "cast"}}, false},
		{"missing", []sdk.Rendered{{Path: "nope.mp4", Role: "video"}}, false},
		{"unknown role", []sdk.Rendered{{Path: "a.cast", Role: "subtitle"}}, false},
		{"listed twice", []sdk.Rendered{{Path: "a.cast", Role: "cast"}, {Path: "a.cast", Role: "cast"}}, false},
		{"the manifest", []sdk.Rendered{{Path: manifestName, Role: "cast"}}, false},
	} {
		m, err := checkRendered(dir, sdk.RenderResult{Files: c.files})
		if c.ok && (err != nil || len(m.Files) != len(c.files) || m.Files[0].SHA256 == "") {
			t.Errorf("%s: %+v, %v", c.name, m, err)
		}
		if !c.ok && !errors.Is(err, ErrBadRender) {
			t.Errorf("%s: %v, want ErrBadRender", c.name, err)
		}
	}
}

func TestBackoffAndFailureCount(t *testing.T) {
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {4, 40 * time.Second}, {5, time.Minute}, {500, time.Minute}} {
		if got := backoff(c.attempt, 5*time.Second, time.Minute); got != c.want {
			t.Errorf("backoff(%d) = %s, want %s", c.attempt, got, c.want)
		}
	}
	for _, c := range []struct {
		lastError string
		want      int
	}{
		{"", 0},
		{renderCause(2, 3, "render failed", errors.New("x")), 2},
		{renderCause(1, 3, "recorder plugin unavailable (not counted)", errors.New("render failures 9 of 9: ")), 1},
		{"capture file x is missing", 0},
		{"render failures x of 3: ", 0},
	} {
		if got := renderFailures(c.lastError); got != c.want {
			t.Errorf("renderFailures(%q) = %d, want %d", c.lastError, got, c.want)
		}
	}
}

// TestResourcesEvent runs a pipeline with a short resources period and
// checks the scaling.status.resources event's fields.
func TestResourcesEvent(t *testing.T) {
	h := newHarness(t, nil)
	p := h.pipeline(nil, Config{ResourcesEvery: 20 * time.Millisecond, QueueLength: 3})
	h.run(p)
	evs := h.ev.wait(t, MetricResources, "", 1)
	for _, k := range []string{"spool_free_bytes", "spool_total_bytes", "cpu_percent", "memory_used_bytes", "memory_percent",
		"encode_slots", "encode_slots_busy", "upload_queued", "encode_queued", "stuck"} {
		if evs[0].Extra[k] == "" {
			t.Errorf("resources event lacks %s: %v", k, evs[0].Extra)
		}
	}
	if evs[0].Extra["encode_slots"] != "3" || evs[0].Component != Component {
		t.Errorf("resources event %+v", evs[0])
	}
	if pct, err := p.res.cpuPercent(); err != nil || pct < 0 || pct > 100 {
		t.Fatalf("cpuPercent = %v, %v", pct, err)
	}
}

func TestStoragePlugin(t *testing.T) {
	parse := func(s string) *pathtmpl.Template {
		tmpl, err := pathtmpl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return tmpl
	}
	for _, c := range []struct {
		name     string
		rec      config.Recording
		table    string
		want     string // plugin name; "" = error
		settings map[string]any
	}{
		{"s3 over https", config.Recording{Upload: parse("s3://rec@minio.lan:9000/{session_id}/{segment}.{ext}"), StorageKey: "AK", StorageSecret: "SK",
			S3Region: "eu-west-1", S3PathStyle: true, S3TLSVerify: true}, `{"part_size":"16MiB","ca_file":"/etc/vigil/ca.pem"}`, "s3",
			map[string]any{"endpoint": "https://minio.lan:9000", "bucket": "rec", "access_key": "AK", "secret_key": "SK", "region": "eu-west-1",
				"path_style": true, "tls_verify": true, "allow_http": false, "part_size": "16MiB", "ca_file": "/etc/vigil/ca.pem"}},
		{"s3 over http allowed", config.Recording{Upload: parse("s3://rec@http://10.0.0.9:9000/{session_id}/{segment}.{ext}"), AllowHTTP: true}, "", "s3",
			map[string]any{"endpoint": "http://10.0.0.9:9000", "allow_http": true}},
		{"s3 over http refused", config.Recording{Upload: parse("s3://rec@http://10.0.0.9:9000/{session_id}/{segment}.{ext}")}, "", "", nil},
		{"aws", config.Recording{Upload: parse("s3://rec/{session_id}/{segment}.{ext}")}, "", "s3",
			map[string]any{"endpoint": "https://s3.amazonaws.com"}},
		{"local", config.Recording{Upload: parse("file:///srv/rec/{username}/{session_id}/{segment}.{ext}")}, "", "local",
			map[string]any{"root": "/srv/rec"}},
		{"table sets the bucket", config.Recording{Upload: parse("s3://rec/{session_id}/{segment}.{ext}")}, `{"bucket":"other"}`, "", nil},
		{"table sets the root", config.Recording{Upload: parse("file:///srv/{session_id}/{segment}.{ext}")}, `{"root":"/tmp"}`, "", nil},
		{"not parsed", config.Recording{}, "", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, b, err := StoragePlugin(&c.rec, map[string][]byte{"storage-s3": []byte(c.table), "storage-local": []byte(c.table)})
			if c.want == "" {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("StoragePlugin = %q, %s, %v; want ErrConfig", name, b, err)
				}
				return
			}
			var got map[string]any
			if err != nil || name != c.want || json.Unmarshal(b, &got) != nil {
				t.Fatalf("StoragePlugin = %q, %s, %v", name, b, err)
			}
			for k, v := range c.settings {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (all: %s)", k, got[k], v, b)
				}
			}
		})
	}
}
