package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestSSHExec: a command through the gateway prints its output and exits
// with its status; the sealed capture verifies, exports to an asciicast
// that asciinema plays, and `cat` prints the output.
func TestSSHExec(t *testing.T) {
	t.Parallel()
	asciinema := sdktest.RequirePeer(t, "asciinema")
	g := newGateway(t, "")
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", "echo hello; exit 3"))
	if out != "hello\n" || code != 3 {
		t.Fatalf("ssh alice:web01 'echo hello; exit 3': stdout %q, exit %d (want \"hello\\n\", 3); stderr %q", out, code, errOut)
	}
	create := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice", "target_name", "web01", "result", "success"))
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("session_id", create.S("session_id")))
	g.WaitEvent("ssh", "account.login.successful", e2e.Fields("user_name", "alice"))
	if create.S("rs") != g.sshd.Addr() || create.S("vs") != g.SSHAddr() {
		t.Errorf("session.create rs/vs = %q/%q, want %q/%q", create.S("rs"), create.S("vs"), g.sshd.Addr(), g.SSHAddr())
	}

	vsl := g.WaitSealed(1)[0]
	// <UTC start 20060102T150405.0000>-<team>-<user>.vsl
	if m := regexp.MustCompile(`^(\d{8}T\d{6}\.\d{4})-e2e-alice\.vsl$`).FindStringSubmatch(filepath.Base(vsl)); m == nil {
		t.Errorf("capture name %s is not <UTC start 20060102T150405.0000>-e2e-alice.vsl", filepath.Base(vsl))
	} else if start, err := time.Parse("20060102T150405.0000", m[1]); err != nil {
		t.Error(err)
	} else if created, err := time.Parse(time.RFC3339Nano, create.S("time")); err != nil || created.Sub(start).Abs() > 5*time.Second {
		t.Errorf("capture name says the session started at %v; session.create says %q (%v)", start, create.S("time"), err)
	}
	if st, err := os.Stat(vsl); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o640 {
		t.Errorf("sealed capture has mode %#o, want 0640", st.Mode().Perm())
	}
	if left := e2e.Captures(g.SpoolActive()); len(left) != 0 {
		t.Errorf("spool/active still holds %v after the session", left)
	}
	g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", create.S("session_id")))
	// The capture goes on through the pipeline (render, upload).
	g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", create.S("session_id")))
	if out := g.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, vsl+": verified") {
		t.Errorf("verify: %q", out)
	}
	// Offline, with nothing but the exported key.
	pub := filepath.Join(g.Dir, "auditor.pub")
	g.MustCtl("", "keys", "export", "--output", pub)
	vout, verr, vcode := e2e.Run(t, exec.Command(e2e.Bin("vigilctl"), "--config", "/nonexistent.toml", "session-logs", "verify", "--pubkey", pub, vsl))
	if vcode != 0 || !strings.Contains(vout, "verified") {
		t.Errorf("offline verify: exit %d, %q %q", vcode, vout, verr)
	}

	if out := g.MustCtl("", "session-logs", "cat", vsl); !strings.Contains(out, "hello") {
		t.Errorf("session-logs cat: %q lacks hello", out)
	}

	cast := filepath.Join(g.Dir, "session.cast")
	g.MustCtl("", "session-logs", "export", "--format", "asciinema", vsl, "--output", cast)
	header, events := readCast(t, cast)
	if header["version"] != float64(2) {
		t.Errorf("asciicast header %v: version is not 2", header)
	}
	if !castOutput(events, "hello") {
		t.Errorf("asciicast has no output event with hello: %v", events)
	}
	play := exec.Command(asciinema, "play", "-i", "0.1", cast)
	play.Stdin = nil // /dev/null
	pout, perr, pcode := e2e.Run(t, play)
	if pcode != 0 || !strings.Contains(pout, "hello") {
		t.Errorf("asciinema play: exit %d, stdout %q, stderr %q", pcode, pout, perr)
	}

	// Through the gateway a command behaves as it does on the target
	// directly: output, error output, stdin, exit status, death by signal.
	for _, c := range []struct{ command, stdin string }{
		{"echo out; echo err >&2; exit 0", ""},
		{"exit 255", ""},
		{"kill -TERM $$", ""},
		{"tr a-z A-Z", "through the gateway\n"},
		{"head -c 3000000 /dev/zero | tr '\\0' x; echo", ""},
	} {
		direct := exec.Command("ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i", g.sshd.KeyPath, "-p", strconv.Itoa(g.sshd.Port), "root@127.0.0.1", c.command)
		direct.Stdin = strings.NewReader(c.stdin)
		wantOut, wantErr, wantCode := e2e.Run(t, direct)
		through := g.SSHCommand(g.alice, "alice:web01", c.command)
		through.Stdin = strings.NewReader(c.stdin)
		out, errOut, code := e2e.Run(t, through)
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("%q through the gateway: exit %d, stdout %q, stderr %q; directly: exit %d, stdout %q, stderr %q",
				c.command, code, tail(out, 80), errOut, wantCode, tail(wantOut, 80), wantErr)
		}
	}

	// The JSON export carries the exit status.
	js := g.MustCtl("", "session-logs", "export", "--format", "json", vsl)
	var exp struct {
		Header struct {
			Verified bool   `json:"verified"`
			User     string `json:"user"`
			Target   string `json:"target"`
		} `json:"header"`
		Frames []struct {
			Kind   string  `json:"kind"`
			Status *uint32 `json:"status"`
		} `json:"frames"`
	}
	if err := json.Unmarshal([]byte(js), &exp); err != nil {
		t.Fatalf("json export: %v", err)
	}
	if !exp.Header.Verified || exp.Header.User != "alice" || exp.Header.Target != "web01" {
		t.Errorf("json export header: %+v", exp.Header)
	}
	status := false
	for _, f := range exp.Frames {
		if f.Status != nil && *f.Status == 3 {
			status = true
		}
	}
	if !status {
		t.Errorf("json export has no exit status 3 frame")
	}
}

