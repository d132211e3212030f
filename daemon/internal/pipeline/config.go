package pipeline

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/plugins/sdk"
)

// Defaults of Config.
const (
	DefaultUploadWorkers         = 2
	DefaultUploadRetryBase       = 5 * time.Second
	DefaultUploadRetryMaxBackoff = 5 * time.Minute
	DefaultEncodeMaxFailures     = 3
	DefaultEncodeRetryBase       = 30 * time.Second
	DefaultEncodeRetryMaxBackoff = 10 * time.Minute
	DefaultRenderTimeout         = 2 * time.Hour
	DefaultUploadTimeout         = time.Hour
	DefaultRescanEvery           = 10 * time.Minute
	DefaultRenderGiveUpAfter     = time.Hour
	DefaultStuckAfter            = 24 * time.Hour
	DefaultPollInterval          = time.Second
	DefaultResourcesEvery        = time.Minute
)

// Config is what the pipeline runs with. The dependencies, SealedDir,
// RendersDir, PublicKey and UploadLocation are required; every other zero
// field gets its default from New.
type Config struct {
	Store     Store
	Events    Publisher
	Storage   Storage
	Recorders map[string]Recorder // by session protocol: "ssh", "vnc", "rdp"
	Logger    hclog.Logger        // nil: discard

	SealedDir  string             // spool/sealed: sealed segments wait here
	RendersDir string             // renders land in <RendersDir>/<session>/<segment>/
	PublicKey  ed25519.PublicKey  // the appliance's verification key, for recorders
	Render     sdk.RenderSettings // bitrate, framerate, size, thumbnails, input

	// UploadLocation is the upload-location template (see pathtmpl). It
	// must use {session_id}, {segment} and {ext}, so that every file of
	// every segment gets a key of its own.
	UploadLocation string

	// QueueLength is the number of encode slots; 0 means the number of
	// logical CPUs.
	QueueLength int
	// UploadWorkers is how many uploads run at once (default 2).
	UploadWorkers int

	// Retention is how long local copies stay after a verified upload; 0
	// deletes them right after it.
	Retention time.Duration
	// StuckAfter is how long after its seal a segment may stay
	// un-uploaded before a failing upload is marked stuck (no more
	// retries until an administrator retries it). Default: Retention, or
	// 24 h when Retention is 0.
	StuckAfter time.Duration

	// Failed uploads are retried after UploadRetryBase, doubling up to
	// UploadRetryMaxBackoff (defaults 5 s and 5 min).
	UploadRetryBase       time.Duration
	UploadRetryMaxBackoff time.Duration

	// A render that fails EncodeMaxFailures times (default 3) is given up:
	// the capture is uploaded without renders. Retries wait
	// EncodeRetryBase, doubling up to EncodeRetryMaxBackoff. Failures
	// because the recorder plugin is unavailable (crashed, restarting) do
	// not count, but once the segment has waited RenderGiveUpAfter
	// (default 1 h) for its recorder, it is uploaded without renders too:
	// renders are a convenience, the capture is the evidence.
	EncodeMaxFailures     int
	EncodeRetryBase       time.Duration
	EncodeRetryMaxBackoff time.Duration
	RenderGiveUpAfter     time.Duration
	// RenderTimeout bounds one render (default 2 h), UploadTimeout the
	// upload of one segment's files (default 1 h): a plugin that hangs
	// costs an attempt, never a slot for good.
	RenderTimeout time.Duration
	UploadTimeout time.Duration

	// RescanEvery is how often Run looks through the sealed directory for
	// captures the journal lost track of (a seal that could not be
	// recorded, a crash between two steps), as Recover does at start;
	// default 10 min, negative: never.
	RescanEvery time.Duration

	// PollInterval is how often idle workers look for due jobs (retries
	// and retention come due without anyone waking them); default 1 s.
	PollInterval time.Duration
	// ResourcesEvery is the period of the scaling.status.resources event
	// (default 1 min; negative: never).
	ResourcesEvery time.Duration

	// Now is the clock of due times, backoff and retention (default
	// time.Now).
	Now func() time.Time
	// Unavailable tells a failure of a plugin that is gone or restarting
	// from a failure of the work. Default: errors wrapping
	// sdk.ErrPluginUnavailable, or a gRPC Unavailable status.
	Unavailable func(error) bool
}

