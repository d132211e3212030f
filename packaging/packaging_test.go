// Package packaging_test proves the .deb and .rpm: it builds them from a
// clean copy of the tree (make deb rpm), lints them, installs, upgrades and
// purges them on this machine, runs the packaged vigild as the packaged
// user the way its systemd unit says, records an SSH session through it, and
// checks what must survive an upgrade and what a purge must remove. It
// changes the machine (a package, the vigil user, /etc/vigil, /var/lib/vigil),
// so it runs as root, one test run at a time, and cleans up even on failure.
// rootfs_test.go builds the appliance image.
package packaging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// The two builds the upgrade goes between: git describe shapes, so that
// the version mapping is exercised too. ".gfeed00" marks them as the
// test's own when a crashed run left one installed.
const (
	buildV1   = "v0.1.0-1-gfeed001"
	buildV2   = "v0.1.0-2-gfeed002"
	testMark  = ".gfeed00"
	maxExpose = 2.0
)

const (
	unitPath   = "/lib/systemd/system/vigil.service"
	dropinPath = "/etc/systemd/system/vigil.service.d/privileged-ports.conf"
	configPath = "/etc/vigil/vigil.toml"
	stateDir   = "/var/lib/vigil"
	logDir     = "/var/log/vigil"
	wantsLink  = "/etc/systemd/system/multi-user.target.wants/vigil.service"
)

// TestMain removes the shared build tree after every test ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if built != nil {
		os.RemoveAll(built.tree)
	}
	os.Exit(code)
}

// packages are the .deb and .rpm of both builds, made once per test binary.
type packages struct {
	tree     string
	pkgVer   map[string]string // build VERSION -> package version
	deb, rpm map[string]string // build VERSION -> file
	plugins  []string          // vigil-plugin-<kind>-<name> the tree builds
}

var (
	buildOnce sync.Once
	built     *packages
	buildErr  error
)

