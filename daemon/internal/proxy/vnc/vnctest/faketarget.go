package vnctest

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
)

// FakeTarget is a scriptable RFB server: it speaks the handshake (None,
// or VncAuth when Password is set) and then runs Serve, which may behave
// well or not at all.
type FakeTarget struct {
	// Port is where it listens on 127.0.0.1, once started.
	Port     int
	Password string
	Version  string // sent first; default "RFB 003.008\n"
	// Init is the ServerInit; default 64x48, PFRGB888, "fake desktop".
	Init    rfbwire.ServerInit
	InitRaw []byte // sent instead of Init when set
	// Security, when set, is sent instead of the security types, and the
	// connection closed after it.
	Security []byte
	// Serve runs each connection after the handshake; default ServeSolid.
	Serve func(c *FakeConn)

	ln    net.Listener
	mu    sync.Mutex
	conns []*FakeConn
	wg    sync.WaitGroup
}

// FakeConn is one connection to the fake target.
type FakeConn struct {
	net.Conn
	r *bufio.Reader
	// Shared is the shared flag of the client's ClientInit.
	Shared byte

	mu        sync.Mutex
	msgs      []rfbwire.ClientMessage
	encodings []int32
	closed    chan struct{}
}

// PFRGB888 is the fake target's default pixel format: 32 bits per pixel,
// depth 24, little-endian red-green-blue.
var PFRGB888 = rfbwire.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}

// StartFakeTarget starts ft on a free 127.0.0.1 port; it is stopped, and
// its connections closed and waited for, when the test ends.
func StartFakeTarget(t testing.TB, ft *FakeTarget) *FakeTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ft.ln, ft.Port = ln, ln.Addr().(*net.TCPAddr).Port
	if ft.Init.Width == 0 {
		ft.Init = rfbwire.ServerInit{Width: 64, Height: 48, PixelFormat: PFRGB888, Name: "fake desktop"}
	}
	if ft.Serve == nil {
		ft.Serve = ServeSolid
	}
	ft.wg.Add(1)
	go func() {
		defer ft.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := &FakeConn{Conn: nc, r: bufio.NewReader(nc), closed: make(chan struct{})}
			ft.mu.Lock()
			ft.conns = append(ft.conns, c)
			ft.mu.Unlock()
			ft.wg.Add(1)
			go func() {
				defer ft.wg.Done()
				defer close(c.closed)
				defer nc.Close()
				if ft.handshake(c) {
					ft.Serve(c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range ft.Conns() {
			c.Close()
		}
		ft.wg.Wait()
	})
	return ft
}

// Conns are the connections accepted so far.
func (ft *FakeTarget) Conns() []*FakeConn {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]*FakeConn(nil), ft.conns...)
}

func (ft *FakeTarget) handshake(c *FakeConn) bool {
	v := ft.Version
	if v == "" {
		v = "RFB 003.008\n"
	}
	c.Write([]byte(v))
	if _, err := rfbwire.ReadVersion(c.r); err != nil {
		return false
	}
	if ft.Security != nil {
		c.Write(ft.Security)
		return false
	}
	sec := byte(rfbwire.SecNone)
	if ft.Password != "" {
		sec = rfbwire.SecVncAuth
	}
	c.Write([]byte{1, sec})
	var choice [1]byte
	if _, err := io.ReadFull(c.r, choice[:]); err != nil || choice[0] != sec {
		return false
	}
	if sec == rfbwire.SecVncAuth {
		ch := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		c.Write(ch[:])
		var resp [16]byte
		if _, err := io.ReadFull(c.r, resp[:]); err != nil {
			return false
		}
		want := rfbwire.VncAuthResponse(ft.Password, ch)
		if subtle.ConstantTimeCompare(resp[:], want[:]) != 1 {
			c.Write(rfbwire.SecurityResult(rfbwire.V38, "wrong password"))
			return false
		}
	}
	c.Write(rfbwire.SecurityResult(rfbwire.V38, ""))
	var shared [1]byte
	if _, err := io.ReadFull(c.r, shared[:]); err != nil {
		return false
	}
	c.Shared = shared[0]
	if ft.InitRaw != nil {
		c.Write(ft.InitRaw)
	} else {
		c.Write(ft.Init.Bytes())
	}
	return true
}

