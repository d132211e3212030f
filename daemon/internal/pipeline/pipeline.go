package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
)

// Pipeline is the recording pipeline of one appliance.
type Pipeline struct {
	cfg Config
	log hclog.Logger

	wake    map[store.JobKind]*wakeup
	busy    map[store.JobKind]*atomic.Int32
	running atomic.Bool
	res     *resourceSampler
	// tun is what Reload may change; jobs read it when they start.
	tun atomic.Pointer[Tunables]
}

// New checks cfg and returns the pipeline; it starts nothing.
func New(cfg Config) (*Pipeline, error) {
	tmpl, err := cfg.checkAndSetDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger.Named("pipeline"),
		wake: map[store.JobKind]*wakeup{}, busy: map[store.JobKind]*atomic.Int32{}, res: newResourceSampler()}
	for _, k := range []store.JobKind{store.JobEncode, store.JobUpload, store.JobDelete} {
		p.wake[k] = &wakeup{}
		p.busy[k] = &atomic.Int32{}
	}
	p.tun.Store(&Tunables{Render: cfg.Render, Retention: cfg.Retention, UploadRetryMaxBackoff: cfg.UploadRetryMaxBackoff,
		UploadLocation: cfg.UploadLocation, tmpl: tmpl})
	return p, nil
}

// Tunables are the settings a running pipeline follows when vigild reloads
// its configuration: the Config fields of the same names. A job reads them
// when it starts; one already running keeps what it began with.
type Tunables struct {
	Render                sdk.RenderSettings
	Retention             time.Duration
	UploadRetryMaxBackoff time.Duration // 0: the default
	// UploadLocation may change only within its scheme: the storage
	// plugin the pipeline talks to is the one it started with.
	UploadLocation string

	tmpl *pathtmpl.Template // UploadLocation, parsed
}

// ErrRestart: a reload changes what the pipeline can take only at start.
var ErrRestart = errors.New("needs a restart")

// Reload makes t the pipeline's tunables; new keys come from the new
// upload location. A bad t changes nothing.
// (StuckAfter, derived from Retention by New when unset, is not changed.)
func (p *Pipeline) Reload(t Tunables) error {
	if t.Retention < 0 || t.UploadRetryMaxBackoff < 0 {
		return fmt.Errorf("pipeline: reload: retention and retry backoff cannot be negative: %w", ErrConfig)
	}
	setDefault(&t.UploadRetryMaxBackoff, DefaultUploadRetryMaxBackoff)
	tmpl, err := checkLocation(t.UploadLocation)
	if err != nil {
		return fmt.Errorf("pipeline: reload: %w", err)
	}
	if cur := p.tunables().tmpl; tmpl.Scheme() != cur.Scheme() {
		return fmt.Errorf("pipeline: reload: upload location scheme %s:// -> %s:// %w", cur.Scheme(), tmpl.Scheme(), ErrRestart)
	}
	t.tmpl = tmpl
	p.tun.Store(&t)
	return nil
}

// UploadLocation is the upload-location template in force.
func (p *Pipeline) UploadLocation() string { return p.tunables().UploadLocation }

func (p *Pipeline) tunables() *Tunables { return p.tun.Load() }

// Run runs the workers until ctx ends: QueueLength encode slots,
// UploadWorkers uploads, one retention worker, the periodic resources
// event and rescan of the sealed directory. Jobs in hand when ctx ends are interrupted and put back in the
// queue, due at once. Run returns nil after a cancellation; it may be
// called again (after Recover) once it returned.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("pipeline: run: already running")
	}
	defer p.running.Store(false)
	var wg sync.WaitGroup
	for range p.cfg.QueueLength {
		wg.Go(func() { p.work(ctx, store.JobEncode, p.encode) })
	}
	for range p.cfg.UploadWorkers {
		wg.Go(func() { p.work(ctx, store.JobUpload, p.upload) })
	}
	wg.Go(func() { p.work(ctx, store.JobDelete, p.retain) })
	if p.cfg.ResourcesEvery > 0 {
		wg.Go(func() { p.reportResources(ctx) })
	}
	if p.cfg.RescanEvery > 0 {
		wg.Go(func() { p.rescanEvery(ctx) })
	}
	wg.Wait()
	return nil
}

// work claims due jobs of kind and handles them one at a time, until ctx
// ends.
func (p *Pipeline) work(ctx context.Context, kind store.JobKind, handle func(context.Context, store.Job)) {
	for ctx.Err() == nil {
		woken := p.wake[kind].wait()
		job, ok, err := p.cfg.Store.ClaimJob(ctx, kind, p.now())
		if err != nil && ctx.Err() == nil {
			p.log.Error("claiming a job", "kind", kind, "error", err)
		}
		if ok {
			p.busy[kind].Add(1)
			handle(ctx, job)
			p.busy[kind].Add(-1)
			continue
		}
		t := time.NewTimer(p.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// wakeup wakes every waiter at once.
type wakeup struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *wakeup) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *wakeup) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

func (p *Pipeline) now() time.Time { return p.cfg.Now() }

// detached is a context for the bookkeeping that must happen even when the
// job's context ended (putting an interrupted job back).
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// renderDir is where the renders of segment n of a session live.
func (p *Pipeline) renderDir(sessionID string, n int) string {
	return filepath.Join(p.cfg.RendersDir, sessionID, strconv.Itoa(n))
}

// ErrBadID: a session id that cannot name a directory or key part safely.
var ErrBadID = errors.New("session id is not 1-64 letters, digits, '-' or '_'")

func checkID(id string) error {
	if id == "" || len(id) > 64 {
		return ErrBadID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ErrBadID
		}
	}
	return nil
}

// load reads a job's segment and session.
func (p *Pipeline) load(ctx context.Context, job store.Job) (store.Segment, store.Session, error) {
	seg, err := p.cfg.Store.GetSegment(ctx, job.SessionID, job.Segment)
	if err != nil {
		return store.Segment{}, store.Session{}, err
	}
	sess, err := p.cfg.Store.GetSession(ctx, job.SessionID)
	if err != nil {
		return store.Segment{}, store.Session{}, err
	}
	return seg, sess, nil
}

// putBack returns a job whose handling was interrupted (ctx ended: the
// daemon stops) to the queue, due now. cause keeps what the job's last
// error must say.
func (p *Pipeline) putBack(ctx context.Context, job store.Job, cause string) {
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := p.cfg.Store.FailJob(dctx, job.ID, cause, p.now()); err != nil {
		p.log.Error("putting an interrupted job back", "job", job.ID, "error", err)
	}
}

// retryLater records a failure that is not the job's fault (the store
// or the disk answered with an error) as cause, retried after a backoff.
func (p *Pipeline) retryLater(ctx context.Context, job store.Job, cause string, err error) {
	p.log.Error("job failed", "kind", job.Kind, "job", job.ID, "session", job.SessionID, "segment", job.Segment, "error", err)
	if ctx.Err() != nil {
		p.putBack(ctx, job, cause)
		return
	}
	retry := p.now().Add(backoff(job.Attempts, p.cfg.UploadRetryBase, p.tunables().UploadRetryMaxBackoff))
	if ferr := p.cfg.Store.FailJob(ctx, job.ID, cause, retry); ferr != nil {
		p.log.Error("recording a job's failure", "job", job.ID, "error", ferr)
	}
}

// jobError prefixes an error with the step and the segment, in the habit
// of the code base: "pipeline: encode: session X segment 3: ...".
func jobError(step string, job store.Job, err error) error {
	return fmt.Errorf("pipeline: %s: session %s segment %d: %w", step, job.SessionID, job.Segment, err)
}