// readCast reads an asciicast v2 file: its header and its events.
func readCast(t *testing.T, path string) (map[string]any, [][]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var header map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &header); err != nil {
		t.Fatalf("asciicast header %q: %v", lines[0], err)
	}
	var events [][]any
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("asciicast event %q: %v", l, err)
		}
		events = append(events, ev)
	}
	return header, events
}

func castOutput(events [][]any, want string) bool {
	var all strings.Builder
	for _, ev := range events {
		if ev[1] == "o" {
			s, _ := ev[2].(string)
			all.WriteString(s)
		}
	}
	return strings.Contains(all.String(), want)
}

// ptySession is an interactive session with a PTY through the gateway,
// driven by x/crypto/ssh (OpenSSH cannot be told to resize).
type ptySession struct {
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	out    *e2e.SyncBuffer
	done   chan error
}

// startPTY starts command (a shell when empty) on web01 as u with a PTY of
// rows x cols; the output goes to the session's buffer and to also, if set.
func startPTY(t *testing.T, g *gateway, u e2e.User, rows, cols int, command string, also io.Writer) *ptySession {
	t.Helper()
	c, err := g.Dial(u.Name+":web01", e2e.KeyAuth(t, u))
	if err != nil {
		t.Fatalf("dial the gateway as %s: %v", u.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm", rows, cols, modes); err != nil {
		t.Fatalf("pty-req: %v", err)
	}
	p := &ptySession{client: c, sess: sess, out: &e2e.SyncBuffer{}, done: make(chan error, 1)}
	p.stdin, err = sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out io.Writer = p.out
	if also != nil {
		out = io.MultiWriter(p.out, also)
	}
	sess.Stdout, sess.Stderr = out, out
	if command == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(command)
	}
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	go func() { p.done <- sess.Wait() }()
	return p
}

func (p *ptySession) waitOutput(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	e2e.Poll(t, e2e.EventTimeout, func() bool { return ok(p.out.String()) },
		func() string {
			return fmt.Sprintf("%s in the session's output (have %q)", what, tail(p.out.String(), 500))
		})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestPTYResize: an interactive PTY session whose window changes; the
// target sees both sizes, and the asciicast export starts at the first
// size and has a resize event to the second.
func TestPTYResize(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	p := startPTY(t, g, g.alice, 24, 80, "", nil)
	io.WriteString(p.stdin, "stty size\n")
	p.waitOutput(t, "stty size 24 80", func(s string) bool { return strings.Contains(s, "24 80") })
	if err := p.sess.WindowChange(40, 120); err != nil {
		t.Fatalf("window-change: %v", err)
	}
	io.WriteString(p.stdin, "stty size\n")
	p.waitOutput(t, "stty size 40 120", func(s string) bool { return strings.Contains(s, "40 120") })
	io.WriteString(p.stdin, "exit 0\n")
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("shell ended with %v", err)
		}
	case <-time.After(e2e.CommandTimeout):
		t.Fatal("the shell did not end after exit")
	}
	// A session's capture is sealed when its connection ends.
	p.client.Close()

	vsl := g.WaitSealed(1)[0]
	g.MustCtl("", "session-logs", "verify", vsl)
	cast := filepath.Join(g.Dir, "pty.cast")
	g.MustCtl("", "session-logs", "export", "--format", "asciinema", "--output", cast, vsl)
	header, events := readCast(t, cast)
	if header["width"] != float64(80) || header["height"] != float64(24) {
		t.Errorf("asciicast header size %vx%v, want 80x24 (header %v)", header["width"], header["height"], header)
	}
	var resizes []string
	for _, ev := range events {
		switch ev[1] {
		case "r":
			resizes = append(resizes, ev[2].(string))
		case "i":
			t.Errorf("asciicast has an input event %v; input is recorded only with record_input = true", ev)
		}
	}
	if in := exportJSON(t, g, vsl).data("input"); in != "" {
		t.Errorf("json export has input frames %q; input is recorded only with record_input = true", in)
	}
	if len(resizes) != 1 || resizes[0] != "120x40" {
		t.Errorf("asciicast resize events %q, want [120x40]", resizes)
	}
	if !castOutput(events, "40 120") {
		t.Errorf("asciicast output lacks the second stty size")
	}
	if env, _ := header["env"].(map[string]any); env["TERM"] != "xterm" {
		t.Errorf("asciicast header env %v, want TERM=xterm", header["env"])
	}
}

// lineCounter follows a stream of "line N" lines and remembers when each
// N was first seen.
type lineCounter struct {
	mu   sync.Mutex
	seen map[int]time.Time
	max  int
}

var lineRE = regexp.MustCompile(`^line (\d+)\r?$`)

func (lc *lineCounter) run(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		lc.mu.Lock()
		if _, ok := lc.seen[n]; !ok {
			lc.seen[n] = time.Now()
		}
		lc.max = max(lc.max, n)
		lc.mu.Unlock()
	}
}

