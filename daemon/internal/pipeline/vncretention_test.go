package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// vncSession creates a running VNC session of user.
func (h *harness) vncSession(user string) store.Session {
	h.t.Helper()
	s, err := h.st.CreateSession(context.Background(), store.Session{UserName: user, TargetName: "desk",
		Protocol: store.ProtocolVNC, RS: "10.0.0.9:5900", Recorded: true, RecordingState: store.RecordingRecording,
		StartedAt: time.Date(2026, 2, 27, 9, 30, 0, 0, time.UTC)})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestVNCSegmentsKeptForLaterRenders: retention 0 deletes a segment right
// after its upload, but the VNC recorder renders a later segment by
// replaying the earlier ones: a VNC segment waits, saying why, while its
// session runs and until every later segment is rendered; then all go.
func TestVNCSegmentsKeptForLaterRenders(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	p := h.pipeline(map[string]Recorder{"vnc": sdktest.ServeRecorder(t, &testrecorder.Recorder{}, nil)}, Config{Retention: 0})
	h.run(p)
	sess := h.vncSession("erin")
	segs := h.record(sess, []string{"$ vncviewer"}, 300<<10, 128<<10)
	if len(segs) < 2 {
		t.Fatalf("the capture has %d segments, want several", len(segs))
	}
	h.seal(p, sess.ID, segs[:1])
	h.waitJob(store.JobUpload, sess.ID, 0, store.JobUploaded)
	del := h.waitAttempt(store.JobDelete, sess.ID, 0, 1)
	if del.State != store.JobRetrying || !strings.Contains(del.LastError, "the session is still running") ||
		!del.NextAttemptAt.Equal(clock.Now().Add(laterSegmentsPoll)) {
		t.Fatalf("segment 0's delete job while the session runs: %s %q due %v", del.State, del.LastError, del.NextAttemptAt)
	}
	if !exists(segs[0].Path) {
		t.Fatal("segment 0 was deleted while its session runs")
	}

	ctx := context.Background()
	if err := h.st.EndSession(ctx, sess.ID, store.SessionEnd{}); err != nil {
		t.Fatal(err)
	}
	h.seal(p, sess.ID, segs[1:])
	for _, s := range segs {
		h.waitJob(store.JobEncode, sess.ID, s.Segment, store.JobEncoded)
		h.waitJob(store.JobUpload, sess.ID, s.Segment, store.JobUploaded)
	}
	// Every later segment is rendered: the waiting delete jobs go when
	// they look again.
	clock.Advance(laterSegmentsPoll)
	for _, s := range segs {
		h.waitJob(store.JobDelete, sess.ID, s.Segment, store.JobDeleted)
		if exists(s.Path) {
			t.Errorf("segment %d left after its retention", s.Segment)
		}
	}
}

// TestVNCSegmentOfANeverEndingSession: a session left running by a crash
// never ends; past StuckAfter its segment's delete job is marked stuck
// with an ERROR event rather than looked at forever, the copy kept.
func TestVNCSegmentOfANeverEndingSession(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	p := h.pipeline(map[string]Recorder{"vnc": sdktest.ServeRecorder(t, &testrecorder.Recorder{}, nil)}, Config{Retention: 0, StuckAfter: time.Hour})
	h.run(p)
	sess := h.vncSession("frank")
	segs := h.record(sess, []string{"$ vncviewer"}, 0, 0)
	h.seal(p, sess.ID, segs)
	h.waitAttempt(store.JobDelete, sess.ID, 0, 1)
	clock.Advance(time.Hour)
	j := h.waitJob(store.JobDelete, sess.ID, 0, store.JobStuck)
	if !strings.Contains(j.LastError, "still running") {
		t.Errorf("stuck delete job says %q", j.LastError)
	}
	if evs := h.ev.wait(t, MetricStuck, sess.ID, 1); !strings.Contains(evs[0].Message, "kept past its retention") {
		t.Errorf("recording.stuck: %q", evs[0].Message)
	}
	if !exists(segs[0].Path) {
		t.Error("the segment of a never-ending session was deleted")
	}
}