// buildPackages copies the tracked and new files of the tree (what a clean
// checkout has) to a directory of its own and runs `make deb rpm` there for
// both versions, so the shared ./bin and ./dist are left alone.
func buildPackages(t *testing.T) *packages {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = makePackages(t) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func makePackages(t *testing.T) (*packages, error) {
	root := repoRoot(t)
	tree, err := os.MkdirTemp("", "vigil-packaging-tree-")
	if err != nil {
		return nil, err
	}
	p := &packages{tree: tree, pkgVer: map[string]string{}, deb: map[string]string{}, rpm: map[string]string{}}
	files, errOut, err := runErr("", nil, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return p, fmt.Errorf("git ls-files: %v: %s", err, errOut)
	}
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		src := filepath.Join(root, f)
		st, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		if !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return p, err
		}
		dst := filepath.Join(tree, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return p, err
		}
		if err := os.WriteFile(dst, data, st.Mode().Perm()|0o200); err != nil {
			return p, err
		}
	}
	mains, _ := filepath.Glob(filepath.Join(tree, "plugins", "*", "main.go"))
	for _, m := range mains {
		p.plugins = append(p.plugins, "vigil-plugin-"+filepath.Base(filepath.Dir(m)))
	}
	// The outer make (make test) must not leak its flags into this one.
	env := []string{"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS="}
	for _, v := range []string{buildV1, buildV2} {
		start := time.Now()
		out, errOut, err := runErr("", env, "make", "-C", tree, "deb", "rpm", "VERSION="+v)
		if err != nil {
			return p, fmt.Errorf("make deb rpm VERSION=%s: %v\n%s\n%s", v, err, tail(out, 40), errOut)
		}
		t.Logf("make deb rpm VERSION=%s took %s", v, time.Since(start).Round(time.Second))
		pv, _, err := runErr("", nil, filepath.Join(tree, "packaging", "pkgversion.sh"), v)
		if err != nil {
			return p, fmt.Errorf("pkgversion.sh %s: %v", v, err)
		}
		p.pkgVer[v] = strings.TrimSpace(pv)
		debs, _ := filepath.Glob(filepath.Join(tree, "dist", "vigil_"+p.pkgVer[v]+"_*.deb"))
		rpms, _ := filepath.Glob(filepath.Join(tree, "dist", "vigil-"+p.pkgVer[v]+"-1.*.rpm"))
		if len(debs) != 1 || len(rpms) != 1 {
			return p, fmt.Errorf("make deb rpm VERSION=%s: want one .deb and one .rpm of %s in dist, got %q %q", v, p.pkgVer[v], debs, rpms)
		}
		p.deb[v], p.rpm[v] = debs[0], rpms[0]
	}
	return p, nil
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestPackageVersions: every shape of VERSION becomes a version dpkg and rpm
// both accept, and both order them alike.
func TestPackageVersions(t *testing.T) {
	requireTools(t, "dpkg", "rpm")
	script := filepath.Join(repoRoot(t), "packaging", "pkgversion.sh")
	// In release order.
	ordered := []struct{ in, want string }{
		{"7d1c0ab", "0.1.0~git7d1c0ab"},
		{"15d18bc-dirty", "0.1.0~git15d18bc.dirty"},
		{"v0.1.0-rc1", "0.1.0~rc1"},
		{"v0.1.0-rc1-4-g1234abc", "0.1.0~rc1+git4.g1234abc"},
		{"v0.1.0", "0.1.0"},
		{"v0.1.0-dirty", "0.1.0+dirty"},
		{"v0.1.0-3-gabc1234", "0.1.0+git3.gabc1234"},
		{"v0.1.0-3-gabc1234-dirty", "0.1.0+git3.gabc1234.dirty"},
		{"v0.1.0-12-g0123456", "0.1.0+git12.g0123456"},
		{"v0.1.1", "0.1.1"},
		{"1.0.0", "1.0.0"},
	}
	others := []struct{ in, want string }{
		{"dev", "0.1.0~dev"},
		{"", "0.1.0~unknown"},
		{"feature/x_y", "0.1.0~feature.x.y"},
	}
	rpmValid := regexp.MustCompile(`^[0-9][A-Za-z0-9._+~^]*$`)
	for _, c := range append(append([]struct{ in, want string }{}, ordered...), others...) {
		got := strings.TrimSpace(run(t, "", script, c.in))
		if got != c.want {
			t.Errorf("pkgversion.sh %q = %q, want %q", c.in, got, c.want)
		}
		if _, errOut, err := runErr("", nil, "dpkg", "--validate-version", got); err != nil {
			t.Errorf("dpkg refuses %q (from %q): %s", got, c.in, errOut)
		}
		if !rpmValid.MatchString(got) {
			t.Errorf("%q (from %q) is not a valid rpm version", got, c.in)
		}
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1].want, ordered[i].want
		if _, _, err := runErr("", nil, "dpkg", "--compare-versions", a, "lt", b); err != nil {
			t.Errorf("dpkg: %s is not older than %s", a, b)
		}
		cmp := strings.TrimSpace(run(t, "", "rpm", "--eval", fmt.Sprintf(`%%{lua: print(rpm.vercmp("%s", "%s"))}`, a, b)))
		if cmp != "-1" {
			t.Errorf("rpm: %s is not older than %s (vercmp %s)", a, b, cmp)
		}
	}
}

// TestPrivilegedPortsCheck: which listen lines make the package grant
// CAP_NET_BIND_SERVICE.
func TestPrivilegedPortsCheck(t *testing.T) {
	script := filepath.Join(repoRoot(t), "packaging", "privileged-ports")
	cases := []struct {
		name, config, settings string
		want                   bool
	}{
		{"defaults", "# [ssh]\n# listen = \"127.0.0.1:22\"\n", "", false},
		{"ssh 22", "[ssh]\nlisten = \"0.0.0.0:22\"\n", "", true},
		{"wui 443 single quotes", "[wui]\nlisten = '10.0.0.1:443'\n", "", true},
		{"ipv6 1023", "[vnc]\n  listen=\"[::1]:1023\"\n", "", true},
		{"1024", "[ssh]\nlisten = \"127.0.0.1:1024\"\n", "", false},
		{"2222", "[ssh]\nlisten = \"127.0.0.1:2222\"\n", "", false},
		{"port 0", "[ssh]\nlisten = \"127.0.0.1:0\"\n", "", false},
		{"sink address", "[[log.sink]]\naddress = \"siem:514\"\n", "", false},
		{"settings 80", "[ssh]\nlisten = \"127.0.0.1:2222\"\n", "[wui]\nlisten = \"0.0.0.0:80\"\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "vigil.toml")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf("state_dir = %q\n%s", state, c.config)), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.settings != "" {
				if err := os.WriteFile(filepath.Join(state, "settings.toml"), []byte(c.settings), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, err := runErr("", []string{"VIGIL_CONFIG=" + conf}, script, "--check")
			var ee *exec.ExitError
			switch {
			case err == nil:
				if !c.want {
					t.Errorf("--check says %s needs CAP_NET_BIND_SERVICE", strings.TrimSpace(out))
				}
			case errors.As(err, &ee) && ee.ExitCode() == 1:
				if c.want {
					t.Error("--check misses the port below 1024")
				}
			default:
				t.Fatalf("--check: %v: %s", err, errOut)
			}
		})
	}
}