func (lc *lineCounter) highest() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.max
}

// seenBefore is the highest N seen before t.
func (lc *lineCounter) seenBefore(t time.Time) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	best := 0
	for n, at := range lc.seen {
		if at.Before(t) && n > best {
			best = n
		}
	}
	return best
}

// signedOutput is the terminal output of a capture covered by signed
// checkpoints: a verifying reader yields nothing else, and stops at the
// unsigned tail of a capture still being written.
func signedOutput(path string, pub []byte) string {
	r, err := capture.Open([]string{path}, pub, capture.ReadOptions{})
	if err != nil {
		return ""
	}
	defer r.Close()
	var b strings.Builder
	for {
		rec, err := r.Next()
		if err != nil {
			return b.String()
		}
		if rec.Kind == capture.Output {
			b.Write(rec.Payload)
		}
	}
}

// captureHeader is the header of a capture's first segment.
func captureHeader(t *testing.T, path string, pub []byte) capture.Header {
	t.Helper()
	r, err := capture.Open([]string{path}, pub, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r.Header()
}

// TestKill9MidSession: vigild killed with SIGKILL while a PTY session
// streams output. On restart the capture left in spool/active is sealed at
// its last signed checkpoint: spool/active is empty, the capture verifies
// (as recovered), and it holds every line the client saw up to that
// checkpoint, which the test made sure covered what the client had seen
// well before the kill.
func TestKill9MidSession(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	pub := g.PublicKey()
	lc := &lineCounter{seen: map[int]time.Time{}}
	pr, pw := io.Pipe()
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		lc.run(pr)
		io.Copy(io.Discard, pr)
	}()
	// About 2000 lines a second, for longer than the test needs.
	p := startPTY(t, g, g.alice, 24, 80,
		`i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); echo "line $i"; if [ $((i % 100)) = 0 ]; then sleep 0.05; fi; done`, pw)
	e2e.Poll(t, e2e.EventTimeout, func() bool { return lc.highest() >= 3000 },
		func() string { return fmt.Sprintf("3000 lines at the client (have %d)", lc.highest()) })

	sid := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice")).S("session_id")
	var active string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		a := e2e.Captures(g.SpoolActive())
		if len(a) == 1 {
			active = a[0]
		}
		return active != ""
	}, func() string { return "one capture in spool/active" })

	// Wait until a signed checkpoint covers what the client has seen by
	// now, while the stream goes on.
	seen := lc.highest()
	want := fmt.Sprintf("line %d\r\n", seen)
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(signedOutput(active, pub), want) },
		func() string { return fmt.Sprintf("a signed checkpoint in %s covering %q", active, want) })
	// Kill mid-stream: the client is still receiving.
	e2e.Poll(t, e2e.EventTimeout, func() bool { return lc.highest() > seen },
		func() string { return fmt.Sprintf("the stream to go on past line %d", seen) })
	pids := pluginPIDs(g.Vigild)
	killedAt := time.Now()
	g.Kill9()
	t.Logf("killed vigild at line %d at the client; line %d was signed", lc.highest(), seen)
	select {
	case <-p.done:
	case <-time.After(e2e.CommandTimeout):
		t.Fatal("the client session did not end when vigild was killed")
	}
	pw.Close()
	<-counted

	// Plugins die with the core, even by SIGKILL: none is left orphaned.
	waitGone(t, pids, "after kill -9 of vigild")

	// The recovered capture is the session's: its header says so, and so
	// must the events that hand it on (the pipeline files it by session).
	vsl := startRecovered(t, g.Vigild, pub, sid, 1)[0]
	identified := true
	if ev := g.WaitEvent("capture", "recording.recovered"); ev.S("session_id") != sid {
		identified = false
		t.Errorf("recording.recovered carries session_id %q, want %q: %v", ev.S("session_id"), sid, ev)
	}
	if ev := g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("recovered", "true")); ev.S("session_id") != sid {
		identified = false
		t.Errorf("recording.segment.sealed of the recovered capture carries session_id %q, want %q: %v", ev.S("session_id"), sid, ev)
	}
	// Handed to the pipeline like a normal seal, it is uploaded. (Without
	// its session id the pipeline cannot take it; not waiting then.)
	if identified {
		g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", sid))
	} else {
		for _, l := range strings.Split(g.StderrTail(1<<20), "\n") {
			if strings.Contains(l, "seal not recorded") {
				t.Errorf("the recovered capture did not reach the pipeline: %s", l)
			}
		}
	}
	out := g.MustCtl("", "session-logs", "verify", vsl)
	if !strings.Contains(out, "verified") || !strings.Contains(out, "recovered") {
		t.Errorf("verify of the recovered capture: %q", out)
	}
	text := g.MustCtl("", "session-logs", "cat", vsl)
	last := 0
	for _, l := range strings.Split(text, "\n") {
		m := lineRE.FindStringSubmatch(strings.TrimRight(l, "\r"))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if n != last+1 {
			t.Fatalf("recovered capture: line %d follows line %d", n, last)
		}
		last = n
	}
	if last < seen {
		t.Errorf("recovered capture ends at line %d; line %d was signed before the kill", last, seen)
	}
	// Checkpoints come at least every second: whatever the client saw two
	// seconds before the kill was signed (the slack absorbs a busy machine).
	if early := lc.seenBefore(killedAt.Add(-2 * time.Second)); last < early {
		t.Errorf("recovered capture ends at line %d; the client saw line %d more than 2 s before the kill", last, early)
	}
	t.Logf("recovered capture ends at line %d; the client saw %d", last, lc.highest())
	rec := g.WaitEvent("core", "session.recovered")
	// Events published before the kill were in the journal: the logs have
	// them all after the restart.
	g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice"))
	if dup := g.WaitLogsComplete(rec.Seq()); len(dup) > 0 {
		t.Logf("events written twice across the crash (at-least-once): seqs %v", dup)
	}
}

