package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Sentinel errors.
var (
	ErrInvalidConfig = errors.New("syslog: invalid config")
	ErrConnection    = errors.New("syslog: connection lost")
	ErrTooSmall      = errors.New("syslog: udp_max_size cannot hold the message header")
	ErrClosed        = errors.New("syslog: writer closed")
)

// Transports, framings and oversize policies.
const (
	UDP = "udp"
	TCP = "tcp"
	TLS = "tls"

	FramingOctet = "octet"
	FramingLF    = "lf"

	OversizeTruncate = "truncate"
	OversizeSplit    = "split"
)

// TLSConfig names the files of a TLS connection (RFC 5425).
type TLSConfig struct {
	CAFile     string // PEM CA bundle that signs the server (default: system roots)
	CertFile   string // PEM client certificate, for servers that ask for one
	KeyFile    string
	ServerName string // name checked in the server certificate (default: the address' host)
	SkipVerify bool   // accept any server certificate (tests, never production)
}

// Config configures a Writer. Zero values take the defaults.
type Config struct {
	Address   string // host:port
	Transport string // udp, tcp (default) or tls
	Framing   string // octet (default, RFC 6587 octet counting) or lf, for tcp and tls
	Header    Header // RFC (default 5424), facility, app name (default "vigil"), hostname
	// UDPMaxSize bounds a datagram (default 1472: one Ethernet frame);
	// UDPOversize says what happens to a longer message: truncate (default,
	// with a visible marker) or split (numbered parts).
	UDPMaxSize  int
	UDPOversize string
	TLS         TLSConfig
	// DialTimeout (default 10 s) and WriteTimeout (default 30 s) bound one
	// connection attempt and one write.
	DialTimeout, WriteTimeout time.Duration
	// Settle is how long data acknowledged by the server's TCP stack must
	// stay on a connection that is still open before it counts as
	// delivered (default 2 s); see Writer.
	Settle time.Duration
	// Now is the clock that times Settle (default time.Now).
	Now func() time.Time
}

// CheckAndSetDefaults validates c and fills its defaults.
func (c *Config) CheckAndSetDefaults() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrInvalidConfig, c.Address, err)
	}
	if c.Transport == "" {
		c.Transport = TCP
	}
	if c.Framing == "" {
		c.Framing = FramingOctet
	}
	if c.Header.RFC == 0 {
		c.Header.RFC = 5424
	}
	if c.Header.AppName == "" {
		c.Header.AppName = "vigil"
	}
	if c.Header.Hostname == "" {
		c.Header.Hostname, _ = os.Hostname()
	}
	if c.UDPMaxSize == 0 {
		c.UDPMaxSize = 1472
	}
	if c.UDPOversize == "" {
		c.UDPOversize = OversizeTruncate
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Transport != UDP && c.Transport != TCP && c.Transport != TLS:
		return fmt.Errorf("%w: transport %q (want udp, tcp or tls)", ErrInvalidConfig, c.Transport)
	case c.Framing != FramingOctet && c.Framing != FramingLF:
		return fmt.Errorf("%w: framing %q (want octet or lf)", ErrInvalidConfig, c.Framing)
	case c.Header.RFC != 5424 && c.Header.RFC != 3164:
		return fmt.Errorf("%w: rfc %d (want 5424 or 3164)", ErrInvalidConfig, c.Header.RFC)
	case c.Header.Facility < 0 || c.Header.Facility > 23:
		return fmt.Errorf("%w: facility %d (want 0-23)", ErrInvalidConfig, c.Header.Facility)
	case c.UDPMaxSize < 480 || c.UDPMaxSize > 65507:
		// 480 is the least every receiver must accept (RFC 5426).
		return fmt.Errorf("%w: udp_max_size %d (want 480-65507)", ErrInvalidConfig, c.UDPMaxSize)
	case c.UDPOversize != OversizeTruncate && c.UDPOversize != OversizeSplit:
		return fmt.Errorf("%w: udp_oversize %q (want truncate or split)", ErrInvalidConfig, c.UDPOversize)
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		return fmt.Errorf("%w: tls cert and key go together", ErrInvalidConfig)
	}
	return nil
}

