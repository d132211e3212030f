package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/replay"
	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/recorder-vnc/video"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// Media types of the outputs.
const (
	videoMediaType = "video/mp4"
	jpegMediaType  = "image/jpeg"
)

// x264Presets are the presets libx264 knows.
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}

// config is the plugin's table from vigil.toml.
type config struct {
	// FFmpeg is the ffmpeg executable: a path, or a name looked up in
	// PATH.
	FFmpeg string `json:"ffmpeg"`
	// Preset is libx264's speed/size trade-off.
	Preset string `json:"preset"`
	// ThumbnailWidth is the width of thumbnails, in pixels (their height
	// follows the video's aspect ratio).
	ThumbnailWidth int `json:"thumbnail_width"`
	// MaxRepaintsPerSecond bounds decoding work per second of session; a
	// stream asking for more is refused as malformed.
	MaxRepaintsPerSecond int `json:"max_repaints_per_second"`
}

func defaultConfig() config {
	return config{FFmpeg: "ffmpeg", Preset: "veryfast", ThumbnailWidth: 320, MaxRepaintsPerSecond: 1000}
}

func parseConfig(configJSON []byte) (config, error) {
	cfg := defaultConfig()
	if len(bytes.TrimSpace(configJSON)) == 0 {
		return cfg, nil
	}
	if err := sdk.DecodeConfig("recorder-vnc", configJSON, &cfg); err != nil {
		return config{}, err
	}
	switch {
	case cfg.FFmpeg == "":
		return config{}, fmt.Errorf("recorder-vnc: config: ffmpeg is empty: %w", sdk.ErrInvalidConfig)
	case !slices.Contains(x264Presets, cfg.Preset):
		return config{}, fmt.Errorf("recorder-vnc: config: preset %q is not one of %s: %w",
			cfg.Preset, strings.Join(x264Presets, ", "), sdk.ErrInvalidConfig)
	case cfg.ThumbnailWidth < 16 || cfg.ThumbnailWidth > 8192:
		return config{}, fmt.Errorf("recorder-vnc: config: thumbnail_width %d is outside 16..8192: %w", cfg.ThumbnailWidth, sdk.ErrInvalidConfig)
	case cfg.MaxRepaintsPerSecond < 1:
		return config{}, fmt.Errorf("recorder-vnc: config: max_repaints_per_second %d must be at least 1: %w", cfg.MaxRepaintsPerSecond, sdk.ErrInvalidConfig)
	}
	if _, err := exec.LookPath(cfg.FFmpeg); err != nil {
		return config{}, fmt.Errorf("recorder-vnc: config: ffmpeg %q: %v: %w", cfg.FFmpeg, err, sdk.ErrInvalidConfig)
	}
	return cfg, nil
}

// checkSettings validates the appliance's recording settings for a render.
func checkSettings(s sdk.RenderSettings) error {
	switch {
	case s.Width < 16 || s.Width > 8192 || s.Width%2 != 0 || s.Height < 16 || s.Height > 8192 || s.Height%2 != 0:
		return fmt.Errorf("recorder-vnc: settings: %dx%d: width and height must be even, 16 to 8192: %w", s.Width, s.Height, sdk.ErrInvalidConfig)
	case s.Framerate < 1 || s.Framerate > 120:
		return fmt.Errorf("recorder-vnc: settings: framerate %d is outside 1..120: %w", s.Framerate, sdk.ErrInvalidConfig)
	case s.BitrateKbps < 16 || s.BitrateKbps > 1_000_000:
		return fmt.Errorf("recorder-vnc: settings: bitrate %d kbit/s is outside 16..1000000: %w", s.BitrateKbps, sdk.ErrInvalidConfig)
	case s.ThumbnailEvery < 0:
		return fmt.Errorf("recorder-vnc: settings: thumbnail interval %s is negative: %w", s.ThumbnailEvery, sdk.ErrInvalidConfig)
	}
	return nil
}

// recorder is the plugin. Renders run concurrently; each reads only its
// request and the configuration of the moment it started.
type recorder struct {
	cfg atomic.Pointer[config]
}

var _ sdk.Recorder = (*recorder)(nil)

func newRecorder() *recorder {
	r := &recorder{}
	cfg := defaultConfig()
	r.cfg.Store(&cfg)
	return r
}

func (r *recorder) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Kind:        sdk.KindRecorder,
		Name:        "vnc",
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