// ErrConfig: the configuration is incomplete or wrong.
var ErrConfig = errors.New("invalid pipeline configuration")

func (c *Config) checkAndSetDefaults() (*pathtmpl.Template, error) {
	fail := func(format string, args ...any) (*pathtmpl.Template, error) {
		return nil, fmt.Errorf("pipeline: "+format+": %w", append(args, ErrConfig)...)
	}
	switch {
	case c.Store == nil:
		return fail("no store")
	case c.Events == nil:
		return fail("no event publisher")
	case c.Storage == nil:
		return fail("no storage")
	case c.SealedDir == "" || !filepath.IsAbs(c.SealedDir):
		return fail("sealed directory %q is not an absolute path", c.SealedDir)
	case c.RendersDir == "" || !filepath.IsAbs(c.RendersDir):
		return fail("renders directory %q is not an absolute path", c.RendersDir)
	case len(c.PublicKey) != ed25519.PublicKeySize:
		return fail("public key has %d bytes, want %d", len(c.PublicKey), ed25519.PublicKeySize)
	case c.QueueLength < 0 || c.UploadWorkers < 0 || c.EncodeMaxFailures < 0:
		return fail("queue length, upload workers and encode failures cannot be negative")
	case c.Retention < 0 || c.StuckAfter < 0:
		return fail("retention and stuck threshold cannot be negative")
	}
	tmpl, err := checkLocation(c.UploadLocation)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if c.Recorders == nil {
		c.Recorders = map[string]Recorder{}
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.QueueLength == 0 {
		// runtime.NumCPU counts the logical CPUs this process may run on
		// (its affinity mask), what config uses for queue_length = 0 too.
		c.QueueLength = runtime.NumCPU()
	}
	setDefault(&c.UploadWorkers, DefaultUploadWorkers)
	setDefault(&c.EncodeMaxFailures, DefaultEncodeMaxFailures)
	if c.StuckAfter == 0 {
		c.StuckAfter = c.Retention
	}
	setDefault(&c.StuckAfter, DefaultStuckAfter)
	setDefault(&c.UploadRetryBase, DefaultUploadRetryBase)
	setDefault(&c.UploadRetryMaxBackoff, DefaultUploadRetryMaxBackoff)
	setDefault(&c.EncodeRetryBase, DefaultEncodeRetryBase)
	setDefault(&c.EncodeRetryMaxBackoff, DefaultEncodeRetryMaxBackoff)
	setDefault(&c.RenderTimeout, DefaultRenderTimeout)
	setDefault(&c.UploadTimeout, DefaultUploadTimeout)
	setDefault(&c.RescanEvery, DefaultRescanEvery)
	setDefault(&c.RenderGiveUpAfter, DefaultRenderGiveUpAfter)
	setDefault(&c.PollInterval, DefaultPollInterval)
	setDefault(&c.ResourcesEvery, DefaultResourcesEvery)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Unavailable == nil {
		c.Unavailable = PluginUnavailable
	}
	return tmpl, nil
}

// checkLocation parses an upload-location template, which must give every
// file of every segment a key of its own.
func checkLocation(location string) (*pathtmpl.Template, error) {
	tmpl, err := pathtmpl.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("upload location: %w: %w", err, ErrConfig)
	}
	for _, v := range []string{"session_id", "segment", "ext"} {
		if !tmpl.Uses(v) {
			return nil, fmt.Errorf("upload location %q does not use {%s}: the files of a recording would overwrite each other: %w", location, v, ErrConfig)
		}
	}
	return tmpl, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
