package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// ExecutablePrefix starts the file name of every plugin executable.
const ExecutablePrefix = "vigil-plugin-"

// ErrInsecure: a plugin file, or the plugin directory, could be replaced by
// any local user, so running it would hand them vigild's privileges.
var ErrInsecure = errors.New("refusing to run it")

// namePattern is what may follow "vigil-plugin-<kind>-": editor backups
// ("~", ".bak", ".orig") and the like do not match and are ignored.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Candidate is a file in the plugin directory named like a plugin.
type Candidate struct {
	// ID is "<kind>-<name>": the plugin's name in logs, events and the
	// configuration ([plugins.<kind>-<name>]).
	ID   string
	Kind sdk.Kind
	Name string
	Path string
	// Refused says why the file must not be run (world-writable, not a
	// regular file, not executable), or is nil.
	Refused error
}

// Discover lists the plugins in dir: the files named
// vigil-plugin-<kind>-<name> for a known kind and a name of lowercase
// letters, digits, '-' and '_'. Other files are ignored. A candidate that
// must not be run comes back with Refused set; a world-writable dir is an
// error.
func Discover(dir string) ([]Candidate, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: plugin dir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("pluginhost: plugin dir %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("pluginhost: plugin dir %s is world-writable (%s): %w", dir, st.Mode(), ErrInsecure)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: plugin dir: %w", err)
	}
	var out []Candidate
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), ExecutablePrefix)
		if !ok {
			continue
		}
		kindName, name, ok := strings.Cut(rest, "-")
		if !ok || !namePattern.MatchString(name) {
			continue
		}
		kind, ok := sdk.ParseKind(kindName)
		if !ok {
			continue
		}
		c := Candidate{ID: string(kind) + "-" + name, Kind: kind, Name: name, Path: filepath.Join(dir, e.Name())}
		c.Refused = checkExecutable(c.ID, c.Path)
		out = append(out, c)
	}
	return out, nil
}

// checkExecutable refuses what must not be run. It follows symlinks: what
// counts is the file that would be executed.
func checkExecutable(id, path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("pluginhost: %s: %w", id, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("pluginhost: %s: %s is not a regular file (%s)", id, path, st.Mode())
	case st.Mode().Perm()&0o002 != 0:
		return fmt.Errorf("pluginhost: %s: %s is world-writable (%s): %w", id, path, st.Mode(), ErrInsecure)
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("pluginhost: %s: %s is not executable (%s)", id, path, st.Mode())
	}
	return nil
}
