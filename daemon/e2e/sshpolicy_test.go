package e2e_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestForwarding: port forwarding (ssh -W, ssh -R) and agent forwarding
// are refused on a target that does not allow them, with the reason on the
// client's side, and work on one that does: the echo server behind the
// target answers through `ssh -W`, and `ssh-add -l` on the target lists
// the key of the client's own agent.
func TestForwarding(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	g.MustCtl("", "targets", "add", "open01", "--protocol", "ssh", "--host", "127.0.0.1", "--port", strconv.Itoa(g.sshd.Port),
		"--username", "root", "--key-file", g.sshd.KeyPath, "--group", "Users", "--allow-port-forwarding", "--allow-agent-forwarding")
	echo := sdktest.EchoServer(t).Port
	const payload = "through-the-forward\n"
	stdio := func(login string) (string, string, int) {
		cmd := g.SSHCommandWith(g.alice, login, []string{"-W", fmt.Sprintf("127.0.0.1:%d", echo)})
		cmd.Stdin = strings.NewReader(payload)
		return e2e.Run(t, cmd)
	}

	// Refused on web01.
	out, errOut, code := stdio("alice:web01")
	if code == 0 || out != "" || !strings.Contains(errOut, "stdio forwarding failed") {
		t.Errorf("ssh -W through web01: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The reason, which OpenSSH prints only at LogLevel INFO and above.
	client, err := g.Dial("alice:web01", e2e.KeyAuth(t, g.alice))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", echo))
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited || !strings.Contains(oce.Message, "port forwarding is not permitted on this target") {
		t.Errorf("direct-tcpip through web01: %v", err)
	}
	if c != nil {
		c.Close()
	}
	client.Close()
	cmd := g.SSHCommandWith(g.alice, "alice:web01", []string{"-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:" + strconv.Itoa(echo)},
		"echo remote-forward-up")
	out, errOut, code = e2e.Run(t, cmd)
	if code == 0 || strings.Contains(out, "remote-forward-up") || !strings.Contains(errOut, "remote port forwarding failed") {
		t.Errorf("ssh -R through web01: exit %d, stdout %q, stderr %q (args %q)", code, out, errOut, cmd.Args)
	}
	// Allowed on open01.
	out, errOut, code = stdio("alice:open01")
	if code != 0 || out != payload {
		t.Errorf("ssh -W through open01: exit %d, stdout %q (want %q), stderr %q", code, out, payload, errOut)
	}

	// Agent forwarding, with an agent holding one key.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv, Comment: "e2e-agent-key"}); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	agentRun := func(target string) (requestErr error, output string) {
		t.Helper()
		client, err := g.Dial("alice:"+target, e2e.KeyAuth(t, g.alice))
		if err != nil {
			t.Fatalf("dial alice:%s: %v", target, err)
		}
		defer client.Close()
		if err := agent.ForwardToAgent(client, keyring); err != nil {
			t.Fatal(err)
		}
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		requestErr = agent.RequestAgentForwarding(sess)
		b, _ := sess.CombinedOutput(`echo "sock=${SSH_AUTH_SOCK:-none}"; [ -n "$SSH_AUTH_SOCK" ] && ssh-add -l`)
		return requestErr, string(b)
	}
	reqErr, output := agentRun("web01")
	if reqErr == nil || !strings.Contains(output, "sock=none") {
		t.Errorf("agent forwarding on web01: request error %v, target says %q", reqErr, output)
	}
	reqErr, output = agentRun("open01")
	if reqErr != nil || !strings.Contains(output, ssh.FingerprintSHA256(sshPub)) || !strings.Contains(output, "e2e-agent-key") {
		t.Errorf("agent forwarding on open01: request error %v, target says %q (want the agent's key %s)", reqErr, output, ssh.FingerprintSHA256(sshPub))
	}
	if !g.Running() {
		t.Fatal("vigild exited")
	}
}

// TestHostKeyPinning: a target's host key is pinned on first use (event
// with the server's fingerprint) and then required; a target pinned by the
// administrator to another key is refused with a clear message to the
// user and a target.hostkey.mismatch event naming both fingerprints; one
// pinned to the right key works.
func TestHostKeyPinning(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	hostPub, err := os.ReadFile(g.sshd.HostKeyPath + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(hostPub)
	if err != nil {
		t.Fatal(err)
	}
	want := ssh.FingerprintSHA256(hostKey)

	// First use of web01 pins the server's key.
	g.sshOK(t, g.alice, "echo first-use", "first-use")
	pinned := g.WaitEvent("ssh", "target.hostkey.pinned", e2e.Fields("target_name", "web01"))
	if pinned.S("fingerprint") != want {
		t.Errorf("target.hostkey.pinned fingerprint %q, the server's key is %q", pinned.S("fingerprint"), want)
	}
	g.sshOK(t, g.alice, "echo second-use", "second-use")
	if n := len(e2e.Find(g.Events("ssh"), "target.hostkey.pinned")); n != 1 {
		t.Errorf("%d target.hostkey.pinned events after two sessions, want 1", n)
	}

	// Pinned by the administrator to another key.
	other := filepath.Join(g.Dir, "other_host_key")
	if err := e2e.Keygen(other); err != nil {
		t.Fatal(err)
	}
	otherPub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _, _, _, err := ssh.ParseAuthorizedKey(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string, pin []byte) {
		g.MustCtl("", "targets", "add", name, "--protocol", "ssh", "--host", "127.0.0.1", "--port", strconv.Itoa(g.sshd.Port),
			"--username", "root", "--key-file", g.sshd.KeyPath, "--group", "Users", "--host-key", strings.TrimSpace(string(pin)))
	}
	add("mitm01", otherPub)
	add("pinned01", hostPub)
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:mitm01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") ||
		!strings.Contains(errOut, `the host key of target "mitm01" does not match the key pinned for it`) {
		t.Errorf("session to a target with another pinned key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	mm := g.WaitEvent("ssh", "target.hostkey.mismatch", e2e.Fields("target_name", "mitm01"))
	if mm.S("pinned_fingerprint") != ssh.FingerprintSHA256(otherKey) || mm.S("presented_fingerprint") != want || mm.S("levelname") != "CRITICAL" {
		t.Errorf("target.hostkey.mismatch: %v (want pinned %s, presented %s)", mm, ssh.FingerprintSHA256(otherKey), want)
	}
	if ev := e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("target_name", "mitm01")); len(ev) != 0 {
		t.Errorf("a session was created on the mismatching target: %v", ev)
	}
	out, errOut, code = e2e.Run(t, g.SSHCommand(g.alice, "alice:pinned01", "echo pinned-ok"))
	if code != 0 || out != "pinned-ok\n" {
		t.Errorf("session to a target pinned to its key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if ev := e2e.Find(g.Events("ssh"), "target.hostkey.pinned", e2e.Fields("target_name", "pinned01")); len(ev) != 0 {
		t.Errorf("a key pinned by the administrator was pinned again on first use: %v", ev)
	}
}

// TestTargetMenu: a user who logs in without a target gets the menu of
// the targets permitted to them (and only those), picks one and lands on
// it; exec without a target is refused with the list; a user with one
// permitted target goes straight to it. The banner says the session is
// recorded.
func TestTargetMenu(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	g.AddTarget("web02", g.sshd, "Users")
	g.AddTarget("secret01", g.sshd, "Administrators")

	var banner e2e.SyncBuffer
	client, err := g.DialConfig("alice", ssh.ClientConfig{
		Auth:           []ssh.AuthMethod{e2e.KeyAuth(t, g.alice)},
		BannerCallback: func(m string) error { banner.Write([]byte(m)); return nil },
	})
	if err != nil {
		t.Fatalf("dial as alice without a target: %v", err)
	}
	defer client.Close()
	if !strings.Contains(banner.String(), "This session is recorded.") {
		t.Errorf("banner %q does not say the session is recorded", banner.String())
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &e2e.SyncBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	waitOut := func(what string, ok func(string) bool) {
		t.Helper()
		e2e.Poll(t, e2e.EventTimeout, func() bool { return ok(out.String()) },
			func() string { return fmt.Sprintf("%s (output %q)", what, tail(out.String(), 400)) })
	}
	waitOut("the menu prompt", func(s string) bool { return strings.Contains(s, "Target number or name") })
	menu := out.String()
	if !strings.Contains(menu, " 1) web01") || !strings.Contains(menu, " 2) web02") || strings.Contains(menu, "secret01") {
		t.Fatalf("menu %q: want web01 and web02, not secret01", menu)
	}
	io.WriteString(stdin, "secret01\r")
	waitOut("No such target for a target not permitted", func(s string) bool { return strings.Contains(s, "No such target.") })
	io.WriteString(stdin, "2\r")
	io.WriteString(stdin, "echo on-$((6*7))\r")
	waitOut("the command's output on the chosen target", func(s string) bool { return strings.Contains(s, "on-42") })
	io.WriteString(stdin, "exit 0\r")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("menu session: %v", err)
		}
	case <-time.After(e2e.CommandTimeout):
		t.Fatal("the shell did not end")
	}
	g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice", "target_name", "web02"))
	if ev := e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("target_name", "secret01")); len(ev) != 0 {
		t.Errorf("a session on secret01: %v", ev)
	}

	// Exec without a target: refused, with the list.
	o, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice", "echo must-not-run"))
	if code == 0 || strings.Contains(o, "must-not-run") || !strings.Contains(errOut, "no target given; log in as USER:TARGET") ||
		!strings.Contains(errOut, "web01") || !strings.Contains(errOut, "web02") || strings.Contains(errOut, "secret01") {
		t.Errorf("exec without a target: exit %d, stdout %q, stderr %q", code, o, errOut)
	}
	// bob may use web01 only: he goes straight there.
	o, errOut, code = e2e.Run(t, g.SSHCommand(g.bob, "bob", "echo only-target"))
	if code != 0 || o != "only-target\n" {
		t.Errorf("bob without a target: exit %d, stdout %q, stderr %q", code, o, errOut)
	}
	g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "bob", "target_name", "web01"))
}

