package sessionlog

import (
	"bufio"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

// Format is an export format.
type Format string

// Export formats.
const (
	FormatJSON      Format = "json"
	FormatAsciinema Format = "asciinema"
)

// ParseFormat reads --format.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatJSON, FormatAsciinema:
		return f, nil
	case "":
		return FormatJSON, nil
	}
	return "", cli.Usagef("unknown format %q (json or asciinema)", s)
}

// Export writes the session FILE names to out as JSON or as an asciicast v2
// recording (`asciinema play` plays it, `asciinema cat` prints it). Unless
// insecure, the whole capture must verify with pub before anything is
// written.
//
// JSON is one object: "header" (the session's facts, times, segments, key
// id, whether it was verified) and "frames", one per record in order, each
// with "time" (seconds since the session's first segment began), "segment",
// "channel", "kind" and "data" (the payload, base64). Resize frames add
// "cols", "rows", "width", "height"; Meta and Transfer frames add "value",
// the payload's JSON object; ExitStatus frames add "status". For example,
// the terminal output:
//
//	vigilctl session-logs export FILE | jq -r '.frames[] | select(.kind=="output") | .data' | base64 -d
func Export(file string, format Format, insecure bool, pub ed25519.PublicKey, out io.Writer) error {
	switch format {
	case FormatJSON:
		return exportJSON(file, insecure, pub, out)
	case FormatAsciinema:
		return exportCast(file, insecure, pub, out)
	}
	return cli.Usagef("unknown format %q (json or asciinema)", format)
}

func exportCast(file string, insecure bool, pub ed25519.PublicKey, out io.Writer) error {
	r, err := open(file, insecure, pub)
	if err != nil {
		return err
	}
	defer r.Close()
	c := termrender.NewCast(out, termrender.CastOptions{Input: true})
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return readErr(err)
		}
		if err := c.Add(rec); err != nil {
			return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
		}
	}
	if err := c.Close(); err != nil {
		return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	return nil
}

// jsonHeader is the "header" object of a JSON export.
type jsonHeader struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	Verified   bool              `json:"verified"`
	KeyID      string            `json:"key_id,omitempty"`
	SessionID  string            `json:"session_id"`
	Team       string            `json:"team,omitempty"`
	User       string            `json:"user,omitempty"`
	Target     string            `json:"target,omitempty"`
	TargetAddr string            `json:"target_addr,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	Protocol   string            `json:"protocol,omitempty"`
	Term       string            `json:"term,omitempty"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	Duration   float64           `json:"duration"`
	Records    int               `json:"records"`
	Recovered  bool              `json:"recovered"`
	Segments   []jsonSegment     `json:"segments"`
	Extra      map[string]string `json:"extra,omitempty"`
}

type jsonSegment struct {
	Segment int       `json:"segment"`
	File    string    `json:"file"`
	Start   time.Time `json:"start"`
}

// jsonFrame is one element of "frames".
type jsonFrame struct {
	Time    float64         `json:"time"`
	Segment int             `json:"segment"`
	Channel uint32          `json:"channel"`
	Kind    string          `json:"kind"`
	Data    []byte          `json:"data"`
	Cols    *uint32         `json:"cols,omitempty"`
	Rows    *uint32         `json:"rows,omitempty"`
	Width   *uint32         `json:"width,omitempty"`
	Height  *uint32         `json:"height,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Status  *uint32         `json:"status,omitempty"`
}

// summarize reads the whole session once for the header; unless insecure
// this read is the verification.
func summarize(file string, insecure bool, pub ed25519.PublicKey) (jsonHeader, []string, error) {
	paths, err := capture.SessionFiles(file)
	if err != nil {
		return jsonHeader{}, nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	if !insecure && len(pub) != ed25519.PublicKeySize {
		return jsonHeader{}, nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", capture.ErrBadPublicKey))
	}
	r, err := capture.Open(paths, pub, readOptions(file, insecure))
	if err != nil {
		return jsonHeader{}, nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	defer r.Close()
	h := jsonHeader{Format: "vigil-session-log", Version: capture.FormatVersion, Verified: !insecure, Segments: []jsonSegment{}}
	var meta capture.SessionMeta
	seg := -1
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var ve *capture.VerifyError
			if errors.As(err, &ve) {
				return h, nil, cli.Exit(exitCode(ve.Result.Status),
					fmt.Errorf("session-logs: %s %w: %w", ve.Result.Path, ErrNotVerified, err))
			}
			return h, nil, readErr(err)
		}
		if rec.Segment != seg || len(h.Segments) == 0 {
			seg = rec.Segment
			h.Segments = append(h.Segments, jsonSegment{Segment: seg, File: filepath.Base(r.Result().Path), Start: r.Header().Start})
		}
		h.Records++
		h.End = rec.At
		if rec.Kind == capture.Meta {
			if err := meta.Merge(rec.Payload); err != nil {
				return h, nil, cli.Exit(ExitError, fmt.Errorf("session-logs: record %d: %w", rec.Index, err))
			}
		}
	}
	res := r.Result()
	h.SessionID, h.Start, h.Recovered = res.SessionID, res.Start, res.Recovered
	if !insecure {
		h.KeyID = capture.KeyID(pub)
		if res.End.After(h.End) {
			h.End = res.End
		}
	}
	if h.End.Before(h.Start) {
		h.End = h.Start
	}
	h.Duration = h.End.Sub(h.Start).Seconds()
	h.Team, h.User, h.Target, h.TargetAddr, h.ClientAddr, h.Protocol, h.Term, h.Extra =
		meta.Team, meta.User, meta.Target, meta.TargetAddr, meta.ClientAddr, meta.Protocol, meta.Term, meta.Extra
	return h, paths, nil
}

func exportJSON(file string, insecure bool, pub ed25519.PublicKey, out io.Writer) error {
	h, paths, err := summarize(file, insecure, pub)
	if err != nil {
		return err
	}
	r, err := capture.Open(paths, pub, readOptions(file, insecure))
	if err != nil {
		return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	defer r.Close()
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	w.WriteString(`{"header":`)
	if err := enc.Encode(h); err != nil {
		return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	w.WriteString(`,"frames":[` + "\n")
	for n := 0; ; n++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return readErr(err)
		}
		if n > 0 {
			w.WriteString(",")
		}
		if err := enc.Encode(frameOf(rec, h.Start)); err != nil {
			return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
		}
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	return nil
}

func frameOf(rec capture.Record, start time.Time) jsonFrame {
	f := jsonFrame{
		Time:    max(rec.At.Sub(start), 0).Seconds(),
		Segment: rec.Segment,
		Channel: rec.Channel,
		Kind:    rec.Kind.String(),
		Data:    rec.Payload,
	}
	switch rec.Kind {
	case capture.Resize:
		if s, err := capture.DecodeResize(rec.Payload); err == nil {
			f.Cols, f.Rows, f.Width, f.Height = &s.Cols, &s.Rows, &s.Width, &s.Height
		}
	case capture.Meta, capture.Transfer:
		if json.Valid(rec.Payload) {
			f.Value = json.RawMessage(rec.Payload)
		}
	case capture.ExitStatus:
		if v, err := capture.DecodeExitStatus(rec.Payload); err == nil {
			f.Status = &v
		}
	}
	return f
}