// TestPackageContents lints the .deb and reads both packages' metadata.
func TestPackageContents(t *testing.T) {
	skipShort(t, "builds the packages: slow")
	requireTools(t, "make", "nfpm", "git", "dpkg-deb", "dpkg-shlibdeps", "lintian", "rpm")
	pk := buildPackages(t)
	deb, rpm := pk.deb[buildV1], pk.rpm[buildV1]
	pv := pk.pkgVer[buildV1]

	t.Run("lintian", func(t *testing.T) {
		out, errOut, err := runErr("", nil, "lintian", "--display-info", "--pedantic", deb)
		t.Logf("lintian %s:\n%s%s", filepath.Base(deb), out, errOut)
		if err != nil {
			t.Errorf("lintian failed: %v", err)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
				t.Errorf("lintian: %s (fix it, or override it with a reason in packaging/lintian-overrides)", l)
			}
		}
	})

	t.Run("deb", func(t *testing.T) {
		fields := map[string]string{}
		for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Depends", "Section", "Homepage"} {
			fields[f] = strings.TrimSpace(run(t, "", "dpkg-deb", "-f", deb, f))
		}
		want := map[string]string{"Package": "vigil", "Version": pv, "Architecture": strings.TrimSpace(run(t, "", "dpkg", "--print-architecture")), "Section": "net"}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("%s: %q, want %q", k, fields[k], v)
			}
		}
		for _, dep := range []string{"libc6 (>=", "passwd", "ffmpeg"} {
			if !strings.Contains(fields["Depends"], dep) {
				t.Errorf("Depends %q lacks %s", fields["Depends"], dep)
			}
		}
		if conffiles := run(t, "", "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(conffiles) != configPath {
			t.Errorf("conffiles: %q, want %s", conffiles, configPath)
		}
		listing := run(t, "", "dpkg-deb", "-c", deb)
		for _, f := range append(packagedFiles(pk, unitPath), "/usr/share/doc/vigil/changelog.gz", "/usr/share/doc/vigil/copyright",
			"/usr/share/doc/vigil/third-party-notices.gz", "/usr/share/lintian/overrides/vigil") {
			if !strings.Contains(listing, " ."+f+"\n") {
				t.Errorf("the .deb lacks %s", f)
			}
		}
	})

	t.Run("rpm", func(t *testing.T) {
		info := run(t, "", "rpm", "-qip", rpm)
		t.Logf("rpm -qip:\n%s", info)
		for _, re := range []string{`(?m)^Name\s*: vigil$`, `(?m)^Version\s*: ` + regexp.QuoteMeta(pv) + `$`, `(?m)^Release\s*: 1$`,
			`(?m)^Architecture: (x86_64|aarch64|\S+)$`, `(?m)^License\s*: Apache-2.0$`, `(?m)^URL\s*: https://`, `(?m)^Summary\s*: \S`,
			`(?m)^Group\s*: Applications/Internet$`} {
			if !regexp.MustCompile(re).MatchString(info) {
				t.Errorf("rpm -qip lacks %s", re)
			}
		}
		list := run(t, "", "rpm", "-qlp", rpm)
		for _, f := range append(packagedFiles(pk, "/usr/lib/systemd/system/vigil.service"),
			"/usr/share/licenses/vigil/LICENSE", "/usr/share/licenses/vigil/third-party-notices", stateDir, logDir) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f) + `$`).MatchString(list) {
				t.Errorf("rpm -qlp lacks %s", f)
			}
		}
		if c := strings.TrimSpace(run(t, "", "rpm", "-qcp", rpm)); c != configPath {
			t.Errorf("rpm -qcp: %q, want %s", c, configPath)
		}
		modes := run(t, "", "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`, rpm)
		for _, want := range []string{
			configPath + " -rw-r----- root vigil cn",
			stateDir + " drwxr-x--- vigil vigil ",
			logDir + " drwxr-x--- vigil vigil ",
			"/usr/bin/vigild -rwxr-xr-x root root ",
			"/usr/share/licenses/vigil/LICENSE -rw-r--r-- root root l",
		} {
			if !strings.Contains(modes+"\n", want) {
				t.Errorf("rpm files lack %q:\n%s", want, modes)
			}
		}
		reqs := run(t, "", "rpm", "-qp", "--requires", rpm)
		for _, r := range []string{"shadow-utils", "glibc"} {
			if !strings.Contains(reqs, r) {
				t.Errorf("rpm requires lack %s:\n%s", r, reqs)
			}
		}
		scripts := run(t, "", "rpm", "-qp", "--scripts", rpm)
		for _, s := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
			if !strings.Contains(scripts, s) {
				t.Errorf("rpm --scripts lacks the %s", s)
			}
		}
		if out := run(t, "", "rpm", "-K", "--nosignature", rpm); !strings.Contains(out, "digests OK") {
			t.Errorf("rpm -K: %s", out)
		}
	})
}

