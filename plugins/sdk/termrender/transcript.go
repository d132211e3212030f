package termrender

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// TranscriptMediaType is the media type of transcript files.
const TranscriptMediaType = "text/plain; charset=utf-8"

// maxLineCols bounds a transcript line: a terminal line longer than this
// (a program that never sends a newline) is cut into several.
const maxLineCols = 4096

// ErrBadTranscript: a transcript line is not "offset_ms<TAB>text".
var ErrBadTranscript = errors.New("bad transcript line")

// Transcript writes the text a terminal session showed, for search: one
// line per terminal line, as
//
//	<offset_ms>\t<text>\n
//
// where offset_ms counts milliseconds from the origin given to
// NewTranscript (the session start, so that lines from every segment share
// one time line) to the moment the line got its first character. Escape
// sequences are interpreted as far as a single line goes: carriage return,
// backspace, tab, cursor left and right, erase and delete in line, so that
// what a shell's line editor redrew reads as the final line; vertical
// cursor moves and screen clears end the line. Control characters never
// reach the text; empty lines are left out. An Exec record becomes a line
// "$ <command>", a Transfer record a line "<protocol> <direction> <path>
// (<size> bytes)"; the bytes of sftp and scp channels are left out.
type Transcript struct {
	w      *bufio.Writer
	origin time.Time
	terms  map[streamKey]*vtLine
	chans  channels
	lines  int
	err    error
}

// NewTranscript returns a Transcript writing to w, with offsets counted
// from origin.
func NewTranscript(w io.Writer, origin time.Time) *Transcript {
	return &Transcript{w: bufio.NewWriterSize(w, 64<<10), origin: origin, terms: map[streamKey]*vtLine{}}
}

// Add takes one record.
func (t *Transcript) Add(r capture.Record) error {
	if t.err != nil {
		return t.err
	}
	t.chans.note(r)
	switch r.Kind {
	case capture.Output, capture.Stderr:
		if !t.chans.terminal(r.Channel) {
			return nil
		}
		k := streamKey{r.Kind, r.Channel}
		v := t.terms[k]
		if v == nil {
			v = &vtLine{}
			t.terms[k] = v
		}
		v.feed(v.dec.text(r.Payload), r.At, t.emit)
	case capture.Exec:
		t.emit(r.At, "$ "+strings.Map(printable, string(r.Payload)))
	case capture.Transfer:
		x, err := capture.DecodeTransfer(r.Payload)
		if err != nil {
			t.err = fmt.Errorf("termrender: transcript: %w", err)
			return t.err
		}
		t.emit(r.At, strings.Map(printable, fmt.Sprintf("%s %s %s (%d bytes)", cmp.Or(x.Protocol, "transfer"), x.Direction, x.Path, x.Size)))
	}
	return t.err
}

func (t *Transcript) emit(at time.Time, text string) {
	text = strings.TrimRight(text, " ")
	if text == "" || t.err != nil {
		return
	}
	ms := max(at.Sub(t.origin).Milliseconds(), 0)
	if _, err := fmt.Fprintf(t.w, "%d\t%s\n", ms, text); err != nil {
		t.err = fmt.Errorf("termrender: transcript: %w", err)
		return
	}
	t.lines++
}

// Close writes the lines still open and flushes.
func (t *Transcript) Close() error {
	keys := slices.SortedFunc(maps.Keys(t.terms), func(a, b streamKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		v := t.terms[k]
		v.feed(v.dec.flush(), v.last, t.emit)
		v.endLine(t.emit)
	}
	if t.err != nil {
		return t.err
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("termrender: transcript: %w", err)
	}
	return nil
}

// Lines is how many lines were written.
func (t *Transcript) Lines() int { return t.lines }

// printable maps control characters (which a transcript never holds: the
// store uses some as markers) to spaces, tabs included.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
		return ' '
	}
	return r
}

// ReadTranscript calls fn for each line of a transcript written by
// Transcript.
func ReadTranscript(r io.Reader, fn func(offsetMS int64, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4*maxLineCols*utf8.UTFMax)
	for n := 1; sc.Scan(); n++ {
		ms, text, ok := strings.Cut(sc.Text(), "\t")
		v, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || v < 0 {
			return fmt.Errorf("termrender: transcript line %d: %w", n, ErrBadTranscript)
		}
		if err := fn(v, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("termrender: transcript: %w", err)
	}
	return nil
}
