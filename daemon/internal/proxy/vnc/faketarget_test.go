package vncproxy

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
)

// fakeTarget is a scriptable RFB server: it speaks the handshake (None,
// or VncAuth when password is set) and then runs serve, which may behave
// well or not at all.
type fakeTarget struct {
	ln       net.Listener
	port     int
	password string
	version  string // sent first; default "RFB 003.008\n"
	init     rfbwire.ServerInit
	initRaw  []byte // sent instead of init when set
	// security, when set, is sent instead of the security types, and the
	// connection closed after it.
	security []byte
	serve    func(c *fakeConn)

	mu    sync.Mutex
	conns []*fakeConn
	wg    sync.WaitGroup
}

// fakeConn is one connection to the fake target.
type fakeConn struct {
	net.Conn
	r      *bufio.Reader
	shared byte

	mu        sync.Mutex
	encodings []int32
	msgs      []rfbwire.ClientMessage
	closed    chan struct{}
}

var pfRGB888 = rfbwire.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}

func startFakeTarget(t testing.TB, ft *fakeTarget) *fakeTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ft.ln, ft.port = ln, ln.Addr().(*net.TCPAddr).Port
	if ft.init.Width == 0 {
		ft.init = rfbwire.ServerInit{Width: 64, Height: 48, PixelFormat: pfRGB888, Name: "fake desktop"}
	}
	if ft.serve == nil {
		ft.serve = serveSolid
	}
	ft.wg.Add(1)
	go func() {
		defer ft.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := &fakeConn{Conn: nc, r: bufio.NewReader(nc), closed: make(chan struct{})}
			ft.mu.Lock()
			ft.conns = append(ft.conns, c)
			ft.mu.Unlock()
			ft.wg.Add(1)
			go func() {
				defer ft.wg.Done()
				defer close(c.closed)
				defer nc.Close()
				if ft.handshake(c) {
					ft.serve(c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ft.mu.Lock()
		for _, c := range ft.conns {
			c.Close()
		}
		ft.mu.Unlock()
		ft.wg.Wait()
	})
	return ft
}

func (ft *fakeTarget) target(name string) Target {
	return Target{ID: "id-" + name, Name: name, FriendlyName: "Fake " + name, Host: "127.0.0.1", Port: ft.port, Password: ft.password}
}

func (ft *fakeTarget) handshake(c *fakeConn) bool {
	v := ft.version
	if v == "" {
		v = "RFB 003.008\n"
	}
	c.Write([]byte(v))
	if _, err := rfbwire.ReadVersion(c.r); err != nil {
		return false
	}
	if ft.security != nil {
		c.Write(ft.security)
		return false
	}
	sec := byte(rfbwire.SecNone)
	if ft.password != "" {
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
		want := rfbwire.VncAuthResponse(ft.password, ch)
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
	c.shared = shared[0]
	if ft.initRaw != nil {
		c.Write(ft.initRaw)
	} else {
		c.Write(ft.init.Bytes())
	}
	return true
}

// next reads the next client message, noting it.
func (c *fakeConn) next() (rfbwire.ClientMessage, error) {
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

func (c *fakeConn) received() []rfbwire.ClientMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rfbwire.ClientMessage(nil), c.msgs...)
}

// serveSolid answers every update request with a Raw rectangle of the
// requested area in one colour, the next colour each time.
func serveSolid(c *fakeConn) {
	pf := pfRGB888
	colour := uint32(0x00ff0000)
	for {
		m, err := c.next()
		if err != nil {
			return
		}
		switch m.Type {
		case rfbwire.MsgSetPixelFormat:
			pf = m.PixelFormat
		case rfbwire.MsgFramebufferUpdateRequest:
			x, y := int(binary.BigEndian.Uint16(m.Raw[2:])), int(binary.BigEndian.Uint16(m.Raw[4:]))
			w, h := int(binary.BigEndian.Uint16(m.Raw[6:])), int(binary.BigEndian.Uint16(m.Raw[8:]))
			if _, err := c.Write(rawUpdate(pf, x, y, w, h, colour)); err != nil {
				return
			}
			colour = colour>>8 | (colour&0xff)<<16
		}
	}
}

// rawUpdate is a FramebufferUpdate with one Raw rectangle of pixel value v.
func rawUpdate(pf rfbwire.PixelFormat, x, y, w, h int, v uint32) []byte {
	b := []byte{rfbwire.MsgFramebufferUpdate, 0, 0, 1}
	b = append(b, rectHeader(x, y, w, h, rfbwire.EncRaw)...)
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

func rectHeader(x, y, w, h int, enc int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(x))
	b = binary.BigEndian.AppendUint16(b, uint16(y))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

func itoa(n int) string { return strconv.Itoa(n) }
