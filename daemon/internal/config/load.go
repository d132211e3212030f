package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Load reads the configuration file at path, lays <state_dir>/settings.toml
// (the web UI's changes, if the file exists) over it, fills the defaults and
// checks every value. It returns the effective configuration and where each
// value came from. On error it returns Errors naming every problem found
// (file, line, key), or a plain error when a file cannot be read.
//
// Relative paths in the configuration file resolve against the file's
// directory; relative paths in settings.toml against state_dir.
func Load(path string) (*Config, Origins, error) {
	c, err := load(path, nil)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Origins(), nil
}

// load builds the configuration from path; settings, when not nil, stands
// in for the settings file on disk (SaveSettings checks its result so).
func load(path string, settings []byte) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return build(path, data, settings)
}

// build lays data, read from path, and the settings over the defaults and
// checks the result.
func build(path string, data, settings []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := Default()
	c.path = path
	var is issues
	if !c.apply(&is, OriginFile, path, filepath.Dir(abs), data) {
		return nil, is.err()
	}
	if err := c.overlay(&is, settings); err != nil {
		return nil, err
	}
	c.check(&is)
	if err := is.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// overlay lays the settings file over c: the given bytes, or the file in
// state_dir when there are none.
func (c *Config) overlay(is *issues, settings []byte) error {
	if !filepath.IsAbs(c.StateDir) {
		return nil // reported by check
	}
	name := c.SettingsPath()
	if settings == nil {
		data, err := os.ReadFile(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("config: %w", err)
		}
		settings = data
	}
	c.apply(is, OriginSettings, name, c.StateDir, settings)
	return nil
}