// TestKill9MultiSegment: vigild killed with SIGKILL while a session's
// second segment is open. On restart that segment is sealed at its last
// checkpoint and the session verifies as a whole (the first segment sealed
// normally, linked to the recovered second), with everything signed
// before the kill; both segments go through the pipeline.
func TestKill9MultiSegment(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "\n[recording]\nsegment_max_bytes = \"1MiB\"\n")
	pub := g.PublicKey()
	p := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01",
		"head -c 1500000 /dev/zero | tr '\\0' s; echo; echo end-of-output-marker; exec sleep 600"))
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(p.Stdout.String(), "end-of-output-marker") || p.Exited() },
		func() string { return "the output at the client" })
	sid := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice")).S("session_id")
	g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", sid, "segment", "0"))
	var active string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		a := e2e.Captures(g.SpoolActive())
		active = ""
		if len(a) == 1 {
			active = a[0]
		}
		return active != "" && strings.Contains(signedOutput(active, pub), "end-of-output-marker")
	}, func() string {
		return fmt.Sprintf("a signed checkpoint in the second segment (%q) covering the end of the output", active)
	})
	g.Kill9()
	p.Wait(t, e2e.CommandTimeout)

	var first string
	for _, f := range startRecovered(t, g.Vigild, pub, sid, 2) {
		if _, n, ok := capture.SegmentNumber(f); ok && n == 0 {
			first = f
		}
	}
	out, errOut, code := g.Ctl("", "session-logs", "verify", first)
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, "2 segments") || !strings.Contains(out, "recovered") {
		t.Errorf("verify of the session after the crash: exit %d, %q %q", code, out, errOut)
	}
	if text := g.MustCtl("", "session-logs", "cat", first); !strings.Contains(text, "end-of-output-marker") {
		t.Errorf("the recovered session lacks the output signed before the kill (%d bytes)", len(text))
	}
	for _, seg := range []string{"0", "1"} {
		g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", sid, "segment", seg))
	}
}

// startRecovered starts v again after a crash and returns the sealed
// captures once spool/sealed holds the given number: spool/active must be
// empty and every capture must be session sid's.
func startRecovered(t *testing.T, v *e2e.Vigild, pub []byte, sid string, segments int) []string {
	t.Helper()
	v.Start()
	if a := e2e.Captures(v.SpoolActive()); len(a) != 0 {
		t.Fatalf("spool/active still holds %v after the restart", a)
	}
	sealed := v.WaitSealed(segments)
	for _, f := range sealed {
		if h := captureHeader(t, f, pub); h.SessionID != sid {
			t.Errorf("%s: the header says session %q, want %q", f, h.SessionID, sid)
		}
	}
	return sealed
}

// TestAdmission: with recording.min_free_bytes above the spool's free
// space, a recorded user is refused with the reason on the client's stderr
// and an admission.denied event; a user whose group says
// record_sessions=false is admitted, and not recorded.
func TestAdmission(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "\n[recording]\nmin_free_bytes = \"1000TB\"\n")
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") {
		t.Fatalf("recorded session admitted below min_free_bytes: exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "vigil: session refused: free disk space on the recording spool is") ||
		!strings.Contains(errOut, "below the 1000000000 MB minimum") {
		t.Errorf("client stderr %q lacks the refusal", errOut)
	}
	denied := g.WaitEvent("ssh", "admission.denied", e2e.Fields("user_name", "alice", "target_name", "web01"))
	if denied.S("reason") != "low_disk_space" || denied.S("result") != "denied" {
		t.Errorf("admission.denied: %v", denied)
	}
	if ev := e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("user_name", "alice")); len(ev) != 0 {
		t.Errorf("a refused session was created: %v", ev)
	}

	g.sshOK(t, g.bob, "echo unrecorded-session", "unrecorded-session")
	create := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "bob"))
	if create.S("recorded") != "false" {
		t.Errorf("bob's session.create says recorded=%q", create.S("recorded"))
	}
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("user_name", "bob"))
	if c := append(e2e.Captures(g.SpoolActive()), e2e.Captures(g.SpoolSealed())...); len(c) != 0 {
		t.Errorf("captures exist although no recorded session ran: %v", c)
	}
}

// TestAdmissionCaptureFails: when the capture cannot be created (here
// spool/active is replaced by a file) a recorded session is refused with
// the reason on the client's stderr and admission.denied reason
// capture_failed, never let through unrecorded; an unrecorded group is
// still admitted; with the directory back, recording works again.
func TestAdmissionCaptureFails(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	active := g.SpoolActive()
	moved := active + ".moved"
	if err := os.Rename(active, moved); err != nil {
		t.Fatal(err)
	}
	writeFile(t, active, []byte("not a directory\n"))
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "vigil: session refused: the recording could not be started") {
		t.Errorf("recorded session without a spool: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	denied := g.WaitEvent("ssh", "admission.denied", e2e.Fields("user_name", "alice"))
	if denied.S("reason") != "capture_failed" {
		t.Errorf("admission.denied: %v, want reason capture_failed", denied)
	}
	if ev := e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("user_name", "alice")); len(ev) != 0 {
		t.Errorf("a session was created without its capture: %v", ev)
	}
	g.sshOK(t, g.bob, "echo unrecorded-still-admitted", "unrecorded-still-admitted")

	if err := os.Remove(active); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, active); err != nil {
		t.Fatal(err)
	}
	g.sshOK(t, g.alice, "echo recorded-again", "recorded-again")
	vsl := g.WaitSealed(1)[0]
	if text := g.MustCtl("", "session-logs", "cat", vsl); !strings.Contains(text, "recorded-again") {
		t.Errorf("cat: %q", text)
	}
}

