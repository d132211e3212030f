package sessionlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pub(seed byte) ed25519.PublicKey { return key(seed).Public().(ed25519.PublicKey) }

var start = time.Date(2025, 6, 7, 8, 9, 10, 111100000, time.UTC)

// record writes a session and returns the sealed segments' paths.
func record(t *testing.T, segmentMax int64, write func(w *capture.Writer)) []string {
	t.Helper()
	dir := t.TempDir()
	var mu sync.Mutex
	var paths []string
	w, err := capture.New(capture.Options{
		ActiveDir: filepath.Join(dir, "active"), SealedDir: filepath.Join(dir, "sealed"),
		Team: "acme", User: "alice", SessionID: "sess-42", Start: start, Key: key(1),
		SegmentMaxBytes: segmentMax, RecordInput: true,
		OnSeal: func(s capture.SealedSegment) {
			mu.Lock()
			paths = append(paths, s.Path)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	write(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return paths
}

func shellSession(w *capture.Writer) {
	w.Write(capture.Meta, 0, capture.SessionMeta{SessionID: "sess-42", User: "alice", Target: "db1",
		Protocol: "ssh", Term: "xterm", Start: start}.Marshal())
	w.Write(capture.Resize, 0, capture.AppendResize(nil, capture.Size{Cols: 90, Rows: 25}))
	w.Write(capture.Output, 0, []byte("alice@db1:~$ "))
	w.Write(capture.Input, 0, []byte("id\r"))
	w.Write(capture.Output, 0, []byte("id\r\nuid=1000(alice)\r\n"))
	w.Write(capture.Stderr, 0, []byte("warning\r\n"))
	w.Write(capture.ExitStatus, 0, capture.AppendExitStatus(nil, 7))
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func TestVerify(t *testing.T) {
	single := record(t, 0, shellSession)[0]
	multi := record(t, 2048, func(w *capture.Writer) {
		for i := range 100 {
			w.Write(capture.Output, 0, fmt.Appendf(nil, "line %d of a longer session\r\n", i))
		}
	})
	if len(multi) < 3 {
		t.Fatalf("%d segments", len(multi))
	}
	dir := t.TempDir()
	altered := filepath.Join(dir, "altered.vsl")
	b, _ := os.ReadFile(single)
	b[len(b)/2] ^= 1
	os.WriteFile(altered, b, 0o640)
	truncated := filepath.Join(dir, "truncated.vsl")
	b, _ = os.ReadFile(single)
	os.WriteFile(truncated, b[:len(b)-30], 0o640)
	missing := filepath.Join(dir, "missing.vsl")
	// A copy of the multi-segment session without its last segment.
	cut := t.TempDir()
	for _, p := range multi[:len(multi)-1] {
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(cut, filepath.Base(p)), b, 0o640)
	}
	cutFirst := filepath.Join(cut, filepath.Base(multi[0]))
	cutLast := filepath.Join(cut, filepath.Base(multi[len(multi)-2]))

	for _, tc := range []struct {
		name  string
		files []string
		pub   ed25519.PublicKey
		lines []string // regexps would hide mistakes: prefixes and suffixes
		code  int
	}{
		{"one segment", []string{single}, pub(1), []string{single + ": verified ("}, 0},
		{"a session of segments", []string{multi[0]}, pub(1),
			[]string{fmt.Sprintf("%s: verified (", multi[0])}, 0},
		{"altered", []string{altered}, pub(1), []string{altered + ": altered at record "}, ExitAltered},
		{"truncated", []string{truncated}, pub(1), []string{truncated + ": truncated after checkpoint "}, ExitTruncated},
		{"wrong key", []string{single}, pub(2),
			[]string{single + ": signed by key " + capture.KeyID(pub(1)) + ", expected " + capture.KeyID(pub(2))}, ExitWrongKey},
		{"missing", []string{missing}, pub(1), []string{missing + ": unreadable: "}, ExitError},
		{"last segment missing", []string{cutFirst}, pub(1),
			[]string{fmt.Sprintf("%s: truncated: segment %d is missing (", cutLast, len(multi)-1)}, ExitTruncated},
		{"first failure decides", []string{single, truncated, altered}, pub(1),
			[]string{single + ": verified", truncated + ": truncated", altered + ": altered"}, ExitTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Verify(tc.files, tc.pub, &out)
			if got := exitCodeOf(err); got != tc.code {
				t.Errorf("exit code %d (%v), want %d", got, err, tc.code)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(tc.lines) {
				t.Fatalf("lines %q", lines)
			}
			for i, want := range tc.lines {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %q, want it to start with %q", lines[i], want)
				}
			}
		})
	}
	var out bytes.Buffer
	if err := Verify([]string{multi[0]}, pub(1), &out); err != nil ||
		!strings.HasSuffix(strings.TrimSpace(out.String()), fmt.Sprintf(" records, %d segments)", len(multi))) {
		t.Errorf("%v: %q should count %d segments", err, out.String(), len(multi))
	}
}

type exported struct {
	Header struct {
		Verified  bool      `json:"verified"`
		KeyID     string    `json:"key_id"`
		SessionID string    `json:"session_id"`
		User      string    `json:"user"`
		Target    string    `json:"target"`
		Protocol  string    `json:"protocol"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Records   int       `json:"records"`
		Segments  []struct {
			Segment int    `json:"segment"`
			File    string `json:"file"`
		} `json:"segments"`
	} `json:"header"`
	Frames []struct {
		Time   float64         `json:"time"`
		Kind   string          `json:"kind"`
		Data   []byte          `json:"data"`
		Cols   uint32          `json:"cols"`
		Value  json.RawMessage `json:"value"`
		Status *uint32         `json:"status"`
	} `json:"frames"`
}

func TestExportJSON(t *testing.T) {
	paths := record(t, 0, shellSession)
	var out bytes.Buffer
	if err := Export(paths[0], FormatJSON, false, pub(1), &out); err != nil {
		t.Fatal(err)
	}
	var e exported
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	h := e.Header
	if !h.Verified || h.KeyID != capture.KeyID(pub(1)) || h.SessionID != "sess-42" || h.User != "alice" ||
		h.Target != "db1" || h.Protocol != "ssh" || !h.Start.Equal(start) || h.End.Before(h.Start) ||
		h.Records != 7 || len(h.Segments) != 1 || h.Segments[0].File != filepath.Base(paths[0]) {
		t.Errorf("header %+v", h)
	}
	var kinds []string
	var output strings.Builder
	for _, f := range e.Frames {
		kinds = append(kinds, f.Kind)
		if f.Kind == "output" {
			output.Write(f.Data)
		}
	}
	if got := strings.Join(kinds, " "); got != "meta resize output input output stderr exit-status" {
		t.Errorf("kinds %q", got)
	}
	if output.String() != "alice@db1:~$ id\r\nuid=1000(alice)\r\n" {
		t.Errorf("decoded output %q", output.String())
	}
	if e.Frames[1].Cols != 90 || !strings.Contains(string(e.Frames[0].Value), `"user":"alice"`) ||
		e.Frames[6].Status == nil || *e.Frames[6].Status != 7 {
		t.Errorf("frame details: %+v %+v %+v", e.Frames[0], e.Frames[1], e.Frames[6])
	}
}

func TestExportRefusesUnverified(t *testing.T) {
	p := record(t, 0, shellSession)[0]
	b, _ := os.ReadFile(p)
	b[len(b)-100] ^= 0x10
	os.WriteFile(p, b, 0o640)
	for _, format := range []Format{FormatJSON, FormatAsciinema} {
		var out bytes.Buffer
		err := Export(p, format, false, pub(1), &out)
		if exitCodeOf(err) != ExitAltered || !errors.Is(err, ErrNotVerified) || out.Len() != 0 {
			t.Errorf("%s: %v, %d bytes written", format, err, out.Len())
		}
		out.Reset()
		if err := Export(p, format, true, nil, &out); err != nil || out.Len() == 0 {
			t.Errorf("%s --insecure: %v", format, err)
		}
	}
	var out bytes.Buffer
	Export(p, FormatJSON, true, nil, &out)
	var e exported
	if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.Header.Verified || e.Header.KeyID != "" {
		t.Errorf("insecure export header %+v (%v)", e.Header, err)
	}
	if err := Cat(p, false, pub(1), &out); exitCodeOf(err) != ExitAltered {
		t.Errorf("cat: %v", err)
	}
	notCapture := filepath.Join(t.TempDir(), "x.vsl")
	os.WriteFile(notCapture, []byte("just text"), 0o640)
	if err := Cat(notCapture, true, nil, &out); exitCodeOf(err) != ExitNotCapture {
		t.Errorf("insecure cat of a non-capture: %v", err)
	}
}

func TestExportAsciinemaPlays(t *testing.T) {
	paths := record(t, 0, shellSession)
	cast := filepath.Join(t.TempDir(), "s.cast")
	f, err := os.Create(cast)
	if err != nil {
		t.Fatal(err)
	}
	if err := Export(paths[0], FormatAsciinema, false, pub(1), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(cast)
	first, _, _ := strings.Cut(string(b), "\n")
	var h map[string]any
	if err := json.Unmarshal([]byte(first), &h); err != nil || h["width"] != 90.0 || h["height"] != 25.0 || h["title"] != "alice@db1" {
		t.Fatalf("header %q: %v", first, err)
	}
	asciinema := sdktest.RequirePeer(t, "asciinema")
	script := sdktest.RequirePeer(t, "script")
	if out, err := exec.Command(asciinema, "play", "-i", "0.1", cast).CombinedOutput(); err != nil {
		t.Fatalf("asciinema play: %v\n%s", err, out)
	}
	out, err := exec.Command(script, "-qec", asciinema+" cat "+cast, "/dev/null").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "uid=1000(alice)") {
		t.Fatalf("asciinema cat: %v\n%q", err, out)
	}
}

func TestCat(t *testing.T) {
	paths := record(t, 1024, func(w *capture.Writer) {
		shellSession(w)
		for i := range 40 {
			w.Write(capture.Output, 0, fmt.Appendf(nil, "%02d\x00\xff\r\n", i))
		}
	})
	if len(paths) < 2 {
		t.Fatalf("%d segments", len(paths))
	}
	var want strings.Builder
	want.WriteString("alice@db1:~$ id\r\nuid=1000(alice)\r\nwarning\r\n")
	for i := range 40 {
		fmt.Fprintf(&want, "%02d\x00\xff\r\n", i)
	}
	var out bytes.Buffer
	if err := Cat(paths[0], false, pub(1), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("cat printed %q", out.String())
	}
}

func TestLoadPublicKeyAndFormat(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vigil.pub")
	os.WriteFile(good, capture.MarshalPublicKey(pub(3)), 0o644)
	if k, err := LoadPublicKey(good); err != nil || !k.Equal(pub(3)) {
		t.Errorf("load: %v", err)
	}
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(bad, []byte("ssh-ed25519 AAAA"), 0o644)
	for _, p := range []string{bad, filepath.Join(dir, "none")} {
		if _, err := LoadPublicKey(p); exitCodeOf(err) != ExitError {
			t.Errorf("%s: %v", p, err)
		}
	}
	for in, want := range map[string]Format{"": FormatJSON, "json": FormatJSON, "asciinema": FormatAsciinema} {
		if f, err := ParseFormat(in); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, f, err)
		}
	}
	if _, err := ParseFormat("mp4"); exitCodeOf(err) != 2 {
		t.Errorf("ParseFormat(mp4): %v", err)
	}
}
