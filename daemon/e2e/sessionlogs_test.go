package e2e_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// vigilctl session-logs exit codes (daemon/internal/sessionlog).
const (
	exitAltered   = 3
	exitTruncated = 4
	exitWrongKey  = 5
)

// TestSessionLogs: a real session's capture, rolled into three segments
// linked by hash, through `vigilctl session-logs`: verify answers
// "verified" for the intact session, names the first bad record of an
// altered one, says "truncated" with the last good checkpoint for a cut
// one and for a missing segment, and "signed by key ..." for another key,
// each with its own exit code; export refuses what does not verify unless
// --insecure, and its JSON header and base64 frames describe the session.
func TestSessionLogs(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "\n[recording]\nsegment_max_bytes = \"1MiB\"\ncheckpoint_bytes = \"64KiB\"\n")
	pub := g.PublicKey()
	const marker = "session-log-marker-0123456789"
	const bulk = 2500000 // about two and a half segments
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01",
		fmt.Sprintf("echo %s; head -c %d /dev/zero | tr '\\0' v; echo; exit 0", marker, bulk)))
	if code != 0 || !strings.HasPrefix(out, marker+"\n") || len(out) != len(marker)+1+bulk+1 {
		t.Fatalf("ssh: exit %d, %d bytes of output (want %d), stderr %q", code, len(out), len(marker)+1+bulk+1, errOut)
	}
	create := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice"))
	sid := create.S("session_id")
	var segs []string
	for _, p := range g.WaitSealed(3) {
		if _, n, ok := capture.SegmentNumber(p); ok && n == 0 {
			var err error
			if segs, err = capture.SessionFiles(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(segs) != 3 {
		t.Fatalf("segments of the session: %q", segs)
	}
	for n := 0; n < 3; n++ {
		g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", sid, "segment", fmt.Sprint(n)))
	}
	// Segments are numbered after the first: <base>.vsl, <base>.0001.vsl,
	// <base>.0002.vsl.
	base := strings.TrimSuffix(segs[0], capture.Ext)
	if segs[1] != base+".0001"+capture.Ext || segs[2] != base+".0002"+capture.Ext {
		t.Fatalf("segment names %q", segs)
	}
	first := segs[0]

	verify := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := g.Ctl("", append([]string{"session-logs", "verify"}, args...)...)
		return out + errOut, code
	}

	// Intact: the whole session, all three segments.
	if out, code := verify(first); code != 0 || !strings.Contains(out, first+": verified") || !strings.Contains(out, "3 segments") {
		t.Errorf("verify of the intact session: exit %d, %q", code, out)
	}

	// Altered: one flipped byte inside the marker's output record. The
	// record is found by reading the intact capture.
	rec := findRecord(t, first, pub, []byte(marker))
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	// (The marker is in the exec record before it too.)
	at := bytes.Index(data[rec.Offset:], []byte(marker))
	if at < 0 {
		t.Fatalf("the marker is not in record %d of %s as written", rec.Index, first)
	}
	at += int(rec.Offset)
	altered := copySession(t, g.Dir, "altered", segs)
	flipped := bytes.Clone(data)
	flipped[at+3] ^= 0x01
	writeFile(t, altered[0], flipped)
	want := fmt.Sprintf("altered at record %d (offset %d)", rec.Index, rec.Offset)
	if out, code := verify(altered[0]); code != exitAltered || !strings.Contains(out, want) {
		t.Errorf("verify of a flipped byte: exit %d, %q (want exit %d and %q)", code, out, exitAltered, want)
	}

	// Truncated: the first segment cut two thirds in, past several
	// checkpoints (one per 64 KiB); verification stops at the last one
	// before the cut.
	cut := copySession(t, g.Dir, "cut", segs[:1])
	writeFile(t, cut[0], data[:len(data)*2/3])
	if out, code := verify(cut[0]); code != exitTruncated || !strings.Contains(out, "truncated after checkpoint ") ||
		strings.Contains(out, "truncated after checkpoint 0 ") {
		t.Errorf("verify of a cut segment: exit %d, %q (want exit %d, truncated after a checkpoint)", code, out, exitTruncated)
	}
	// A missing last segment: the one before says the session goes on.
	short := copySession(t, g.Dir, "short", segs[:2])
	if out, code := verify(short[0]); code != exitTruncated || !strings.Contains(out, "truncated: segment 2 is missing") {
		t.Errorf("verify without the last segment: exit %d, %q", code, out)
	}
	// A missing middle segment breaks the hash link.
	gap := copySession(t, g.Dir, "gap", []string{segs[0], segs[2]})
	if err := os.Rename(gap[1], strings.TrimSuffix(gap[0], capture.Ext)+".0002"+capture.Ext); err != nil {
		t.Fatal(err)
	}
	if out, code := verify(gap[0]); code == 0 || strings.Contains(out, "verified") {
		t.Errorf("verify without the middle segment: exit %d, %q", code, out)
	}

	// Wrong key: an auditor holding another key.
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(g.Dir, "other.pub")
	writeFile(t, other, capture.MarshalPublicKey(otherPub))
	want = fmt.Sprintf("signed by key %s, expected %s", capture.KeyID(pub), capture.KeyID(otherPub))
	if out, code := verify("--pubkey", other, first); code != exitWrongKey || !strings.Contains(out, want) {
		t.Errorf("verify with another key: exit %d, %q (want exit %d and %q)", code, out, exitWrongKey, want)
	}

	// A file that is no capture at all, and one cut inside its first
	// record.
	garbage := filepath.Join(g.Dir, "garbage.vsl")
	noise := make([]byte, 4096)
	rand.Read(noise)
	writeFile(t, garbage, noise)
	if out, code := verify(garbage); code == 0 || !strings.Contains(out, "not a capture file") {
		t.Errorf("verify of random bytes: exit %d, %q", code, out)
	}
	stub := filepath.Join(g.Dir, "stub.vsl")
	writeFile(t, stub, data[:20])
	if out, code := verify(stub); code != exitTruncated || !strings.Contains(out, "truncated") {
		t.Errorf("verify of a capture cut in its header: exit %d, %q", code, out)
	}

	// Export refuses what does not verify, and says why...
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"altered", []string{altered[0]}, exitAltered},
		{"cut", []string{cut[0]}, exitTruncated},
		{"wrong key", []string{"--pubkey", other, first}, exitWrongKey},
	} {
		out, errOut, code := g.Ctl("", append([]string{"session-logs", "export", "--format", "json"}, c.args...)...)
		if code != c.code || out != "" || !strings.Contains(errOut, "does not verify") {
			t.Errorf("export of the %s capture: exit %d (want %d), stdout %d bytes, stderr %q", c.name, code, c.code, len(out), errOut)
		}
	}
	// ...unless --insecure: then it reads what is there, unverified.
	ins := exportJSON(t, g, "--insecure", cut[0])
	if ins.Header.Verified || ins.Header.SessionID != sid || !strings.HasPrefix(ins.output(), marker) {
		t.Errorf("insecure export of the cut capture: verified=%v session %q, output starts %q", ins.Header.Verified, ins.Header.SessionID, tail(ins.output(), 40))
	}

	// The JSON export of the intact session: a header naming the
	// session, user, target, times and segments, and frames whose base64
	// data is what the client saw.
	exp := exportJSON(t, g, first)
	h := exp.Header
	if !h.Verified || h.SessionID != sid || h.User != "alice" || h.Target != "web01" || h.Protocol != "ssh" || h.KeyID != capture.KeyID(pub) {
		t.Errorf("json export header: %+v", h)
	}
	created, err := time.Parse(time.RFC3339Nano, create.S("time"))
	if err != nil {
		t.Fatalf("session.create time %q: %v", create.S("time"), err)
	}
	if h.Start.IsZero() || h.End.Before(h.Start) || h.Start.Sub(created).Abs() > 5*time.Second {
		t.Errorf("json export header: start %v, end %v; the session was created at %v", h.Start, h.End, created)
	}
	if len(h.Segments) != 3 {
		t.Errorf("json export header lists %d segments, want 3: %+v", len(h.Segments), h.Segments)
	}
	for i, s := range h.Segments {
		if s.Segment != i || s.File != filepath.Base(segs[i]) {
			t.Errorf("json export segment %d: %+v, want file %s", i, s, filepath.Base(segs[i]))
		}
	}
	if got := exp.output(); got != out {
		t.Errorf("json export: output frames hold %d bytes, the client saw %d", len(got), len(out))
	}
	var frameSegs [3]int
	for _, f := range exp.Frames {
		if f.Segment >= 0 && f.Segment < 3 {
			frameSegs[f.Segment]++
		}
	}
	if frameSegs[0] == 0 || frameSegs[1] == 0 || frameSegs[2] == 0 {
		t.Errorf("json export: frames per segment %v", frameSegs)
	}
	if s := exp.exitStatus(); s == nil || *s != 0 {
		t.Errorf("json export: exit status frame %v, want 0", s)
	}
	// The raw JSON carries the data as base64 text, as the issue says.
	raw := g.MustCtl("", "session-logs", "export", "--format", "json", first)
	if !strings.Contains(raw, `"data":"`) || strings.Contains(raw, marker) {
		t.Errorf("json export: frames are not base64 (the marker appears in clear: %v)", strings.Contains(raw, marker))
	}
	// And `cat` prints the decoded output.
	if text := g.MustCtl("", "session-logs", "cat", first); text != out {
		t.Errorf("cat: %d bytes, the client saw %d", len(text), len(out))
	}
}

