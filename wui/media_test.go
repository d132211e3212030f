package wui_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestRangeRequests(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, clips := h.fake.RecordedSession(wui.RoleVideo)
	data := h.fake.ClipData(sess.ID, clips[0].Segment)
	size := len(data)
	path := fmt.Sprintf("/recordings/%s/clips/%d/media", sess.ID, clips[0].Segment)
	tests := []struct {
		rng          string
		status       int
		contentRange string
		from, to     int // expected body: data[from:to]
	}{
		{"", 200, "", 0, size},
		{"bytes=0-99", 206, fmt.Sprintf("bytes 0-99/%d", size), 0, 100},
		{"bytes=1000-", 206, fmt.Sprintf("bytes 1000-%d/%d", size-1, size), 1000, size},
		{"bytes=-500", 206, fmt.Sprintf("bytes %d-%d/%d", size-500, size-1, size), size - 500, size},
		{fmt.Sprintf("bytes=%d-%d", size-10, size+5000), 206, fmt.Sprintf("bytes %d-%d/%d", size-10, size-1, size), size - 10, size},
		{fmt.Sprintf("bytes=%d-", size), 416, fmt.Sprintf("bytes */%d", size), 0, 0},
		{"bytes=-0", 416, fmt.Sprintf("bytes */%d", size), 0, 0},
		{"bytes=50-10", 200, "", 0, size},     // invalid: ignored
		{"bytes=0-9,20-29", 200, "", 0, size}, // several ranges: the whole file
		{"items=0-9", 200, "", 0, size},       // another unit: ignored
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			headers := map[string]string{}
			if tt.rng != "" {
				headers["Range"] = tt.rng
			}
			res := s.do(req{path: path, headers: headers})
			if res.status != tt.status {
				t.Fatalf("status %d, want %d", res.status, tt.status)
			}
			if res.header["Content-Range"] != tt.contentRange {
				t.Errorf("Content-Range %q, want %q", res.header["Content-Range"], tt.contentRange)
			}
			if res.header["Accept-Ranges"] != "bytes" {
				t.Errorf("Accept-Ranges %q", res.header["Accept-Ranges"])
			}
			if tt.status != 416 {
				if res.body != string(data[tt.from:tt.to]) {
					t.Errorf("body: %d bytes, want data[%d:%d]", len(res.body), tt.from, tt.to)
				}
				if res.header["Content-Type"] != "video/mp4" {
					t.Errorf("Content-Type %q", res.header["Content-Type"])
				}
			}
		})
	}
	sdktest.WaitFor(t, 5*time.Second, "every clip reader closed", func() bool { return h.fake.OpenClips() == 0 })
}

func TestPlayAndDownloadEvents(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, clips := h.fake.RecordedSession(wui.RoleCast)
	c := clips[0]
	media := fmt.Sprintf("/recordings/%s/clips/%d/media", sess.ID, c.Segment)
	download := fmt.Sprintf("/recordings/%s/clips/%d/download", sess.ID, c.Segment)

	if res := s.do(req{path: media}); res.status != 200 || res.body != string(h.fake.ClipData(sess.ID, c.Segment)) {
		t.Fatalf("media: %d", res.status)
	}
	s.do(req{path: media, headers: map[string]string{"Range": "bytes=100-"}}) // seeking is the same play
	plays := h.fake.Events("recording.play")
	plays = plays[len(plays)-1:]
	want := fmt.Sprintf("User %s played %s video: %s", wuitest.AdminName, sess.ID, c.Location)
	if n := len(h.events("recording.play")); n != 1 {
		t.Fatalf("%d play events, want 1", n)
	}
	if ev := plays[0]; ev.Message != want || ev.SessionID != sess.ID || ev.Extra["location"] != c.Location || ev.UserName != wuitest.AdminName {
		t.Errorf("play event %+v, want message %q", ev, want)
	}
	h.advance(11 * time.Minute) // a later play is a new play
	s.do(req{path: media})
	if n := len(h.events("recording.play")); n != 2 {
		t.Errorf("%d play events after the window, want 2", n)
	}

	res := s.do(req{path: download})
	if res.status != 200 || !strings.Contains(res.header["Content-Disposition"], "attachment") || !strings.Contains(res.header["Content-Disposition"], ".cast") {
		t.Fatalf("download: %d %q", res.status, res.header["Content-Disposition"])
	}
	s.do(req{path: download})
	dl := h.events("recording.download")
	if len(dl) != 2 {
		t.Fatalf("%d download events, want one per download", len(dl))
	}
	if want := fmt.Sprintf("User %s downloaded %s video: %s", wuitest.AdminName, sess.ID, c.Location); dl[0].Message != want {
		t.Errorf("download message %q, want %q", dl[0].Message, want)
	}
}