// TestRecordInput: with record_input = true what the user types is in the
// capture (input frames in the JSON export, "i" events in the asciicast);
// after a SIGHUP that turns it off, a new session's input is not recorded
// (TestPTYResize checks that it is not by default).
func TestRecordInput(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "\n[recording]\nrecord_input = true\n")
	const typed = "echo typed-$((40+2))\n"
	typeSession := func() {
		t.Helper()
		p := startPTY(t, g, g.alice, 24, 80, "", nil)
		io.WriteString(p.stdin, typed)
		p.waitOutput(t, "typed-42", func(s string) bool { return strings.Contains(s, "typed-42") })
		io.WriteString(p.stdin, "exit 0\n")
		select {
		case <-p.done:
		case <-time.After(e2e.CommandTimeout):
			t.Fatal("the shell did not end")
		}
		p.client.Close()
	}
	typeSession()
	vsl := g.WaitSealed(1)[0]
	exp := exportJSON(t, g, vsl)
	if in := exp.data("input"); !strings.Contains(in, typed) {
		t.Errorf("input frames %q lack what was typed, %q", in, typed)
	}
	cast := filepath.Join(g.Dir, "input.cast")
	g.MustCtl("", "session-logs", "export", "--format", "asciinema", "--output", cast, vsl)
	_, events := readCast(t, cast)
	var in strings.Builder
	for _, ev := range events {
		if ev[1] == "i" {
			s, _ := ev[2].(string)
			in.WriteString(s)
		}
	}
	if !strings.Contains(in.String(), "typed-$((40+2))") {
		t.Errorf("asciicast input events %q lack what was typed", in.String())
	}

	// Off again by a reload: a session open across it keeps recording
	// input; the next session's input is not recorded.
	long := startPTY(t, g, g.alice, 24, 80, "", nil)
	io.WriteString(long.stdin, "echo before-$((1+1))\n")
	long.waitOutput(t, "before-2", func(s string) bool { return strings.Contains(s, "before-2") })
	g.WriteConfig("")
	g.Signal(syscall.SIGHUP)
	g.WaitEvent("core", "config.reload", e2e.Fields("result", "success"))
	io.WriteString(long.stdin, "echo across-$((2+2))\n")
	long.waitOutput(t, "across-4", func(s string) bool { return strings.Contains(s, "across-4") })
	io.WriteString(long.stdin, "exit 0\n")
	select {
	case <-long.done:
	case <-time.After(e2e.CommandTimeout):
		t.Fatal("the shell did not end")
	}
	long.client.Close()
	typeSession()
	var across, after []jsonExport
	for _, p := range g.WaitSealed(3) {
		if p == vsl {
			continue
		}
		switch e := exportJSON(t, g, p); {
		case strings.Contains(e.output(), "across-4"):
			across = append(across, e)
		case strings.Contains(e.output(), "typed-42"):
			after = append(after, e)
		}
	}
	if len(across) != 1 || len(after) != 1 {
		t.Fatalf("captures: %d of the session open across the reload, %d of the one after, want 1 and 1", len(across), len(after))
	}
	if in := across[0].data("input"); !strings.Contains(in, "echo across-$((2+2))") {
		t.Errorf("the session open across the reload stopped recording input: %q", in)
	}
	if in := after[0].data("input"); in != "" {
		t.Errorf("after record_input was turned off: input frames %q", in)
	}
}