// packagedFiles are the files both packages must hold.
func packagedFiles(pk *packages, unit string) []string {
	files := []string{"/usr/bin/vigild", "/usr/bin/vigilctl", configPath, unit, "/usr/lib/vigil/privileged-ports",
		"/usr/share/vigil/privileged-ports.conf", "/usr/share/man/man8/vigild.8.gz", "/usr/share/man/man8/vigilctl.8.gz",
		"/usr/share/doc/vigil/README.md", "/usr/share/doc/vigil/PACKAGING.md"}
	for _, p := range pk.plugins {
		files = append(files, "/usr/lib/vigil/plugins/"+p)
	}
	return files
}

// TestDebLifecycle installs the .deb, runs and uses the packaged vigild as
// systemd would, upgrades, and purges.
func TestDebLifecycle(t *testing.T) {
	skipShort(t, "builds and installs the packages: slow")
	requireRoot(t)
	requireTools(t, "make", "nfpm", "git", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-shlibdeps", "systemd-analyze",
		"deb-systemd-helper", "sshd", "ssh", "man")
	lockMachine(t)
	pk := buildPackages(t)
	clearLeftovers(t)
	t.Cleanup(func() { purgeDeb(t) })
	work := t.TempDir()
	// Public keys where vigilctl finds them once it acts as user vigil.
	public := openTempDir(t, "vigil-packaging-public-")

	// --- install ---
	dpkg(t, "-i", pk.deb[buildV1])
	checkInstalled(t, pk, buildV1)
	if _, err := os.Lstat(dropinPath); err == nil {
		t.Errorf("%s exists, but no listener is below 1024", dropinPath)
	}
	checkUnit(t, "installed")

	// The configuration: free ports (other tests use this machine too) and a
	// marker that must survive the upgrade.
	ports := map[string]int{"ssh": freePort(t), "vnc": freePort(t), "wui": freePort(t)}
	marker := "# packaging test marker " + strconv.FormatInt(time.Now().UnixNano(), 36)
	setListen(t, marker, ports)

	// --- the target and the keys ---
	writeKey(t, filepath.Join(work, "target_key"))
	writeKey(t, filepath.Join(work, "alice_key"))
	alicePub := filepath.Join(public, "alice_key.pub")
	if err := os.Rename(filepath.Join(work, "alice_key.pub"), alicePub); err != nil {
		t.Fatal(err)
	}
	targetPort := startSSHD(t, work, filepath.Join(work, "target_key.pub"))

	// --- first start: as systemd would, as user vigil ---
	u := readUnit(t, unitPath)
	if u.user != "vigil" || u.group != "vigil" {
		t.Fatalf("the unit runs as %s:%s, want vigil:vigil", u.user, u.group)
	}
	d := startVigild(t, u)
	if !strings.Contains(d.proc.stdout.String(), "password:") {
		t.Errorf("the first start printed no administrator password:\n%s", d.proc.stdout)
	}
	checkStateModes(t)
	checkFooter(t, ports["wui"], buildV1)

	vigilctl(t, "secret-pw\n", "users", "add", "alice", "--group", "Users", "--password-stdin")
	vigilctl(t, "", "users", "add-key", "alice", alicePub)
	vigilctl(t, "", "targets", "add", "web01", "--protocol", "ssh", "--host", "127.0.0.1", "--port", strconv.Itoa(targetPort),
		"--username", "root", "--key-file", filepath.Join(work, "target_key"), "--group", "Users")
	sshThrough(t, ports["ssh"], filepath.Join(work, "alice_key"), "echo hello", "hello")
	capture := waitForCapture(t)
	vigilctl(t, "", "session-logs", "verify", capture.path)
	pubKey := vigilctl(t, "", "keys", "export")
	users := vigilctl(t, "", "users", "list")
	if !strings.Contains(users, "alice") {
		t.Fatalf("users list lacks alice:\n%s", users)
	}
	sdktest.WaitFor(t, 45*time.Second, "WATCHDOG=1 (WatchdogSec=30s)", func() bool { return d.notify.has("WATCHDOG=1") })
	d.stopClean(t)

	// --- upgrade, with a listener below 1024 now ---
	low := freePrivilegedPort(t)
	ports["ssh"] = low
	setListen(t, marker, ports)
	dpkg(t, "-i", pk.deb[buildV2])
	checkInstalled(t, pk, buildV2)
	if conf, _ := os.ReadFile(configPath); !strings.Contains(string(conf), marker) {
		t.Errorf("the upgrade lost the edit of %s", configPath)
	}
	template, _ := os.ReadFile("/usr/share/vigil/privileged-ports.conf")
	if got, err := os.ReadFile(dropinPath); err != nil || !bytes.Equal(got, template) {
		t.Fatalf("with ssh on port %d the upgrade must install %s: %v", low, dropinPath, err)
	}
	checkUnit(t, "with the privileged-ports drop-in")

	// Without the drop-in's capability vigild cannot listen there...
	u = readUnit(t, unitPath)
	denied := start(t, u.command(t, u.execStart), 10*time.Second)
	sdktest.WaitFor(t, 2*time.Minute, "vigild without CAP_NET_BIND_SERVICE to give up", denied.exited)
	if denied.err == nil || !strings.Contains(denied.stderr.String(), "permission denied") {
		t.Fatalf("vigild without CAP_NET_BIND_SERVICE on port %d: %v, want permission denied:\n%s", low, denied.err, tail(denied.stderr.String(), 30))
	}
	// ... with it, it can: the second start finds everything the first made.
	u = readUnit(t, unitPath, dropinPath)
	d = startVigild(t, u)
	if strings.Contains(d.proc.stdout.String(), "password:") {
		t.Errorf("the start after the upgrade initialised the appliance again:\n%s", d.proc.stdout)
	}
	checkFooter(t, ports["wui"], buildV2)
	if got := vigilctl(t, "", "keys", "export"); got != pubKey {
		t.Errorf("the upgrade changed the signing key:\n%s\nwas\n%s", got, pubKey)
	}
	if got := vigilctl(t, "", "users", "list"); !strings.Contains(got, "alice") {
		t.Errorf("the upgrade lost alice:\n%s", got)
	}
	kept := findCapture(t, filepath.Base(capture.path))
	if kept.sum != capture.sum {
		t.Errorf("the recording %s changed across the upgrade", capture.path)
	}
	vigilctl(t, "", "session-logs", "verify", kept.path)
	sshThrough(t, low, filepath.Join(work, "alice_key"), "echo again", "again")
	d.stopClean(t)

	// Back above 1024: the helper takes the capability away again.
	ports["ssh"] = freePort(t)
	setListen(t, marker, ports)
	t.Log(run(t, "", "/usr/lib/vigil/privileged-ports"))
	if _, err := os.Lstat(filepath.Dir(dropinPath)); err == nil {
		t.Errorf("privileged-ports left %s with no listener below 1024", filepath.Dir(dropinPath))
	}

	// --- remove: the programs go, everything the appliance made stays ---
	dpkg(t, "--remove", "vigil")
	checkRemoved(t, marker, kept)

	// --- purge ---
	dpkg(t, "--purge", "vigil")
	checkPurged(t)
}

