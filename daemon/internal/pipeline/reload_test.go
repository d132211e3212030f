package pipeline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
)

// TestReloadUploadLocation: a reload moves new keys to the new upload
// location within its scheme; another scheme, or a location that would
// give two files one key, is refused and changes nothing.
func TestReloadUploadLocation(t *testing.T) {
	p := keyPipeline(t, "s3://rec@minio.lan:9000/old/{session_id}/{segment}.{ext}")
	key := func() string {
		t.Helper()
		sess := store.Session{ID: "s1", UserName: "alice", StartedAt: time.Now()}
		objs, err := p.objects(sess, store.Segment{SessionID: "s1", N: 0, Path: "/spool/x.vsl"}, store.Job{Created: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return objs[0].key
	}
	if k := key(); !strings.HasPrefix(k, "old/s1/") {
		t.Fatalf("key before the reload: %q", k)
	}
	if err := p.Reload(Tunables{UploadLocation: "s3://rec@minio.lan:9000/new/{username}/{session_id}/{segment}.{ext}", Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if k := key(); !strings.HasPrefix(k, "new/alice/s1/") || p.UploadLocation() != "s3://rec@minio.lan:9000/new/{username}/{session_id}/{segment}.{ext}" {
		t.Errorf("key after the reload: %q (location %q)", k, p.UploadLocation())
	}
	if got := p.tunables().Retention; got != time.Hour {
		t.Errorf("retention after the reload: %s", got)
	}
	for _, c := range []struct {
		location string
		want     error
	}{
		{"file:///srv/rec/{session_id}/{segment}.{ext}", ErrRestart},
		{"s3://rec@minio.lan:9000/x/{session_id}.{ext}", ErrConfig},
		{"s3://rec@minio.lan:9000/x/{session_id}/{segment}.{ext}", nil},
	} {
		retention := time.Duration(0)
		if c.want == nil {
			retention = -1
		}
		err := p.Reload(Tunables{UploadLocation: c.location, Retention: retention})
		if c.want == nil {
			// A negative retention is refused before the location.
			if !errors.Is(err, ErrConfig) {
				t.Errorf("negative retention: %v", err)
			}
		} else if !errors.Is(err, c.want) {
			t.Errorf("reload to %s: %v, want %v", c.location, err, c.want)
		}
		if k := key(); !strings.HasPrefix(k, "new/alice/s1/") {
			t.Errorf("a refused reload (%s) changed the key to %q", c.location, k)
		}
	}
}
