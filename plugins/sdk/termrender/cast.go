package termrender

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// CastMediaType is the media type of asciicast files.
const CastMediaType = "application/x-asciicast"

// Default terminal size, for a capture that never says its size.
const (
	DefaultCols = 80
	DefaultRows = 24
)

// CastOptions shape a cast.
type CastOptions struct {
	// Input adds "i" events for the Input records a capture holds (those
	// exist only when input recording was on).
	Input bool
	// IdleTimeLimit, in seconds, asks players to shorten longer pauses
	// (0: play pauses as they were).
	IdleTimeLimit float64
	// Title overrides the title made from the session's Meta records
	// ("user@target").
	Title string
}

// Cast writes an asciicast v2 recording: a header line (width and height
// from the first Resize, timestamp, title, TERM from Meta) and one event
// line per record: "o" for Output and Stderr, "i" for Input when asked, "r"
// for later Resizes, "m" for Markers. Event times count from the start of
// the first segment it is given. Channels that carry sftp or scp are left
// out: their bytes are a protocol, not terminal text.
type Cast struct {
	w       *bufio.Writer
	opts    CastOptions
	origin  time.Time
	started bool // a record was seen: origin is set
	header  bool // the header line is written
	size    capture.Size
	meta    capture.SessionMeta
	dec     map[streamKey]*decoder
	chans   channels
	last    time.Duration
	events  int
	line    bytes.Buffer
	enc     *json.Encoder
	err     error
}

// NewCast returns a Cast writing to w.
func NewCast(w io.Writer, opts CastOptions) *Cast {
	c := &Cast{w: bufio.NewWriterSize(w, 64<<10), opts: opts, dec: map[streamKey]*decoder{}}
	c.enc = json.NewEncoder(&c.line)
	c.enc.SetEscapeHTML(false)
	return c
}

// Add renders one record.
func (c *Cast) Add(r capture.Record) error {
	if c.err != nil {
		return c.err
	}
	if !c.started {
		c.started = true
		c.origin = r.At.Add(-r.Time)
	}
	t := max(r.At.Sub(c.origin), 0)
	c.chans.note(r)
	switch r.Kind {
	case capture.Meta:
		if err := c.meta.Merge(r.Payload); err != nil {
			return c.fail(err)
		}
	case capture.Resize:
		s, err := capture.DecodeResize(r.Payload)
		if err != nil {
			return c.fail(err)
		}
		if s.Cols == 0 || s.Rows == 0 || s == c.size {
			return nil
		}
		c.size = s
		if c.header {
			c.event(t, "r", fmt.Sprintf("%dx%d", s.Cols, s.Rows))
		}
	case capture.Output, capture.Stderr:
		if c.chans.terminal(r.Channel) {
			c.text(t, streamKey{r.Kind, r.Channel}, r.Payload)
		}
	case capture.Input:
		if c.opts.Input && c.chans.terminal(r.Channel) {
			c.text(t, streamKey{r.Kind, r.Channel}, r.Payload)
		}
	case capture.Marker:
		c.writeHeader()
		c.event(t, "m", string(r.Payload))
	}
	return c.err
}

// streamKey names one byte stream of a capture: a channel's output,
// stderr or input.
type streamKey struct {
	kind    capture.Kind
	channel uint32
}

// code is the asciicast event code of the stream.
func (k streamKey) code() string {
	if k.kind == capture.Input {
		return "i"
	}
	return "o"
}

// text writes an "o" or "i" event of the complete UTF-8 characters of p; a
// character cut at the end of p waits for the stream's next record.
func (c *Cast) text(t time.Duration, k streamKey, p []byte) {
	d := c.dec[k]
	if d == nil {
		d = &decoder{}
		c.dec[k] = d
	}
	b := d.text(p)
	if len(b) == 0 {
		return
	}
	c.writeHeader()
	c.event(t, k.code(), string(b))
}

func (c *Cast) writeHeader() {
	if c.header || c.err != nil {
		return
	}
	c.header = true
	h := struct {
		Version       int               `json:"version"`
		Width         uint32            `json:"width"`
		Height        uint32            `json:"height"`
		Timestamp     int64             `json:"timestamp,omitempty"`
		IdleTimeLimit float64           `json:"idle_time_limit,omitempty"`
		Title         string            `json:"title,omitempty"`
		Env           map[string]string `json:"env,omitempty"`
	}{Version: 2, Width: c.size.Cols, Height: c.size.Rows, IdleTimeLimit: c.opts.IdleTimeLimit, Title: c.title()}
	if h.Width == 0 || h.Height == 0 {
		h.Width, h.Height = DefaultCols, DefaultRows
	}
	if c.started {
		h.Timestamp = c.origin.Unix()
	}
	if c.meta.Term != "" {
		h.Env = map[string]string{"TERM": c.meta.Term}
	}
	c.line.Reset()
	if err := c.enc.Encode(h); err != nil {
		c.fail(err)
		return
	}
	if _, err := c.w.Write(c.line.Bytes()); err != nil {
		c.fail(err)
	}
}

func (c *Cast) title() string {
	switch m := c.meta; {
	case c.opts.Title != "":
		return c.opts.Title
	case m.User != "" && m.Target != "":
		return m.User + "@" + m.Target
	case m.User != "":
		return m.User
	}
	return c.meta.SessionID
}

// event writes one event line: [time, code, data].
func (c *Cast) event(t time.Duration, code, data string) {
	if c.err != nil {
		return
	}
	c.line.Reset()
	c.line.WriteByte('[')
	c.line.WriteString(strconv.FormatFloat(t.Seconds(), 'f', 6, 64))
	c.line.WriteString(", \"")
	c.line.WriteString(code)
	c.line.WriteString("\", ")
	if err := c.enc.Encode(data); err != nil { // adds '\n'
		c.fail(err)
		return
	}
	c.line.Truncate(c.line.Len() - 1)
	c.line.WriteString("]\n")
	if _, err := c.w.Write(c.line.Bytes()); err != nil {
		c.fail(err)
		return
	}
	c.last = t
	c.events++
}

func (c *Cast) fail(err error) error {
	if c.err == nil {
		c.err = fmt.Errorf("termrender: cast: %w", err)
	}
	return c.err
}

// Close writes what is pending (the header of a cast without output, a
// character cut at the very end) and flushes.
func (c *Cast) Close() error {
	keys := slices.SortedFunc(maps.Keys(c.dec), func(a, b streamKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		if b := c.dec[k].flush(); len(b) > 0 {
			c.writeHeader()
			c.event(c.last, k.code(), string(b))
		}
	}
	c.writeHeader()
	if c.err != nil {
		return c.err
	}
	if err := c.w.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

// Duration is the time of the last event.
func (c *Cast) Duration() time.Duration { return c.last }

// Events is how many events were written.
func (c *Cast) Events() int { return c.events }
