package file

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// write writes one event per line, of component comp, seqs from seq on.
func write(t *testing.T, w *Writer, comp string, seq uint64, lines ...string) {
	t.Helper()
	evs := make([]event.Event, len(lines))
	bs := make([][]byte, len(lines))
	for i, l := range lines {
		evs[i] = event.Event{Seq: seq + uint64(i), Component: comp}
		bs[i] = []byte(l)
	}
	if err := w.Write(context.Background(), evs, bs); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestOneFilePerComponent(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Config{Dir: dir, Path: "{component}_json.log"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, w, "ssh", 1, `{"a":1}`, `{"a":2}`)
	write(t, w, "wui", 3, `{"b":1}`)
	write(t, w, "../../etc/x", 4, `{"c":1}`)
	write(t, w, "", 5, `{"d":1}`)
	tests := map[string]string{
		"ssh_json.log":         "{\"a\":1}\n{\"a\":2}\n",
		"wui_json.log":         "{\"b\":1}\n",
		"______etc_x_json.log": "{\"c\":1}\n",
		"core_json.log":        "{\"d\":1}\n",
	}
	for name, want := range tests {
		if got := read(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
		st, _ := os.Stat(filepath.Join(dir, name))
		if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v", name, st.Mode().Perm())
		}
	}
	if c, all, _ := w.Progress(); c != 5 || !all {
		t.Fatalf("progress %d %v", c, all)
	}
}

func TestRotationAndRetention(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		// step writes and moves the clock; then want lists the directory.
		step func(t *testing.T, w *Writer, c *fakeClock)
		want []string
		// lines is how many lines all files hold together (0: not checked,
		// retention deleted some).
		lines int
	}{
		{
			name: "by size",
			cfg:  Config{MaxSize: 20, MaxAge: -1},
			step: func(t *testing.T, w *Writer, c *fakeClock) {
				write(t, w, "ssh", 1, "0123456789") // 11 bytes
				c.Add(time.Second)
				write(t, w, "ssh", 2, "0123456789") // 22 > 20: rotate first
				write(t, w, "ssh", 3, "abc")
			},
			want:  []string{"ssh.log", "ssh.log.20250301T120001Z"},
			lines: 3,
		},
		{
			name: "by age",
			cfg:  Config{MaxSize: -1, MaxAge: time.Hour},
			step: func(t *testing.T, w *Writer, c *fakeClock) {
				write(t, w, "ssh", 1, "a")
				c.Add(59 * time.Minute)
				write(t, w, "ssh", 2, "b")
				c.Add(time.Minute)
				write(t, w, "ssh", 3, "c")
			},
			want:  []string{"ssh.log", "ssh.log.20250301T130000Z"},
			lines: 3,
		},
		{
			name: "two rotations in one second",
			cfg:  Config{MaxSize: 2, MaxAge: -1},
			step: func(t *testing.T, w *Writer, c *fakeClock) {
				write(t, w, "ssh", 1, "a", "b", "c")
			},
			want:  []string{"ssh.log", "ssh.log.20250301T120000Z", "ssh.log.20250301T120000Z-1"},
			lines: 3,
		},
		{
			name: "retention deletes old rotated files only",
			cfg:  Config{MaxSize: -1, MaxAge: 24 * time.Hour, Retention: 3 * 24 * time.Hour},
			step: func(t *testing.T, w *Writer, c *fakeClock) {
				for day := range 6 {
					write(t, w, "ssh", uint64(day+1), "day "+strconv.Itoa(day))
					c.Add(24 * time.Hour)
				}
				write(t, w, "ssh", 7, "today")
			},
			// Rotated on days 1..6; day 6 now: rotations older than 3 days go.
			want: []string{"ssh.log", "ssh.log.20250304T120000Z", "ssh.log.20250305T120000Z", "ssh.log.20250306T120000Z", "ssh.log.20250307T120000Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := &fakeClock{now: t0}
			cfg := tt.cfg
			cfg.Dir, cfg.Path, cfg.Now = dir, "{component}.log", clock.Now
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			tt.step(t, w, clock)
			got := list(t, dir)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("files %v, want %v", got, tt.want)
			}
			// Nothing was lost or doubled across the rotations.
			var all string
			for _, n := range got[1:] {
				all += read(t, filepath.Join(dir, n))
			}
			all += read(t, filepath.Join(dir, got[0]))
			if n := strings.Count(all, "\n"); tt.lines > 0 && n != tt.lines {
				t.Fatalf("%d lines in all files, want %d:\n%s", n, tt.lines, all)
			}
		})
	}
}

func TestCompressedRotation(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	w, err := New(Config{Dir: dir, Path: "logs/{component}.log", MaxSize: 10, MaxAge: -1, Compress: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, "ssh", 1, "first line")
	write(t, w, "ssh", 2, "second")
	sub := filepath.Join(dir, "logs")
	gz := filepath.Join(sub, "ssh.log.20250301T120000Z.gz")
	sdktest.WaitFor(t, 5*time.Second, "rotated file compressed", func() bool {
		_, err := os.Stat(gz)
		return err == nil && len(list(t, sub)) == 2
	})
	w.Close()
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if string(b) != "first line\n" {
		t.Fatalf("compressed content %q", b)
	}
	if got := read(t, filepath.Join(sub, "ssh.log")); got != "second\n" {
		t.Fatalf("current file %q", got)
	}
}

func TestReopensFileMovedAway(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Config{Dir: dir, Path: "x.log"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, w, "c", 1, "one")
	if err := os.Rename(filepath.Join(dir, "x.log"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	write(t, w, "c", 2, "two")
	if got := read(t, filepath.Join(dir, "x.log")); got != "two\n" {
		t.Fatalf("after an outside move: %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Dir: "/tmp"}, {Path: "rel.log"}, {Dir: "/tmp", Path: "d/"}} {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