// tlsConfig loads the files named in c.TLS.
func (c *Config) tlsConfig() (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(c.Address)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: c.TLS.SkipVerify}
	if c.TLS.ServerName != "" {
		tc.ServerName = c.TLS.ServerName
	}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls ca: %w", ErrInvalidConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls ca %s: no PEM certificate", ErrInvalidConfig, c.TLS.CAFile)
		}
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls client certificate: %w", ErrInvalidConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Writer sends events to one syslog server.
//
// Delivery. Plain syslog has no acknowledgement: a server that stops can
// lose what sat in its socket buffer even though our write succeeded. So
// over TCP and TLS a batch counts as delivered only once the server's TCP
// stack has acknowledged every byte of it (the socket's send queue, read
// with SIOCOUTQ, has drained past it) and the connection then stayed open
// for Settle: a server that stops or resets the connection within that
// time gets the batch again on the next connection. That gives at-least-once
// delivery with a bounded number of duplicates, and no loss unless the
// server acknowledges data and then holds it unread for longer than Settle
// before dying. Over UDP nothing can be confirmed: a datagram counts as
// delivered once the kernel took it, and a server known to be down (ICMP
// port unreachable, reported on the next send) makes the batch fail.
//
// Write, Progress, Connected and Close may be called from different
// goroutines, but Write and Progress are meant for one sink loop.
type Writer struct {
	cfg Config
	tls *tls.Config

	mu      sync.Mutex
	conn    *stream // nil when not connected
	udp     *net.UDPConn
	pending []sent
	// confirmed is the highest seq known delivered.
	confirmed uint64
	closed    bool
	buf, msg  []byte
}

// sent is a written batch waiting for confirmation.
type sent struct {
	lastSeq uint64
	rawEnd  int64     // bytes written on the connection after this batch
	peerAck time.Time // when the server's TCP stack had acknowledged it all
}

// New checks cfg and returns a writer; it connects on first use.
func New(cfg Config) (*Writer, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg}
	if cfg.Transport == TLS {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		w.tls = tc
	}
	return w, nil
}

// Write sends one message per event (lines[i] is the MSG of evs[i]). An
// error means the batch must be sent again: nothing of it counts as
// delivered.
func (w *Writer) Write(ctx context.Context, evs []event.Event, lines [][]byte) error {
	if len(evs) != len(lines) {
		return fmt.Errorf("%w: %d events, %d lines", ErrInvalidConfig, len(evs), len(lines))
	}
	if len(evs) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.cfg.Transport == UDP {
		return w.writeUDP(ctx, evs, lines)
	}
	return w.writeStream(ctx, evs, lines)
}

func (w *Writer) writeStream(ctx context.Context, evs []event.Event, lines [][]byte) error {
	if w.conn != nil && w.conn.broken() != nil {
		if len(w.pending) > 0 {
			// Unconfirmed batches went down with the connection: the sink
			// must rewind and send them again.
			return w.dropConn(w.conn.broken())
		}
		w.dropConn(nil)
	}
	if w.conn == nil {
		c, err := w.dial(ctx)
		if err != nil {
			return err
		}
		w.conn = c
	}
	buf := w.buf[:0]
	for i := range evs {
		if w.cfg.Framing == FramingOctet {
			msg := w.cfg.Header.AppendMessage(w.msg[:0], &evs[i], lines[i])
			w.msg = msg
			buf = strconv.AppendInt(buf, int64(len(msg)), 10)
			buf = append(buf, ' ')
			buf = append(buf, msg...)
			continue
		}
		buf = w.cfg.Header.AppendMessage(buf, &evs[i], escapeLF(lines[i]))
		buf = append(buf, '\n')
	}
	w.buf = buf
	if err := w.conn.write(buf, time.Now().Add(w.cfg.WriteTimeout)); err != nil {
		return w.dropConn(err)
	}
	w.pending = append(w.pending, sent{lastSeq: evs[len(evs)-1].Seq, rawEnd: w.conn.written.Load()})
	return nil
}

func (w *Writer) writeUDP(ctx context.Context, evs []event.Event, lines [][]byte) error {
	if w.udp == nil {
		d := net.Dialer{Timeout: w.cfg.DialTimeout}
		c, err := d.DialContext(ctx, "udp", w.cfg.Address)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConnection, err)
		}
		w.udp = c.(*net.UDPConn)
	}
	split := w.cfg.UDPOversize == OversizeSplit
	for i := range evs {
		grams, ok := w.cfg.Header.datagrams(&evs[i], lines[i], w.cfg.UDPMaxSize, split)
		if !ok {
			return fmt.Errorf("%w: event %d", ErrTooSmall, evs[i].Seq)
		}
		for _, g := range grams {
			if _, err := w.udp.Write(g); err != nil {
				w.udp.Close()
				w.udp = nil
				return fmt.Errorf("%w: %w", ErrConnection, err)
			}
		}
	}
	w.confirmed = evs[len(evs)-1].Seq
	return nil
}

