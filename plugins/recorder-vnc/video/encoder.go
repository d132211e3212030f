package video

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// EncoderOptions configure an Encoder.
type EncoderOptions struct {
	FFmpeg      string // the ffmpeg executable
	Width       int
	Height      int
	Framerate   int
	BitrateKbps int
	Preset      string // libx264 preset, e.g. "veryfast"
	Output      string // the MP4 file to write
}

// Encoder pipes raw RGB24 frames to an ffmpeg process that encodes them
// with libx264 (yuv420p, constant frame rate) into an MP4 whose index is at
// the front (+faststart), so that it plays while it downloads.
type Encoder struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	frame  int // bytes per frame
	frames int
	waited bool
	err    error
}

// Args are ffmpeg's arguments for opts.
func (o EncoderOptions) Args() []string {
	br := strconv.Itoa(o.BitrateKbps) + "k"
	return []string{
		"-hide_banner", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", o.Width, o.Height),
		"-r", strconv.Itoa(o.Framerate), "-i", "-",
		"-c:v", "libx264", "-preset", o.Preset, "-b:v", br, "-maxrate", br,
		"-bufsize", strconv.Itoa(2*o.BitrateKbps) + "k",
		"-pix_fmt", "yuv420p", "-r", strconv.Itoa(o.Framerate), "-fps_mode", "cfr",
		"-movflags", "+faststart", "-f", "mp4", "-y", o.Output,
	}
}

// StartEncoder starts ffmpeg. The process ends with ctx (Close then fails).
func StartEncoder(ctx context.Context, o EncoderOptions) (*Encoder, error) {
	cmd := exec.CommandContext(ctx, o.FFmpeg, o.Args()...)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("recorder-vnc: ffmpeg: %w", err)
	}
	growPipe(w)
	cmd.Stdin = r
	e := &Encoder{cmd: cmd, stdin: w, stderr: &tailBuffer{max: 8 << 10}, frame: 3 * o.Width * o.Height}
	cmd.Stderr = e.stderr
	err = cmd.Start()
	r.Close() // ffmpeg has its own copy
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("recorder-vnc: starting ffmpeg: %w", err)
	}
	return e, nil
}

// WriteFrame sends one frame (Width x Height RGB24).
func (e *Encoder) WriteFrame(rgb []byte) error {
	if e.err != nil {
		return e.err
	}
	if len(rgb) != e.frame {
		return fmt.Errorf("recorder-vnc: frame of %d bytes, want %d", len(rgb), e.frame)
	}
	if _, err := e.stdin.Write(rgb); err != nil {
		// ffmpeg is gone: its exit status and error output say why.
		e.stdin.Close()
		e.waited = true
		e.err = e.describe(fmt.Errorf("writing frame %d: %w", e.frames+1, err), e.cmd.Wait())
		return e.err
	}
	e.frames++
	return nil
}

// Frames is how many frames were written.
func (e *Encoder) Frames() int { return e.frames }

// Close ends the input and waits for ffmpeg to finish the file.
func (e *Encoder) Close() error {
	if e.waited {
		return e.err
	}
	e.stdin.Close()
	e.waited = true
	if err := e.cmd.Wait(); err != nil && e.err == nil {
		e.err = e.describe(err, nil)
	}
	return e.err
}

// Abort stops ffmpeg without waiting for a usable file.
func (e *Encoder) Abort() {
	if e.waited {
		return
	}
	e.cmd.Process.Kill()
	e.stdin.Close()
	e.cmd.Wait()
	e.waited = true
}

// describe adds ffmpeg's exit status and the end of its error output to err.
func (e *Encoder) describe(err, waitErr error) error {
	if waitErr != nil {
		err = fmt.Errorf("%w (%w)", err, waitErr)
	}
	if msg := strings.TrimSpace(e.stderr.String()); msg != "" {
		return fmt.Errorf("recorder-vnc: ffmpeg: %w: %s", err, msg)
	}
	return fmt.Errorf("recorder-vnc: ffmpeg: %w", err)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, []byte("?")))
}

// JPEG encodes a w x h RGB24 picture, scaled to fit width x height (which
// should keep its aspect ratio), at quality q.
func JPEG(w io.Writer, rgb []byte, srcW, srcH, width, height, q int) error {
	pix := rgb
	if width != srcW || height != srcH {
		pix = make([]byte, 3*width*height)
		NewScaler(srcW, srcH, width, height).Scale(pix, rgb)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := 0; i < width*height; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = pix[3*i], pix[3*i+1], pix[3*i+2], 255
	}
	if err := jpeg.Encode(w, img, &jpeg.Options{Quality: q}); err != nil {
		return fmt.Errorf("recorder-vnc: jpeg: %w", err)
	}
	return nil
}
