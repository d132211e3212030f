package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
)

const (
	// reservedPrefix starts every name the plugin keeps for itself: the
	// sidecar tree and temporary files. Keys may not use it.
	reservedPrefix = ".vigil-"
	metaDir        = ".vigil-meta"
	tmpPrefix      = ".vigil-tmp-"
	dirMode        = 0o750
	fileMode       = 0o640
)

// config is the plugin's [plugins.storage-local] table.
type config struct {
	// Root is the absolute directory the objects live in.
	Root string `json:"root"`
}

// sidecar is what the plugin keeps about an object besides its bytes. Size
// and ModTime tie it to one version of the file: if the file was replaced
// behind the plugin's back, they no longer match and the sidecar is
// ignored rather than trusted.
type sidecar struct {
	Size        int64             `json:"size"`
	ModTime     time.Time         `json:"mod_time"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// store is the plugin.
type store struct {
	mu   sync.RWMutex
	root *os.Root

	// keyLocks serializes Put and Delete of one key (striped by hash).
	keyLocks [64]sync.Mutex
	// tree keeps Delete from pruning a directory a Put has just created but
	// not yet put its temporary file in.
	tree sync.RWMutex
}

var _ sdk.Storage = (*store)(nil)

func newStore() *store { return &store{} }

func (s *store) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindStorage, Name: "local", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindStorage)}, nil
}

// Configure opens (creating it 0750 if missing) the root directory.
func (s *store) Configure(_ context.Context, configJSON []byte) error {
	var cfg config
	if err := sdk.DecodeConfig("storage-local", configJSON, &cfg); err != nil {
		return err
	}
	if cfg.Root == "" || !filepath.IsAbs(cfg.Root) {
		return fmt.Errorf("storage-local: config: root %q must be an absolute directory: %w", cfg.Root, sdk.ErrInvalidConfig)
	}
	if st, err := os.Stat(cfg.Root); err == nil && !st.IsDir() {
		return fmt.Errorf("storage-local: config: root %s is not a directory: %w", cfg.Root, sdk.ErrInvalidConfig)
	}
	if err := os.MkdirAll(cfg.Root, dirMode); err != nil {
		return fmt.Errorf("storage-local: config: root: %w", err)
	}
	r, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return fmt.Errorf("storage-local: config: root: %w", err)
	}
	s.mu.Lock()
	old := s.root
	s.root = r
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	sdk.Logger().Info("storage-local: root ready", "root", cfg.Root)
	return nil
}

func (s *store) openRoot(op string) (*os.Root, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.root == nil {
		return nil, fmt.Errorf("storage-local: %s: not configured", op)
	}
	return s.root, nil
}

// checkKey applies the contract's key rule and keeps the reserved names.
func checkKey(op, key string) error {
	if err := sdk.ValidateKey(key); err != nil {
		return fmt.Errorf("storage-local: %s: %w", op, err)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, reservedPrefix) {
			return fmt.Errorf("storage-local: %s: key %q uses the reserved name prefix %q: %w", op, key, reservedPrefix, sdk.ErrInvalidKey)
		}
	}
	return nil
}

func (s *store) keyLock(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
}

func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return tmpPrefix + hex.EncodeToString(b)
}

// ctxReader stops a Put whose context ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// conflict maps the errors of a key that collides with the tree (a file
// where a directory must be, or the reverse) to ErrInvalidKey.
func conflict(op, key string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("storage-local: %s: key %q conflicts with an existing object or prefix: %v: %w", op, key, err, sdk.ErrInvalidKey)
	}
	return fmt.Errorf("storage-local: %s %q: %w", op, key, err)
}

// Put writes the content to a temporary file next to the object, checks
// it, fsyncs it, writes the sidecar the same way, then renames both into
// place and fsyncs their directories.
func (s *store) Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	root, err := s.openRoot("put")
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := checkKey("put", key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	lock := s.keyLock(key)
	lock.Lock()
	defer lock.Unlock()

	if st, err := root.Lstat(key); err == nil && st.IsDir() {
		return sdk.ObjectInfo{}, conflict("put", key, syscall.EISDIR)
	}
	dir := path.Dir(key)
	mdir := path.Join(metaDir, dir)
	tmp, mtmp := path.Join(dir, randomName()), path.Join(mdir, randomName())
	f, mf, err := s.createTemps(root, dir, mdir, tmp, mtmp)
	if err != nil {
		return sdk.ObjectInfo{}, conflict("put", key, err)
	}
	committed := false
	defer func() {
		f.Close()
		mf.Close()
		if !committed {
			root.Remove(tmp)
		}
		root.Remove(mtmp) // renamed away on success
	}()

	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: %w", key, err)
	}
	if size >= 0 && n != size {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: got %d bytes, size says %d: %w", key, n, size, sdk.ErrContentMismatch)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, sum) {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: sha256 %s, declared %s: %w", key, sum, opts.SHA256, sdk.ErrContentMismatch)
	}
	if err := f.Chmod(fileMode); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: fsync: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: %w", key, err)
	}
	sc := sidecar{Size: n, ModTime: st.ModTime(), SHA256: sum, ContentType: opts.ContentType, Metadata: opts.Metadata}
	if err := writeSidecar(mf, sc); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: sidecar: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: %w", key, err)
	}
	// The sidecar first: should the object's rename fail, the old object
	// stays intact (its sidecar no longer matches it and is ignored).
	if err := root.Rename(mtmp, path.Join(metaDir, key)); err != nil {
		return sdk.ObjectInfo{}, conflict("put", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return sdk.ObjectInfo{}, conflict("put", key, err)
	}
	committed = true
	if err := syncDir(root, dir); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: fsync dir: %w", key, err)
	}
	if err := syncDir(root, mdir); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-local: put %q: fsync dir: %w", key, err)
	}
	return sdk.ObjectInfo{
		Key: key, Size: n, ModTime: st.ModTime().UTC(), ContentType: opts.ContentType, SHA256: sum, Metadata: opts.Metadata,
	}, nil
}

// createTemps creates the directories and both temporary files while
// holding tree, so that Delete cannot prune a directory in between.
func (s *store) createTemps(root *os.Root, dir, mdir, tmp, mtmp string) (f, mf *os.File, err error) {
	s.tree.RLock()
	defer s.tree.RUnlock()
	for _, d := range []string{dir, mdir} {
		if d != "." {
			if err := root.MkdirAll(d, dirMode); err != nil {
				return nil, nil, err
			}
		}
	}
	f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, nil, err
	}
	mf, err = root.OpenFile(mtmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		f.Close()
		root.Remove(tmp)
		return nil, nil, err
	}
	return f, mf, nil
}

func writeSidecar(f *os.File, sc sidecar) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Chmod(fileMode); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// notFound maps the errors of a missing key (or a key below a file) to
// ErrNotFound.
func notFound(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("storage-local: %s %q: %w", op, key, sdk.ErrNotFound)
	}
	return fmt.Errorf("storage-local: %s %q: %w", op, key, err)
}

// objectInfo describes the object whose file st describes, with what its
// sidecar adds when the sidecar belongs to this version of the file.
func objectInfo(root *os.Root, key string, st fs.FileInfo) sdk.ObjectInfo {
	info := sdk.ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime().UTC()}
	b, err := root.ReadFile(path.Join(metaDir, key))
	if err != nil {
		return info
	}
	var sc sidecar
	if json.Unmarshal(b, &sc) != nil || sc.Size != st.Size() || !sc.ModTime.Equal(st.ModTime()) {
		sdk.Logger().Warn("storage-local: ignoring a sidecar that does not match its object", "key", key)
		return info
	}
	info.SHA256, info.ContentType, info.Metadata = sc.SHA256, sc.ContentType, sc.Metadata
	return info
}

// Get opens the object (never blocking on a FIFO someone put there) and
// returns the requested range of it.
func (s *store) Get(_ context.Context, key string, offset, length int64) (io.ReadCloser, sdk.ObjectInfo, error) {
	root, err := s.openRoot("get")
	if err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	if err := checkKey("get", key); err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	if offset < 0 {
		return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-local: get %q: offset %d: %w", key, offset, sdk.ErrInvalidRange)
	}
	f, err := root.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, sdk.ObjectInfo{}, notFound("get", key, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, sdk.ObjectInfo{}, notFound("get", key, fs.ErrNotExist)
	}
	info := objectInfo(root, key, st)
	var r io.Reader = f
	if offset > 0 {
		if _, err := f.Seek(min(offset, st.Size()), io.SeekStart); err != nil {
			f.Close()
			return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-local: get %q: %w", key, err)
		}
	}
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	return readCloser{r, f}, info, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (s *store) Head(_ context.Context, key string) (sdk.ObjectInfo, error) {
	root, err := s.openRoot("head")
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := checkKey("head", key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	st, err := root.Stat(key)
	if err != nil {
		return sdk.ObjectInfo{}, notFound("head", key, err)
	}
	if !st.Mode().IsRegular() {
		return sdk.ObjectInfo{}, notFound("head", key, fs.ErrNotExist)
	}
	return objectInfo(root, key, st), nil
}

// List walks only the directory the prefix names, skips the reserved
// names, does not follow symlinks, and sorts by key.
func (s *store) List(ctx context.Context, prefix string) ([]sdk.ObjectInfo, error) {
	root, err := s.openRoot("list")
	if err != nil {
		return nil, err
	}
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("storage-local: list: %w", err)
	}
	start := "."
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = prefix[:i]
	}
	out := []sdk.ObjectInfo{}
	err = fs.WalkDir(root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), reservedPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // deleted while listing
		}
		out = append(out, sdk.ObjectInfo{Key: p, Size: fi.Size(), ModTime: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage-local: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b sdk.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the object and its sidecar, then the directories it
// leaves empty.
func (s *store) Delete(_ context.Context, key string) error {
	root, err := s.openRoot("delete")
	if err != nil {
		return err
	}
	if err := checkKey("delete", key); err != nil {
		return err
	}
	lock := s.keyLock(key)
	lock.Lock()
	defer lock.Unlock()
	st, err := root.Lstat(key)
	if err != nil {
		return notFound("delete", key, err)
	}
	if st.IsDir() {
		return notFound("delete", key, fs.ErrNotExist)
	}
	if err := root.Remove(key); err != nil {
		return notFound("delete", key, err)
	}
	if err := root.Remove(path.Join(metaDir, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage-local: delete %q: sidecar: %w", key, err)
	}
	dir := path.Dir(key)
	if err := syncDir(root, dir); err != nil {
		return fmt.Errorf("storage-local: delete %q: fsync dir: %w", key, err)
	}
	s.tree.Lock()
	defer s.tree.Unlock()
	for _, top := range []string{".", metaDir} {
		for d := dir; d != "."; d = path.Dir(d) {
			if root.Remove(path.Join(top, d)) != nil {
				break // not empty (or gone): stop climbing
			}
		}
	}
	return nil
}

func (s *store) Presign(_ context.Context, key, _ string, _ time.Duration) (string, error) {
	if err := checkKey("presign", key); err != nil {
		return "", err
	}
	return "", fmt.Errorf("storage-local: presign: a local directory has no URLs: %w", sdk.ErrUnsupported)
}
