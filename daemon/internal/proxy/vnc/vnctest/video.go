package vnctest

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// VideoInfo is what ffprobe says of a video's first stream.
type VideoInfo struct {
	Codec         string
	Width, Height int
	Duration      float64 // seconds, of the container
	Frames        int
}

// FFprobe reads a video's codec, size, length and frame count.
func FFprobe(t testing.TB, path string) VideoInfo {
	t.Helper()
	bin := sdktest.RequirePeer(t, "ffprobe")
	out, err := exec.Command(bin, "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var v struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &v); err != nil || len(v.Streams) != 1 {
		t.Fatalf("ffprobe %s: %s %v", path, out, err)
	}
	info := VideoInfo{Codec: v.Streams[0].CodecName, Width: v.Streams[0].Width, Height: v.Streams[0].Height}
	info.Duration, _ = strconv.ParseFloat(v.Format.Duration, 64)
	info.Frames, _ = strconv.Atoi(v.Streams[0].NbReadFrames)
	return info
}

// FrameAt decodes the video's frame at d into RGB24 (w x h).
func FrameAt(t testing.TB, path string, d time.Duration, w, h int) []byte {
	t.Helper()
	out, err := exec.Command(sdktest.RequirePeer(t, "ffmpeg"), "-v", "error", "-ss", fmt.Sprintf("%.3f", d.Seconds()),
		"-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) != 3*w*h {
		t.Fatalf("frame of %s at %s: %d bytes, %v", path, d, len(out), err)
	}
	return out
}

// ColourAt is the pixel (x, y) of an RGB24 picture w wide.
func ColourAt(f []byte, w, x, y int) [3]byte {
	p := f[3*(y*w+x):]
	return [3]byte{p[0], p[1], p[2]}
}

// Near reports whether a and b differ by at most tol in every channel.
func Near(a, b [3]byte, tol int) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

// Colours the tests paint with xsetroot.
var (
	Red   = [3]byte{255, 0, 0}
	Green = [3]byte{0, 255, 0}
	Blue  = [3]byte{0, 0, 255}
	White = [3]byte{255, 255, 255}
)
