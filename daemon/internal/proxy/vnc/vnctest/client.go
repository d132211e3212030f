package vnctest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// Client is a small RFB viewer for the tests: it logs in through the
// gateway with VeNCrypt X509Plain (or straight to a VNC server with
// VncAuth), and frames what the server sends with rfbwire.
type Client struct {
	nc   net.Conn
	conn net.Conn // TLS inside VeNCrypt, else nc
	r    *bufio.Reader
	// Init is the ServerInit the client received.
	Init rfbwire.ServerInit

	wmu     sync.Mutex
	pending atomic.Pointer[rfbwire.PixelFormat]

	mu       sync.Mutex
	msgs     []rfbwire.ServerMessage
	updates  int
	done     chan struct{}
	readErr  error
	onUpdate func() // called (from the reader) after each FramebufferUpdate
}

// LoginOpts say how the client logs in.
type LoginOpts struct {
	Version  string // default "RFB 003.008\n"
	Security byte   // default VeNCrypt
	Subtype  uint32 // default X509Plain
	User     string
	Password string
	// Roots are the CAs the gateway's certificate is checked against.
	Roots *x509.CertPool
	// VncPassword logs in with VncAuth instead (straight to a server).
	VncPassword string
}

// Dial connects and logs in. A refusal is an *rfbwire.RefusedError
// carrying the reason the gateway gave.
func Dial(addr string, o LoginOpts) (*Client, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &Client{nc: nc, conn: nc, done: make(chan struct{})}
	if err := c.login(o); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Client) login(o LoginOpts) error {
	br := bufio.NewReader(c.nc)
	if _, err := rfbwire.ReadVersion(br); err != nil {
		return err
	}
	if o.Version == "" {
		o.Version = "RFB 003.008\n"
	}
	c.nc.Write([]byte(o.Version))
	v, _ := rfbwire.ReadVersion(strings.NewReader(o.Version))
	if v == rfbwire.V33 {
		if _, err := rfbwire.ReadSecurityType33(br); err != nil {
			return err
		}
		return errors.New("vnctest: a 3.3 server accepted")
	}
	types, err := rfbwire.ReadSecurityTypes(br)
	if err != nil {
		return err
	}
	if o.VncPassword != "" {
		if !slices.Contains(types, rfbwire.SecVncAuth) {
			return fmt.Errorf("vnctest: security types %v", types)
		}
		c.nc.Write([]byte{rfbwire.SecVncAuth})
		var ch [16]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return err
		}
		resp := rfbwire.VncAuthResponse(o.VncPassword, ch)
		c.nc.Write(resp[:])
		c.r = br
		return c.finish(v)
	}
	if o.Security == 0 {
		o.Security = rfbwire.SecVeNCrypt
	}
	c.nc.Write([]byte{o.Security})
	if o.Security != rfbwire.SecVeNCrypt {
		return rfbwire.ReadSecurityResult(br, v)
	}
	var b [2]byte
	if _, err := io.ReadFull(br, b[:]); err != nil || b != [2]byte{0, 2} {
		return fmt.Errorf("vnctest: VeNCrypt version %v, %v", b, err)
	}
	c.nc.Write([]byte{0, 2})
	var status [2]byte
	if _, err := io.ReadFull(br, status[:]); err != nil || status[0] != 0 {
		return fmt.Errorf("vnctest: VeNCrypt status %v, %v", status, err)
	}
	subs := make([]byte, 4*int(status[1]))
	if _, err := io.ReadFull(br, subs); err != nil {
		return err
	}
	if o.Subtype == 0 {
		o.Subtype = rfbwire.VeNCryptX509Plain
	}
	c.nc.Write(binary.BigEndian.AppendUint32(nil, o.Subtype))
	var ack [1]byte
	if _, err := io.ReadFull(br, ack[:]); err != nil {
		return err
	}
	if ack[0] != 1 {
		return &rfbwire.RefusedError{What: "vnctest: subtype refused"}
	}
	if br.Buffered() > 0 {
		return errors.New("vnctest: data before TLS")
	}
	tc := tls.Client(c.nc, &tls.Config{RootCAs: o.Roots, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.conn = tc
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(o.User)))
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(o.Password)))
	msg = append(append(msg, o.User...), o.Password...)
	tc.Write(msg)
	c.r = bufio.NewReader(tc)
	return c.finish(v)
}