// TestIdleTimeout: an idle_timeout set in settings.toml and applied by
// SIGHUP closes a session without traffic, with a notice and
// session.destroy reason idle_timeout; a session whose output keeps
// flowing outlives it.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	writeFile(t, filepath.Join(g.StateDir, "settings.toml"), []byte("[ssh]\nidle_timeout = \"2s\"\n"))
	g.Signal(syscall.SIGHUP)
	g.WaitEvent("core", "config.reload", e2e.Fields("result", "success"))

	busy := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01", "i=0; while [ $i -lt 8 ]; do i=$((i+1)); echo tick; sleep 0.5; done; echo busy-done"))
	idle := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01", "echo idle-started; exec sleep 600"))
	if code := idle.Wait(t, e2e.CommandTimeout); code == 0 || !strings.Contains(idle.Stderr.String(), "session closed after 2s without activity") {
		t.Errorf("idle session: exit %d, stdout %q, stderr %q", code, idle.Stdout, idle.Stderr)
	}
	if code := busy.Wait(t, e2e.CommandTimeout); code != 0 || !strings.HasSuffix(busy.Stdout.String(), "busy-done\n") {
		t.Errorf("busy session: exit %d, stdout %q, stderr %q", code, busy.Stdout, busy.Stderr)
	}
	d := g.WaitEvent("ssh", "session.destroy", e2e.Fields("reason", "idle_timeout"))
	if n := len(e2e.Find(g.Events("ssh"), "session.destroy", e2e.Fields("reason", "idle_timeout"))); n != 1 {
		t.Errorf("%d sessions ended as idle, want 1 (%v)", n, d)
	}
}

// TestSessionsKill: `vigilctl sessions kill ID` ends a live session (the
// client exits, session.kill is logged), and `sessions kill --all --user
// alice` ends alice's sessions and nobody else's.
func TestSessionsKill(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	start := func(u e2e.User, marker string) *e2e.Proc {
		p := e2e.StartProc(t, g.SSHCommand(u, u.Name+":web01", "echo "+marker+"; exec sleep 600"))
		e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(p.Stdout.String(), marker) || p.Exited() },
			func() string { return marker + " at the client" })
		if p.Exited() {
			t.Fatalf("session %s ended early: %q %q", marker, p.Stdout, p.Stderr)
		}
		return p
	}
	live := func(user string) []e2e.LiveSession {
		var out []e2e.LiveSession
		for _, s := range g.Sessions() {
			if user == "" || s.User == user {
				out = append(out, s)
			}
		}
		return out
	}

	one := start(g.alice, "session-one")
	ss := live("alice")
	if len(ss) != 1 || ss[0].Protocol != "ssh" || ss[0].Target != "web01" || !strings.HasPrefix(ss[0].Client, "127.0.0.1:") {
		t.Fatalf("sessions list: %+v", ss)
	}
	if ss[0].BytesOut < int64(len("session-one\n")) {
		t.Errorf("sessions list: alice's session relayed %d bytes to the client, it printed session-one", ss[0].BytesOut)
	}
	// alice's group records her sessions.
	if ss[0].Recorded != "true" {
		t.Errorf("sessions list: alice's recorded session shows RECORDED=%s", ss[0].Recorded)
	}
	out := g.MustCtl("", "sessions", "kill", ss[0].ID)
	if !strings.Contains(out, "killed 1 session") || !strings.Contains(out, ss[0].ID) {
		t.Errorf("sessions kill: %q", out)
	}
	if code := one.Wait(t, e2e.EventTimeout); code == 0 {
		t.Errorf("killed session's client exited 0")
	}
	if !strings.Contains(one.Stderr.String(), "ended by an administrator") {
		t.Errorf("killed client's stderr %q lacks the notice", one.Stderr)
	}
	g.WaitEvent("ssh", "session.kill", e2e.Fields("session_id", ss[0].ID, "user_name", "alice"))
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("session_id", ss[0].ID, "reason", "killed"))

	// An unknown ID is an error.
	if _, errOut, code := g.Ctl("", "sessions", "kill", "0123456789abcdef0123456789abcdef"); code == 0 {
		t.Errorf("sessions kill of an unknown id exited 0 (%q)", errOut)
	}

	a1, a2, b := start(g.alice, "alice-1"), start(g.alice, "alice-2"), start(g.bob, "bob-1")
	e2e.Poll(t, e2e.EventTimeout, func() bool { return len(live("")) == 3 }, func() string { return "3 live sessions" })
	out = g.MustCtl("", "sessions", "kill", "--all", "--user", "alice")
	if !strings.Contains(out, "killed 2 session") {
		t.Errorf("sessions kill --all --user alice: %q", out)
	}
	a1.Wait(t, e2e.EventTimeout)
	a2.Wait(t, e2e.EventTimeout)
	if b.Exited() {
		t.Fatalf("bob's session ended with alice's: %q", b.Stderr)
	}
	var ss2 []e2e.LiveSession
	e2e.Poll(t, e2e.EventTimeout, func() bool { ss2 = live(""); return len(ss2) == 1 && ss2[0].User == "bob" },
		func() string { return fmt.Sprintf("only bob's session left (live: %+v)", ss2) })
	if ss2[0].Recorded != "false" {
		t.Errorf("sessions list: bob's unrecorded session shows RECORDED=%s", ss2[0].Recorded)
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(e2e.Find(g.Events("ssh"), "session.kill_all", e2e.Fields("user_name", "alice"))) == 2
	}, func() string { return "two session.kill_all events for alice" })
	if ev := e2e.Find(g.Events("ssh"), "session.kill_all", e2e.Fields("user_name", "bob")); len(ev) != 0 {
		t.Errorf("bob's session logged as killed: %v", ev)
	}
	g.MustCtl("", "sessions", "kill", "--all")
	b.Wait(t, e2e.EventTimeout)
	// Killed sessions are recorded like any other (bob's is not recorded).
	for _, vsl := range g.WaitSealed(3) {
		g.MustCtl("", "session-logs", "verify", vsl)
	}
}

