package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Sentinel errors.
var (
	ErrInvalidConfig = errors.New("logfile: invalid config")
	ErrClosed        = errors.New("logfile: closed")
)

// ComponentPlaceholder in Config.Path is replaced by the event's component.
const ComponentPlaceholder = "{component}"

// Defaults.
const (
	DefaultMaxSize   = 100 << 20
	DefaultMaxAge    = 24 * time.Hour
	DefaultRetention = 7 * 24 * time.Hour
	sweepEvery       = time.Minute
	rotatedLayout    = "20060102T150405Z"
)

// Config configures a Writer.
type Config struct {
	// Dir is the log directory; Path, relative to it (or absolute), names
	// the file and may contain {component}.
	Dir, Path string
	// MaxSize rotates a file that would grow past it (default 100 MiB,
	// negative: never); MaxAge rotates a file this old (default 24 h,
	// negative: never). Retention deletes rotated files this long after
	// their rotation (default 7 days, negative: never).
	MaxSize   int64
	MaxAge    time.Duration
	Retention time.Duration
	// Compress gzips rotated files, in the background.
	Compress bool
	// Now is the clock (default time.Now): rotation and retention follow
	// it, so tests can move time.
	Now func() time.Time
}

// CheckAndSetDefaults validates c and fills its defaults.
func (c *Config) CheckAndSetDefaults() error {
	if c.Path == "" {
		return fmt.Errorf("%w: no path", ErrInvalidConfig)
	}
	if c.Dir == "" && !filepath.IsAbs(c.Path) {
		return fmt.Errorf("%w: relative path %q and no log directory", ErrInvalidConfig, c.Path)
	}
	if strings.HasSuffix(c.Path, "/") {
		return fmt.Errorf("%w: path %q names a directory", ErrInvalidConfig, c.Path)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Writer appends formatted lines to log files, one line per event.
type Writer struct {
	cfg     Config
	pattern string // absolute path template

	mu        sync.Mutex
	files     map[string]*logFile
	written   uint64
	lastErr   error
	nextSweep time.Time
	closed    bool

	gzMu      sync.Mutex
	gzPending map[string]bool
	gzJobs    chan string
	gzDone    chan struct{}
}

type logFile struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	size  int64
	start time.Time // when the file was started, by the clock
	dirty bool
}

// New checks cfg and returns a writer. Files are opened on first use.
func New(cfg Config) (*Writer, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	pattern := cfg.Path
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(cfg.Dir, pattern)
	}
	w := &Writer{
		cfg: cfg, pattern: pattern,
		files:     map[string]*logFile{},
		gzPending: map[string]bool{},
		gzJobs:    make(chan string, 64),
		gzDone:    make(chan struct{}),
	}
	go w.compressLoop()
	return w, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// PathFor returns the file an event of component goes to.
func (w *Writer) PathFor(component string) string {
	c := unsafeChars.ReplaceAllString(component, "_")
	if c == "" {
		c = "core"
	}
	return strings.ReplaceAll(w.pattern, ComponentPlaceholder, c)
}

// Write appends lines[i] and a newline to the file of evs[i], rotating
// files as needed, and syncs every file it wrote to. On error some lines
// may be written: the caller writes the whole batch again (at least once).
func (w *Writer) Write(_ context.Context, evs []event.Event, lines [][]byte) error {
	if len(evs) != len(lines) {
		return fmt.Errorf("%w: %d events, %d lines", ErrInvalidConfig, len(evs), len(lines))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	err := w.write(evs, lines)
	w.lastErr = err
	if err == nil && len(evs) > 0 {
		w.written = evs[len(evs)-1].Seq
	}
	if now := w.cfg.Now(); !now.Before(w.nextSweep) {
		w.nextSweep = now.Add(sweepEvery)
		w.sweepLocked()
	}
	return err
}

func (w *Writer) write(evs []event.Event, lines [][]byte) error {
	now := w.cfg.Now()
	for i := range evs {
		lf, err := w.file(w.PathFor(evs[i].Component), now)
		if err != nil {
			return err
		}
		n := int64(len(lines[i]) + 1)
		if lf.size > 0 && (w.cfg.MaxSize > 0 && lf.size+n > w.cfg.MaxSize ||
			w.cfg.MaxAge > 0 && now.Sub(lf.start) >= w.cfg.MaxAge) {
			if lf, err = w.rotate(lf, now); err != nil {
				return err
			}
		}
		lf.w.Write(lines[i])
		if err := lf.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("logfile: %s: %w", lf.path, err)
		}
		lf.size += n
		lf.dirty = true
	}
	for _, lf := range w.files {
		if err := lf.sync(); err != nil {
			return err
		}
	}
	return nil
}

func (lf *logFile) sync() error {
	if !lf.dirty {
		return nil
	}
	if err := lf.w.Flush(); err != nil {
		return fmt.Errorf("logfile: %s: %w", lf.path, err)
	}
	if err := lf.f.Sync(); err != nil {
		return fmt.Errorf("logfile: %s: %w", lf.path, err)
	}
	lf.dirty = false
	return nil
}

// file returns the open file for path, reopening it when it was moved or
// deleted behind our back (an outside logrotate, an administrator).
func (w *Writer) file(path string, now time.Time) (*logFile, error) {
	lf := w.files[path]
	if lf != nil && !lf.dirty {
		st, err := os.Stat(path)
		if cur, ferr := lf.f.Stat(); err != nil || ferr != nil || !os.SameFile(st, cur) {
			lf.f.Close()
			delete(w.files, path)
			lf = nil
		}
	}
	if lf != nil {
		return lf, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logfile: %w", err)
	}
	// A file found on disk counts as started at its last change (a file's
	// creation time is not portable), never later than now.
	start := now
	if st.Size() > 0 && st.ModTime().Before(now) {
		start = st.ModTime()
	}
	lf = &logFile{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), size: st.Size(), start: start}
	w.files[path] = lf
	return lf, nil
}

