package video

import (
	"bytes"
	"context"
	"image/jpeg"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func solid(w, h int, rgb [3]byte) []byte {
	return bytes.Repeat(rgb[:], w*h)
}

func TestScale(t *testing.T) {
	// A 4x2 picture: left half white, right half black.
	src := []byte{
		255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0,
		255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0,
	}
	for _, c := range []struct {
		name       string
		dw, dh     int
		want       map[[2]int]byte // (x,y) -> red channel
		fitW, fitH int
	}{
		{"identity", 4, 2, map[[2]int]byte{{0, 0}: 255, {3, 1}: 0}, 4, 2},
		{"halve", 2, 1, map[[2]int]byte{{0, 0}: 255, {1, 0}: 0}, 2, 1},
		{"box average", 3, 2, map[[2]int]byte{{0, 0}: 255, {1, 0}: 128, {2, 1}: 0}, 3, 2},
		{"letterbox", 4, 4, map[[2]int]byte{{0, 0}: 0, {0, 1}: 255, {3, 2}: 0, {0, 3}: 0}, 4, 2},
		{"pillarbox", 8, 2, map[[2]int]byte{{0, 0}: 0, {1, 0}: 0, {2, 0}: 255, {5, 1}: 0, {7, 0}: 0}, 4, 2},
		{"double", 8, 4, map[[2]int]byte{{0, 0}: 255, {2, 3}: 255, {3, 0}: 191, {5, 0}: 0, {7, 3}: 0}, 8, 4},
	} {
		s := NewScaler(4, 2, c.dw, c.dh)
		if s.fitW != c.fitW || s.fitH != c.fitH {
			t.Errorf("%s: fits %dx%d, want %dx%d", c.name, s.fitW, s.fitH, c.fitW, c.fitH)
		}
		dst := bytes.Repeat([]byte{7}, 3*c.dw*c.dh) // garbage the scaler must overwrite
		s.Scale(dst, src)
		for p, want := range c.want {
			got := dst[3*(p[1]*c.dw+p[0])]
			if d := int(got) - int(want); d > 1 || d < -1 {
				t.Errorf("%s: (%d,%d) = %d, want %d", c.name, p[0], p[1], got, want)
			}
		}
	}
}

func TestScaleKeepsSolidColour(t *testing.T) {
	for _, size := range [][4]int{{1280, 720, 640, 360}, {1920, 1080, 1280, 720}, {800, 600, 1280, 720}, {333, 177, 64, 48}} {
		src := solid(size[0], size[1], [3]byte{10, 200, 99})
		s := NewScaler(size[0], size[1], size[2], size[3])
		dst := make([]byte, 3*size[2]*size[3])
		s.Scale(dst, src)
		x, y := size[2]/2, size[3]/2
		if p := dst[3*(y*size[2]+x):][:3]; !bytes.Equal(p, []byte{10, 200, 99}) {
			t.Errorf("%v: centre %v", size, p)
		}
	}
}

func TestEncoder(t *testing.T) {
	bin := sdktest.RequirePeer(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "v.mp4")
	e, err := StartEncoder(context.Background(), EncoderOptions{FFmpeg: bin, Width: 64, Height: 48, Framerate: 10, BitrateKbps: 200, Preset: "ultrafast", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if err := e.WriteFrame(solid(64, 48, [3]byte{0, 0, 255})); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.WriteFrame(make([]byte, 10)); err == nil {
		t.Error("a short frame was accepted")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	probe := sdktest.RequirePeer(t, "ffprobe")
	info, err := exec.Command(probe, "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames,codec_name", "-of", "csv=p=0", out).Output()
	if err != nil || strings.TrimSpace(string(info)) != "h264,12" {
		t.Errorf("ffprobe: %q, %v", info, err)
	}

	// ffmpeg that cannot write its output: the error carries its words.
	e, err = StartEncoder(context.Background(), EncoderOptions{FFmpeg: bin, Width: 64, Height: 48, Framerate: 10, BitrateKbps: 200, Preset: "ultrafast", Output: "/nonexistent/dir/v.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if err = e.WriteFrame(solid(64, 48, [3]byte{})); err != nil {
			break
		}
	}
	if err == nil {
		err = e.Close()
	}
	if err == nil || !strings.HasPrefix(err.Error(), "recorder-vnc: ffmpeg: ") || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("error %v, want ffmpeg's complaint about the output", err)
	}
}

func TestJPEG(t *testing.T) {
	var b bytes.Buffer
	if err := JPEG(&b, solid(64, 48, [3]byte{200, 0, 0}), 64, 48, 32, 24, 80); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(&b)
	if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 24 {
		t.Fatalf("%v, %v", img.Bounds(), err)
	}
	if r, _, _, _ := img.At(16, 12).RGBA(); r>>8 < 180 {
		t.Errorf("red %d", r>>8)
	}
}