// TestSCP: a 50 MB file through the gateway with scp (the SFTP protocol,
// OpenSSH's default, and the original scp protocol) arrives intact, and a
// transfer event with its size is logged; the capture still verifies.
func TestSCP(t *testing.T) {
	t.Parallel()
	sdktest.RequirePeer(t, "scp")
	g := newGateway(t, "")
	const size = 50 << 20
	src := filepath.Join(g.Dir, "payload.bin")
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	// The target is the local sshd: what it writes lands on this machine.
	dest := t.TempDir()
	for _, mode := range []struct {
		name   string
		legacy bool
		proto  string
	}{{"sftp", false, "sftp"}, {"scp", true, "scp"}} {
		func() {
			dst := filepath.Join(dest, mode.name+".bin")
			_, errOut, code := e2e.Run(t, g.SCPCommand(g.alice, "alice:web01", mode.legacy, src, e2e.SCPRemote(dst)))
			if code != 0 {
				t.Fatalf("scp upload: exit %d: %s", code, errOut)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(got); sum != want {
				t.Fatalf("uploaded file: %d bytes, sha256 %s, want %d bytes %s", len(got), hex.EncodeToString(sum[:]), size, hex.EncodeToString(want[:]))
			}
			ev := g.WaitEvent("ssh", "transfer.upload", transferProtocol(mode.proto), e2e.Fields("path", dst))
			if ev.S("size") != strconv.Itoa(size) || ev.S("complete") != "true" || ev.S("user_name") != "alice" {
				t.Errorf("transfer.upload event: %v", ev)
			}

			// And back.
			back := filepath.Join(g.Dir, mode.name+"-back.bin")
			_, errOut, code = e2e.Run(t, g.SCPCommand(g.alice, "alice:web01", mode.legacy, e2e.SCPRemote(dst), back))
			if code != 0 {
				t.Fatalf("scp download: exit %d: %s", code, errOut)
			}
			got, err = os.ReadFile(back)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("downloaded file differs (%d bytes, %v)", len(got), err)
			}
			ev = g.WaitEvent("ssh", "transfer.download", transferProtocol(mode.proto), e2e.Fields("path", dst))
			if ev.S("size") != strconv.Itoa(size) || ev.S("complete") != "true" {
				t.Errorf("transfer.download event: %v", ev)
			}
		}()
	}
	for _, vsl := range g.WaitSealed(4) {
		if out := g.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, "verified") {
			t.Errorf("verify %s: %q", vsl, out)
		}
	}
}

// transferProtocol matches a transfer event of the file protocol p. The
// event's extra "protocol" collides with the schema's own protocol field
// ("ssh"), so the JSON format writes it as extra_protocol.
func transferProtocol(p string) e2e.Match {
	return func(e e2e.Event) bool { return e.S("extra_protocol") == p || e.S("transfer_protocol") == p }
}

