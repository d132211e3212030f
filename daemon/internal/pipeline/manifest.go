package pipeline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
)

// manifestName is the file, in a segment's render directory, that lists
// what a successful render produced. It is written last and atomically:
// a render directory without it holds nothing the pipeline uses (a render
// interrupted by a crash is simply redone), and the upload step reads the
// files to upload from it, so that it needs nothing held in memory.
const manifestName = "manifest.json"

const manifestVersion = 1

type manifest struct {
	Version  int            `json:"version"`
	Duration time.Duration  `json:"duration_ns"`
	Files    []renderedFile `json:"files"`
}

// renderedFile is one checked output of a render.
type renderedFile struct {
	Name      string        `json:"name"` // in the render directory
	Role      string        `json:"role"`
	MediaType string        `json:"media_type"`
	Offset    time.Duration `json:"offset_ns,omitempty"`
	Size      int64         `json:"size"`
	SHA256    string        `json:"sha256"`
	// Key is the object key the file was uploaded under, set once the
	// segment's upload finished: retention checks that object even after
	// the upload-location template changed.
	Key string `json:"key,omitempty"`
}

// ErrBadRender: a recorder reported outputs the pipeline cannot accept.
var ErrBadRender = errors.New("recorder returned an unusable result")

// checkRendered turns a render result into the manifest: every file must
// be a regular file directly in dir (a recorder cannot make the pipeline
// upload, or later delete, anything else) with a role the store knows.
// Thumbnails are sorted by offset.
func checkRendered(dir string, res sdk.RenderResult) (manifest, error) {
	m := manifest{Version: manifestVersion, Duration: res.Duration}
	seen := map[string]bool{}
	for _, f := range res.Files {
		name := f.Path
		if filepath.IsAbs(name) {
			rel, err := filepath.Rel(dir, name)
			if err != nil {
				return manifest{}, fmt.Errorf("%w: %q is not in the output directory", ErrBadRender, f.Path)
			}
			name = rel
		}
		if name != filepath.Base(name) || name == "." || name == ".." || name == manifestName || strings.HasPrefix(name, ".") {
			return manifest{}, fmt.Errorf("%w: %q is not a file directly in the output directory", ErrBadRender, f.Path)
		}
		if seen[name] {
			return manifest{}, fmt.Errorf("%w: %q listed twice", ErrBadRender, name)
		}
		seen[name] = true
		switch store.RenderRole(f.Role) {
		case store.RenderCast, store.RenderVideo, store.RenderThumbnail, store.RenderPoster, store.RenderTranscript:
		default:
			return manifest{}, fmt.Errorf("%w: %q has the unknown role %q", ErrBadRender, name, f.Role)
		}
		size, sum, err := hashRegularFile(filepath.Join(dir, name))
		if err != nil {
			return manifest{}, fmt.Errorf("%w: %v", ErrBadRender, err)
		}
		m.Files = append(m.Files, renderedFile{Name: name, Role: f.Role, MediaType: f.MediaType, Offset: f.Offset, Size: size, SHA256: sum})
	}
	slices.SortStableFunc(m.Files, func(a, b renderedFile) int {
		return cmp.Or(strings.Compare(a.Role, b.Role), cmp.Compare(a.Offset, b.Offset))
	})
	return m, nil
}

// hashRegularFile returns the size and hex SHA-256 of the regular file
// (not a symbolic link) at path.
func hashRegularFile(path string) (int64, string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if !st.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// writeManifest writes dir's manifest durably: a temporary file, fsync,
// rename, fsync of the directory.
func writeManifest(dir string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".manifest-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, manifestName)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readManifest reads dir's manifest; ok is false when there is none (no
// finished render).
func readManifest(dir string) (m manifest, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return manifest{}, false, nil
	}
	if err != nil {
		return manifest{}, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	if m.Version != manifestVersion {
		return manifest{}, false, fmt.Errorf("%s: version %d, want %d", filepath.Join(dir, manifestName), m.Version, manifestVersion)
	}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return manifest{}, false, fmt.Errorf("%s: bad file name %q", filepath.Join(dir, manifestName), f.Name)
		}
	}
	return m, true, nil
}