// checkFooter: the packaged web UI names the build's version in its footer
// (the login page is the one anybody can fetch).
func checkFooter(t *testing.T, port int, build string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		// The appliance's self-signed certificate of the first start.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/login", port)
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Vigil " + build + "</footer>"; resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET %s: %s, want 200 and %q in:\n%s", url, resp.Status, want, tail(string(body), 10))
	}
}

// checkRemoved: dpkg --remove took the programs, the unit and the plugins
// and kept the configuration, keys, store, recordings, logs, the user and
// the enablement, as PACKAGING.md says; the removed unit is masked.
func checkRemoved(t *testing.T, marker string, rec capture) {
	t.Helper()
	if out, _, _ := runErr("", nil, "dpkg-query", "-W", "-f", "${db:Status-Status}", "vigil"); out != "config-files" {
		t.Errorf("after dpkg --remove vigil is %q, want config-files", out)
	}
	for _, p := range []string{"/usr/bin/vigild", "/usr/bin/vigilctl", "/usr/lib/vigil", unitPath} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the remove left %s", p)
		}
	}
	// As with debhelper's scripts the enablement stays for a reinstall.
	if _, err := os.Readlink(wantsLink); err != nil {
		t.Errorf("the remove forgot that vigil.service was enabled: %v", err)
	}
	if conf, err := os.ReadFile(configPath); err != nil || !strings.Contains(string(conf), marker) {
		t.Errorf("the remove must keep the edited %s: %v", configPath, err)
	}
	for _, p := range []string{filepath.Join(stateDir, "vigil.db"), filepath.Join(stateDir, "keys"), logDir} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the remove must keep %s: %v", p, err)
		}
	}
	if got := findCapture(t, filepath.Base(rec.path)); got.sum != rec.sum {
		t.Errorf("the remove changed the recording %s", rec.path)
	}
	if _, err := user.Lookup("vigil"); err != nil {
		t.Errorf("the remove must keep the user vigil: %v", err)
	}
	if l, err := os.Readlink("/etc/systemd/system/vigil.service"); err != nil || l != "/dev/null" {
		t.Errorf("the removed unit is not masked: /etc/systemd/system/vigil.service -> %q (%v)", l, err)
	}
}

