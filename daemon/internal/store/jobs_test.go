package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func newSegment(t *testing.T, s *Store, n int) Segment {
	t.Helper()
	ctx := context.Background()
	ss := must[Session](t)(s.CreateSession(ctx, Session{UserName: "alice", Protocol: ProtocolSSH}))
	var g Segment
	for i := 0; i < n; i++ {
		g = must[Segment](t)(s.AddSegment(ctx, Segment{SessionID: ss.ID, N: i, Path: fmt.Sprintf("spool/active/%s.%d.vsl", ss.ID, i)}))
	}
	return g
}

func TestSegmentsAndRenders(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	g := newSegment(t, s, 2)
	if g.State != SegmentRecording || g.N != 1 {
		t.Fatalf("added %+v", g)
	}
	if _, err := s.AddSegment(ctx, Segment{SessionID: g.SessionID, N: 1, Path: "x"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate segment: %v", err)
	}
	if _, err := s.AddSegment(ctx, Segment{SessionID: "nope", N: 0, Path: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("segment of missing session: %v", err)
	}
	if _, err := s.AddSegment(ctx, Segment{SessionID: g.SessionID, N: -1, Path: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative segment: %v", err)
	}
	seal := SegmentSeal{Path: "spool/sealed/x.1.vsl", Size: 1234, SHA256: "ab12", FinalHash: "cd34"}
	if err := s.SealSegment(ctx, g.SessionID, 1, seal); err != nil {
		t.Fatal(err)
	}
	if err := s.SealSegment(ctx, g.SessionID, 1, seal); !errors.Is(err, ErrState) {
		t.Errorf("sealing twice: %v", err)
	}
	if err := s.SealSegment(ctx, g.SessionID, 7, seal); !errors.Is(err, ErrNotFound) {
		t.Errorf("sealing missing: %v", err)
	}
	got := must[Segment](t)(s.GetSegment(ctx, g.SessionID, 1))
	want := Segment{SessionID: g.SessionID, N: 1, Path: seal.Path, Size: 1234, SHA256: "ab12", FinalHash: "cd34",
		SealedAt: clk.Now(), State: SegmentSealed}
	if got != want {
		t.Errorf("sealed %+v, want %+v", got, want)
	}
	up, key := SegmentUploaded, "rec/alice/x.1.vsl"
	if err := s.UpdateSegment(ctx, g.SessionID, 1, SegmentUpdate{State: &up, ObjectKey: &key}); err != nil {
		t.Fatal(err)
	}
	bad := SegmentState("lost")
	if err := s.UpdateSegment(ctx, g.SessionID, 1, SegmentUpdate{State: &bad}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
	if err := s.UpdateSegment(ctx, g.SessionID, 9, SegmentUpdate{State: &up}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing segment: %v", err)
	}
	gs := must[[]Segment](t)(s.ListSegments(ctx, g.SessionID))
	if len(gs) != 2 || gs[0].N != 0 || gs[1].State != SegmentUploaded || gs[1].ObjectKey != key {
		t.Errorf("ListSegments = %+v", gs)
	}

	r := Render{SessionID: g.SessionID, Segment: 1, Role: RenderCast, LocalPath: "renders/x.cast", Size: 10, SHA256: "ee"}
	if err := s.PutRender(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.ObjectKey, r.LocalPath = "rec/x.cast", ""
	if err := s.PutRender(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRender(ctx, Render{SessionID: g.SessionID, Segment: 0, Role: RenderPoster, LocalPath: "p.png"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRender(ctx, Render{SessionID: g.SessionID, Segment: 5, Role: RenderVideo}); !errors.Is(err, ErrNotFound) {
		t.Errorf("render of missing segment: %v", err)
	}
	if err := s.PutRender(ctx, Render{SessionID: g.SessionID, Segment: 0, Role: "gif"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad role: %v", err)
	}
	rs := must[[]Render](t)(s.ListRenders(ctx, g.SessionID))
	if len(rs) != 2 || rs[0].Role != RenderPoster || rs[1] != r {
		t.Errorf("ListRenders = %+v", rs)
	}
}

func TestJobLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	g := newSegment(t, s, 1)
	j, created, err := s.EnqueueJob(ctx, JobEncode, g.SessionID, 0)
	if err != nil || !created || j.State != JobPending || j.Attempts != 0 || !j.NextAttemptAt.Equal(clk.Now()) {
		t.Fatalf("EnqueueJob = %+v, %v, %v", j, created, err)
	}
	again, created, err := s.EnqueueJob(ctx, JobEncode, g.SessionID, 0)
	if err != nil || created || again.ID != j.ID {
		t.Fatalf("second EnqueueJob = %+v, %v, %v", again, created, err)
	}
	if _, _, err := s.EnqueueJob(ctx, JobEncode, g.SessionID, 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("job for missing segment: %v", err)
	}
	if _, _, err := s.EnqueueJob(ctx, "transcode", g.SessionID, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad kind: %v", err)
	}
	if _, ok, _ := s.ClaimJob(ctx, JobUpload, clk.Now()); ok {
		t.Error("claimed an upload job; only an encode job exists")
	}
	if err := s.FinishJob(ctx, j.ID, ""); !errors.Is(err, ErrState) {
		t.Errorf("finishing a pending job: %v", err)
	}

	c, ok, err := s.ClaimJob(ctx, JobEncode, clk.Now())
	if err != nil || !ok || c.ID != j.ID || c.State != JobEncoding || c.Attempts != 1 || !c.Started.Equal(clk.Now()) {
		t.Fatalf("ClaimJob = %+v, %v, %v", c, ok, err)
	}
	if _, ok, _ := s.ClaimJob(ctx, JobEncode, clk.Now()); ok {
		t.Error("claimed a running job")
	}
	if err := s.UpdateJobProgress(ctx, j.ID, 40); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateJobProgress(ctx, j.ID, 140); !errors.Is(err, ErrInvalid) {
		t.Errorf("progress 140: %v", err)
	}
	retryAt := clk.Now().Add(time.Minute)
	if err := s.FailJob(ctx, j.ID, "ffmpeg exited 1", retryAt); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimJob(ctx, JobEncode, clk.Now()); ok {
		t.Error("claimed a job before its retry time")
	}
	c, ok, _ = s.ClaimJob(ctx, JobEncode, retryAt)
	if !ok || c.Attempts != 2 || c.LastError != "ffmpeg exited 1" || c.Progress != 0 {
		t.Fatalf("retry claim = %+v, %v", c, ok)
	}
	clk.Add(2 * time.Minute)
	if err := s.FinishJob(ctx, j.ID, ""); err != nil {
		t.Fatal(err)
	}
	got := must[Job](t)(s.GetJob(ctx, j.ID))
	if got.State != JobEncoded || got.Progress != 100 || !got.Finished.Equal(clk.Now()) || got.LastError != "" {
		t.Errorf("finished %+v", got)
	}
	if err := s.FinishJob(ctx, j.ID, ""); !errors.Is(err, ErrState) {
		t.Errorf("finishing twice: %v", err)
	}
	if err := s.FinishJob(ctx, 999, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("finishing missing: %v", err)
	}

	// Upload: fails for good, is retried by hand, is finished with a key.
	u, _, _ := s.EnqueueJob(ctx, JobUpload, g.SessionID, 0)
	s.ClaimJob(ctx, JobUpload, clk.Now())
	if err := s.FailJob(ctx, u.ID, "403 Forbidden", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := must[Job](t)(s.GetJob(ctx, u.ID)); got.State != JobFailed || got.Finished.IsZero() {
		t.Errorf("failed job %+v", got)
	}
	if _, ok, _ := s.ClaimJob(ctx, JobUpload, clk.Now().Add(time.Hour)); ok {
		t.Error("claimed a failed job")
	}
	if err := s.RetryJob(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryJob(ctx, u.ID); !errors.Is(err, ErrState) {
		t.Errorf("retrying a pending job: %v", err)
	}
	s.ClaimJob(ctx, JobUpload, clk.Now())
	if err := s.FinishJob(ctx, u.ID, "rec/alice/x.vsl"); err != nil {
		t.Fatal(err)
	}
	if got := must[Job](t)(s.GetJob(ctx, u.ID)); got.State != JobUploaded || got.ObjectKey != "rec/alice/x.vsl" || got.Attempts != 2 {
		t.Errorf("uploaded %+v", got)
	}

	// Delete: stuck, then reset by crash recovery only if running.
	d, _, _ := s.EnqueueJob(ctx, JobDelete, g.SessionID, 0)
	s.ClaimJob(ctx, JobDelete, clk.Now())
	if err := s.MarkJobStuck(ctx, d.ID, "no progress for 1h"); err != nil {
		t.Fatal(err)
	}
	if n := must[int64](t)(s.ResetRunningJobs(ctx)); n != 0 {
		t.Errorf("ResetRunningJobs reset %d stuck jobs", n)
	}
	if js := must[[]Job](t)(s.ListJobs(ctx, JobFilter{States: []JobState{JobStuck}})); len(js) != 1 || js[0].ID != d.ID {
		t.Errorf("ListJobs(stuck) = %+v", js)
	}
	if js := must[[]Job](t)(s.ListJobs(ctx, JobFilter{SessionID: g.SessionID})); len(js) != 3 || js[0].Kind != JobEncode {
		t.Errorf("ListJobs(session) = %+v", js)
	}
	if js := must[[]Job](t)(s.ListJobs(ctx, JobFilter{Kind: JobUpload, States: []JobState{JobUploaded}})); len(js) != 1 {
		t.Errorf("ListJobs(upload, uploaded) = %+v", js)
	}
	if _, err := s.ListJobs(ctx, JobFilter{States: []JobState{"nap"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state filter: %v", err)
	}
}

func TestResetRunningJobs(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	g := newSegment(t, s, 3)
	for n := 0; n < 3; n++ {
		s.EnqueueJob(ctx, JobEncode, g.SessionID, n)
	}
	s.ClaimJob(ctx, JobEncode, clk.Now())
	s.ClaimJob(ctx, JobEncode, clk.Now())
	if n := must[int64](t)(s.ResetRunningJobs(ctx)); n != 2 {
		t.Fatalf("reset %d, want 2", n)
	}
	pending := must[[]Job](t)(s.ListJobs(ctx, JobFilter{States: []JobState{JobPending}}))
	if len(pending) != 3 {
		t.Errorf("%d pending after reset, want 3", len(pending))
	}
}

// N workers race for M jobs: every job is claimed exactly once.
func TestClaimJobConcurrent(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	const jobs, workers = 60, 8
	g := newSegment(t, s, jobs)
	for n := 0; n < jobs; n++ {
		if _, _, err := s.EnqueueJob(ctx, JobUpload, g.SessionID, n); err != nil {
			t.Fatal(err)
		}
	}
	// A second handle on the file plays the other process.
	other, err := Open(ctx, s.Path(), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var mu sync.Mutex
	claims := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if w%2 == 1 {
				st = other
			}
			for {
				j, ok, err := st.ClaimJob(ctx, JobUpload, clk.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				claims[j.ID]++
				mu.Unlock()
				if err := st.FinishJob(ctx, j.ID, "k"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(claims) != jobs {
		t.Errorf("%d jobs claimed, want %d", len(claims), jobs)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("job %d claimed %d times", id, n)
		}
	}
}

func TestClaimJobPlan(t *testing.T) {
	s, clk := newTestStore(t)
	plan := explain(t, s, claimSQL, JobEncoding, ns(clk.Now()), JobEncode, ns(clk.Now()))
	if !strings.Contains(plan, "INDEX jobs_due ") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("claim plan %q, want jobs_due without a sort", plan)
	}
}
