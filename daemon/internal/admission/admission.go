package admission

import (
	"context"
	"errors"
	"fmt"

	"github.com/shirou/gopsutil/v3/disk"
)

// DefaultMinFreeBytes is the free space a recorded session needs on the
// spool filesystem unless configured otherwise: 500 MB (decimal, so the
// refusal message's "500 MB" is exact).
const DefaultMinFreeBytes uint64 = 500 * 1000 * 1000

// Sentinel errors, wrapped in every *RefusedError.
var (
	ErrLowDiskSpace = errors.New("admission: free disk space below the minimum")
	ErrDiskProbe    = errors.New("admission: cannot measure free disk space")
)

// Reasons carried by a *RefusedError, used as the reason field of the
// admission.denied event.
const (
	ReasonLowDiskSpace    = "low_disk_space"
	ReasonDiskProbeFailed = "disk_probe_failed"
)

// Probe reports the bytes an unprivileged process may still write on the
// filesystem holding path.
type Probe func(ctx context.Context, path string) (free uint64, err error)

// DiskFree is the real Probe: gopsutil's disk usage of path (blocks
// available to unprivileged users, which is what vigild runs as).
func DiskFree(ctx context.Context, path string) (uint64, error) {
	u, err := disk.UsageWithContext(ctx, path)
	if err != nil {
		return 0, err
	}
	return u.Free, nil
}

// Config configures a Controller.
type Config struct {
	// SpoolDir is the directory captures are written to (spool/active).
	SpoolDir string
	// MinFreeBytes is the free space a recorded session needs; 0 means
	// DefaultMinFreeBytes.
	MinFreeBytes uint64
	// Probe measures free space; nil means DiskFree. Tests inject their own.
	Probe Probe
}

// Controller admits or refuses sessions. It is safe for concurrent use.
type Controller struct {
	spoolDir string
	minFree  uint64
	probe    Probe
}

// New returns a Controller for cfg, with defaults filled in.
func New(cfg Config) (*Controller, error) {
	if cfg.SpoolDir == "" {
		return nil, errors.New("admission: spool directory is not set")
	}
	if cfg.MinFreeBytes == 0 {
		cfg.MinFreeBytes = DefaultMinFreeBytes
	}
	if cfg.Probe == nil {
		cfg.Probe = DiskFree
	}
	return &Controller{spoolDir: cfg.SpoolDir, minFree: cfg.MinFreeBytes, probe: cfg.Probe}, nil
}

// MinFreeBytes is the threshold in force.
func (c *Controller) MinFreeBytes() uint64 { return c.minFree }

// Admit returns nil when a session may start. record says whether policy
// requires the session to be recorded (the user's groups' record_sessions);
// an unrecorded session is always admitted. A refusal is a *RefusedError.
func (c *Controller) Admit(ctx context.Context, record bool) error {
	if !record {
		return nil
	}
	free, err := c.probe(ctx, c.spoolDir)
	if err != nil {
		return &RefusedError{Reason: ReasonDiskProbeFailed, Spool: c.spoolDir, Min: c.minFree, Err: ErrDiskProbe, Cause: err}
	}
	if free < c.minFree {
		return &RefusedError{Reason: ReasonLowDiskSpace, Spool: c.spoolDir, Free: free, Min: c.minFree, Err: ErrLowDiskSpace}
	}
	return nil
}

// RefusedError is a refused admission. Error is for logs (it names the spool
// directory); UserMessage is what the user is shown (it does not).
type RefusedError struct {
	Reason string // ReasonLowDiskSpace or ReasonDiskProbeFailed
	Spool  string
	Free   uint64 // measured free bytes (low disk space only)
	Min    uint64
	Err    error // ErrLowDiskSpace or ErrDiskProbe
	Cause  error // the probe's error, for ErrDiskProbe
}

func (e *RefusedError) Error() string {
	if e.Reason == ReasonLowDiskSpace {
		return fmt.Sprintf("admission: session refused: free disk space on the recording spool %s is %d bytes, below the minimum of %d",
			e.Spool, e.Free, e.Min)
	}
	return fmt.Sprintf("admission: session refused: cannot measure free disk space on the recording spool %s: %v", e.Spool, e.Cause)
}

// Unwrap gives errors.Is the sentinel and the probe's error.
func (e *RefusedError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// RefusalReason is the reason for the admission.denied event.
func (e *RefusedError) RefusalReason() string { return e.Reason }

// UserMessage is the refusal as the user reads it.
func (e *RefusedError) UserMessage() string {
	if e.Reason == ReasonLowDiskSpace {
		return fmt.Sprintf("vigil: session refused: free disk space on the recording spool is %s, below the %s minimum; contact your administrator",
			megabytes(e.Free), megabytes(e.Min))
	}
	return "vigil: session refused: the recording spool cannot be checked, so the session cannot be recorded; contact your administrator"
}

// megabytes formats n in whole decimal megabytes, rounded down, so that a
// value just under the minimum never prints as the minimum itself.
func megabytes(n uint64) string {
	return fmt.Sprintf("%d MB", n/1000/1000)
}