// rotate renames the file to path.<UTC time> (-N added on a clash), starts
// a new one, which it returns, and queues the old one for compression.
func (w *Writer) rotate(lf *logFile, now time.Time) (*logFile, error) {
	if err := lf.sync(); err != nil {
		return nil, err
	}
	lf.f.Close()
	delete(w.files, lf.path)
	base := lf.path + "." + now.UTC().Format(rotatedLayout)
	target := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); os.IsNotExist(err) {
			if _, err := os.Lstat(target + ".gz"); os.IsNotExist(err) {
				break
			}
		}
		target = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(lf.path, target); err != nil {
		return nil, fmt.Errorf("logfile: rotate %s: %w", lf.path, err)
	}
	if w.cfg.Compress {
		w.queueCompress(target)
	}
	return w.file(lf.path, now)
}

var rotatedSuffix = regexp.MustCompile(`\.(\d{8}T\d{6}Z)(-\d+)?(\.gz)?$`)

// Sweep deletes rotated files past retention and queues uncompressed
// rotated files for compression. Write calls it once a minute (by the
// clock); a daemon may call it on a timer for quiet logs.
func (w *Writer) Sweep() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.sweepLocked()
	}
}

func (w *Writer) sweepLocked() {
	glob := strings.ReplaceAll(w.pattern, ComponentPlaceholder, "*") + ".*"
	matches, _ := filepath.Glob(glob)
	now := w.cfg.Now()
	for _, m := range matches {
		sub := rotatedSuffix.FindStringSubmatch(m)
		if sub == nil {
			continue
		}
		at, err := time.Parse(rotatedLayout, sub[1])
		if err != nil {
			continue
		}
		if w.cfg.Retention > 0 && now.Sub(at) > w.cfg.Retention {
			w.gzMu.Lock()
			busy := w.gzPending[m]
			w.gzMu.Unlock()
			if !busy {
				os.Remove(m)
			}
			continue
		}
		if w.cfg.Compress && sub[3] == "" {
			w.queueCompress(m)
		}
	}
}

func (w *Writer) queueCompress(path string) {
	w.gzMu.Lock()
	if w.gzPending[path] {
		w.gzMu.Unlock()
		return
	}
	w.gzPending[path] = true
	w.gzMu.Unlock()
	select {
	case w.gzJobs <- path:
	default:
		// The queue is full: the next sweep queues it again.
		w.gzMu.Lock()
		delete(w.gzPending, path)
		w.gzMu.Unlock()
	}
}

func (w *Writer) compressLoop() {
	defer close(w.gzDone)
	for path := range w.gzJobs {
		// A failure leaves the file as it was, for the next sweep.
		_ = gzipFile(path)
		w.gzMu.Lock()
		delete(w.gzPending, path)
		w.gzMu.Unlock()
	}
}

// gzipFile replaces path by path.gz, or leaves path as it was.
func gzipFile(path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".gz.tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(dst)
	_, err = io.Copy(zw, src)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(path)
}

// Progress reports the last event written; file writes are confirmed as
// soon as they are synced.
func (w *Writer) Progress() (confirmed uint64, all bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written, true, nil
}

// Connected reports whether the last write succeeded.
func (w *Writer) Connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr == nil
}

// Close syncs and closes the files and waits for pending compressions.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	var errs []error
	for _, lf := range w.files {
		errs = append(errs, lf.sync(), lf.f.Close())
	}
	w.files = nil
	w.mu.Unlock()
	close(w.gzJobs)
	<-w.gzDone
	return errors.Join(errs...)
}
