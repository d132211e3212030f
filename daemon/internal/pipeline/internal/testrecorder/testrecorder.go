package testrecorder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

// Files of the hold protocol, in HoldDir.
const (
	// HoldToken, when present, makes the next render take it (a rename,
	// so exactly one render does) and hold.
	HoldToken = "hold"
	// Release ends every hold.
	Release = "release"
	// RenderingPrefix starts the name of the file a holding render
	// creates: rendering-<session>-<segment>.
	RenderingPrefix = "rendering-"
)

// Recorder is an sdk.Recorder of terminal captures.
type Recorder struct {
	// HoldDir enables holding (see HoldToken). Configure sets it from
	// {"hold_dir": "..."}.
	HoldDir string
	// Fail, if set, is called before each render; an error it returns is
	// the render's.
	Fail func(req sdk.RenderRequest) error
	// Renders counts the renders that started.
	Renders atomic.Int64
}

var _ sdk.Recorder = (*Recorder)(nil)

func (r *Recorder) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindRecorder, Name: "pipelinetest", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindRecorder)}, nil
}

// Configure reads {"hold_dir": "..."}; an empty configuration keeps
// HoldDir.
func (r *Recorder) Configure(_ context.Context, configJSON []byte) error {
	if len(bytes.TrimSpace(configJSON)) == 0 {
		return nil
	}
	var c struct {
		HoldDir string `json:"hold_dir"`
	}
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("testrecorder: configure: %v: %w", err, sdk.ErrInvalidConfig)
	}
	r.HoldDir = c.HoldDir
	return nil
}

// Render writes <capture name>.cast and <capture name>.transcript.tsv.
func (r *Recorder) Render(ctx context.Context, req sdk.RenderRequest, progress func(int)) (sdk.RenderResult, error) {
	r.Renders.Add(1)
	if r.Fail != nil {
		if err := r.Fail(req); err != nil {
			return sdk.RenderResult{}, err
		}
	}
	if err := r.hold(ctx, req); err != nil {
		return sdk.RenderResult{}, err
	}
	rd, err := capture.Open([]string{req.CapturePath}, ed25519.PublicKey(req.PublicKey), capture.ReadOptions{})
	if err != nil {
		return sdk.RenderResult{}, err
	}
	defer rd.Close()
	name := strings.TrimSuffix(filepath.Base(req.CapturePath), capture.Ext)
	castF, err := os.Create(filepath.Join(req.OutputDir, name+".cast"))
	if err != nil {
		return sdk.RenderResult{}, err
	}
	defer castF.Close()
	textF, err := os.Create(filepath.Join(req.OutputDir, name+".transcript.tsv"))
	if err != nil {
		return sdk.RenderResult{}, err
	}
	defer textF.Close()
	cast := termrender.NewCast(castF, termrender.CastOptions{Input: req.Settings.RecordInput})
	var text *termrender.Transcript
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sdk.RenderResult{}, fmt.Errorf("testrecorder: %w: %w", sdk.ErrInvalidCapture, err)
		}
		if text == nil {
			text = termrender.NewTranscript(textF, rd.Header().SessionStart)
		}
		if err := cast.Add(rec); err != nil {
			return sdk.RenderResult{}, err
		}
		if err := text.Add(rec); err != nil {
			return sdk.RenderResult{}, err
		}
	}
	if text == nil {
		text = termrender.NewTranscript(textF, time.Time{})
	}
	if err := cast.Close(); err != nil {
		return sdk.RenderResult{}, err
	}
	if err := text.Close(); err != nil {
		return sdk.RenderResult{}, err
	}
	if progress != nil {
		progress(100)
	}
	return sdk.RenderResult{Duration: cast.Duration(), Files: []sdk.Rendered{
		{Path: name + ".cast", Role: "cast", MediaType: termrender.CastMediaType},
		{Path: name + ".transcript.tsv", Role: "transcript", MediaType: termrender.TranscriptMediaType},
	}}, nil
}

// hold takes the hold token if there is one, announces the render and
// waits for the release or the end of ctx.
func (r *Recorder) hold(ctx context.Context, req sdk.RenderRequest) error {
	if r.HoldDir == "" {
		return nil
	}
	token := filepath.Join(r.HoldDir, HoldToken)
	if err := os.Rename(token, fmt.Sprintf("%s.taken-%d-%d", token, os.Getpid(), time.Now().UnixNano())); err != nil {
		return nil // no token: render at once
	}
	mark := filepath.Join(r.HoldDir, fmt.Sprintf("%s%s-%d", RenderingPrefix, req.SessionID, req.Segment))
	if err := os.WriteFile(mark, []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return err
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(filepath.Join(r.HoldDir, Release)); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
