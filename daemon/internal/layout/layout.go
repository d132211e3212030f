package layout

import (
	"fmt"
	"os"
	"path/filepath"
)

// Layout is where one appliance keeps its state.
type Layout struct {
	StateDir string
	LogDir   string
}

// Store is the SQLite database.
func (l Layout) Store() string { return filepath.Join(l.StateDir, "vigil.db") }

// Keys holds the signing and sealing keys (0700).
func (l Layout) Keys() string { return filepath.Join(l.StateDir, "keys") }

// SpoolActive holds captures being written.
func (l Layout) SpoolActive() string { return filepath.Join(l.StateDir, "spool", "active") }

// SpoolSealed holds signed, closed capture segments waiting for the pipeline.
func (l Layout) SpoolSealed() string { return filepath.Join(l.StateDir, "spool", "sealed") }

// Renders holds what the recorder plugins produced.
func (l Layout) Renders() string { return filepath.Join(l.StateDir, "renders") }

// Events holds the durable event journal and the sinks' cursors.
func (l Layout) Events() string { return filepath.Join(l.StateDir, "events") }

// Recordings is the default root of the storage-local plugin.
func (l Layout) Recordings() string { return filepath.Join(l.StateDir, "recordings") }

// Ensure creates every directory. Recordings and keys are never world
// readable: the state tree is 0750, keys 0700.
func (l Layout) Ensure() error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{l.StateDir, 0o750},
		{l.Keys(), 0o700},
		{filepath.Join(l.StateDir, "spool"), 0o750},
		{l.SpoolActive(), 0o750},
		{l.SpoolSealed(), 0o750},
		{l.Renders(), 0o750},
		{l.Events(), 0o750},
		{l.LogDir, 0o750},
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("layout: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("layout: %w", err)
		}
	}
	return nil
}
