package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Ext is the extension of capture files.
const Ext = ".vsl"

// StampLayout formats the UTC session start that opens a file name.
const StampLayout = "20060102T150405.0000"

// maxNamePart bounds the team and user parts of a file name.
const maxNamePart = 64

// SessionBase is the name shared by a session's segments, without the
// extension: "<UTC start 20060102T150405.0000>-<team>-<user>", team and user
// made safe by SafeNamePart.
func SessionBase(start time.Time, team, user string) string {
	return start.UTC().Format(StampLayout) + "-" + SafeNamePart(team) + "-" + SafeNamePart(user)
}

// SegmentFileName names segment n of a session: segment 0 is
// "<base>.vsl", later ones "<base>.0001.vsl", "<base>.0002.vsl", ... so a
// session of one segment has the plain name and a directory listing sorts
// segments in order.
func SegmentFileName(base string, n int) string {
	if n == 0 {
		return base + Ext
	}
	return fmt.Sprintf("%s.%04d%s", base, n, Ext)
}

// SafeNamePart makes a team or user name safe inside a file name: ASCII
// letters, digits and "._@+=" are kept, anything else (path separators,
// spaces, control characters, non-ASCII) becomes "_"; ".." and a leading
// "." become "_"; "-" becomes "_" too, since it separates the parts, and so
// does the "." of a ".<digits>" ending, which would read as a segment
// number. The result is never empty and at most 64 bytes.
func SafeNamePart(s string) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= maxNamePart {
			break
		}
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._@+=", r))
		if ok && r == '.' && (i == 0 || strings.HasPrefix(s[i:], "..") || strings.HasSuffix(b.String(), ".")) {
			ok = false
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" {
		return "_"
	}
	// A name ending in ".<digits>" would read as a segment number.
	if i := strings.LastIndexByte(out, '.'); i >= 0 && isDigits(out[i+1:]) {
		out = out[:i] + "_" + out[i+1:]
	}
	return out
}

// SegmentNumber reads the segment number from a capture file name: 0 for
// "<base>.vsl", n for "<base>.NNNN.vsl". ok is false for a name that is not
// a capture's.
func SegmentNumber(name string) (base string, n int, ok bool) {
	name = filepath.Base(name)
	if !strings.HasSuffix(name, Ext) {
		return "", 0, false
	}
	stem := strings.TrimSuffix(name, Ext)
	if i := strings.LastIndexByte(stem, '.'); i >= 0 && len(stem)-i-1 >= 4 {
		if v, err := strconv.Atoi(stem[i+1:]); err == nil && v > 0 && isDigits(stem[i+1:]) {
			return stem[:i], v, true
		}
	}
	return stem, 0, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// SessionFiles expands a path naming a session's segment 0 into the paths
// of all its segments found beside it, in order: "<base>.vsl",
// "<base>.0001.vsl", ... A path naming a later segment is returned alone.
func SessionFiles(path string) ([]string, error) {
	base, n, ok := SegmentNumber(path)
	if !ok || n != 0 {
		return []string{path}, nil
	}
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	type seg struct {
		n    int
		path string
	}
	segs := []seg{{0, path}}
	for _, e := range entries {
		b, m, ok := SegmentNumber(e.Name())
		if ok && m > 0 && b == base && !e.IsDir() {
			segs = append(segs, seg{m, filepath.Join(dir, e.Name())})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.path
	}
	return out, nil
}
