package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
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

	t.Run("boot", func(t *testing.T) { bootImage(t, tarball, vigilUID, pk.deb[buildV2], buildV2) })
}

// bootImage unpacks the image and boots it with systemd-nspawn: systemd is
// PID 1 there, so vigil.service runs as the unit says, with every sandboxing
// setting applied (this machine's PID 1 is not systemd). The container
// shares this machine's network: vigild listens on free 127.0.0.1 ports and
// records an SSH session to a real sshd on this machine. Then newDeb
// (newBuild) upgrades the package and dpkg --remove removes it, so that the
// maintainer scripts' branches for a running systemd run too.
func bootImage(t *testing.T, tarball, vigilUID, newDeb, newBuild string) {
	requireTools(t, "systemd-nspawn", "nsenter", "tar", "sshd", "ssh")
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", "tar", "-xzpf", tarball, "--numeric-owner", "-C", root)

	ports := map[string]int{"ssh": freePort(t), "vnc": freePort(t), "wui": freePort(t)}
	setListenIn(t, filepath.Join(root, "etc/vigil/vigil.toml"), "# booted by TestRootfs", ports)
	// The target's key for root only, alice's public key where vigilctl
	// reads it as user vigil.
	secret := filepath.Join(root, "root", "vigil-test")
	public := filepath.Join(root, "srv", "vigil-test")
	for dir, mode := range map[string]os.FileMode{secret: 0o700, public: 0o755} {
		if err := os.MkdirAll(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	writeKey(t, filepath.Join(secret, "target_key"))
	writeKey(t, filepath.Join(public, "alice_key"))
	targetPort := startSSHD(t, t.TempDir(), filepath.Join(secret, "target_key.pub"))

	// --keep-unit --register=no: there is no systemd or machined outside to
	// register the container with.
	// nspawn leaves the directory it propagates mounts through: empty, on
	// this machine's /run (it will not remove a directory on a disk there).
	t.Cleanup(func() { os.Remove("/run/systemd/nspawn/propagate/vigil-rootfs-test") })
	nspawn := start(t, exec.Command("systemd-nspawn", "--quiet", "--directory", root, "--boot",
		"--register=no", "--keep-unit", "--console=pipe", "--machine", "vigil-rootfs-test"), 90*time.Second)
	// The container's PID 1 is systemd-nspawn's child named systemd (nspawn
	// runs short-lived helpers too).
	var leader int
	sdktest.WaitFor(t, 2*time.Minute, "the container's systemd", func() bool {
		if nspawn.exited() {
			t.Fatalf("systemd-nspawn exited: %v\n%s%s", nspawn.err, tail(nspawn.stdout.String(), 40), nspawn.stderr)
		}
		leader = childNamed(nspawn.cmd.Process.Pid, "systemd")
		return leader != 0
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the container's console:\n%s%s", tail(nspawn.stdout.String(), 60), nspawn.stderr)
		}
	})
	inside := func(stdin string, args ...string) string {
		t.Helper()
		return run(t, stdin, "nsenter", append([]string{"--target", strconv.Itoa(leader), "--all"}, args...)...)
	}
	show := func() map[string]string {
		out, _, _ := runErr("", nil, "nsenter", "--target", strconv.Itoa(leader), "--all",
			"systemctl", "show", "vigil.service", "-p", "ActiveState,SubState,Result,NRestarts,StatusText,User,MainPID")
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	var state map[string]string
	deadline := time.Now().Add(3 * time.Minute)
	for state = show(); state["ActiveState"] != "active" || state["SubState"] != "running"; state = show() {
		if nspawn.exited() {
			t.Fatalf("the container stopped: %v", nspawn.err)
		}
		if state["ActiveState"] == "failed" || time.Now().After(deadline) {
			j, _, _ := runErr("", nil, "nsenter", "--target", strconv.Itoa(leader), "--all", "journalctl", "--no-pager", "-n", "80")
			t.Fatalf("vigil.service in the booted image: %v, want active and running; the journal:\n%s", state, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("vigil.service in the booted image: %v", state)
	if !strings.HasPrefix(state["StatusText"], "ready;") || state["NRestarts"] != "0" {
		t.Errorf("vigil.service: %v, want StatusText ready and no restarts", state)
	}
	// The container has no user namespace: the image's uids are this
	// machine's.
	if uid := uidOf(t, childNamed(leader, "vigild")); uid != vigilUID {
		t.Errorf("vigild runs as uid %s in the image, want vigil's %s", uid, vigilUID)
	}
	if j := inside("", "journalctl", "-u", "vigil", "--no-pager"); !strings.Contains(j, "password:") {
		t.Errorf("the journal lacks the administrator password of the first start:\n%s", j)
	}

	// A recorded session through the sandboxed service.
	inside("secret-pw\n", "vigilctl", "users", "add", "alice", "--group", "Users", "--password-stdin")
	inside("", "vigilctl", "users", "add-key", "alice", "/srv/vigil-test/alice_key.pub")
	inside("", "vigilctl", "targets", "add", "web01", "--protocol", "ssh", "--host", "127.0.0.1", "--port", strconv.Itoa(targetPort),
		"--username", "root", "--key-file", "/root/vigil-test/target_key", "--group", "Users")
	sshThrough(t, ports["ssh"], filepath.Join(public, "alice_key"), "echo booted", "booted")
	var sealed []capture
	sdktest.WaitFor(t, 2*time.Minute, "a sealed capture in the image", func() bool {
		sealed = sealedCapturesIn(t, filepath.Join(root, stateDir))
		return len(sealed) > 0
	})
	rel, _ := filepath.Rel(root, sealed[0].path)
	inside("", "vigilctl", "session-logs", "verify", "/"+rel)

	// An upgrade under a running systemd: postinst restarts the running
	// service onto the new programs (try-restart), which keeps its state.
	if err := os.WriteFile(filepath.Join(secret, "vigil-new.deb"), mustRead(t, newDeb), 0o600); err != nil {
		t.Fatal(err)
	}
	oldPID := show()["MainPID"]
	t.Log(inside("", "dpkg", "--force-confold", "-i", "/root/vigil-test/vigil-new.deb"))
	sdktest.WaitFor(t, 2*time.Minute, "vigil.service to run the upgraded vigild", func() bool {
		st := show()
		return st["ActiveState"] == "active" && st["SubState"] == "running" && st["MainPID"] != oldPID
	})
	if j := inside("", "journalctl", "-u", "vigil", "--no-pager"); !strings.Contains(j, "vigild "+newBuild+" ready") {
		t.Errorf("the journal lacks the upgraded vigild's ready line (vigild %s ready):\n%s", newBuild, tail(j, 20))
	}
	kept := false
	for _, c := range sealedCapturesIn(t, filepath.Join(root, stateDir)) {
		kept = kept || (filepath.Base(c.path) == filepath.Base(sealed[0].path) && c.sum == sealed[0].sum)
	}
	if !kept {
		t.Errorf("the upgrade lost or changed the recording %s", sealed[0].path)
	}

	// systemctl stop, as a shutdown does: a clean stop, not a kill.
	inside("", "systemctl", "stop", "vigil.service")
	if st := show(); st["ActiveState"] != "inactive" || st["Result"] != "success" {
		t.Errorf("vigil.service after systemctl stop: %v, want inactive and success", st)
	}
	// dpkg --remove stops a running service (prerm) before the programs go.
	inside("", "systemctl", "start", "vigil.service")
	inside("", "dpkg", "--remove", "vigil")
	if pid := childNamed(leader, "vigild"); pid != 0 {
		t.Errorf("vigild (pid %d) still runs after dpkg --remove", pid)
	}
	if st := show(); st["ActiveState"] == "active" {
		t.Errorf("vigil.service after dpkg --remove: %v", st)
	}
	inside("", "systemctl", "poweroff", "--no-block")
	sdktest.WaitFor(t, 2*time.Minute, "the container to power off", nspawn.exited)
	if nspawn.err != nil {
		t.Errorf("systemd-nspawn: %v", nspawn.err)
	}
}

// childNamed is the first process named comm ("": any) whose parent is
// pid, 0 when none.
func childNamed(pid int, comm string) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i, j := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if i < 0 || j < i {
			continue
		}
		fields := strings.Fields(string(data[j+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) && (comm == "" || string(data[i+1:j]) == comm) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return child
		}
	}
	return 0
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// uidOf is the real uid of process pid.
func uidOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("/proc/%d/status has no Uid line", pid)
	return ""
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