// clearLeftovers purges a package a crashed run of this test left behind,
// and refuses to touch one it did not install.
func clearLeftovers(t *testing.T) {
	t.Helper()
	if v := installedVersion("vigil"); v != "" {
		if !strings.Contains(v, testMark) {
			t.Fatalf("vigil %s is installed on this machine, not by this test: purge it (dpkg --purge vigil) to run the test", v)
		}
		dpkg(t, "--purge", "vigil")
	}
	for _, p := range []string{stateDir, "/etc/vigil"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists with no vigil package installed: remove it to run the test", p)
		}
	}
}

func purgeDeb(t *testing.T) {
	if installedVersion("vigil") == "" {
		return
	}
	if out, errOut, err := dpkgErr(t, "--purge", "vigil"); err != nil {
		t.Errorf("cleanup: dpkg --purge vigil: %v\n%s%s", err, out, errOut)
	}
}

// checkInstalled: the package, its user, its files and their owners and
// modes, as PACKAGING.md lists them.
func checkInstalled(t *testing.T, pk *packages, build string) {
	t.Helper()
	if v := installedVersion("vigil"); v != pk.pkgVer[build] {
		t.Fatalf("dpkg has vigil %q, want %q", v, pk.pkgVer[build])
	}
	for _, prog := range []string{"vigild", "vigilctl"} {
		if got := strings.TrimSpace(run(t, "", "/usr/bin/"+prog, "--version")); got != prog+" "+build {
			t.Errorf("%s --version: %q, want %q", prog, got, prog+" "+build)
		}
	}
	pw := passwdEntry(t, "vigil")
	if uid, _ := strconv.Atoi(pw[2]); uid == 0 || uid >= 1000 {
		t.Errorf("vigil has uid %d, want a system uid", uid)
	}
	if pw[5] != stateDir || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("vigil: home %s shell %s, want %s and /usr/sbin/nologin", pw[5], pw[6], stateDir)
	}
	for _, f := range packagedFiles(pk, unitPath) {
		mode := os.FileMode(0o755)
		switch {
		case f == configPath:
			mode = 0o640
		case strings.HasPrefix(f, "/usr/share/") || f == unitPath:
			mode = 0o644
		}
		group := "root"
		if f == configPath {
			group = "vigil"
		}
		checkOwner(t, f, "root", group, mode)
	}
	checkOwner(t, stateDir, "vigil", "vigil", 0o750|fs.ModeDir)
	checkOwner(t, logDir, "vigil", "vigil", 0o750|fs.ModeDir)
	if conf := run(t, "", "dpkg-query", "-W", "-f", "${Conffiles}", "vigil"); !strings.Contains(conf, configPath+" ") {
		t.Errorf("%s is not a conffile: %q", configPath, conf)
	}
	if target, err := os.Readlink(wantsLink); err != nil || target != unitPath {
		t.Errorf("vigil.service is not enabled: %s -> %q (%v)", wantsLink, target, err)
	}
}

