package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

var pfRGB888 = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}

var pfRGB565 = rfb.PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5, BlueShift: 0}

// session writes a VNC capture the way the gateway does, on a paced
// time line.
type session struct {
	t     testing.TB
	w     *capture.Writer
	dir   string
	pub   ed25519.PublicKey
	start time.Time
	pf    rfb.PixelFormat
	zw    *zlib.Writer
	zbuf  bytes.Buffer
}

func newSession(t testing.TB, segmentMax int64) *session {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Now()
	w, err := capture.New(capture.Options{
		ActiveDir: filepath.Join(dir, "active"), SealedDir: filepath.Join(dir, "sealed"),
		Team: "acme", User: "alice", SessionID: "s-1", Key: priv, SegmentMaxBytes: segmentMax, Start: start,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &session{t: t, w: w, dir: dir, pub: pub, start: start, pf: pfRGB888}
}

// at paces the session: the next record is written d after its start. The
// records' times come from the writer's clock, so the time line of a
// synthetic session is made by waiting for it.
func (s *session) at(d time.Duration) *session {
	time.Sleep(time.Until(s.start.Add(d)))
	return s
}

func (s *session) write(kind capture.Kind, p []byte) *session {
	s.t.Helper()
	if err := s.w.Write(kind, 0, p); err != nil {
		s.t.Fatal(err)
	}
	return s
}

func (s *session) server(p []byte) *session { return s.write(capture.ScreenServer, p) }

func (s *session) meta(m capture.SessionMeta) *session { return s.write(capture.Meta, m.Marshal()) }

// close seals the capture and returns the path of segment 0.
func (s *session) close() string {
	s.t.Helper()
	if err := s.w.Close(); err != nil {
		s.t.Fatal(err)
	}
	return filepath.Join(s.dir, "sealed", capture.SegmentFileName(capture.SessionBase(s.start, "acme", "alice"), 0))
}

func (s *session) serverInit(w, h int) *session {
	b := binary.BigEndian.AppendUint16(nil, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = appendPF(b, s.pf)
	b = binary.BigEndian.AppendUint32(b, 4)
	s.meta(capture.SessionMeta{Protocol: "vnc", PixelFormat: s.pf.String()})
	return s.server(append(b, "desk"...))
}

func appendPF(b []byte, pf rfb.PixelFormat) []byte {
	be, tc := byte(0), byte(0)
	if pf.BigEndian {
		be = 1
	}
	if pf.TrueColour {
		tc = 1
	}
	b = append(b, pf.BitsPerPixel, pf.Depth, be, tc)
	b = binary.BigEndian.AppendUint16(b, pf.RedMax)
	b = binary.BigEndian.AppendUint16(b, pf.GreenMax)
	b = binary.BigEndian.AppendUint16(b, pf.BlueMax)
	return append(b, pf.RedShift, pf.GreenShift, pf.BlueShift, 0, 0, 0)
}

// pixel encodes an RGB colour in the session's pixel format.
func (s *session) pixel(rgb [3]byte) []byte {
	pf := s.pf
	v := uint32(rgb[0])*uint32(pf.RedMax)/255<<pf.RedShift |
		uint32(rgb[1])*uint32(pf.GreenMax)/255<<pf.GreenShift |
		uint32(rgb[2])*uint32(pf.BlueMax)/255<<pf.BlueShift
	switch pf.BitsPerPixel {
	case 16:
		return binary.LittleEndian.AppendUint16(nil, uint16(v))
	case 8:
		return []byte{byte(v)}
	}
	return binary.LittleEndian.AppendUint32(nil, v)
}

func rectHeader(x, y, w, h int, enc int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(x))
	b = binary.BigEndian.AppendUint16(b, uint16(y))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

func fbu(rects ...[]byte) []byte {
	b := []byte{0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(rects)))
	for _, r := range rects {
		b = append(b, r...)
	}
	return b
}

// rawFill is a Raw rectangle of one colour.
func (s *session) rawFill(x, y, w, h int, rgb [3]byte) []byte {
	return append(rectHeader(x, y, w, h, rfb.EncRaw), bytes.Repeat(s.pixel(rgb), w*h)...)
}

// rreFill is an RRE rectangle of one colour (no subrectangles).
func (s *session) rreFill(x, y, w, h int, rgb [3]byte) []byte {
	b := append(rectHeader(x, y, w, h, rfb.EncRRE), 0, 0, 0, 0)
	return append(b, s.pixel(rgb)...)
}

// hextileFill is a Hextile rectangle whose tiles are solid.
func (s *session) hextileFill(x, y, w, h int, rgb [3]byte) []byte {
	b := rectHeader(x, y, w, h, rfb.EncHextile)
	first := true
	for ty := 0; ty < h; ty += 16 {
		for tx := 0; tx < w; tx += 16 {
			if first {
				b = append(b, 2) // background specified
				b = append(b, s.pixel(rgb)...)
				first = false
			} else {
				b = append(b, 0) // same background
			}
		}
	}
	return b
}

// zrleFill is a ZRLE rectangle of solid tiles, compressed into the
// session's one zlib stream.
func (s *session) zrleFill(x, y, w, h int, rgb [3]byte) []byte {
	if s.zw == nil {
		s.zw = zlib.NewWriter(&s.zbuf)
	}
	var tiles []byte
	cp := s.pixel(rgb)
	if len(cp) == 4 {
		cp = cp[:3] // a 3-byte CPIXEL: the colours fit the low bytes
	}
	for ty := 0; ty < h; ty += 64 {
		for tx := 0; tx < w; tx += 64 {
			tiles = append(append(tiles, 1), cp...)
		}
	}
	s.zbuf.Reset()
	s.zw.Write(tiles)
	s.zw.Flush()
	b := binary.BigEndian.AppendUint32(rectHeader(x, y, w, h, rfb.EncZRLE), uint32(s.zbuf.Len()))
	return append(b, s.zbuf.Bytes()...)
}

// --- rendering and inspecting the output ---

func settings(w, h, fps int) sdk.RenderSettings {
	return sdk.RenderSettings{BitrateKbps: 800, Framerate: fps, Width: w, Height: h, ThumbnailEvery: time.Second}
}

func renderCapture(t testing.TB, r sdk.Recorder, path string, pub ed25519.PublicKey, set sdk.RenderSettings) (sdk.RenderResult, string, error) {
	t.Helper()
	out := t.TempDir()
	res, err := r.Render(context.Background(), sdk.RenderRequest{
		SessionID: "s-1", CapturePath: path, PublicKey: capture.MarshalPublicKey(pub), OutputDir: out, Settings: set,
	}, nil)
	return res, out, err
}

// probe is what ffprobe says about a video.
type probe struct {
	Codec    string
	Width    int
	Height   int
	Frames   int
	Duration float64
	Rate     string
}

func ffprobe(t testing.TB, path string) probe {
	t.Helper()
	bin := sdktest.RequirePeer(t, "ffprobe")
	out, err := exec.Command(bin, "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames,r_frame_rate,pix_fmt:format=duration,format_name",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var v struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
			RFrameRate   string `json:"r_frame_rate"`
			PixFmt       string `json:"pix_fmt"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &v); err != nil || len(v.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	s := v.Streams[0]
	p := probe{Codec: s.CodecName, Width: s.Width, Height: s.Height, Rate: s.RFrameRate}
	p.Frames, _ = strconv.Atoi(s.NbReadFrames)
	p.Duration, _ = strconv.ParseFloat(v.Format.Duration, 64)
	if s.PixFmt != "yuv420p" {
		t.Errorf("pixel format %s, want yuv420p", s.PixFmt)
	}
	return p
}

// frameAt decodes the video's frame at t into RGB24.
func frameAt(t testing.TB, path string, at time.Duration, w, h int) []byte {
	t.Helper()
	bin := sdktest.RequirePeer(t, "ffmpeg")
	out, err := exec.Command(bin, "-v", "error", "-ss", fmt.Sprintf("%.3f", at.Seconds()), "-i", path,
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg frame at %s: %v", at, err)
	}
	if len(out) != 3*w*h {
		t.Fatalf("frame at %s: %d bytes, want %d", at, len(out), 3*w*h)
	}
	return out
}

// near reports whether the pixel at (x, y) of a w-wide frame is within tol
// of rgb in every channel (H.264 in yuv420p shifts colours a little).
func near(frame []byte, w, x, y int, rgb [3]byte, tol int) bool {
	p := frame[3*(y*w+x):]
	for c := 0; c < 3; c++ {
		if d := int(p[c]) - int(rgb[c]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

func pixelAt(frame []byte, w, x, y int) [3]byte {
	p := frame[3*(y*w+x):]
	return [3]byte{p[0], p[1], p[2]}
}