// sessionPaths returns the segments to read for the segment at path: the
// earlier ones of its session first, since the RFB stream (its screen, its
// zlib streams) runs on from one segment into the next.
func sessionPaths(path string) ([]string, int, error) {
	base, n, ok := capture.SegmentNumber(filepath.Base(path))
	if !ok {
		return nil, 0, fmt.Errorf("recorder-vnc: %s is not named like a capture segment: %w", filepath.Base(path), sdk.ErrInvalidCapture)
	}
	var paths []string
	for i := 0; i < n; i++ {
		p := filepath.Join(filepath.Dir(path), capture.SegmentFileName(base, i))
		if _, err := os.Stat(p); err != nil {
			return nil, 0, fmt.Errorf("recorder-vnc: segment %d continues the RFB stream of segments 0 to %d, which must lie beside it: %w", n, n-1, err)
		}
		paths = append(paths, p)
	}
	return append(paths, path), n, nil
}

// Render verifies the capture segment and renders it: an H.264 MP4, JPEG
// thumbnails every ThumbnailEvery and a poster. Nothing is rendered from
// bytes that do not verify, and nothing is left in OutputDir by a render
// that fails: a capture that is altered, truncated or signed by another
// key, or whose RFB stream is malformed, fails with sdk.ErrInvalidCapture.
func (r *recorder) Render(ctx context.Context, req sdk.RenderRequest, progress func(percent int)) (sdk.RenderResult, error) {
	cfg := r.cfg.Load()
	op := fmt.Sprintf("recorder-vnc: render %s segment %d", req.SessionID, req.Segment)
	fail := func(err error) (sdk.RenderResult, error) {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// Cancelled: ffmpeg was killed, and says so in its own words.
			return sdk.RenderResult{}, fmt.Errorf("%s: %w (%v)", op, cerr, err)
		}
		var ve *capture.VerifyError
		if (errors.As(err, &ve) || errors.Is(err, capture.ErrMalformed) || errors.Is(err, rfb.ErrMalformed) ||
			errors.Is(err, replay.ErrNoScreen)) && !errors.Is(err, sdk.ErrInvalidCapture) {
			return sdk.RenderResult{}, fmt.Errorf("%s: %w: %w", op, err, sdk.ErrInvalidCapture)
		}
		return sdk.RenderResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkSettings(req.Settings); err != nil {
		return fail(err)
	}
	pub, err := capture.ParseAnyPublicKey(req.PublicKey)
	if err != nil {
		return fail(err)
	}
	paths, segment, err := sessionPaths(req.CapturePath)
	if err != nil {
		return fail(err)
	}
	// The segment alone first: its verdict before anything is written, and
	// its length, which places the poster.
	res := capture.Verify([]string{req.CapturePath}, pub)
	if res.Status != capture.Intact {
		return fail(fmt.Errorf("recorder-vnc: %s: %s: %w", filepath.Base(req.CapturePath), res.Describe(), sdk.ErrInvalidCapture))
	}
	if res.Segment != segment {
		return fail(fmt.Errorf("recorder-vnc: %s holds segment %d: %w", filepath.Base(req.CapturePath), res.Segment, sdk.ErrInvalidCapture))
	}
	st, err := os.Stat(req.CapturePath)
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(req.OutputDir, 0o750); err != nil {
		return fail(err)
	}
	rd, err := capture.Open(paths, pub, capture.ReadOptions{})
	if err != nil {
		return fail(err)
	}
	defer rd.Close()

	name := strings.TrimSuffix(filepath.Base(req.CapturePath), capture.Ext)
	rn := &render{
		ctx: ctx, cfg: cfg, set: req.Settings, dir: req.OutputDir, name: name,
		rd: rd, segment: segment, size: st.Size(), progress: progress, reported: -1,
	}
	defer rn.discard()
	duration := max(res.End.Sub(res.Start), 0)
	result, err := rn.run(duration)
	if err != nil {
		return fail(err)
	}
	return result, nil
}

// render is one Render's state.
type render struct {
	ctx     context.Context
	cfg     *config
	set     sdk.RenderSettings
	dir     string
	name    string
	rd      *capture.Reader
	segment int
	size    int64

	progress func(int)
	reported int

	enc    *video.Encoder
	temps  []*output
	scaler *video.Scaler
	clean  []byte // the scaled screen, made when the screen is not the output's size
	frame  []byte // the scaled screen with the cursor, or a blank one
	pic    []byte // what compose returned last: fb.Pix, clean or frame
	last   frameKey
	files  []sdk.Rendered
}

