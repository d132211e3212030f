package termrender

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

type castFile struct {
	header map[string]any
	events [][3]any
}

func parseCast(t *testing.T, b []byte) castFile {
	t.Helper()
	var c castFile
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		if i == 0 {
			if err := json.Unmarshal(sc.Bytes(), &c.header); err != nil {
				t.Fatalf("header %q: %v", sc.Text(), err)
			}
			continue
		}
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event line %d %q: %v", i, sc.Text(), err)
		}
		c.events = append(c.events, [3]any{ev[0], ev[1], ev[2]})
	}
	return c
}

// session is a short shell session, as the SSH proxy records it.
func session() []capture.Record {
	at := func(d time.Duration, k capture.Kind, p []byte) capture.Record {
		return capture.Record{Kind: k, Channel: 0, Time: d, At: t0.Add(d), Payload: p}
	}
	ms := time.Millisecond
	return []capture.Record{
		at(0, capture.Meta, capture.SessionMeta{SessionID: "s1", User: "alice", Target: "db1", Term: "xterm-256color"}.Marshal()),
		at(0, capture.Resize, capture.AppendResize(nil, capture.Size{Cols: 100, Rows: 30})),
		at(120*ms, capture.Output, []byte("\x1b[32malice@db1\x1b[0m:~$ ")),
		at(900*ms, capture.Input, []byte("echo h\u00e9llo \"q\" \\\r")),
		at(950*ms, capture.Output, []byte("echo h\xc3")),
		at(960*ms, capture.Output, []byte("\xa9llo \"q\" \\\r\nh\u00e9llo \"q\" \\\r\n")),
		at(1500*ms, capture.Resize, capture.AppendResize(nil, capture.Size{Cols: 120, Rows: 40})),
		at(1600*ms, capture.Marker, []byte("after resize")),
		at(2000*ms, capture.Stderr, []byte("bin\x00ary\xff\r\n")),
		at(2500*ms, capture.Output, []byte("logout\r\n")),
	}
}

func renderCast(t *testing.T, recs []capture.Record, opts CastOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	c := NewCast(&b, opts)
	for _, r := range recs {
		if err := c.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  CastOptions
		codes string
	}{
		{"output only", CastOptions{}, "o o o r m o o"},
		{"with input", CastOptions{Input: true, IdleTimeLimit: 2, Title: "T"}, "o i o o r m o o"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCast(t, renderCast(t, session(), tc.opts))
			h := c.header
			if h["version"] != 2.0 || h["width"] != 100.0 || h["height"] != 30.0 || h["timestamp"] != float64(t0.Unix()) {
				t.Errorf("header %v", h)
			}
			if env, _ := h["env"].(map[string]any); env["TERM"] != "xterm-256color" {
				t.Errorf("env %v", h["env"])
			}
			wantTitle := "alice@db1"
			if tc.opts.Title != "" {
				wantTitle = tc.opts.Title
			}
			if h["title"] != wantTitle {
				t.Errorf("title %v", h["title"])
			}
			if tc.opts.IdleTimeLimit != 0 && h["idle_time_limit"] != tc.opts.IdleTimeLimit {
				t.Errorf("idle_time_limit %v", h["idle_time_limit"])
			}
			var codes []string
			var text strings.Builder
			last := -1.0
			for _, ev := range c.events {
				codes = append(codes, ev[1].(string))
				if ts := ev[0].(float64); ts < last {
					t.Errorf("time goes back: %v after %v", ts, last)
				} else {
					last = ts
				}
				if ev[1] == "o" {
					text.WriteString(ev[2].(string))
				}
				if ev[1] == "r" && ev[2] != "120x40" {
					t.Errorf("resize event %v", ev[2])
				}
			}
			if got := strings.Join(codes, " "); got != tc.codes {
				t.Errorf("event codes %q, want %q", got, tc.codes)
			}
			if !strings.Contains(text.String(), "echo h\u00e9llo \"q\" \\\r\nh\u00e9llo") || !strings.Contains(text.String(), "bin\x00ary\ufffd") {
				t.Errorf("text %q", text.String())
			}
			if c.events[0][0] != 0.12 {
				t.Errorf("first event at %v, want 0.12", c.events[0][0])
			}
		})
	}
}

func TestCastLeavesOutFileTransfers(t *testing.T) {
	recs := []capture.Record{
		{Kind: capture.Meta, At: t0, Payload: []byte(`{"extra":{"ch4.subsystem":"sftp"}}`)},
		{Kind: capture.Output, Channel: 4, At: t0, Payload: []byte("sftp bytes")},
		{Kind: capture.Exec, Channel: 5, At: t0, Payload: []byte("/usr/bin/scp -f x")},
		{Kind: capture.Input, Channel: 5, At: t0, Payload: []byte("\x00")},
		{Kind: capture.Output, Channel: 5, At: t0, Payload: []byte("C0644 1 x\n")},
		{Kind: capture.Output, Channel: 0, At: t0, Payload: []byte("terminal")},
	}
	c := parseCast(t, renderCast(t, recs, CastOptions{Input: true}))
	if len(c.events) != 1 || c.events[0][2] != "terminal" {
		t.Errorf("events %v", c.events)
	}
}

func TestCastWithoutOutput(t *testing.T) {
	c := parseCast(t, renderCast(t, nil, CastOptions{}))
	if c.header["width"] != 80.0 || c.header["height"] != 24.0 || len(c.events) != 0 {
		t.Errorf("%v %v", c.header, c.events)
	}
}

// TestCastPlays: the real asciinema plays the cast and prints its text.
func TestCastPlays(t *testing.T) {
	asciinema := sdktest.RequirePeer(t, "asciinema")
	script := sdktest.RequirePeer(t, "script")
	path := filepath.Join(t.TempDir(), "s.cast")
	if err := os.WriteFile(path, renderCast(t, session(), CastOptions{Input: true}), 0o640); err != nil {
		t.Fatal(err)
	}
	play := exec.Command(asciinema, "play", "-i", "0.1", path)
	play.Stdin = nil // /dev/null
	if out, err := play.CombinedOutput(); err != nil {
		t.Fatalf("asciinema play: %v\n%s", err, out)
	}
	// asciinema cat wants a terminal: script gives it one.
	out, err := exec.Command(script, "-qec", asciinema+" cat "+path, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, out)
	}
	for _, want := range []string{"alice@db1", "h\u00e9llo \"q\" \\", "logout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("asciinema cat shows no %q:\n%q", want, out)
		}
	}
}