// TestHostileLoginNames: login names built to confuse the parser, the
// store, file names or log lines are refused cleanly; vigild keeps
// serving, and every JSON log line is still exactly one event.
func TestHostileLoginNames(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	// A name whose user part is alice logs in with alice's key, and the
	// target part is then refused on the session's stderr; any other name
	// fails authentication ("Permission denied").
	const deniedTarget = "vigil: target "
	// OpenSSH's client sends these as they are.
	for _, c := range []struct{ login, want string }{
		{"a:b:c", "Permission denied"},
		{"../../etc/passwd:web01", "Permission denied"},
		{"alice/../bob:web01", "Permission denied"},
		{"alice:../web01", deniedTarget},
		{"alice:../../etc/passwd", deniedTarget},
		{"alice=admin:web01", "Permission denied"},
		{":web01", "Permission denied"},
		{"alice:web01:", "Permission denied"},
		{strings.Repeat("a", 600) + ":web01", "Permission denied"},
	} {
		out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, c.login, "echo must-not-run"))
		if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, c.want) {
			t.Errorf("login %q: exit %d, stdout %q, stderr %q (want %q)", c.login, code, out, errOut, c.want)
		}
		if !g.Running() {
			t.Fatalf("vigild exited after login %q", c.login)
		}
	}
	// Names OpenSSH will not send ("remote username contains invalid
	// characters"): shell metacharacters, control characters, a forged log
	// line, invalid UTF-8.
	forged := `{"metric_name":"account.login.successful","user_name":"admin"}`
	forgedName := "alice\n" + forged + ":web01"
	for _, c := range []struct {
		login  string
		authOK bool
	}{
		{"alice|x:web01", false},
		{"alice:web01|cat", true},
		{"alice:web01;id", true},
		{"alice;id:web01", false},
		{"$(id):web01", false},
		{forgedName, false},
		{"alice\r\nx:web01", false},
		{"alice:web01\nx", false},
		{"alice\x00:web01", false},
		{"alice\x1b[2J:web01", false},
		{"al\xffice:web01", false},
		{"alice\u2028x:web01", false},
	} {
		for _, auth := range []ssh.AuthMethod{e2e.KeyAuth(t, g.alice), ssh.Password(g.alice.Password)} {
			client, err := g.Dial(c.login, auth)
			switch {
			case err != nil && c.authOK:
				t.Errorf("login %q: %v", c.login, err)
			case err != nil && !strings.Contains(err.Error(), "unable to authenticate"):
				t.Errorf("login %q: %v", c.login, err)
			case err == nil && !c.authOK:
				client.Close()
				t.Errorf("login %q was accepted", c.login)
			case err == nil:
				sess, err := client.NewSession()
				if err != nil {
					t.Fatalf("login %q: session: %v", c.login, err)
				}
				var stdout, stderr bytes.Buffer
				sess.Stdout, sess.Stderr = &stdout, &stderr
				err = sess.Run("echo must-not-run")
				client.Close()
				var exit *ssh.ExitError
				if !errors.As(err, &exit) || exit.ExitStatus() == 0 || strings.Contains(stdout.String(), "must-not-run") ||
					!strings.Contains(stderr.String(), deniedTarget) {
					t.Errorf("login %q: %v, stdout %q, stderr %q", c.login, err, stdout.String(), stderr.String())
				}
			}
			if !g.Running() {
				t.Fatalf("vigild exited after login %q", c.login)
			}
		}
	}
	if !g.Running() {
		t.Fatal("vigild exited")
	}
	g.sshOK(t, g.alice, "echo still-serving", "still-serving")

	// Real users may have such names (the store takes any printable
	// name): they log in and are recorded, and their names never become
	// paths.
	for _, name := range []string{"../../ops|a=b", "corp:ops"} {
		u := g.AddUser(name, "Users")
		client, err := g.Dial(name+":web01", e2e.KeyAuth(t, u))
		if err != nil {
			t.Fatalf("user %q: %v", name, err)
		}
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		got, err := sess.Output("echo hello-" + strconv.Itoa(len(name)))
		client.Close()
		if err != nil || string(got) != "hello-"+strconv.Itoa(len(name))+"\n" {
			t.Errorf("user %q: %v, %q", name, err, got)
		}
		g.WaitEvent("ssh", "session.destroy", e2e.Fields("user_name", name))
	}
	sealed := g.WaitSealed(3)
	for _, vsl := range sealed {
		if strings.ContainsAny(filepath.Base(vsl), "|:") || strings.Contains(filepath.Base(vsl), "../") {
			t.Errorf("capture file name %q holds a character of a user name that file names should not", filepath.Base(vsl))
		}
		g.MustCtl("", "session-logs", "verify", vsl)
	}
	var stray []string
	filepath.WalkDir(g.Dir, func(path string, d os.DirEntry, err error) error {
		// Besides spool/sealed, captures are uploaded under the default
		// upload location, <state_dir>/recordings.
		uploaded := strings.HasPrefix(path, filepath.Join(g.StateDir, "recordings")+"/")
		if err == nil && strings.HasSuffix(path, capture.Ext) && filepath.Dir(path) != g.SpoolSealed() && !uploaded {
			stray = append(stray, path)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Errorf("captures outside spool/sealed: %v", stray)
	}
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("user_name", "alice"))

	// Every line of every JSON log is one event; nothing forged a line.
	logs, _ := filepath.Glob(filepath.Join(g.LogDir, "*_json.log"))
	failures := 0
	for _, l := range logs {
		for _, e := range g.EventsIn(l) {
			if strings.HasPrefix(e.Metric(), "account.login.failed") {
				failures++
			}
			if e.Metric() == "account.login.successful" && e.S("user_name") != "alice" && e.S("user_name") != "../../ops|a=b" && e.S("user_name") != "corp:ops" {
				t.Errorf("%s: a login success for %q", l, e.S("user_name"))
			}
		}
	}
	if failures == 0 {
		t.Error("no account.login.failed_* events were logged for the hostile names")
	}
	var invalid []e2e.Event
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		invalid = e2e.Find(g.Events("ssh"), "account.login.failed_invalid_login_name")
		return len(invalid) > 0
	}, func() string { return "account.login.failed_invalid_login_name" })
	// The name with a newline is logged as sent, inside its one line.
	if len(e2e.Find(invalid, "account.login.failed_invalid_login_name", e2e.Fields("user_name", forgedName))) == 0 {
		t.Errorf("no invalid_login_name event carries the newline name as sent: %v", invalid)
	}
}

