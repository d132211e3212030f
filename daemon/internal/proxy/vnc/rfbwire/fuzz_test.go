package rfbwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// FuzzServerFramer frames arbitrary bytes as a server stream after a
// ServerInit drawn from the input too. Framing must stop with io.EOF at a
// message boundary, a truncation or ErrProtocol; it must never panic, and
// must emit exactly the bytes it consumed, in order.
func FuzzServerFramer(f *testing.F) {
	for i, pf := range []PixelFormat{pfRGB888, pfRGB565, pf30bit, pfMap8} {
		g := &gen{rng: rand.New(rand.NewPCG(uint64(i), 9)), pf: pf, w: 120, h: 90}
		g.messages(8)
		f.Add(pf.AppendTo(nil), uint16(120), uint16(90), g.Bytes())
	}
	f.Fuzz(func(t *testing.T, pfb []byte, w, h uint16, data []byte) {
		pf, err := ParsePixelFormat(pfb)
		if err != nil || CheckSize(int(w), int(h)) != nil {
			return
		}
		var emitted []byte
		fr := NewServerFramer(bufio.NewReaderSize(bytes.NewReader(data), 16), ServerInit{Width: int(w), Height: int(h), PixelFormat: pf},
			func(b []byte) error {
				emitted = append(emitted, b...)
				return nil
			})
		for {
			_, err = fr.Next()
			if err != nil {
				break
			}
			if fw, fh := fr.Size(); CheckSize(fw, fh) != nil {
				t.Fatalf("framer accepted size %dx%d", fw, fh)
			}
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if !bytes.HasPrefix(data, emitted) {
			t.Fatalf("emitted bytes are not the input's prefix")
		}
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && len(emitted) != len(data) {
			t.Fatalf("clean end after %d of %d bytes", len(emitted), len(data))
		}
	})
}

// FuzzClientReader reads arbitrary bytes as client messages: every
// message's Raw bytes must be the input's, in order, and errors must be
// io.EOF, a truncation or ErrProtocol.
func FuzzClientReader(f *testing.F) {
	f.Add(append(SetEncodings([]int32{EncZRLE, EncRaw, -239}), MsgPointerEvent, 1, 0, 1, 0, 2))
	f.Add(append([]byte{MsgSetPixelFormat, 0, 0, 0}, pfRGB565.AppendTo(nil)...))
	f.Add([]byte{MsgClientCutText, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', MsgKeyEvent, 1, 0, 0, 0, 0, 0, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewClientReader(bufio.NewReaderSize(bytes.NewReader(data), 16))
		var got []byte
		var err error
		for {
			var m ClientMessage
			m, err = c.Next()
			if err != nil {
				break
			}
			got = append(got, m.Raw...)
			if m.Type == MsgSetEncodings {
				for _, e := range FilterEncodings(m.Encodings) {
					if !Supported(e) {
						t.Fatalf("filter kept %d", e)
					}
				}
			}
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if !bytes.HasPrefix(data, got) {
			t.Fatal("messages are not the input's bytes")
		}
	})
}
