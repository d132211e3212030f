package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// SaveSettings merges changes into <stateDir>/settings.toml. Keys are
// dotted ("recording.bitrate", "wui.session_timeout", "log.sink" for the
// whole sink list, "plugins.storage-s3.bucket"); a nil value removes the
// key, so the file's value or the default applies again. Values may be
// what a form gives: numbers and booleans as strings, lists as
// comma-separated strings, time.Duration, ByteSize.
//
// The result is checked over the defaults before anything is written; a
// problem comes back as FieldErrors keyed like changes. The file is written
// atomically with mode 0600. Prefer (*Config).SaveSettings, which also
// checks the result against the configuration file.
func SaveSettings(stateDir string, changes map[string]any) error {
	return saveSettings("", stateDir, changes)
}

// SaveSettings is the package SaveSettings for the configuration c was
// loaded from: the result is checked over the configuration file as it is
// now on disk, exactly as the next Load will read it.
func (c *Config) SaveSettings(changes map[string]any) error {
	return saveSettings(c.path, c.StateDir, changes)
}

// settingsMu serializes SaveSettings calls of this process: each reads,
// merges and rewrites the whole file.
var settingsMu sync.Mutex

func saveSettings(configPath, stateDir string, changes map[string]any) error {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	if !filepath.IsAbs(stateDir) {
		return fmt.Errorf("config: settings: state_dir %q is not an absolute path", stateDir)
	}
	name := filepath.Join(stateDir, SettingsFile)
	current := map[string]any{}
	data, err := os.ReadFile(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("config: settings: %w", err)
	default:
		if _, err := toml.Decode(string(data), &current); err != nil {
			return fmt.Errorf("config: settings: %s: %w", name, err)
		}
	}

	fe := FieldErrors{}
	for _, key := range sortedKeys(changes) {
		f, ok := lookupKey(key)
		switch {
		case !ok:
			fe[key] = "unknown key"
		case f.fixed:
			fe[key] = "may only be set in the configuration file, not from the web UI"
		case changes[key] == nil:
			deleteKey(current, key)
		default:
			v, err := normalize(f, changes[key])
			if err != nil {
				fe[key] = err.Error()
				continue
			}
			setKey(current, key, v)
		}
	}
	// Check the rest even when some changes were refused, so the web UI
	// can mark every bad field at once.
	var buf bytes.Buffer
	buf.WriteString("# Changed from the web UI; laid over the configuration file.\n# Written by vigild: edits by hand are kept, comments are not.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(current); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}

	refused := map[string]bool{}
	for k := range fe {
		refused[k] = true
	}
	var is issues
	if configPath != "" {
		if _, err := load(configPath, buf.Bytes()); err != nil {
			var list Errors
			if !errors.As(err, &list) {
				return err
			}
			is.list = list
		}
	} else {
		c := Default()
		c.StateDir = stateDir
		if err := c.overlay(&is, buf.Bytes()); err != nil {
			return err
		}
		c.check(&is)
	}
	for _, i := range is.list {
		if i.Err == ErrSyntax {
			return i
		}
		field, msg := fieldOf(i.Key, changes), i.Msg
		if refused[field] {
			continue
		}
		if i.Err == ErrUnknownKey {
			msg = "unknown key"
		}
		if field != i.Key {
			msg = i.Key + ": " + msg
		}
		if prev, ok := fe[field]; ok {
			msg = prev + "; " + msg
		}
		fe[field] = msg
	}
	if len(fe) > 0 {
		return fe
	}
	return writeFileAtomic(name, buf.Bytes(), 0o600)
}

// fieldOf names the field the web UI shows an error next to: the changed
// key that holds key (log.sink for log.sink[2].address), or key itself.
func fieldOf(key string, changes map[string]any) string {
	for k := key; k != ""; k = parentKey(k) {
		if _, ok := changes[k]; ok {
			return k
		}
	}
	return key
}

// normalize turns a form or Go value into the TOML value the key takes.
// Type errors the decoder would report anyway are left to it.
func normalize(f fieldInfo, v any) (any, error) {
	switch f.kind {
	case kString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string")
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("must be true or false, got %q", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false")
	case kInt:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("must be an integer, got %q", s)
			}
			return n, nil
		}
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("must be an integer")
	case kDuration:
		switch x := v.(type) {
		case time.Duration:
			if x < 0 {
				return nil, fmt.Errorf("must be >= 0, got %s", x)
			}
			return FormatDuration(x), nil
		case string:
			return strings.TrimSpace(x), nil
		}
		if n, ok := toInt64(v); ok && n == 0 {
			return "0", nil
		}
		return nil, fmt.Errorf("must be a duration like \"30s\", \"15m\" or \"7d\"")
	case kSize:
		switch x := v.(type) {
		case ByteSize:
			return int64(x), nil
		case string:
			return strings.TrimSpace(x), nil
		}
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("must be a number of bytes or a size like \"500MB\"")
	case kStrings:
		switch x := v.(type) {
		case []string:
			return x, nil
		case string:
			out := []string{}
			for item := range strings.SplitSeq(x, ",") {
				if item = strings.TrimSpace(item); item != "" {
					out = append(out, item)
				}
			}
			return out, nil
		case []any:
			return x, nil
		}
		return nil, fmt.Errorf("must be a list of strings")
	case kTables:
		switch x := v.(type) {
		case []map[string]any:
			return normalizeTables(f, x)
		case []any:
			elems := make([]map[string]any, len(x))
			for i, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("item %d must be a table", i+1)
				}
				elems[i] = m
			}
			return normalizeTables(f, elems)
		}
		return nil, fmt.Errorf("must be a list of tables")
	case kTable, kPlugins:
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("must be a table")
		}
		return normalizeFree(v), nil
	}
	return normalizeFree(v), nil
}

// normalizeTables normalizes each element's known keys; unknown keys are
// kept for the check to name.
func normalizeTables(f fieldInfo, elems []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, len(elems))
	for i, m := range elems {
		out[i] = map[string]any{}
		for k, v := range m {
			ef, ok := fieldNamed(f.typ.Elem(), k)
			if !ok {
				out[i][k] = normalizeFree(v)
				continue
			}
			nv, err := normalize(ef, v)
			if err != nil {
				return nil, fmt.Errorf("item %d: %s: %w", i+1, k, err)
			}
			out[i][k] = nv
		}
	}
	return out, nil
}

// normalizeFree makes Go integers int64, as TOML reads them back.
func normalizeFree(v any) any {
	if n, ok := toInt64(v); ok {
		return n
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeFree(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeFree(e)
		}
		return out
	}
	return v
}

func toInt64(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Type() == durationType {
			return 0, false
		}
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, false
		}
		return int64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

func setKey(m map[string]any, key string, v any) {
	segs := strings.Split(key, ".")
	for _, seg := range segs[:len(segs)-1] {
		sub, ok := m[seg].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[seg] = sub
		}
		m = sub
	}
	m[segs[len(segs)-1]] = v
}

// deleteKey removes key and the tables it leaves empty.
func deleteKey(m map[string]any, key string) {
	seg, rest, nested := strings.Cut(key, ".")
	if !nested {
		delete(m, seg)
		return
	}
	sub, ok := m[seg].(map[string]any)
	if !ok {
		return
	}
	deleteKey(sub, rest)
	if len(sub) == 0 {
		delete(m, seg)
	}
}

// writeFileAtomic writes data to a temporary file next to name, syncs it
// and renames it over name, so readers see the old file or the new one.
func writeFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("config: settings: %w", err)
	}
	return nil
}
