package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestSealedSegmentsEndUpInTheBucket runs a recording of three segments
// through the real recorder-ssh and storage-s3 plugins into versitygw:
// every segment is rendered, uploaded under its templated keys (the
// hostile user name made safe), verified, indexed for search, and deleted
// locally right away (retention 0); the downloaded captures verify with
// the appliance's key.
func TestSealedSegmentsEndUpInTheBucket(t *testing.T) {
	h := newHarness(t, nil)
	rec := sdktest.LaunchRecorder(t, pluginBinary(t, recorderSSHPkg, "vigil-plugin-recorder-ssh"), nil)
	p := h.pipeline(map[string]Recorder{"ssh": rec}, Config{Retention: 0})
	h.run(p)
	sess := h.session("../../etc")
	segs := h.record(sess, []string{"$ uname -a", "Linux db-prod 6.1.0", "$ cat /etc/motd", "the canary sings at dawn"}, 300<<10, 128<<10)
	if len(segs) < 3 {
		t.Fatalf("the capture has %d segments, want at least 3", len(segs))
	}
	h.seal(p, sess.ID, segs)
	for _, s := range segs {
		h.waitJob(store.JobDelete, sess.ID, s.Segment, store.JobDeleted)
	}

	ctx := context.Background()
	user := pathtmpl.Sanitize(sess.UserName)
	if strings.Contains(user, "/") || strings.Contains(user, "..") {
		t.Fatalf("sanitized user name %q", user)
	}
	objs, err := h.s3.Objects(h.bucket)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var captures []string
	for _, s := range segs {
		base := "vigil/" + user + "/" + sess.ID + "/" + pad4(s.Segment+1)
		want = append(want, base+".vsl", base+".cast", base+".txt")
		// Download every capture segment and verify them together.
		local := filepath.Join(t.TempDir(), filepath.Base(s.Path))
		if err := os.WriteFile(local, h.object(base+".vsl"), 0o600); err != nil {
			t.Fatal(err)
		}
		captures = append(captures, local)

		g, err := h.st.GetSegment(ctx, sess.ID, s.Segment)
		if err != nil {
			t.Fatal(err)
		}
		if g.State != store.SegmentDeleted || g.ObjectKey != base+".vsl" {
			t.Errorf("segment %d: state %s, object key %q; want deleted, %q", s.Segment, g.State, g.ObjectKey, base+".vsl")
		}
		if exists(s.Path) || exists(p.renderDir(sess.ID, s.Segment)) {
			t.Errorf("segment %d: local copies left after an upload with retention 0", s.Segment)
		}
	}
	got := make([]string, 0, len(objs))
	for k := range objs {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("bucket holds\n%q\nwant\n%q", got, want)
	}
	if res := capture.Verify(captures, h.pub); res.Status != capture.Intact || res.Segments != len(segs) {
		t.Fatalf("downloaded captures: %s (%d segments verified of %d)", res.Describe(), res.Segments, len(segs))
	}
	if txt := string(h.object("vigil/" + user + "/" + sess.ID + "/0001.txt")); !strings.Contains(txt, "the canary sings at dawn") {
		t.Fatalf("the uploaded transcript lacks the session's text:\n%.300s", txt)
	}

	found, _, err := h.st.SearchSessions(ctx, store.SessionSearch{Text: "canary dawn"})
	if err != nil || len(found) != 1 || found[0].Session.ID != sess.ID || len(found[0].Hits) != 1 || found[0].Hits[0].Segment != 0 {
		t.Fatalf("transcript search: %+v, %v; want one hit in segment 0", found, err)
	}
	renders, err := h.st.ListRenders(ctx, sess.ID)
	if err != nil || len(renders) != 2*len(segs) {
		t.Fatalf("renders %+v, %v", renders, err)
	}
	for _, r := range renders {
		if r.ObjectKey == "" || r.LocalPath != "" || r.SHA256 == "" {
			t.Errorf("render %+v: want an object key, no local path", r)
		}
	}
	if s, _ := h.st.GetSession(ctx, sess.ID); s.RecordingState != store.RecordingUploaded {
		t.Errorf("session recording state %s, want uploaded", s.RecordingState)
	}
	for _, m := range []string{MetricSealed, MetricEncodeStart, MetricEncodeDone, MetricUploadDone, MetricRetentionDelete} {
		if n := len(h.ev.wait(t, m, sess.ID, len(segs))); n != len(segs) {
			t.Errorf("%d %s events, want one per segment (%d)", n, m, len(segs))
		}
	}
	for _, m := range []string{MetricEncodeFailed, MetricUploadFailed, MetricStuck, MetricCaptureMissing} {
		if evs := h.ev.of(m, ""); len(evs) > 0 {
			t.Errorf("unexpected %s events: %+v", m, evs)
		}
	}
}

func pad4(n int) string { return fmt.Sprintf("%04d", n) }