// frameKey says what a frame showed, to skip recomputing an unchanged one.
type frameKey struct {
	gen, cursorGen       uint64
	w, h, px, py         int
	pointer, cursor, set bool
}

// output is a file written under a temporary name and renamed into place
// once the whole render succeeded.
type output struct {
	tmp, final string
	rendered   sdk.Rendered
}

func (rn *render) newOutput(name, role, mediaType string, offset time.Duration) (*output, error) {
	f, err := os.CreateTemp(rn.dir, "."+name+".tmp-*")
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := os.Chmod(f.Name(), 0o640); err != nil {
		return nil, err
	}
	o := &output{tmp: f.Name(), final: filepath.Join(rn.dir, name),
		rendered: sdk.Rendered{Path: name, Role: role, MediaType: mediaType, Offset: offset}}
	rn.temps = append(rn.temps, o)
	return o, nil
}

// discard removes what a failed render left.
func (rn *render) discard() {
	if rn.enc != nil {
		rn.enc.Abort()
	}
	for _, o := range rn.temps {
		os.Remove(o.tmp)
	}
}

func (rn *render) run(duration time.Duration) (sdk.RenderResult, error) {
	w, h, fps := rn.set.Width, rn.set.Height, rn.set.Framerate
	opts := replay.Options{Framerate: fps, Duration: duration, MaxRepaintsPerSecond: rn.cfg.MaxRepaintsPerSecond}
	frames := opts.Frames()
	mp4, err := rn.newOutput(rn.name+".mp4", "video", videoMediaType, 0)
	if err != nil {
		return sdk.RenderResult{}, err
	}
	rn.enc, err = video.StartEncoder(rn.ctx, video.EncoderOptions{
		FFmpeg: rn.cfg.FFmpeg, Width: w, Height: h, Framerate: fps, BitrateKbps: rn.set.BitrateKbps,
		Preset: rn.cfg.Preset, Output: mp4.tmp,
	})
	if err != nil {
		return sdk.RenderResult{}, err
	}

	// Stills: thumbnails every ThumbnailEvery from the start, and a
	// poster from the middle.
	stills := map[int][]*still{}
	if every := rn.set.ThumbnailEvery; every > 0 {
		tw := min(rn.cfg.ThumbnailWidth, w)
		th := max(2, (tw*h/w)&^1)
		for k, t := 0, time.Duration(0); t < max(duration, time.Nanosecond); k, t = k+1, t+every {
			i := min(int(math.Round(t.Seconds()*float64(fps))), frames-1)
			stills[i] = append(stills[i], &still{name: fmt.Sprintf("%s.thumb-%04d.jpg", rn.name, k), role: "thumbnail", w: tw, h: th, offset: opts.FrameTime(i), quality: 75})
		}
	}
	posterAt := frames / 2
	stills[posterAt] = append(stills[posterAt], &still{name: rn.name + ".poster.jpg", role: "poster", w: w, h: h, offset: opts.FrameTime(posterAt), quality: 85})

	opts.OnFrame = func(i int, _ time.Duration, fb *rfb.Framebuffer, o *replay.Overlay) error {
		if i%64 == 0 { // a long idle stretch emits frames without reading records
			if err := rn.ctx.Err(); err != nil {
				return err
			}
		}
		pic := rn.compose(fb, o)
		if err := rn.enc.WriteFrame(pic); err != nil {
			return err
		}
		for _, s := range stills[i] {
			if err := rn.writeStill(s, pic); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := replay.Play(rn.ctx, &records{render: rn}, opts); err != nil {
		return sdk.RenderResult{}, err
	}
	if err := rn.enc.Close(); err != nil {
		return sdk.RenderResult{}, err
	}
	if res := rn.rd.Result(); res.Status != capture.Intact {
		return sdk.RenderResult{}, fmt.Errorf("recorder-vnc: %s: %w", res.Describe(), sdk.ErrInvalidCapture)
	}
	var files []sdk.Rendered
	for _, o := range rn.temps {
		if err := os.Rename(o.tmp, o.final); err != nil {
			return sdk.RenderResult{}, err
		}
		files = append(files, o.rendered)
	}
	rn.temps = nil
	if rn.progress != nil {
		rn.progress(100)
	}
	return sdk.RenderResult{Files: files, Duration: duration}, nil
}

// still is a JPEG taken from one frame.
type still struct {
	name, role string
	w, h       int
	offset     time.Duration
	quality    int
}

func (rn *render) writeStill(s *still, pic []byte) error {
	o, err := rn.newOutput(s.name, s.role, jpegMediaType, s.offset)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := video.JPEG(&b, pic, rn.set.Width, rn.set.Height, s.w, s.h, s.quality); err != nil {
		return err
	}
	return os.WriteFile(o.tmp, b.Bytes(), 0o640)
}

// compose returns the output picture for the screen fb with the overlay:
// recomputed only when something it shows changed, and the screen itself
// when it already is the picture (the output's size, no cursor on it). The
// picture is valid until the next call.
func (rn *render) compose(fb *rfb.Framebuffer, o *replay.Overlay) []byte {
	key := frameKey{gen: fb.Gen, w: fb.Width, h: fb.Height, set: true,
		px: o.PointerX, py: o.PointerY, pointer: o.PointerKnown, cursor: o.Cursor != nil}
	if o.Cursor != nil {
		key.cursorGen = o.Cursor.Gen
	}
	if key == rn.last {
		return rn.pic
	}
	screenChanged := key.gen != rn.last.gen || key.w != rn.last.w || key.h != rn.last.h || !rn.last.set
	rn.last = key
	w, h := rn.set.Width, rn.set.Height
	if fb.Width == 0 {
		rn.pic = rn.framePic()
		clear(rn.pic)
		return rn.pic
	}
	if rn.scaler == nil || !rn.scaler.Matches(fb.Width, fb.Height) {
		rn.scaler = video.NewScaler(fb.Width, fb.Height, w, h)
	}
	clean := fb.Pix
	if !rn.scaler.Copies() {
		if rn.clean == nil {
			rn.clean = make([]byte, 3*w*h)
		}
		if screenChanged {
			rn.scaler.Scale(rn.clean, fb.Pix)
		}
		clean = rn.clean
	}
	rn.pic = clean
	if o.Cursor != nil && o.PointerKnown {
		rn.pic = rn.framePic()
		copy(rn.pic, clean)
		drawCursor(rn.pic, w, h, rn.scaler, o.Cursor, o.PointerX, o.PointerY)
	}
	return rn.pic
}

// framePic returns the picture buffer for frames compose draws on.
func (rn *render) framePic() []byte {
	if rn.frame == nil {
		rn.frame = make([]byte, 3*rn.set.Width*rn.set.Height)
	}
	return rn.frame
}

// drawCursor draws the cursor shape with its hot spot at (px, py) of the
// screen, scaled as the screen is.
func drawCursor(dst []byte, w, h int, s *video.Scaler, c *rfb.Cursor, px, py int) {
	f := s.Factor()
	x0, y0 := s.Map(px-c.HotX, py-c.HotY)
	cw, ch := max(1, c.Width*f/1024), max(1, c.Height*f/1024)
	for j := 0; j < ch; j++ {
		oy := y0 + j
		sy := min(j*1024/max(f, 1), c.Height-1)
		if oy < 0 || oy >= h {
			continue
		}
		for i := 0; i < cw; i++ {
			ox := x0 + i
			sx := min(i*1024/max(f, 1), c.Width-1)
			p := c.RGBA[4*(sy*c.Width+sx):]
			if ox < 0 || ox >= w || p[3] == 0 {
				continue
			}
			copy(dst[3*(oy*w+ox):3*(oy*w+ox)+3], p[:3])
		}
	}
}

// records adapts the capture reader to the player, placing records of
// earlier segments before the rendered one's time line.
type records struct {
	render *render
}

func (r *records) Next() (replay.Record, error) {
	rn := r.render
	rec, err := rn.rd.Next()
	if err != nil {
		return replay.Record{}, err
	}
	if rec.Segment == rn.segment && rn.progress != nil {
		if p := int(min(rec.Offset*100/max(rn.size, 1), 99)); p > rn.reported {
			rn.reported = p
			rn.progress(p)
		}
	}
	return replay.Record{
		Kind: rec.Kind, Payload: rec.Payload, Time: rec.Time, Render: rec.Segment == rn.segment,
		Elapsed: rec.At.Sub(rn.rd.Header().SessionStart),
	}, nil
}
