package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func configFor(root string) []byte {
	b, _ := json.Marshal(config{Root: root})
	return b
}

// newConfigured returns a store configured on a fresh directory.
func newConfigured(t *testing.T) (*store, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "objects")
	s := newStore()
	if err := s.Configure(context.Background(), configFor(root)); err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		sdktest.StorageConformance(t, func(t *testing.T) sdk.Storage {
			s, _ := newConfigured(t)
			return s
		})
	})
	t.Run("grpc", func(t *testing.T) {
		sdktest.StorageConformance(t, func(t *testing.T) sdk.Storage {
			return sdktest.ServeStorage(t, newStore(), configFor(filepath.Join(t.TempDir(), "objects")))
		})
	})
	t.Run("process", func(t *testing.T) {
		bin := sdktest.PluginBinary(t, ".", "vigil-plugin-storage-local")
		sdktest.StorageConformance(t, func(t *testing.T) sdk.Storage {
			return sdktest.LaunchStorage(t, bin, configFor(filepath.Join(t.TempDir(), "objects")))
		})
	})
}

func TestConfigure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		config string
	}{
		{"empty", ``},
		{"no root", `{}`},
		{"relative root", `{"root": "objects"}`},
		{"unknown key", `{"root": "/tmp/x", "bucket": "b"}`},
		{"not an object", `["/tmp"]`},
		{"trailing data", `{"root": "/tmp/x"} {}`},
		{"root is a file", fmt.Sprintf(`{"root": %q}`, file)},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := newStore().Configure(context.Background(), []byte(c.config))
			if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "storage-local: config: ") {
				t.Fatalf("Configure(%s) = %v, want a storage-local: config: error wrapping ErrInvalidConfig", c.config, err)
			}
		})
	}
	t.Run("unconfigured calls fail", func(t *testing.T) {
		if _, err := newStore().Head(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "not configured") {
			t.Fatalf("Head before Configure = %v", err)
		}
	})
}

func TestPermissions(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	s, root := newConfigured(t)
	if _, err := s.Put(context.Background(), "a/b/c", strings.NewReader("x"), 1, sdk.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{root, 0o750 | fs.ModeDir},
		{filepath.Join(root, "a"), 0o750 | fs.ModeDir},
		{filepath.Join(root, "a/b"), 0o750 | fs.ModeDir},
		{filepath.Join(root, "a/b/c"), 0o640},
		{filepath.Join(root, metaDir, "a/b/c"), 0o640},
	} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != c.want {
			t.Errorf("%s: mode %s, want %s", c.path, st.Mode(), c.want)
		}
	}
}

// tempFiles lists the plugin's temporary files under root.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

type failAfter struct{ n int }

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestFailedPutsLeaveNoTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	bin := sdktest.PluginBinary(t, ".", "vigil-plugin-storage-local")
	for _, mode := range []string{"direct", "process"} {
		t.Run(mode, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "objects")
			var s sdk.Storage
			if mode == "direct" {
				st := newStore()
				if err := st.Configure(ctx, configFor(root)); err != nil {
					t.Fatal(err)
				}
				s = st
			} else {
				s = sdktest.LaunchStorage(t, bin, configFor(root))
			}
			if _, err := s.Put(ctx, "d/obj", strings.NewReader("v1"), 2, sdk.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, "d/obj", &failAfter{n: 700 << 10}, -1, sdk.PutOptions{}); err == nil {
				t.Fatal("Put from a broken reader succeeded")
			}
			if _, err := s.Put(ctx, "d/obj", strings.NewReader("v2"), 2, sdk.PutOptions{SHA256: strings.Repeat("0", 64)}); !errors.Is(err, sdk.ErrContentMismatch) {
				t.Fatalf("Put with a wrong sha256 = %v", err)
			}
			// Over gRPC the plugin learns of the broken reader a moment
			// after the caller does; its cleanup follows.
			sdktest.WaitFor(t, 10*time.Second, "no temporary files left", func() bool { return len(tempFiles(t, root)) == 0 })
			b, err := os.ReadFile(filepath.Join(root, "d/obj"))
			if err != nil || string(b) != "v1" {
				t.Fatalf("object after failed Puts = %q, %v", b, err)
			}
		})
	}
}

func TestKeysCannotEscapeTheRoot(t *testing.T) {
	ctx := context.Background()
	s, root := newConfigured(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Symlinks someone planted inside the root: to a directory and to a
	// file outside, absolute and relative.
	for name, target := range map[string]string{
		"dirlink":  outside,
		"filelink": secret,
		"rellink":  "../../" + filepath.Base(outside) + "/secret",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"dirlink/secret", "filelink", "rellink"} {
		if rc, _, err := s.Get(ctx, key, 0, -1); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Get(%q) read %q from outside the root", key, b)
		}
		if _, err := s.Head(ctx, key); err == nil {
			t.Errorf("Head(%q) reached outside the root", key)
		}
	}
	if _, err := s.Put(ctx, "dirlink/planted", strings.NewReader("x"), 1, sdk.PutOptions{}); err == nil {
		t.Error("Put through a symlink to outside succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("a file was written outside the root")
	}
	objs, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 0 {
		t.Errorf("List shows %v; symlinks are not objects", objs)
	}
	if b, _ := os.ReadFile(secret); string(b) != "top secret" {
		t.Error("the file outside the root changed")
	}
}

func TestReservedNamesAndConflicts(t *testing.T) {
	ctx := context.Background()
	s, _ := newConfigured(t)
	for _, key := range []string{".vigil-meta/x", "a/.vigil-tmp-1", ".vigil-anything"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, sdk.PutOptions{}); !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	put := func(key string) error {
		_, err := s.Put(ctx, key, strings.NewReader("x"), 1, sdk.PutOptions{})
		return err
	}
	if err := put("file"); err != nil {
		t.Fatal(err)
	}
	if err := put("file/below"); !errors.Is(err, sdk.ErrInvalidKey) {
		t.Errorf("Put below an object = %v, want ErrInvalidKey", err)
	}
	if err := put("dir/x"); err != nil {
		t.Fatal(err)
	}
	if err := put("dir"); !errors.Is(err, sdk.ErrInvalidKey) {
		t.Errorf("Put of an existing prefix = %v, want ErrInvalidKey", err)
	}
	// The sidecar tree never shows.
	objs, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "dir/x,file" {
		t.Errorf("List = %q", keys)
	}
}

func TestStaleSidecarIsIgnored(t *testing.T) {
	ctx := context.Background()
	s, root := newConfigured(t)
	if _, err := s.Put(ctx, "k", strings.NewReader("original"), -1, sdk.PutOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	// Replaced behind the plugin's back.
	if err := os.WriteFile(filepath.Join(root, "k"), []byte("changed by hand"), 0o640); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != "" || info.ContentType != "" || info.Size != int64(len("changed by hand")) {
		t.Fatalf("Head after a manual change = %+v; the old sidecar must not be trusted", info)
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	ctx := context.Background()
	s, root := newConfigured(t)
	for _, k := range []string{"a/b/c/one", "a/two"} {
		if _, err := s.Put(ctx, k, bytes.NewReader([]byte("x")), 1, sdk.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/one"); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"a/b", filepath.Join(metaDir, "a/b")} {
		if _, err := os.Stat(filepath.Join(root, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after its last object was deleted (%v)", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "a/two")); err != nil {
		t.Errorf("a sibling object went missing: %v", err)
	}
}