// findRecord is the first output record of the capture at path whose
// payload holds want.
func findRecord(t *testing.T, path string, pub ed25519.PublicKey, want []byte) capture.Record {
	t.Helper()
	r, err := capture.Open([]string{path}, pub, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("%s: no output record holds %q (%v)", path, want, err)
		}
		if rec.Kind == capture.Output && bytes.Contains(rec.Payload, want) {
			return rec
		}
	}
}

// copySession copies segments into a new directory under dir, keeping
// their names, and returns the copies' paths.
func copySession(t *testing.T, dir, name string, segs []string) []string {
	t.Helper()
	to := filepath.Join(dir, name)
	if err := os.MkdirAll(to, 0o750); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(to, filepath.Base(s))
		writeFile(t, p, b)
		out = append(out, p)
	}
	return out
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// jsonExport is `vigilctl session-logs export --format json`.
type jsonExport struct {
	Header struct {
		Verified  bool      `json:"verified"`
		KeyID     string    `json:"key_id"`
		SessionID string    `json:"session_id"`
		User      string    `json:"user"`
		Target    string    `json:"target"`
		Protocol  string    `json:"protocol"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Segments  []struct {
			Segment int    `json:"segment"`
			File    string `json:"file"`
		} `json:"segments"`
	} `json:"header"`
	Frames []struct {
		Time    float64 `json:"time"`
		Segment int     `json:"segment"`
		Kind    string  `json:"kind"`
		Data    []byte  `json:"data"` // base64 in the JSON
		Status  *uint32 `json:"status"`
		// Value is the decoded payload of meta and transfer frames.
		Value json.RawMessage `json:"value"`
	} `json:"frames"`
}

func exportJSON(t *testing.T, g *gateway, args ...string) jsonExport {
	t.Helper()
	out := g.MustCtl("", append([]string{"session-logs", "export", "--format", "json"}, args...)...)
	var e jsonExport
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("session-logs export --format json %v: %v", args, err)
	}
	return e
}

// data is the concatenated data of the frames of kind.
func (e jsonExport) data(kind string) string {
	var b strings.Builder
	for _, f := range e.Frames {
		if f.Kind == kind {
			b.Write(f.Data)
		}
	}
	return b.String()
}

func (e jsonExport) output() string { return e.data("output") }

// exitStatus is the status of the last frame carrying one.
func (e jsonExport) exitStatus() *uint32 {
	var s *uint32
	for _, f := range e.Frames {
		if f.Status != nil {
			s = f.Status
		}
	}
	return s
}
