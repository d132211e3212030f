package pluginhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
	}
	write("vigil-plugin-storage-local", 0o755)
	write("vigil-plugin-logformat-json", 0o750)
	write("vigil-plugin-recorder-ssh", 0o700)
	write("vigil-plugin-logformat-evil", 0o777)
	write("vigil-plugin-logformat-noexec", 0o644)
	write("vigil-plugin-storage-local.bak", 0o755)
	write("vigil-plugin-storage-local~", 0o755)
	write("vigil-plugin-storage", 0o755)
	write("vigil-plugin-unknownkind-x", 0o755)
	write("vigil-plugin-storage-UPPER", 0o755)
	write("README", 0o644)
	write("storage-local", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "vigil-plugin-logformat-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vigil-plugin-storage-local", filepath.Join(dir, "vigil-plugin-storage-alias")); err != nil {
		t.Fatal(err)
	}

	got, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, refused string // refused: a substring of the refusal, "" when runnable
	}{
		{"logformat-dir", "is not a regular file"},
		{"logformat-evil", "vigil-plugin-logformat-evil is world-writable (-rwxrwxrwx): refusing to run it"},
		{"logformat-json", ""},
		{"logformat-noexec", "is not executable (-rw-r--r--)"},
		{"recorder-ssh", ""},
		{"storage-alias", ""},
		{"storage-local", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("Discover found %d candidates, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.ID != w.id || c.Path != filepath.Join(dir, filepath.Base(c.Path)) || string(c.Kind)+"-"+c.Name != c.ID {
			t.Errorf("candidate %d = %+v, want ID %s", i, c, w.id)
			continue
		}
		switch {
		case w.refused == "" && c.Refused != nil:
			t.Errorf("%s refused: %v", c.ID, c.Refused)
		case w.refused != "" && (c.Refused == nil || !strings.Contains(c.Refused.Error(), w.refused)):
			t.Errorf("%s: refusal %v, want one saying %q", c.ID, c.Refused, w.refused)
		case w.refused != "" && !strings.HasPrefix(c.Refused.Error(), "pluginhost: "+c.ID+": "):
			t.Errorf("%s: refusal %q does not name the plugin", c.ID, c.Refused)
		}
	}
	if !errors.Is(got[1].Refused, ErrInsecure) {
		t.Errorf("world-writable refusal does not wrap ErrInsecure: %v", got[1].Refused)
	}
	if got[6].Kind != sdk.KindStorage || got[6].Name != "local" {
		t.Errorf("storage-local parsed as %+v", got[6])
	}
}

func TestDiscoverRefusesAWorldWritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Discover(dir)
	if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "is world-writable") {
		t.Fatalf("Discover(world-writable dir) = %v", err)
	}
	if _, err := Discover(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Discover(missing dir) succeeded")
	}
}

func TestBackoffDelay(t *testing.T) {
	b := DefaultBackoff
	for _, c := range []struct {
		attempt int
		want    string
	}{
		{1, "200ms"}, {2, "400ms"}, {3, "800ms"}, {8, "25.6s"}, {9, "30s"}, {50, "30s"},
	} {
		if got := b.delay(c.attempt).String(); got != c.want {
			t.Errorf("delay(%d) = %s, want %s", c.attempt, got, c.want)
		}
	}
}
