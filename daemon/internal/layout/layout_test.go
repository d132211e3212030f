package layout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureModes(t *testing.T) {
	root := t.TempDir()
	l := Layout{StateDir: filepath.Join(root, "state"), LogDir: filepath.Join(root, "log")}
	if err := l.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := l.Ensure(); err != nil {
		t.Fatalf("Ensure must be idempotent: %v", err)
	}
	for path, want := range map[string]os.FileMode{
		l.StateDir: 0o750, l.Keys(): 0o700, l.SpoolActive(): 0o750, l.SpoolSealed(): 0o750,
		l.Renders(): 0o750, l.Events(): 0o750, l.LogDir: 0o750,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, st.Mode().Perm(), want)
		}
		if st.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is world accessible", path)
		}
	}
}
