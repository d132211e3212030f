package packaging_test

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRPMLifecycle installs, upgrades and erases the .rpm on this machine
// (with a private rpm database), so that the scriptlets run with rpm's
// counts: 1 on install, 2 on upgrade (then 1 for the old package's removal
// scripts), 0 on erase.
func TestRPMLifecycle(t *testing.T) {
	skipShort(t, "builds and installs the packages: slow")
	requireRoot(t)
	requireTools(t, "make", "nfpm", "git", "dpkg-shlibdeps", "rpm", "systemctl")
	lockMachine(t)
	pk := buildPackages(t)
	clearLeftovers(t)
	db := t.TempDir()
	rpm := func(args ...string) string {
		t.Helper()
		out := run(t, "", "rpm", append([]string{"--dbpath", db, "--nodeps"}, args...)...)
		t.Logf("rpm %s:\n%s", strings.Join(args, " "), out)
		return out
	}
	const rpmUnit = "/usr/lib/systemd/system/vigil.service"
	t.Cleanup(func() {
		if _, _, err := runErr("", nil, "rpm", "--dbpath", db, "-q", "vigil"); err == nil {
			if _, errOut, err := runErr("", nil, "rpm", "--dbpath", db, "--nodeps", "-e", "vigil"); err != nil {
				t.Errorf("cleanup: rpm -e vigil: %v: %s", err, errOut)
			}
		}
		// What rpm keeps by design, removed as PACKAGING.md says.
		for _, p := range []string{"/etc/vigil", stateDir, logDir, filepath.Dir(dropinPath), wantsLink} {
			os.RemoveAll(p)
		}
		if _, err := user.Lookup("vigil"); err == nil {
			run(t, "", "userdel", "vigil")
		}
		if _, err := user.LookupGroup("vigil"); err == nil {
			run(t, "", "groupdel", "vigil")
		}
	})

	// --- install: $1 = 1 ---
	rpm("-i", "--force-debian", pk.rpm[buildV1])
	checkRPM(t, pk, db, buildV1)
	if _, err := os.Lstat(dropinPath); err == nil {
		t.Errorf("%s exists, but no listener is below 1024", dropinPath)
	}
	if !linksTo(wantsLink, rpmUnit) {
		t.Errorf("vigil.service is not enabled: no %s to %s", wantsLink, rpmUnit)
	}
	if out, errOut, _ := runErr("", nil, "rpm", "--dbpath", db, "--nodeps", "-V", "vigil"); out+errOut != "" {
		t.Errorf("rpm -V after the install:\n%s%s", out, errOut)
	}

	// State to keep, an edited configuration, a listener below 1024.
	marker := "# packaging test marker " + strconv.FormatInt(time.Now().UnixNano(), 36)
	setListen(t, marker, map[string]int{"ssh": freePrivilegedPort(t), "vnc": freePort(t), "wui": freePort(t)})
	keep := filepath.Join(stateDir, "keep-me")
	if err := os.WriteFile(keep, []byte("state\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	vigil, _ := user.Lookup("vigil")
	uid, _ := strconv.Atoi(vigil.Uid)
	gid, _ := strconv.Atoi(vigil.Gid)
	if err := os.Chown(keep, uid, gid); err != nil {
		t.Fatal(err)
	}

	// --- upgrade: new %pre/%post with 2, old %preun/%postun with 1 ---
	rpm("-U", "--force-debian", pk.rpm[buildV2])
	checkRPM(t, pk, db, buildV2)
	if conf, _ := os.ReadFile(configPath); !strings.Contains(string(conf), marker) {
		t.Errorf("the upgrade lost the edit of %s", configPath)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the upgrade lost %s: %v", keep, err)
	}
	if _, err := os.Stat(dropinPath); err != nil {
		t.Errorf("with ssh below 1024 the upgrade must install %s: %v", dropinPath, err)
	}
	if !linksTo(wantsLink, rpmUnit) {
		t.Errorf("the upgrade disabled vigil.service: no %s to %s", wantsLink, rpmUnit)
	}
	if u, err := user.Lookup("vigil"); err != nil || u.Uid != vigil.Uid {
		t.Errorf("the upgrade changed the user vigil: %v %v", u, err)
	}

	// --- erase: $1 = 0; rpm has no purge, so data and the user stay ---
	rpm("-e", "vigil")
	for _, p := range []string{"/usr/bin/vigild", "/usr/bin/vigilctl", "/usr/lib/vigil", "/usr/share/vigil", "/usr/share/doc/vigil",
		"/usr/share/licenses/vigil", rpmUnit, wantsLink, filepath.Dir(dropinPath)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the erase left %s", p)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the erase removed the state: %v", err)
	}
	if saved, err := os.ReadFile(configPath + ".rpmsave"); err != nil || !strings.Contains(string(saved), marker) {
		t.Errorf("the erase must keep the edited configuration as %s.rpmsave: %v", configPath, err)
	}
	if _, err := user.Lookup("vigil"); err != nil {
		t.Errorf("the erase removed the user vigil: %v", err)
	}
}

// checkRPM: the package, its user, its files and their owners and modes.
func checkRPM(t *testing.T, pk *packages, db, build string) {
	t.Helper()
	if v := strings.TrimSpace(run(t, "", "rpm", "--dbpath", db, "-q", "--qf", "%{VERSION}", "vigil")); v != pk.pkgVer[build] {
		t.Fatalf("rpm has vigil %q, want %q", v, pk.pkgVer[build])
	}
	if got := strings.TrimSpace(run(t, "", "/usr/bin/vigild", "--version")); got != "vigild "+build {
		t.Errorf("vigild --version: %q, want %q", got, "vigild "+build)
	}
	pw := passwdEntry(t, "vigil")
	if uid, _ := strconv.Atoi(pw[2]); uid == 0 || uid >= 1000 {
		t.Errorf("vigil has uid %d, want a system uid", uid)
	}
	if pw[5] != stateDir || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("vigil: home %s shell %s, want %s and /usr/sbin/nologin", pw[5], pw[6], stateDir)
	}
	for _, f := range packagedFiles(pk, "/usr/lib/systemd/system/vigil.service") {
		mode, group := fs.FileMode(0o755), "root"
		switch {
		case f == configPath:
			mode, group = 0o640, "vigil"
		case strings.HasPrefix(f, "/usr/share/") || strings.HasSuffix(f, ".service"):
			mode = 0o644
		}
		checkOwner(t, f, "root", group, mode)
	}
	checkOwner(t, stateDir, "vigil", "vigil", 0o750|fs.ModeDir)
	checkOwner(t, logDir, "vigil", "vigil", 0o750|fs.ModeDir)
}

// linksTo: link is a symlink to target, directly or through the merged
// /usr (systemctl may write /lib/systemd/... for /usr/lib/systemd/...).
func linksTo(link, target string) bool {
	if _, err := os.Readlink(link); err != nil {
		return false
	}
	got, err1 := filepath.EvalSymlinks(link)
	want, err2 := filepath.EvalSymlinks(target)
	return err1 == nil && err2 == nil && got == want
}
