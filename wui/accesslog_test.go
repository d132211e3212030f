package wui_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestAccessLog(t *testing.T) {
	h := newHarness(t)
	xss := h.login(wuitest.XSSUser, "xss-pw-12345")
	xss.do(req{path: "/sessions/history?q=secret+search&user=bob", headers: map[string]string{"User-Agent": "evil\"\n{\"forged\":1}"}})
	sess, clips := h.fake.RecordedSession(wui.RoleCast)
	admin := h.login(wuitest.AdminName, wuitest.AdminPassword)
	admin.do(req{path: "/recordings/" + sess.ID + "/clips/1/media"})
	admin.do(req{path: "/recordings/" + sess.ID + "/download"})

	var lines []map[string]any
	defer func() {
		if t.Failed() {
			t.Log(h.access.String())
		}
	}()
	sdktest.WaitFor(t, 5*time.Second, "the streamed requests' log lines", func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(h.access.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("line %q is not JSON: %v", l, err)
			}
			lines = append(lines, m)
		}
		return len(lines) > 0 && lines[len(lines)-1]["path"] == "/recordings/"+sess.ID+"/download"
	})
	for _, l := range lines {
		for _, k := range []string{"time", "remote_ip", "method", "path", "status", "bytes", "duration_ms", "user", "user_agent"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %v lacks %s", l, k)
			}
		}
		if strings.Contains(l["path"].(string), "secret") || strings.Contains(l["path"].(string), "?") {
			t.Errorf("the query reached the access log: %v", l["path"])
		}
	}
	find := func(path string) map[string]any {
		for _, l := range lines {
			if l["path"] == path {
				return l
			}
		}
		t.Fatalf("no line for %s", path)
		return nil
	}
	// A contractor may not see the history: the refusal is logged too.
	if l := find("/sessions/history"); l["user"] != wuitest.XSSUser || !strings.HasPrefix(l["user_agent"].(string), "evil\"") || l["status"] != 403.0 {
		t.Errorf("history line: %v", l)
	}
	media := find("/recordings/" + sess.ID + "/clips/1/media")
	if media["bytes"] != float64(clips[0].Size) || media["user"] != wuitest.AdminName {
		t.Errorf("media line: %v (clip of %d bytes)", media, clips[0].Size)
	}
	if zipLine := find("/recordings/" + sess.ID + "/download"); zipLine["bytes"].(float64) <= 0 {
		t.Errorf("zip line: %v", zipLine)
	}
}