func passwdEntry(t *testing.T, name string) []string {
	t.Helper()
	line := strings.TrimSpace(run(t, "", "getent", "passwd", name))
	f := strings.Split(line, ":")
	if len(f) != 7 {
		t.Fatalf("getent passwd %s: %q", name, line)
	}
	return f
}

func checkOwner(t *testing.T, path, owner, group string, mode fs.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	sys := st.Sys().(*syscall.Stat_t)
	u, _ := user.LookupId(strconv.Itoa(int(sys.Uid)))
	g, _ := user.LookupGroupId(strconv.Itoa(int(sys.Gid)))
	var un, gn string
	if u != nil {
		un = u.Username
	}
	if g != nil {
		gn = g.Name
	}
	if un != owner || gn != group || st.Mode() != mode {
		t.Errorf("%s: %s:%s %v, want %s:%s %v", path, un, gn, st.Mode(), owner, group, mode)
	}
}

// checkStateModes: what vigild made as user vigil under UMask=0027 is
// vigil's and closed to others.
func checkStateModes(t *testing.T) {
	t.Helper()
	vigil, err := user.Lookup("vigil")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(vigil.Uid)
	walk := func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		if int(info.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Errorf("%s is not vigil's", path)
		}
		if info.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is open to others: %v", path, info.Mode())
		}
		return nil
	}
	for _, dir := range []string{stateDir, logDir} {
		if err := filepath.WalkDir(dir, walk); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := os.Stat(filepath.Join(stateDir, "keys")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("%s/keys: %v %v, want 0700", stateDir, st.Mode(), err)
	}
}

// checkUnit: systemd-analyze verify is clean (it runs after the install:
// it wants /usr/bin/vigild to exist) and the exposure score stays low.
func checkUnit(t *testing.T, when string) {
	t.Helper()
	out, errOut, err := runErr("", nil, "systemd-analyze", "verify", unitPath)
	if err != nil || strings.TrimSpace(out+errOut) != "" {
		t.Errorf("systemd-analyze verify %s (%s): %v\n%s%s", unitPath, when, err, out, errOut)
	}
	out, errOut, err = runErr("", nil, "systemd-analyze", "security", "--offline=true", "vigil.service")
	m := regexp.MustCompile(`Overall exposure level for vigil\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s%s", err, out, errOut)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security --offline=true vigil.service (%s): exposure %.1f", when, score)
	if score > maxExpose {
		t.Errorf("exposure %.1f > %.1f (%s):\n%s", score, maxExpose, when, out)
	}
}

// setListen writes the packaged configuration with the marker on top and
// the listeners on the given ports (it keeps the file's owner and mode),
// and has the packaged vigild check it.
func setListen(t *testing.T, marker string, ports map[string]int) {
	t.Helper()
	setListenIn(t, configPath, marker, ports)
	run(t, "", "/usr/bin/vigild", "--check-config", "--config", configPath)
}

// setListenIn is setListen for the configuration file at path.
func setListenIn(t *testing.T, path, marker string, ports map[string]int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if !strings.HasPrefix(lines[0], marker) {
		lines = append([]string{marker}, lines...)
	}
	section := ""
	set := map[string]bool{}
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "[") {
			section = strings.Trim(trimmed, "[]")
			continue
		}
		if p, ok := ports[section]; ok && regexp.MustCompile(`^#?\s*listen\s*=`).MatchString(trimmed) {
			lines[i] = fmt.Sprintf("listen = \"127.0.0.1:%d\"", p)
			set[section] = true
		}
	}
	for s := range ports {
		if !set[s] {
			t.Fatalf("%s has no listen line in [%s]", path, s)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0); err != nil {
		t.Fatal(err)
	}
}

// daemon is a vigild the test started from the unit's ExecStart line.
type daemon struct {
	proc   *process
	notify *notifySocket
}