// dropConn closes the connection and forgets the batches waiting on it; it
// returns err wrapped for the caller.
func (w *Writer) dropConn(err error) error {
	if w.conn != nil {
		w.conn.close()
		w.conn = nil
	}
	w.pending = w.pending[:0]
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrConnection) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConnection, err)
}

// Progress returns the highest Seq known delivered, whether every batch
// written is confirmed, and an error when the connection broke with
// batches unconfirmed: those (everything after confirmed) must be sent
// again.
func (w *Writer) Progress() (confirmed uint64, all bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return w.confirmed, true, nil
	}
	if berr := w.conn.broken(); berr != nil {
		return w.confirmed, false, w.dropConn(berr)
	}
	queued, qerr := w.conn.unacked()
	if qerr != nil {
		return w.confirmed, false, w.dropConn(qerr)
	}
	now := w.cfg.Now()
	acked := w.conn.written.Load() - queued
	for i := range w.pending {
		p := &w.pending[i]
		if p.rawEnd > acked {
			break
		}
		if p.peerAck.IsZero() {
			p.peerAck = now
		}
	}
	n := 0
	for ; n < len(w.pending); n++ {
		p := w.pending[n]
		if p.peerAck.IsZero() || now.Sub(p.peerAck) < w.cfg.Settle {
			break
		}
		w.confirmed = p.lastSeq
	}
	w.pending = append(w.pending[:0], w.pending[n:]...)
	return w.confirmed, len(w.pending) == 0, nil
}

// Connected reports whether the writer holds a working connection (for UDP:
// a socket).
func (w *Writer) Connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.Transport == UDP {
		return w.udp != nil
	}
	return w.conn != nil && w.conn.broken() == nil
}

// Close closes the connection. Unconfirmed batches stay unconfirmed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.dropConn(nil)
	if w.udp != nil {
		w.udp.Close()
		w.udp = nil
	}
	return nil
}

// stream is one TCP or TLS connection.
type stream struct {
	tcp     *net.TCPConn
	conn    net.Conn // tcp, or the TLS client over it
	written atomic.Int64
	dead    chan struct{}
	err     error // set before dead is closed
	once    sync.Once
}

// countingConn counts the bytes written to the TCP connection, so they can
// be compared with what the kernel says is still unacknowledged.
type countingConn struct {
	*net.TCPConn
	s *stream
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	c.s.written.Add(int64(n))
	return n, err
}

func (w *Writer) dial(ctx context.Context) (*stream, error) {
	d := net.Dialer{Timeout: w.cfg.DialTimeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", w.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnection, err)
	}
	s := &stream{tcp: c.(*net.TCPConn), dead: make(chan struct{})}
	s.conn = countingConn{TCPConn: s.tcp, s: s}
	if w.tls != nil {
		tc := tls.Client(s.conn, w.tls)
		hctx, cancel := context.WithTimeout(ctx, w.cfg.DialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: tls handshake: %w", ErrConnection, err)
		}
		s.conn = tc
	}
	go s.watch()
	return s, nil
}

// watch reads the connection until it ends. A syslog server sends nothing,
// so any end — EOF, reset, a TLS alert — means the connection is gone.
func (s *stream) watch() {
	buf := make([]byte, 512)
	for {
		if _, err := s.conn.Read(buf); err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			s.fail(fmt.Errorf("%w: %w", ErrConnection, err))
			return
		}
	}
}

func (s *stream) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.dead)
	})
}

func (s *stream) broken() error {
	select {
	case <-s.dead:
		return s.err
	default:
		return nil
	}
}

func (s *stream) write(b []byte, deadline time.Time) error {
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if _, err := s.conn.Write(b); err != nil {
		s.fail(err)
		return err
	}
	return nil
}

// unacked returns the bytes the kernel still holds for the connection, sent
// or not, that the server has not acknowledged.
func (s *stream) unacked() (int64, error) {
	rc, err := s.tcp.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	}); err != nil {
		return 0, err
	}
	if ierr != nil {
		return 0, fmt.Errorf("SIOCOUTQ: %w", ierr)
	}
	return int64(n), nil
}

func (s *stream) close() {
	s.fail(fmt.Errorf("%w: closed", ErrConnection))
	s.conn.Close()
}
