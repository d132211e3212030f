package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestEncodeSlots queues four segments and holds the first render until
// the test releases it. With one slot nothing else starts meanwhile, and
// the encode jobs' start and finish times in the store never overlap; with
// two slots the others go on beside the held one, and the store's times
// overlap (which shows the check can fail).
func TestEncodeSlots(t *testing.T) {
	for _, c := range []struct {
		slots   int
		overlap bool
	}{{1, false}, {2, true}} {
		t.Run(fmt.Sprintf("queue_length=%d", c.slots), func(t *testing.T) {
			h := newHarness(t, nil)
			hold := t.TempDir()
			if err := os.WriteFile(filepath.Join(hold, testrecorder.HoldToken), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{HoldDir: hold}), Config{QueueLength: c.slots, Retention: time.Hour})
			var ids []string
			for i := range 4 {
				sess := h.session(fmt.Sprintf("user%d", i))
				h.seal(p, sess.ID, h.record(sess, []string{"$ make"}, 256<<10, 0))
				ids = append(ids, sess.ID)
			}
			h.run(p)
			sdktest.WaitFor(t, waitTimeout, "a render to hold", func() bool {
				entries, _ := os.ReadDir(hold)
				return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), testrecorder.RenderingPrefix) })
			})
			if c.slots == 1 {
				for _, id := range ids[1:] {
					if j, _ := h.job(store.JobEncode, id, 0); j.State != store.JobPending {
						t.Fatalf("with one slot held, the encode of %s is %s, want pending", id, j.State)
					}
				}
				if st, _ := p.Status(context.Background()); st.EncodeBusy != 1 || st.EncodeSlots != 1 || st.EncodeQueued != 3 {
					t.Fatalf("Status = %+v, want 1 of 1 slots busy and 3 queued", st)
				}
			} else {
				sdktest.WaitFor(t, waitTimeout, "the other segments to encode beside the held one", func() bool {
					n := 0
					for _, id := range ids {
						if j, _ := h.job(store.JobEncode, id, 0); j.State == store.JobEncoded {
							n++
						}
					}
					return n == 3
				})
			}
			if err := os.WriteFile(filepath.Join(hold, testrecorder.Release), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var jobs []store.Job
			for _, id := range ids {
				jobs = append(jobs, h.waitJob(store.JobEncode, id, 0, store.JobEncoded))
			}
			slices.SortFunc(jobs, func(a, b store.Job) int { return a.Started.Compare(b.Started) })
			overlap := false
			for i := range jobs {
				for k := range i {
					if jobs[i].Started.Before(jobs[k].Finished) {
						overlap = true
						if !c.overlap {
							t.Errorf("encode of %s [%v, %v] overlaps %s [%v, %v]", jobs[i].SessionID, jobs[i].Started, jobs[i].Finished,
								jobs[k].SessionID, jobs[k].Started, jobs[k].Finished)
						}
					}
				}
			}
			if c.overlap && !overlap {
				t.Error("with two slots the encodes never overlapped")
			}
		})
	}
}

// TestRecorderPluginKilledMidRender kills the recorder plugin's process
// (launched and supervised by the plugin host) while it renders: the
// render fails as unavailable, is retried without counting against
// EncodeMaxFailures (1 here: a counted failure would give it up), and
// completes on the process the host relaunched.
func TestRecorderPluginKilledMidRender(t *testing.T) {
	h := newHarness(t, nil)
	pluginDir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(pluginDir, 0o750); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, pluginBinary(t, testRecorderPkg, "vigil-plugin-recorder-ssh"), filepath.Join(pluginDir, "vigil-plugin-recorder-ssh"))
	hold := t.TempDir()
	host, err := pluginhost.New(pluginhost.Config{
		Dir: pluginDir, Configs: map[string][]byte{"recorder-ssh": []byte(`{"hold_dir":"` + hold + `"}`)},
		Logger: sdktest.TestLogger(t, "vigild"), Backoff: pluginhost.Backoff{Initial: 50 * time.Millisecond, Max: time.Second, StableAfter: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	rec, err := host.Recorder("ssh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hold, testrecorder.HoldToken), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := h.pipeline(map[string]Recorder{"ssh": rec}, Config{EncodeMaxFailures: 1, EncodeRetryBase: 50 * time.Millisecond, Retention: time.Hour})
	h.run(p)
	sess := h.session("frank")
	h.seal(p, sess.ID, h.record(sess, []string{"$ top"}, 0, 0))

	var mark []byte
	sdktest.WaitFor(t, waitTimeout, "the plugin to hold the render", func() bool {
		mark, _ = os.ReadFile(filepath.Join(hold, fmt.Sprintf("%s%s-0", testrecorder.RenderingPrefix, sess.ID)))
		return len(mark) > 0
	})
	pid := 0
	for _, s := range host.Health() {
		if s.ID == "recorder-ssh" {
			pid = s.PID
		}
	}
	if pid == 0 || fmt.Sprint(pid) != string(mark) {
		t.Fatalf("the host reports pid %d, the holding render runs in %s", pid, mark)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	j := h.waitJob(store.JobEncode, sess.ID, 0, store.JobEncoded, store.JobFailed)
	if j.State != store.JobEncoded || j.Attempts < 2 {
		t.Fatalf("encode job %s after %d attempts (%q), want encoded after a retry", j.State, j.Attempts, j.LastError)
	}
	failed := h.ev.wait(t, MetricEncodeFailed, sess.ID, 1)
	if failed[0].Extra["counted"] != "false" || failed[0].Extra["given_up"] != "" {
		t.Fatalf("encode.failed event %+v, want an uncounted failure", failed[0])
	}
	up := h.waitJob(store.JobUpload, sess.ID, 0, store.JobUploaded)
	objs, err := h.s3.Objects(h.bucket)
	if err != nil {
		t.Fatal(err)
	}
	cast := strings.TrimSuffix(up.ObjectKey, ".vsl") + ".cast"
	if _, ok := objs[cast]; !ok {
		t.Fatalf("bucket %v lacks the render %s", objs, cast)
	}
	for _, s := range host.Health() {
		if s.ID == "recorder-ssh" && (s.Restarts < 1 || s.PID == pid) {
			t.Fatalf("plugin host status %+v, want a relaunched process", s)
		}
	}
}