// TestSpoolFull: the spool is a small filesystem of its own (a 4 MB
// tmpfs). A recorded session whose output outgrows it is ended, with a
// notice, when its capture can no longer be written: it never goes on
// unrecorded. The full spool then refuses recorded sessions. The capture
// the failed writer left in spool/active is sealed at its last checkpoint
// at the next start, verifies, and goes through the pipeline.
func TestSpoolFull(t *testing.T) {
	t.Parallel()
	s := e2e.RequireSSHD(t)
	v := e2e.NewVigild(t, "\n[recording]\nmin_free_bytes = \"1MB\"\n")
	spool := filepath.Join(v.StateDir, "spool")
	if err := os.MkdirAll(spool, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0750", "tmpfs", spool).CombinedOutput(); err != nil {
		if sdktest.InCI() {
			t.Fatalf("mount a tmpfs for the spool: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	// Registered after NewVigild's cleanup, so it runs before it: stop
	// vigild first, then unmount.
	t.Cleanup(func() {
		if v.Running() {
			v.Stop()
		}
		if out, err := exec.Command("umount", spool).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", spool, err, out)
		}
	})
	v.Start()
	pub := v.PublicKey()
	alice := v.AddUser("alice", "Users")
	v.AddTarget("web01", s, "Users")

	const total = 12 << 20
	out, errOut, code := e2e.Run(t, v.SSHCommand(alice, "alice:web01", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' f", total)))
	if code == 0 || len(out) >= total || !strings.Contains(errOut, "vigil: the session was ended because it could no longer be recorded") {
		t.Fatalf("a session that outgrew its spool: exit %d, %d of %d bytes, stderr %q", code, len(out), total, errOut)
	}
	sid := v.WaitEvent("ssh", "session.destroy", e2e.Fields("user_name", "alice", "reason", "recording_failed")).S("session_id")

	// The spool is full: recorded sessions are refused.
	out, errOut, code = e2e.Run(t, v.SSHCommand(alice, "alice:web01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "free disk space") {
		t.Errorf("recorded session on a full spool: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	v.WaitEvent("ssh", "admission.denied", e2e.Fields("user_name", "alice", "reason", "low_disk_space"))

	// The next start seals what the failed writer left.
	v.Stop()
	vsl := startRecovered(t, v, pub, sid, 1)[0]
	if out := v.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, "verified") || !strings.Contains(out, "recovered") {
		t.Errorf("verify: %q", out)
	}
	if text := signedOutput(vsl, pub); len(text) < 1<<20 || strings.Trim(text, "f") != "" {
		t.Errorf("the recovered capture holds %d bytes of output, want at least 1 MiB of the f's the session printed", len(text))
	}
	v.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", sid))
}

// TestConcurrentSessions: sixteen recorded sessions at once through one
// gateway, each with its own output: every client gets exactly its own,
// `sessions list` shows them all while they run, and each has its own
// capture, which verifies and holds that session's output, and its own
// upload.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	pub := g.PublicKey()
	const n = 16
	procs := make([]*e2e.Proc, n)
	stdins := make([]io.WriteCloser, n)
	for i := range procs {
		// Each prints its marker, waits for a line, then prints 100 KB
		// of its own letter.
		cmd := g.SSHCommand(g.alice, "alice:web01",
			fmt.Sprintf("echo session-%02d; read go; head -c 100000 /dev/zero | tr '\\0' %c; echo", i, 'a'+i))
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdins[i] = w
		procs[i] = e2e.StartProc(t, cmd)
	}
	for i, p := range procs {
		marker := fmt.Sprintf("session-%02d", i)
		e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(p.Stdout.String(), marker) || p.Exited() },
			func() string { return marker + " at its client" })
	}
	var live []e2e.LiveSession
	e2e.Poll(t, e2e.EventTimeout, func() bool { live = g.Sessions(); return len(live) == n },
		func() string { return fmt.Sprintf("%d live sessions (have %d)", n, len(live)) })
	ids := map[string]bool{}
	for _, s := range live {
		ids[s.ID] = true
		if s.User != "alice" || s.Recorded != "true" {
			t.Errorf("live session %+v", s)
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct live session ids, want %d", len(ids), n)
	}
	for _, w := range stdins {
		io.WriteString(w, "go\n")
		w.Close()
	}
	for i, p := range procs {
		want := fmt.Sprintf("session-%02d\n%s\n", i, strings.Repeat(string(rune('a'+i)), 100000))
		if code := p.Wait(t, e2e.CommandTimeout); code != 0 || p.Stdout.String() != want {
			t.Errorf("session %d: exit %d, %d bytes of output (want %d), stderr %q", i, code, len(p.Stdout.String()), len(want), p.Stderr)
		}
	}
	seen := map[string]bool{}
	for _, vsl := range g.WaitSealed(n) {
		if out := g.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, "verified") {
			t.Errorf("verify %s: %q", vsl, out)
		}
		h := captureHeader(t, vsl, pub)
		if !ids[h.SessionID] || seen[h.SessionID] {
			t.Errorf("%s: session %q is not one of the live sessions, or has two captures", vsl, h.SessionID)
		}
		seen[h.SessionID] = true
		text := signedOutput(vsl, pub)
		m := regexp.MustCompile(`^session-(\d\d)\n`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s: output %q", vsl, tail(text, 40))
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if want := fmt.Sprintf("session-%02d\n%s\n", i, strings.Repeat(string(rune('a'+i)), 100000)); text != want {
			t.Errorf("%s: %d bytes of output, not exactly session %d's", vsl, len(text), i)
		}
	}
	for id := range ids {
		g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", id))
	}
}
