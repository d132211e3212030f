package pipeline

import (
	"context"
	"io"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Store is what the pipeline needs of the store; *store.Store implements
// it.
type Store interface {
	GetSession(ctx context.Context, id string) (store.Session, error)
	CreateSession(ctx context.Context, s store.Session) (store.Session, error)
	UpdateSession(ctx context.Context, id string, u store.SessionUpdate) error

	AddSegment(ctx context.Context, g store.Segment) (store.Segment, error)
	GetSegment(ctx context.Context, sessionID string, n int) (store.Segment, error)
	ListSegments(ctx context.Context, sessionID string) ([]store.Segment, error)
	SealSegment(ctx context.Context, sessionID string, n int, seal store.SegmentSeal) error
	UpdateSegment(ctx context.Context, sessionID string, n int, u store.SegmentUpdate) error

	PutRender(ctx context.Context, r store.Render) error
	ListRenders(ctx context.Context, sessionID string) ([]store.Render, error)
	AddTranscript(ctx context.Context, sessionID string, segment int, lines []store.TranscriptLine) error

	EnqueueJob(ctx context.Context, kind store.JobKind, sessionID string, n int) (store.Job, bool, error)
	ClaimJob(ctx context.Context, kind store.JobKind, now time.Time) (store.Job, bool, error)
	UpdateJobProgress(ctx context.Context, id int64, progress int) error
	FinishJob(ctx context.Context, id int64, objectKey string) error
	FailJob(ctx context.Context, id int64, cause string, retryAt time.Time) error
	MarkJobStuck(ctx context.Context, id int64, cause string) error
	ResetRunningJobs(ctx context.Context) (int64, error)
	ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, error)
}

var _ Store = (*store.Store)(nil)

// Publisher takes the pipeline's events; *events.Bus implements it.
type Publisher interface {
	Publish(e event.Event) error
}

// Recorder renders the sealed segments of one protocol; an sdk.Recorder
// (the plugin host's handle to a recorder plugin) implements it.
type Recorder interface {
	Render(ctx context.Context, req sdk.RenderRequest, progress func(percent int)) (sdk.RenderResult, error)
}

// Storage is where recordings are uploaded; an sdk.Storage (the plugin
// host's handle to the storage plugin) implements it.
type Storage interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error)
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, sdk.ObjectInfo, error)
	Head(ctx context.Context, key string) (sdk.ObjectInfo, error)
}

var (
	_ Recorder = sdk.Recorder(nil)
	_ Storage  = sdk.Storage(nil)
)
