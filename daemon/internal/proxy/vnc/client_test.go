package vncproxy

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

// vncClient is a small RFB viewer for the tests: it logs in through the
// gateway with VeNCrypt X509Plain (or straight to a VNC server with
// VncAuth), and frames what the server sends with rfbwire.
type vncClient struct {
	nc   net.Conn
	conn net.Conn // TLS inside VeNCrypt, else nc
	r    *bufio.Reader
	init rfbwire.ServerInit

	wmu     sync.Mutex
	pending atomic.Pointer[rfbwire.PixelFormat]

	mu       sync.Mutex
	msgs     []rfbwire.ServerMessage
	updates  int
	lastRecv time.Time
	bytes    int64
	done     chan struct{}
	readErr  error
	onUpdate func() // called (from the reader) after each FramebufferUpdate
}

// loginOpts say how the client logs in.
type loginOpts struct {
	version  string // default "RFB 003.008\n"
	security byte   // default VeNCrypt
	subtype  uint32 // default X509Plain
	user     string
	password string
	roots    *x509.CertPool
	// vncPassword logs in with VncAuth instead (straight to a server).
	vncPassword string
}

// dialVNC connects and logs in. A refusal is an *rfbwire.RefusedError
// carrying the reason the gateway gave.
func dialVNC(addr string, o loginOpts) (*vncClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &vncClient{nc: nc, conn: nc, done: make(chan struct{})}
	if err := c.login(o); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *vncClient) login(o loginOpts) error {
	br := bufio.NewReader(c.nc)
	if _, err := rfbwire.ReadVersion(br); err != nil {
		return err
	}
	if o.version == "" {
		o.version = "RFB 003.008\n"
	}
	c.nc.Write([]byte(o.version))
	v, _ := rfbwire.ReadVersion(strings.NewReader(o.version))
	if v == rfbwire.V33 {
		if _, err := rfbwire.ReadSecurityType33(br); err != nil {
			return err
		}
		return errors.New("test client: a 3.3 server accepted")
	}
	types, err := rfbwire.ReadSecurityTypes(br)
	if err != nil {
		return err
	}
	if o.vncPassword != "" {
		if !slices.Contains(types, rfbwire.SecVncAuth) {
			return fmt.Errorf("test client: security types %v", types)
		}
		c.nc.Write([]byte{rfbwire.SecVncAuth})
		var ch [16]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return err
		}
		resp := VncAuthResponse(o.vncPassword, ch)
		c.nc.Write(resp[:])
		c.r = br
		return c.finish(v)
	}
	if o.security == 0 {
		o.security = rfbwire.SecVeNCrypt
	}
	c.nc.Write([]byte{o.security})
	if o.security != rfbwire.SecVeNCrypt {
		return rfbwire.ReadSecurityResult(br, v)
	}
	var b [2]byte
	if _, err := io.ReadFull(br, b[:]); err != nil || b != [2]byte{0, 2} {
		return fmt.Errorf("test client: VeNCrypt version %v, %v", b, err)
	}
	c.nc.Write([]byte{0, 2})
	var status [2]byte
	if _, err := io.ReadFull(br, status[:]); err != nil || status[0] != 0 {
		return fmt.Errorf("test client: VeNCrypt status %v, %v", status, err)
	}
	subs := make([]byte, 4*int(status[1]))
	if _, err := io.ReadFull(br, subs); err != nil {
		return err
	}
	if o.subtype == 0 {
		o.subtype = rfbwire.VeNCryptX509Plain
	}
	c.nc.Write(binary.BigEndian.AppendUint32(nil, o.subtype))
	var ack [1]byte
	if _, err := io.ReadFull(br, ack[:]); err != nil {
		return err
	}
	if ack[0] != 1 {
		return &rfbwire.RefusedError{What: "test client: subtype refused"}
	}
	if br.Buffered() > 0 {
		return errors.New("test client: data before TLS")
	}
	tc := tls.Client(c.nc, &tls.Config{RootCAs: o.roots, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.conn = tc
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(o.user)))
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(o.password)))
	msg = append(append(msg, o.user...), o.password...)
	tc.Write(msg)
	c.r = bufio.NewReader(tc)
	return c.finish(v)
}

func (c *vncClient) finish(v rfbwire.Version) error {
	if err := rfbwire.ReadSecurityResult(c.r, v); err != nil {
		return err
	}
	c.conn.Write([]byte{1}) // shared
	si, err := rfbwire.ReadServerInit(c.r)
	if err != nil {
		return err
	}
	c.init = si
	go c.read()
	return nil
}

// read frames the server's messages until the connection ends.
func (c *vncClient) read() {
	defer close(c.done)
	fr := rfbwire.NewServerFramer(c.r, c.init, func(b []byte) error {
		c.mu.Lock()
		c.bytes += int64(len(b))
		c.mu.Unlock()
		return nil
	})
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
		c.lastRecv = time.Now()
		fn := c.onUpdate
		c.mu.Unlock()
		if fn != nil && m.Type == rfbwire.MsgFramebufferUpdate {
			fn()
		}
	}
}

func (c *vncClient) setErr(err error) {
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
}

func (c *vncClient) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

func (c *vncClient) updateCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updates
}

func (c *vncClient) messages() []rfbwire.ServerMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

func (c *vncClient) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

func (c *vncClient) setPixelFormat(pf rfbwire.PixelFormat) error {
	c.pending.Store(&pf)
	return c.send(pf.AppendTo([]byte{rfbwire.MsgSetPixelFormat, 0, 0, 0}))
}

func (c *vncClient) setEncodings(encs ...int32) error { return c.send(rfbwire.SetEncodings(encs)) }

func (c *vncClient) request(incremental bool, x, y, w, h int) error {
	b := []byte{rfbwire.MsgFramebufferUpdateRequest, 0}
	if incremental {
		b[1] = 1
	}
	for _, v := range []int{x, y, w, h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return c.send(b)
}

func (c *vncClient) pointer(mask byte, x, y int) error {
	b := []byte{rfbwire.MsgPointerEvent, mask}
	b = binary.BigEndian.AppendUint16(b, uint16(x))
	return c.send(binary.BigEndian.AppendUint16(b, uint16(y)))
}

func (c *vncClient) key(down bool, sym uint32) error {
	b := []byte{rfbwire.MsgKeyEvent, 0, 0, 0}
	if down {
		b[1] = 1
	}
	return c.send(binary.BigEndian.AppendUint32(b, sym))
}

// waitUpdates waits until n FramebufferUpdates have arrived in all.
func (c *vncClient) waitUpdates(t testing.TB, n int) {
	t.Helper()
	sdktest.WaitFor(t, 20*time.Second, fmt.Sprintf("%d framebuffer updates", n), func() bool { return c.updateCount() >= n })
}

// follow keeps one incremental update request outstanding, as viewers
// do: a new one goes out after each update.
func (c *vncClient) follow() {
	c.mu.Lock()
	c.onUpdate = func() { c.request(true, 0, 0, c.init.Width, c.init.Height) }
	c.mu.Unlock()
}

func (c *vncClient) close() {
	c.nc.Close()
	<-c.done
}
