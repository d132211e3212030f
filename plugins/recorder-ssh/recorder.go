package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

// Output file names: the capture's name with its extension replaced.
const (
	castExt       = ".cast"
	transcriptExt = ".transcript.tsv"
)

// config is the plugin's table from vigil.toml.
type config struct {
	// IdleTimeLimit, in seconds, goes into the cast header: players
	// shorten longer pauses to it. 0 keeps pauses as they were.
	IdleTimeLimit float64 `json:"idle_time_limit"`
}

func parseConfig(configJSON []byte) (config, error) {
	var cfg config
	if err := sdk.DecodeConfig("recorder-ssh", configJSON, &cfg); err != nil {
		return config{}, err
	}
	if cfg.IdleTimeLimit < 0 || math.IsNaN(cfg.IdleTimeLimit) || math.IsInf(cfg.IdleTimeLimit, 0) {
		return config{}, fmt.Errorf("recorder-ssh: config: idle_time_limit %v must be 0 or more seconds: %w",
			cfg.IdleTimeLimit, sdk.ErrInvalidConfig)
	}
	return cfg, nil
}

// recorder is the plugin. Renders run concurrently; each reads only its
// request and the configuration of the moment it started.
type recorder struct {
	cfg atomic.Pointer[config]
}

var _ sdk.Recorder = (*recorder)(nil)

func newRecorder() *recorder {
	r := &recorder{}
	r.cfg.Store(&config{})
	return r
}

func (r *recorder) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Kind:        sdk.KindRecorder,
		Name:        "ssh",
		Version:     sdk.BuildVersion,
		APIVersions: sdk.APIVersions(sdk.KindRecorder),
	}, nil
}

func (r *recorder) Configure(_ context.Context, configJSON []byte) error {
	cfg, err := parseConfig(configJSON)
	if err != nil {
		return err
	}
	r.cfg.Store(&cfg)
	return nil
}

// Render verifies the capture segment and writes <name>.cast and
// <name>.transcript.tsv into OutputDir. Nothing is rendered from bytes that
// do not verify: a capture that is altered, truncated, signed by another
// key or not a capture at all fails with sdk.ErrInvalidCapture, and leaves
// no output behind.
func (r *recorder) Render(ctx context.Context, req sdk.RenderRequest, progress func(percent int)) (sdk.RenderResult, error) {
	cfg := r.cfg.Load()
	op := fmt.Sprintf("recorder-ssh: render %s segment %d", req.SessionID, req.Segment)
	pub, err := capture.ParseAnyPublicKey(req.PublicKey)
	if err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	st, err := os.Stat(req.CapturePath)
	if err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := os.MkdirAll(req.OutputDir, 0o750); err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	name := strings.TrimSuffix(filepath.Base(req.CapturePath), capture.Ext)
	castOut, err := newOutput(req.OutputDir, name+castExt)
	if err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	defer castOut.discard()
	textOut, err := newOutput(req.OutputDir, name+transcriptExt)
	if err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	defer textOut.discard()

	rd, err := capture.Open([]string{req.CapturePath}, pub, capture.ReadOptions{})
	if err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	defer rd.Close()
	cast := termrender.NewCast(castOut.f, termrender.CastOptions{Input: req.Settings.RecordInput, IdleTimeLimit: cfg.IdleTimeLimit})
	var text *termrender.Transcript
	var last time.Duration
	report := newProgress(progress, st.Size())
	for n := 0; ; n++ {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var ve *capture.VerifyError
			if errors.As(err, &ve) || errors.Is(err, capture.ErrMalformed) {
				return sdk.RenderResult{}, fmt.Errorf("%s: %w: %w", op, sdk.ErrInvalidCapture, err)
			}
			return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
			}
		}
		if text == nil {
			text = termrender.NewTranscript(textOut.f, rd.Header().SessionStart)
		}
		if err := cast.Add(rec); err != nil {
			return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
		}
		if err := text.Add(rec); err != nil {
			return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
		}
		last = max(last, rec.Time)
		report(rec.Offset)
	}
	if text == nil { // a segment without records: an empty transcript
		text = termrender.NewTranscript(textOut.f, time.Time{})
	}
	if err := cast.Close(); err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := text.Close(); err != nil {
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	for _, o := range []*output{castOut, textOut} {
		if err := o.commit(); err != nil {
			return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	if res := rd.Result(); !res.End.IsZero() {
		last = max(last, res.End.Sub(rd.Header().Start))
	}
	report(st.Size())
	return sdk.RenderResult{
		Files: []sdk.Rendered{
			{Path: castOut.name, Role: "cast", MediaType: termrender.CastMediaType},
			{Path: textOut.name, Role: "transcript", MediaType: termrender.TranscriptMediaType},
		},
		Duration: last,
	}, nil
}

// newProgress returns a function that reports, at most once per percent,
// how far into the capture's bytes the render is.
func newProgress(progress func(int), size int64) func(offset int64) {
	reported := -1
	return func(offset int64) {
		if progress == nil || size <= 0 {
			return
		}
		p := int(min(offset*100/size, 100))
		if p > reported {
			reported = p
			progress(p)
		}
	}
}

// output is a file written under a temporary name and renamed into place
// once complete, so that OutputDir never holds half a render.
type output struct {
	f    *os.File
	dir  string
	name string
	done bool
}

func newOutput(dir, name string) (*output, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o640); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &output{f: f, dir: dir, name: name}, nil
}

func (o *output) commit() error {
	if err := o.f.Sync(); err != nil {
		return err
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.f.Name(), filepath.Join(o.dir, o.name)); err != nil {
		return err
	}
	o.done = true
	return nil
}

// discard removes the temporary file of an output that was not committed.
func (o *output) discard() {
	if !o.done {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}