// TestLoginEvents: every way a login fails is logged with its reason and
// method (a wrong password, an unknown user, a key not registered), a
// password login succeeds as such; only allowlisted environment variables
// reach the target (the target's sshd accepts both); session.destroy
// gives the duration and the bytes relayed.
func TestLoginEvents(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	if _, err := g.Dial("alice:web01", ssh.Password(g.alice.Password+"-wrong")); err == nil {
		t.Error("alice logged in with a wrong password")
	}
	if _, err := g.Dial("mallory:web01", ssh.Password("whatever-password")); err == nil {
		t.Error("an unknown user logged in")
	}
	stranger := e2e.User{Name: "alice", KeyPath: filepath.Join(g.Dir, "stranger_key")}
	if err := e2e.Keygen(stranger.KeyPath); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e2e.Run(t, g.SSHCommand(stranger, "alice:web01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("a key alice never registered: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, c := range []struct{ user, reason, method string }{
		{"alice", "invalid_password", "password"},
		{"mallory", "unknown_user", "password"},
		{"alice", "invalid_key", "publickey"},
	} {
		ev := g.WaitEvent("ssh", "account.login.failed_"+c.reason, e2e.Fields("user_name", c.user))
		if ev.S("reason") != c.reason || ev.S("method") != c.method || ev.S("result") != "failure" || ev.S("levelname") != "WARNING" {
			t.Errorf("account.login.failed_%s: %v", c.reason, ev)
		}
	}
	if ev := e2e.Find(g.Events("ssh"), "account.login.successful"); len(ev) != 0 {
		t.Errorf("a failed login was logged as successful: %v", ev)
	}

	client, err := g.Dial("alice:web01", ssh.Password(g.alice.Password))
	if err != nil {
		t.Fatalf("alice with her password: %v", err)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess.Output("echo password-login")
	client.Close()
	if err != nil || string(got) != "password-login\n" {
		t.Fatalf("password session: %v, %q", err, got)
	}
	ok := g.WaitEvent("ssh", "account.login.successful", e2e.Fields("user_name", "alice"))
	if ok.S("method") != "password" {
		t.Errorf("account.login.successful: %v, want method password", ok)
	}

	// The environment: LC_* is allowed by default, VIGIL_* is not.
	cmd := g.SSHCommandWith(g.alice, "alice:web01", []string{"-o", "SetEnv=LC_E2E=allowed VIGIL_E2E=refused"},
		`echo "env:${LC_E2E:-unset}/${VIGIL_E2E:-unset}"`)
	out, errOut, code = e2e.Run(t, cmd)
	if code != 0 || out != "env:allowed/unset\n" {
		t.Errorf("environment through the gateway: exit %d, stdout %q (want env:allowed/unset), stderr %q", code, out, errOut)
	}

	var destroys []e2e.Event
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		destroys = e2e.Find(g.Events("ssh"), "session.destroy", e2e.Fields("user_name", "alice"))
		return len(destroys) == 2
	}, func() string { return "two session.destroy events" })
	for _, d := range destroys {
		dur, err1 := strconv.ParseFloat(d.S("duration"), 64)
		in, err2 := strconv.ParseInt(d.S("bytes_in"), 10, 64)
		outB, err3 := strconv.ParseInt(d.S("bytes_out"), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || dur <= 0 || in < 0 || outB < int64(len("password-login\n")) {
			t.Errorf("session.destroy: %v", d)
		}
	}
}

// TestSFTP: the real sftp client through the gateway: a put and a get
// arrive intact, each is logged as a transfer (path, size, direction) and
// recorded in the capture as a transfer record.
func TestSFTP(t *testing.T) {
	t.Parallel()
	sftpBin := sdktest.RequirePeer(t, "sftp")
	g := newGateway(t, "")
	data := make([]byte, 1<<20+123)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(g.Dir, "put.bin")
	writeFile(t, src, data)
	remote := filepath.Join(t.TempDir(), "remote.bin") // the target is this machine
	back := filepath.Join(g.Dir, "got.bin")
	batch := filepath.Join(g.Dir, "batch")
	writeFile(t, batch, []byte(fmt.Sprintf("put %s %s\nget %s %s\n", src, remote, remote, back)))
	args := []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i", g.alice.KeyPath, "-P", strconv.Itoa(g.SSHPort),
		"-o", "User=alice:web01", "-b", batch, "127.0.0.1"}
	out, errOut, code := e2e.Run(t, exec.Command(sftpBin, args...))
	if code != 0 {
		t.Fatalf("sftp -b: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, p := range []string{remote, back} {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes (%v), want the %d bytes put", p, len(got), err, len(data))
		}
	}
	size := strconv.Itoa(len(data))
	for _, dir := range []string{"upload", "download"} {
		ev := g.WaitEvent("ssh", "transfer."+dir, e2e.Fields("path", remote, "user_name", "alice"))
		if ev.S("size") != size || ev.S("complete") != "true" || ev.S("direction") != dir || !transferProtocol("sftp")(ev) {
			t.Errorf("transfer.%s: %v, want size %s, complete", dir, ev, size)
		}
	}
	vsl := g.WaitSealed(1)[0]
	exp := exportJSON(t, g, vsl)
	var transfers []string
	for _, f := range exp.Frames {
		if f.Kind == "transfer" {
			transfers = append(transfers, string(f.Value))
		}
	}
	if len(transfers) != 2 || !strings.Contains(transfers[0], remote) || !strings.Contains(transfers[0], size) || !strings.Contains(transfers[1], remote) {
		t.Errorf("the capture's transfer records: %q, want the upload and the download of %s (%s bytes)", transfers, remote, size)
	}
}

// TestSignal: a signal the client sends is recorded in the capture and
// relayed to the target's sshd. (OpenSSH delivers session signals only to
// sessions under privilege separation, which root logins, the shared
// sshd's, do not use: its log shows the request arrived.)
func TestSignal(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	client, err := g.Dial("alice:web01", e2e.KeyAuth(t, g.alice))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &e2e.SyncBuffer{}
	sess.Stdout = out
	if err := sess.Start("echo waiting-for-a-signal; exec sleep 600"); err != nil {
		t.Fatal(err)
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(out.String(), "waiting-for-a-signal") },
		func() string { return "the command to start" })
	const seen = "session_signal_req"
	before := strings.Count(g.sshd.Log(), seen)
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Count(g.sshd.Log(), seen) > before },
		func() string { return "the signal request in the target sshd's log" })
	client.Close()
	exp := exportJSON(t, g, g.WaitSealed(1)[0])
	var signals []string
	for _, f := range exp.Frames {
		if f.Kind == "signal" {
			signals = append(signals, string(f.Data)+string(f.Value))
		}
	}
	if len(signals) != 1 || !strings.Contains(signals[0], "TERM") {
		t.Errorf("the capture's signal records: %q, want one TERM", signals)
	}
}
