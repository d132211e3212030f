package sdk

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Kind names a kind of plugin. Plugin executables are named
// vigil-plugin-<kind>-<name>.
type Kind string

const (
	KindRecorder  Kind = "recorder"
	KindStorage   Kind = "storage"
	KindLogFormat Kind = "logformat"
)

// Info is what every plugin reports about itself. The host refuses a plugin
// whose Kind is not the one it launched it as, or whose APIVersions share none
// with the versions the host accepts.
type Info struct {
	Kind        Kind
	Name        string
	Version     string
	APIVersions []int
}

// Sentinel errors that cross the gRPC boundary intact (mapped to status codes
// by the adapters), so callers on the host can branch on them with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrInvalidKey     = errors.New("invalid key")
	ErrUnsupported    = errors.New("unsupported")
	ErrInvalidConfig  = errors.New("invalid config")
	ErrInvalidCapture = errors.New("invalid capture")
	// ErrContentMismatch: the content a Put received does not match the size
	// or SHA-256 the caller declared; no object was written.
	ErrContentMismatch = errors.New("content does not match its declared size or sha256")
	// ErrInvalidRange: a Get asked for a negative offset.
	ErrInvalidRange = errors.New("invalid range")
)

// Errors the host side of the contract adds; they never come from a plugin's
// own code.
var (
	// ErrPluginUnavailable: the plugin process is gone, restarting or was
	// refused, so the call did not complete. The work may be retried later.
	ErrPluginUnavailable = errors.New("plugin unavailable")
	// ErrIncompatible: the plugin is not what the host can use (wrong kind, no
	// API version in common). Restarting it does not help.
	ErrIncompatible = errors.New("incompatible plugin")
)

// Plugin is what every kind implements.
//
// Lifecycle, in order: Info (checked by the host against the versions it
// accepts), Configure (once after each launch, with the plugin's own table
// from vigil.toml encoded as JSON; an error is fatal for that launch), then
// the kind's calls, concurrently. The host kills the process to stop it.
type Plugin interface {
	Info(ctx context.Context) (Info, error)
	Configure(ctx context.Context, configJSON []byte) error
}

// LogFormatter turns events into log lines. One call carries many events.
type LogFormatter interface {
	Plugin
	// Format returns one line per event, in order, without a trailing
	// newline. A line must never contain a raw newline: user-controlled
	// values are escaped by the format.
	//
	// The events, their strings and their Extra maps are the caller's and
	// valid only until Format returns: the SDK reuses their memory for the
	// next batch, so a formatter copies whatever it keeps beyond the call.
	// The lines it returns may point into the events; the SDK is done with
	// them before it reuses anything.
	Format(ctx context.Context, events []event.Event) ([][]byte, error)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ModTime     time.Time
	ContentType string
	// SHA256 is the hex SHA-256 of the content when the backend knows it.
	SHA256 string
	// Metadata is user metadata stored with the object.
	Metadata map[string]string
}

// PutOptions go with a Put.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string
	// SHA256, if set (hex), is checked against the content received; a
	// mismatch fails the Put and leaves no object behind.
	SHA256 string
}

// Storage keeps objects under keys. Keys are slash-separated relative paths;
// a key that is empty, absolute, contains "..", a NUL or a backslash is
// refused with ErrInvalidKey by every backend (ValidateKey states the whole
// rule). Put is atomic: readers see the whole object or none.
//
// A missing key is ErrNotFound for Get, Head and Delete.
type Storage interface {
	Plugin
	// Put stores the content r yields under key. size is the content length,
	// or -1 when unknown; a known size or opts.SHA256 that the content does
	// not match fails with ErrContentMismatch. If r fails, Put fails with an
	// error wrapping r's and leaves any earlier version intact.
	//
	// When r is an *os.File whose content from its offset is exactly size
	// bytes of a regular file, the host passes a launched plugin the file
	// itself rather than its bytes (storage_side.go): the implementation's
	// r is then also an io.ReaderAt and io.Seeker over that content, to
	// read it in parallel, with a method File() (*os.File, int64) that
	// returns the file and the content's offset in it; the host's file is
	// at the content's end once Put succeeded. Other readers are streamed.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// Get returns the bytes [offset, offset+length) of the object; length < 0
	// means to the end. A range running past the end stops at the end; an
	// offset at or past the end yields no bytes; a negative offset is
	// ErrInvalidRange. The ObjectInfo describes the whole object. The caller
	// closes the reader.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error)
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	// Entries need only Key, Size and ModTime. The prefix "" lists all.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	Delete(ctx context.Context, key string) error
	// Presign returns a URL that grants method ("GET" or "PUT") on key until
	// expiry, or ErrUnsupported.
	Presign(ctx context.Context, key, method string, expiry time.Duration) (string, error)
}

// RenderSettings are the appliance's recording settings a render uses.
type RenderSettings struct {
	BitrateKbps    int
	Framerate      int
	Width          int
	Height         int
	ThumbnailEvery time.Duration
	RecordInput    bool
}

// RenderRequest asks a recorder to render one sealed capture segment. The
// plugin reads CapturePath and writes its outputs into OutputDir, both on the
// appliance's own disk.
type RenderRequest struct {
	SessionID   string
	Segment     int
	CapturePath string
	// PublicKey is the appliance's Ed25519 public key: the recorder verifies
	// the capture before rendering it.
	PublicKey []byte
	OutputDir string
	Settings  RenderSettings
}

// Rendered is one file a render produced.
type Rendered struct {
	Path string // inside OutputDir
	// Role: "cast", "video", "thumbnail", "poster", "transcript".
	Role      string
	MediaType string
	// Offset is, for thumbnails, the time into the segment they show.
	Offset time.Duration
}

// RenderResult is what a render produced.
type RenderResult struct {
	Files    []Rendered
	Duration time.Duration
}

// Recorder renders sealed captures of one protocol to playable media and
// searchable text.
type Recorder interface {
	Plugin
	// Render reports progress (0-100) through progress, which may be nil.
	Render(ctx context.Context, req RenderRequest, progress func(percent int)) (RenderResult, error)
}