// Next reads the next client message, noting it.
func (c *FakeConn) Next() (rfbwire.ClientMessage, error) {
	m, err := rfbwire.NewClientReader(c.r).Next()
	if err != nil {
		return m, err
	}
	c.mu.Lock()
	m.Raw = bytes.Clone(m.Raw)
	c.msgs = append(c.msgs, m)
	if m.Type == rfbwire.MsgSetEncodings {
		c.encodings = m.Encodings
	}
	c.mu.Unlock()
	return m, nil
}

// Received are the client messages read so far.
func (c *FakeConn) Received() []rfbwire.ClientMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rfbwire.ClientMessage(nil), c.msgs...)
}

// Encodings are those of the last SetEncodings received.
func (c *FakeConn) Encodings() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encodings
}

// Closed is closed once the connection has ended.
func (c *FakeConn) Closed() <-chan struct{} { return c.closed }

// ServeSolid answers every update request with a Raw rectangle of the
// requested area in one colour, the next colour each time.
func ServeSolid(c *FakeConn) {
	pf := PFRGB888
	colour := uint32(0x00ff0000)
	for {
		m, err := c.Next()
		if err != nil {
			return
		}
		switch m.Type {
		case rfbwire.MsgSetPixelFormat:
			pf = m.PixelFormat
		case rfbwire.MsgFramebufferUpdateRequest:
			x, y := int(binary.BigEndian.Uint16(m.Raw[2:])), int(binary.BigEndian.Uint16(m.Raw[4:]))
			w, h := int(binary.BigEndian.Uint16(m.Raw[6:])), int(binary.BigEndian.Uint16(m.Raw[8:]))
			if _, err := c.Write(RawUpdate(pf, x, y, w, h, colour)); err != nil {
				return
			}
			colour = colour>>8 | (colour&0xff)<<16
		}
	}
}

// Hostile is a Serve that behaves until the viewer's first update
// request, then sends script; it closes the connection after it when
// hangUp is set, else waits for the gateway to.
func Hostile(hangUp bool, script ...[]byte) func(c *FakeConn) {
	return func(c *FakeConn) {
		for {
			m, err := c.Next()
			if err != nil {
				return
			}
			if m.Type == rfbwire.MsgFramebufferUpdateRequest {
				break
			}
		}
		for _, b := range script {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
		if hangUp {
			return
		}
		for {
			if _, err := c.Next(); err != nil {
				return
			}
		}
	}
}

// RawUpdate is a FramebufferUpdate with one Raw rectangle of pixel value v.
func RawUpdate(pf rfbwire.PixelFormat, x, y, w, h int, v uint32) []byte {
	b := []byte{rfbwire.MsgFramebufferUpdate, 0, 0, 1}
	b = append(b, RectHeader(x, y, w, h, rfbwire.EncRaw)...)
	px := make([]byte, pf.BytesPerPixel())
	switch len(px) {
	case 1:
		px[0] = byte(v)
	case 2:
		if pf.BigEndian {
			binary.BigEndian.PutUint16(px, uint16(v))
		} else {
			binary.LittleEndian.PutUint16(px, uint16(v))
		}
	default:
		if pf.BigEndian {
			binary.BigEndian.PutUint32(px, v)
		} else {
			binary.LittleEndian.PutUint32(px, v)
		}
	}
	return append(b, bytes.Repeat(px, w*h)...)
}

// RectHeader is a rectangle's header.
func RectHeader(x, y, w, h int, enc int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(x))
	b = binary.BigEndian.AppendUint16(b, uint16(y))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

// FBU is a FramebufferUpdate of the given rectangles.
func FBU(rects ...[]byte) []byte {
	b := []byte{rfbwire.MsgFramebufferUpdate, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(rects)))
	return append(b, bytes.Join(rects, nil)...)
}

// ZRLERect is a ZRLE rectangle carrying data as its compressed bytes.
func ZRLERect(x, y, w, h int, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(RectHeader(x, y, w, h, rfbwire.EncZRLE), uint32(len(data)))
	return append(b, data...)
}

// Deflate is b zlib-compressed and sync-flushed, as a ZRLE stream's first
// rectangle carries it.
func Deflate(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Flush()
	return z.Bytes()
}