// TestAuditFailureRefuses: a play or download that cannot be logged is not
// served.
func TestAuditFailureRefuses(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, clips := h.fake.RecordedSession(wui.RoleVideo)
	h.fake.SetPublishError(errors.New("event bus full"))
	for _, path := range []string{
		fmt.Sprintf("/recordings/%s/clips/%d/media", sess.ID, clips[0].Segment),
		fmt.Sprintf("/recordings/%s/clips/%d/download", sess.ID, clips[0].Segment),
		fmt.Sprintf("/recordings/%s/download", sess.ID),
	} {
		res := s.do(req{path: path})
		if res.status != 503 || strings.Contains(res.body, "ftyp") {
			t.Errorf("%s with the audit log down: %d", path, res.status)
		}
	}
}

func TestDownloadAllZip(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	for _, role := range []wui.ClipRole{wui.RoleCast, wui.RoleVideo} {
		sess, clips := h.fake.RecordedSession(role)
		res := s.do(req{path: "/recordings/" + sess.ID + "/download"})
		if res.status != 200 || res.header["Content-Type"] != "application/zip" {
			t.Fatalf("%s: %d %q", role, res.status, res.header["Content-Type"])
		}
		zr, err := zip.NewReader(bytes.NewReader([]byte(res.body)), int64(len(res.body)))
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if len(zr.File) != len(clips) {
			t.Fatalf("%s: %d files, want %d", role, len(zr.File), len(clips))
		}
		for i, f := range zr.File {
			want := fmt.Sprintf("%s/%s-%03d.%s", sess.ID, sess.ID, clips[i].Segment, map[wui.ClipRole]string{wui.RoleCast: "cast", wui.RoleVideo: "mp4"}[role])
			if f.Name != want {
				t.Errorf("entry %d is %q, want %q", i, f.Name, want)
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, h.fake.ClipData(sess.ID, clips[i].Segment)) {
				t.Errorf("entry %s: %v, %d bytes differ from the clip", f.Name, err, len(got))
			}
		}
		dl := h.events("recording.download")
		if want := fmt.Sprintf("User %s downloaded entire session: %s", wuitest.AdminName, sess.ID); dl[len(dl)-1].Message != want {
			t.Errorf("event %q, want %q", dl[len(dl)-1].Message, want)
		}
	}
	sdktest.WaitFor(t, 5*time.Second, "every clip reader closed", func() bool { return h.fake.OpenClips() == 0 })
}

func TestThumbnail(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, clips := h.fake.RecordedSession(wui.RoleCast)
	res := s.do(req{path: fmt.Sprintf("/recordings/%s/clips/%d/thumbnail", sess.ID, clips[0].Segment)})
	if res.status != 200 || res.header["Content-Type"] != "image/png" || !strings.HasPrefix(res.body, "\x89PNG") {
		t.Fatalf("thumbnail: %d %q", res.status, res.header["Content-Type"])
	}
	if n := len(h.events("recording.play")); n != 0 {
		t.Errorf("a thumbnail counted as a play")
	}
	if res := s.do(req{path: "/recordings/" + sess.ID + "/clips/99/media"}); res.status != 404 {
		t.Errorf("unknown clip: %d", res.status)
	}
}