func (c *Client) finish(v rfbwire.Version) error {
	if err := rfbwire.ReadSecurityResult(c.r, v); err != nil {
		return err
	}
	c.conn.Write([]byte{1}) // shared
	si, err := rfbwire.ReadServerInit(c.r)
	if err != nil {
		return err
	}
	c.Init = si
	go c.read()
	return nil
}

// read frames the server's messages until the connection ends.
func (c *Client) read() {
	defer close(c.done)
	fr := rfbwire.NewServerFramer(c.r, c.Init, func([]byte) error { return nil })
	for {
		if err := fr.Wait(); err != nil {
			c.setErr(err)
			return
		}
		if pf := c.pending.Swap(nil); pf != nil {
			fr.SetPixelFormat(*pf)
		}
		m, err := fr.Next()
		if err != nil {
			c.setErr(err)
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		if m.Type == rfbwire.MsgFramebufferUpdate {
			c.updates++
		}
		fn := c.onUpdate
		c.mu.Unlock()
		if fn != nil && m.Type == rfbwire.MsgFramebufferUpdate {
			fn()
		}
	}
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
}

// Err is why the connection's reader stopped (nil while it runs).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// Done is closed when the server's side of the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// UpdateCount is the number of FramebufferUpdates received so far.
func (c *Client) UpdateCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updates
}

// Messages are the server messages received so far.
func (c *Client) Messages() []rfbwire.ServerMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// Send writes one raw client message.
func (c *Client) Send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

// SetPixelFormat asks for pf, and frames what follows with it.
func (c *Client) SetPixelFormat(pf rfbwire.PixelFormat) error {
	c.pending.Store(&pf)
	return c.Send(pf.AppendTo([]byte{rfbwire.MsgSetPixelFormat, 0, 0, 0}))
}

// SetEncodings sends SetEncodings.
func (c *Client) SetEncodings(encs ...int32) error { return c.Send(rfbwire.SetEncodings(encs)) }

// Request sends a FramebufferUpdateRequest.
func (c *Client) Request(incremental bool, x, y, w, h int) error {
	b := []byte{rfbwire.MsgFramebufferUpdateRequest, 0}
	if incremental {
		b[1] = 1
	}
	for _, v := range []int{x, y, w, h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return c.Send(b)
}

// Pointer sends a PointerEvent.
func (c *Client) Pointer(mask byte, x, y int) error {
	b := []byte{rfbwire.MsgPointerEvent, mask}
	b = binary.BigEndian.AppendUint16(b, uint16(x))
	return c.Send(binary.BigEndian.AppendUint16(b, uint16(y)))
}

// Key sends a KeyEvent.
func (c *Client) Key(down bool, sym uint32) error {
	b := []byte{rfbwire.MsgKeyEvent, 0, 0, 0}
	if down {
		b[1] = 1
	}
	return c.Send(binary.BigEndian.AppendUint32(b, sym))
}

// WaitUpdates waits until n FramebufferUpdates have arrived in all.
func (c *Client) WaitUpdates(t testing.TB, n int) {
	t.Helper()
	sdktest.WaitFor(t, 20*time.Second, fmt.Sprintf("%d framebuffer updates", n), func() bool { return c.UpdateCount() >= n })
}

// OnUpdate sets fn to be called (from the reader) after each
// FramebufferUpdate.
func (c *Client) OnUpdate(fn func()) {
	c.mu.Lock()
	c.onUpdate = fn
	c.mu.Unlock()
}

// Follow keeps one incremental update request outstanding, as viewers
// do: a new one goes out after each update.
func (c *Client) Follow() {
	c.OnUpdate(func() { c.Request(true, 0, 0, c.Init.Width, c.Init.Height) })
}

// Close closes the connection and waits for the reader.
func (c *Client) Close() {
	c.nc.Close()
	<-c.done
}
