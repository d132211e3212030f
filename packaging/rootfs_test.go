package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestRootfs builds the appliance image with `make rootfs` and reads the
// tarball. It debootstraps Debian from the network for minutes, so it runs
// only when asked: VIGIL_TEST_ROOTFS=1, or in CI.
func TestRootfs(t *testing.T) {
	if os.Getenv("VIGIL_TEST_ROOTFS") != "1" && !sdktest.InCI() {
		t.Skip("builds a Debian root filesystem (minutes): set VIGIL_TEST_ROOTFS=1 to run it")
	}
	requireRoot(t)
	requireTools(t, "make", "nfpm", "git", "dpkg-deb", "dpkg-shlibdeps", "debootstrap", "chroot")
	pk := buildPackages(t)
	// The .deb of buildV1 is in the tree's dist already: -o keeps make from
	// building it again. The fastest gzip level saves minutes and changes
	// nothing the test reads.
	start := time.Now()
	out, errOut, err := runErr("", []string{"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS=", "ROOTFS_GZIP_LEVEL=1"},
		"make", "-C", pk.tree, "-o", "deb", "-o", "package-files", "rootfs", "VERSION="+buildV1)
	if err != nil {
		t.Fatalf("make rootfs: %v\n%s\n%s", err, tail(out, 40), errOut)
	}
	t.Logf("make rootfs took %s:\n%s", time.Since(start).Round(time.Second), tail(out, 5))
	tarball := filepath.Join(pk.tree, "dist", "vigil-rootfs.tar.gz")
	img := readTarball(t, tarball)

	// Overlay files with their content, mirrored from rootfs/.
	overlay := filepath.Join(pk.tree, "rootfs")
	err = filepath.WalkDir(overlay, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(overlay, path)
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got, ok := img.files[rel]
		switch {
		case !ok:
			t.Errorf("the image lacks the overlay file /%s", rel)
		case !bytes.Equal(got.data, want):
			t.Errorf("/%s in the image is not the overlay's", rel)
		case got.hdr.Uid != 0 || got.hdr.Gid != 0:
			t.Errorf("/%s in the image is owned by %d:%d, want root", rel, got.hdr.Uid, got.hdr.Gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"usr/bin/vigild", "usr/bin/vigilctl", img.resolve("lib/systemd/system/vigil.service")} {
		if _, ok := img.files[p]; !ok {
			t.Errorf("the image lacks /%s", p)
		}
	}
	for _, p := range pk.plugins {
		if _, ok := img.files["usr/lib/vigil/plugins/"+p]; !ok {
			t.Errorf("the image lacks the plugin %s", p)
		}
	}
	if l := img.links["etc/systemd/system/multi-user.target.wants/vigil.service"]; l != "/lib/systemd/system/vigil.service" {
		t.Errorf("vigil.service is not enabled in the image (link %q)", l)
	}
	var vigilUID, vigilGID string
	for _, line := range strings.Split(string(img.files["etc/passwd"].data), "\n") {
		if f := strings.Split(line, ":"); len(f) == 7 && f[0] == "vigil" {
			vigilUID, vigilGID = f[2], f[3]
			if f[5] != stateDir || f[6] != "/usr/sbin/nologin" {
				t.Errorf("etc/passwd: %s", line)
			}
		}
	}
	if vigilUID == "" {
		t.Fatal("the image's etc/passwd has no vigil user")
	}
	if c, ok := img.files["etc/vigil/vigil.toml"]; !ok || strconv.Itoa(c.hdr.Uid) != "0" || strconv.Itoa(c.hdr.Gid) != vigilGID || c.hdr.Mode&0o777 != 0o640 {
		t.Errorf("etc/vigil/vigil.toml in the image: %+v, want root:vigil 0640", c.hdr)
	}
	for _, d := range []string{"var/lib/vigil", "var/log/vigil"} {
		if h, ok := img.dirs[d]; !ok || strconv.Itoa(h.Uid) != vigilUID || h.Mode&0o777 != 0o750 {
			t.Errorf("%s in the image: %+v, want vigil 0750", d, h)
		}
	}
	if id, ok := img.files["etc/machine-id"]; !ok || len(id.data) != 0 {
		t.Error("the image's etc/machine-id must exist and be empty: each appliance makes its own")
	}
	if _, ok := img.files["etc/apt/sources.list.d/debian.sources"]; !ok {
		t.Error("the image has no apt sources")
	}
	st, _ := os.Stat(tarball)
	t.Logf("%s: %d MB, %d files", filepath.Base(tarball), st.Size()>>20, len(img.files))
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

type image struct {
	files map[string]tarFile // regular files; content of the small ones
	dirs  map[string]*tar.Header
	links map[string]string // symlink -> target
}

func readTarball(t *testing.T, path string) *image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	img := &image{files: map[string]tarFile{}, dirs: map[string]*tar.Header{}, links: map[string]string{}}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		switch h.Typeflag {
		case tar.TypeDir:
			img.dirs[name] = h
		case tar.TypeSymlink:
			img.links[name] = h.Linkname
		case tar.TypeReg:
			var data []byte
			if h.Size < 1<<20 {
				if data, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
			img.files[name] = tarFile{h, data}
		}
	}
	return img
}

// resolve follows the merged-/usr links of the image's top directories
// (Debian 12: /lib -> usr/lib).
func (img *image) resolve(p string) string {
	top, rest, _ := strings.Cut(p, "/")
	if l, ok := img.links[top]; ok {
		return strings.TrimPrefix(l, "/") + "/" + rest
	}
	return p
}