// startVigild runs ExecStartPre and ExecStart as the unit's user, with a
// NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them, and waits for
// READY=1.
func startVigild(t *testing.T, u unit) *daemon {
	t.Helper()
	if out, err := u.command(t, u.execStartPre).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre %q as %s: %v\n%s", u.execStartPre, u.user, err, out)
	}
	vigil, err := user.Lookup(u.user)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(vigil.Uid)
	n := listenNotify(t, uid)
	cmd := u.command(t, u.execStart, "NOTIFY_SOCKET="+n.path, "WATCHDOG_USEC=30000000",
		"INVOCATION_ID=0123456789abcdef0123456789abcdef")
	// TimeoutStopSec=90s
	p := u.start(t, cmd, 90*time.Second)
	sdktest.WaitFor(t, 2*time.Minute, "READY=1 from vigild", func() bool {
		if p.exited() {
			t.Fatalf("vigild exited before READY=1: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout, tail(p.stderr.String(), 60))
		}
		return n.has("READY=1")
	})
	t.Logf("vigild ready; sd_notify: %s", n)
	return &daemon{proc: p, notify: n}
}

// stopClean stops vigild with SIGTERM, as systemctl stop does, and wants
// STOPPING=1 and a clean exit.
func (d *daemon) stopClean(t *testing.T) {
	t.Helper()
	if err := d.proc.stop(90 * time.Second); err != nil {
		t.Errorf("vigild after SIGTERM: %v\n%s", err, tail(d.proc.stderr.String(), 40))
	}
	if !d.notify.has("STOPPING=1") {
		t.Errorf("vigild sent no STOPPING=1: %s", d.notify)
	}
}

// vigilctl runs the packaged vigilctl as root with the packaged defaults.
func vigilctl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return run(t, stdin, "/usr/bin/vigilctl", args...)
}

// sshThrough runs command on web01 through the gateway as alice, with her
// key, and wants want in its output.
func sshThrough(t *testing.T, port int, key, command, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-p", strconv.Itoa(port), "-i", key,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice:web01@127.0.0.1", command)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("ssh -p %d alice:web01@127.0.0.1 %q: %v, want %q in:\n%s", port, command, err, want, out)
	}
}

// capture is one recorded session log and its digest.
type capture struct{ path, sum string }

// waitForCapture waits for the sealed capture of the session: a .vsl under
// the state directory that is no longer being written (not in spool/active).
func waitForCapture(t *testing.T) capture {
	t.Helper()
	var c capture
	sdktest.WaitFor(t, 2*time.Minute, "a sealed capture under "+stateDir, func() bool {
		found := sealedCaptures(t)
		if len(found) == 0 {
			return false
		}
		c = found[0]
		return true
	})
	t.Logf("sealed capture: %s", c.path)
	return c
}

// findCapture finds the capture named base wherever the pipeline moved it.
func findCapture(t *testing.T, base string) capture {
	t.Helper()
	for _, c := range sealedCaptures(t) {
		if filepath.Base(c.path) == base {
			return c
		}
	}
	t.Fatalf("the recording %s is gone", base)
	return capture{}
}

func sealedCaptures(t *testing.T) []capture {
	t.Helper()
	return sealedCapturesIn(t, stateDir)
}

// sealedCapturesIn are the .vsl files under the state directory dir that
// are not being written.
func sealedCapturesIn(t *testing.T, dir string) []capture {
	t.Helper()
	var found []capture
	active := filepath.Join(dir, "spool", "active")
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && path == active {
			return filepath.SkipDir
		}
		if de.Type().IsRegular() && strings.HasSuffix(path, ".vsl") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			found = append(found, capture{path, hex.EncodeToString(sum[:])})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkPurged: nothing of the package is left, its user included.
func checkPurged(t *testing.T) {
	t.Helper()
	if v := installedVersion("vigil"); v != "" {
		t.Errorf("dpkg still knows vigil %s", v)
	}
	for _, p := range []string{"/usr/bin/vigild", "/usr/bin/vigilctl", "/usr/lib/vigil", "/usr/share/vigil", "/usr/share/doc/vigil",
		unitPath, "/etc/vigil", stateDir, logDir, filepath.Dir(dropinPath), wantsLink, "/etc/systemd/system/vigil.service",
		"/var/lib/systemd/deb-systemd-helper-enabled/vigil.service.dsh-also",
		"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/vigil.service"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the purge left %s", p)
		}
	}
	if _, err := user.Lookup("vigil"); err == nil {
		t.Error("the purge left the user vigil")
	}
	if _, err := user.LookupGroup("vigil"); err == nil {
		t.Error("the purge left the group vigil")
	}
}
