package replay

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

type list []Record

func (l *list) Next() (Record, error) {
	if len(*l) == 0 {
		return Record{}, io.EOF
	}
	r := (*l)[0]
	*l = (*l)[1:]
	return r, nil
}

var pf32 = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}
var pf8 = rfb.PixelFormat{BitsPerPixel: 8, Depth: 8, TrueColour: true, RedMax: 7, GreenMax: 7, BlueMax: 3, RedShift: 0, GreenShift: 3, BlueShift: 6}

func serverInit(w, h int) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = append(b, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, 0)
}

// fill is a one-rectangle update of a raw w x h area of pixel p (bpp bytes).
func fill(w, h int, p []byte) []byte {
	b := []byte{0, 0, 0, 1, 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = append(b, 0, 0, 0, 0)
	for range w * h {
		b = append(b, p...)
	}
	return b
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestSampling(t *testing.T) {
	red32 := []byte{0, 0, 255, 0} // little-endian 0x00ff0000
	green8 := []byte{7 << 3}
	upd := fill(2, 2, red32)
	recs := list{
		// An earlier segment: decoded, never shown.
		{Kind: capture.ScreenServer, Payload: serverInit(2, 2), Time: -ms(5000)},
		{Kind: capture.ScreenServer, Payload: fill(2, 2, []byte{255, 0, 0, 0}), Time: -ms(4000)}, // blue
		// This segment: red split over two records at 100 and 250 ms.
		{Kind: capture.ScreenServer, Payload: upd[:10], Time: ms(100), Render: true},
		{Kind: capture.ScreenClient, Payload: []byte{5, 0, 0, 1, 0, 1}, Time: ms(150), Render: true},
		{Kind: capture.ScreenServer, Payload: upd[10:], Time: ms(250), Render: true},
		// The gateway's mark: 8-bit pixels from the next message on.
		{Kind: capture.Meta, Payload: capture.SessionMeta{PixelFormat: pf8.String()}.Marshal(), Time: ms(400), Render: true},
		{Kind: capture.ScreenServer, Payload: fill(2, 2, green8), Time: ms(400), Render: true},
	}
	type seen struct {
		t       time.Duration
		rgb     [3]byte
		pointer bool
	}
	var frames []seen
	st, err := Play(context.Background(), &recs, Options{
		Framerate: 10, Duration: ms(600), MaxRepaintsPerSecond: 1000,
		OnFrame: func(i int, at time.Duration, fb *rfb.Framebuffer, o *Overlay) error {
			if at != time.Duration(i)*ms(100) {
				t.Errorf("frame %d at %s", i, at)
			}
			frames = append(frames, seen{at, [3]byte{fb.Pix[0], fb.Pix[1], fb.Pix[2]}, o.PointerKnown})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	blue, red, green := [3]byte{0, 0, 255}, [3]byte{255, 0, 0}, [3]byte{0, 255, 0}
	want := []seen{
		{ms(0), blue, false}, {ms(100), blue, false}, {ms(200), blue, true}, // red is complete at 250 ms
		{ms(300), red, true}, {ms(400), green, true}, {ms(500), green, true},
	}
	if len(frames) != len(want) || st.Frames != len(want) || st.Messages != 3 {
		t.Fatalf("frames %v (stats %+v), want %v", frames, st, want)
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Errorf("frame %d: %+v, want %+v", i, frames[i], want[i])
		}
	}
}

func TestFramesCount(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		fps  int
		want int
	}{{0, 10, 1}, {ms(1000), 10, 10}, {ms(1001), 10, 11}, {ms(3600), 25, 90}, {ms(50), 5, 1}} {
		if got := (Options{Framerate: c.fps, Duration: c.d}).Frames(); got != c.want {
			t.Errorf("%s at %d fps: %d frames, want %d", c.d, c.fps, got, c.want)
		}
	}
}

func TestPlayErrors(t *testing.T) {
	stop := errors.New("encoder gone")
	recs := list{{Kind: capture.ScreenServer, Payload: serverInit(2, 2), Render: true, Time: ms(500)}}
	_, err := Play(context.Background(), &recs, Options{Framerate: 10, Duration: ms(600),
		OnFrame: func(int, time.Duration, *rfb.Framebuffer, *Overlay) error { return stop }})
	if !errors.Is(err, stop) {
		t.Errorf("OnFrame's error: %v", err)
	}
	recs = list{{Kind: capture.Meta, Payload: []byte("{"), Render: true}}
	_, err = Play(context.Background(), &recs, Options{Framerate: 10, Duration: ms(600),
		OnFrame: func(int, time.Duration, *rfb.Framebuffer, *Overlay) error { return nil }})
	if !errors.Is(err, rfb.ErrMalformed) {
		t.Errorf("bad meta: %v", err)
	}
}
