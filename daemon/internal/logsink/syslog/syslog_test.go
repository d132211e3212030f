package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/vigilgw/vigil/daemon/internal/logsink/internal/rsyslogtest"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

var t0 = time.Date(2025, 5, 6, 7, 8, 9, 123456000, time.UTC)

func testEvent(seq uint64) event.Event {
	return event.Event{
		Seq: seq, Time: t0.Add(time.Duration(seq) * time.Millisecond), MetricName: "session.create",
		Level: event.LevelWarning, Message: "m", Component: "ssh", Process: "vigild", Host: "gw1.example",
		SessionID: `s"1\]` + strconv.FormatUint(seq, 10),
	}
}

func parse5424(t *testing.T, msg string) *rfc5424.SyslogMessage {
	t.Helper()
	m, err := rfc5424.NewParser(rfc5424.WithBestEffort()).Parse([]byte(msg))
	if err != nil {
		t.Fatalf("parse %q: %v", msg, err)
	}
	return m.(*rfc5424.SyslogMessage)
}

// check5424 compares a parsed message with the event and line it came from.
func check5424(t *testing.T, msg string, e event.Event, line string, facility int) {
	t.Helper()
	m := parse5424(t, msg)
	sd := (*m.StructuredData)[SDID]
	want := map[string]string{
		"priority":  strconv.Itoa(facility*8 + Severity(e.Level)),
		"version":   "1",
		"timestamp": e.Time.UTC().Format(time.RFC3339Nano),
		"hostname":  e.Host,
		"appname":   "vigil",
		"procid":    e.Process,
		"msgid":     e.MetricName,
		"seq":       strconv.FormatUint(e.Seq, 10),
		"metric":    e.MetricName,
		"component": e.Component,
		"session":   e.SessionID,
		"message":   line,
	}
	got := map[string]string{
		"priority":  strconv.Itoa(int(*m.Priority)),
		"version":   strconv.Itoa(int(m.Version)),
		"timestamp": m.Timestamp.UTC().Format(time.RFC3339Nano),
		"hostname":  deref(m.Hostname),
		"appname":   deref(m.Appname),
		"procid":    deref(m.ProcID),
		"msgid":     deref(m.MsgID),
		"seq":       sd["seq"],
		"metric":    sd["metric"],
		"component": sd["component"],
		"session":   sd["session"],
		"message":   deref(m.Message),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q (message %q)", k, got[k], w, msg)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestMessageFields(t *testing.T) {
	tests := []struct {
		name string
		e    event.Event
		line string
	}{
		{"plain", testEvent(1), `{"a":1}`},
		{"escaped sd and utf-8 msg", event.Event{Seq: 2, Time: t0, MetricName: "account.login.failed", Level: "ERROR",
			Component: "w]ui", Host: "h", Process: "p", SessionID: "a\"b\\c]d"}, "CEF:0|x|y|ünï|1|n|5|msg=a\\=b"},
		{"defaults for empty header fields", event.Event{Seq: 3, Time: t0, MetricName: "m", Level: "DEBUG", Component: "c"}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Header{RFC: 5424, Facility: 16, AppName: "vigil", Hostname: "fallback"}
			msg := string(h.AppendMessage(nil, &tt.e, []byte(tt.line)))
			e := tt.e
			if e.Host == "" {
				e.Host = "fallback"
			}
			check5424(t, msg, e, tt.line, 16)
		})
	}
}

func TestHeaderFieldsSanitized(t *testing.T) {
	e := event.Event{Seq: 1, Time: t0, MetricName: strings.Repeat("very.long.metric ", 5), Level: "INFO",
		Component: "c\n1", Host: "bad host\x00", Process: "p p"}
	h := Header{RFC: 5424, Facility: 1, AppName: "a b"}
	m := parse5424(t, string(h.AppendMessage(nil, &e, []byte("x"))))
	if *m.Hostname != "bad_host_" || *m.Appname != "a_b" || *m.ProcID != "p_p" || len(*m.MsgID) != maxMsgID {
		t.Fatalf("header fields: %q %q %q %q", *m.Hostname, *m.Appname, *m.ProcID, *m.MsgID)
	}
	if got := (*m.StructuredData)[SDID]["component"]; got != `c\x0a1` {
		t.Fatalf("control character in sd value: %q", got)
	}
}

func TestRFC3164(t *testing.T) {
	e := testEvent(5)
	h := Header{RFC: 3164, Facility: 4, AppName: "vigil"}
	msg := h.AppendMessage(nil, &e, []byte("CEF:0|a|b|1|2|n|3|k=v"))
	m, err := rfc3164.NewParser(rfc3164.WithRFC3339()).Parse(msg)
	if err != nil {
		t.Fatalf("parse %q: %v", msg, err)
	}
	got := m.(*rfc3164.SyslogMessage)
	if *got.Priority != 4*8+4 || !got.Timestamp.Equal(e.Time) || *got.Hostname != e.Host ||
		*got.Appname != "vigil" || *got.ProcID != "vigild" || *got.Message != "CEF:0|a|b|1|2|n|3|k=v" {
		t.Fatalf("parsed %q as %+v", msg, got)
	}
}

func TestDatagramsNeverCutSilently(t *testing.T) {
	e := testEvent(7)
	h := Header{RFC: 5424, Facility: 16, AppName: "vigil"}
	long := []byte(strings.Repeat("é0123456789", 300)) // 3600 bytes, 2-byte runes
	tests := []struct {
		name  string
		split bool
		max   int
	}{
		{"truncate", false, 1024},
		{"split", true, 1024},
		{"split small", true, 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grams, ok := h.datagrams(&e, long, tt.max, tt.split)
			if !ok {
				t.Fatal("does not fit")
			}
			var joined []byte
			for i, g := range grams {
				if len(g) > tt.max {
					t.Fatalf("datagram %d: %d bytes > %d", i, len(g), tt.max)
				}
				m := parse5424(t, string(g))
				body := deref(m.Message)
				if tt.split {
					if want := fmt.Sprintf("%d/%d", i+1, len(grams)); (*m.StructuredData)[SDID]["part"] != want {
						t.Fatalf("part %q, want %s", (*m.StructuredData)[SDID]["part"], want)
					}
				}
				joined = append(joined, body...)
			}
			if tt.split {
				if !bytes.Equal(joined, long) {
					t.Fatal("parts do not join to the message")
				}
				return
			}
			marker := truncMarker(len(long))
			if len(grams) != 1 || !strings.HasSuffix(string(joined), marker) ||
				!bytes.HasPrefix(long, bytes.TrimSuffix(joined, []byte(marker))) {
				t.Fatalf("truncated datagram %q", joined)
			}
		})
	}
	short := []byte("fits")
	if grams, _ := h.datagrams(&e, short, 1024, true); len(grams) != 1 || !bytes.HasSuffix(grams[0], short) {
		t.Fatalf("short message: %q", grams)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []Config{
		{Address: "nohostport"},
		{Address: "127.0.0.1:1", Transport: "sctp"},
		{Address: "127.0.0.1:1", Framing: "crlf"},
		{Address: "127.0.0.1:1", Header: Header{RFC: 3339}},
		{Address: "127.0.0.1:1", Header: Header{Facility: 24}},
		{Address: "127.0.0.1:1", UDPMaxSize: 100},
		{Address: "127.0.0.1:1", UDPOversize: "drop"},
		{Address: "127.0.0.1:1", TLS: TLSConfig{CertFile: "c.pem"}},
	}
	for _, c := range tests {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: got %v, want ErrInvalidConfig", c, err)
		}
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestStreamConfirmsOnlyAfterSettle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	clock := &fakeClock{now: t0}
	w, err := New(Config{Address: l.Addr().String(), Settle: time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	evs := []event.Event{testEvent(1), testEvent(2)}
	if err := w.Write(context.Background(), evs, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	server := <-conns
	defer server.Close()
	// Acknowledged by the server's kernel, but not settled yet.
	sdktest.WaitFor(t, 5*time.Second, "send queue drained", func() bool {
		w.Progress()
		w.mu.Lock()
		defer w.mu.Unlock()
		return !w.pending[0].peerAck.IsZero()
	})
	if c, all, err := w.Progress(); c != 0 || all || err != nil {
		t.Fatalf("before settle: %d %v %v", c, all, err)
	}
	clock.Add(time.Second)
	if c, all, err := w.Progress(); c != 2 || !all || err != nil {
		t.Fatalf("after settle: %d %v %v", c, all, err)
	}

	// A batch whose connection dies before it settles is reported lost.
	if err := w.Write(context.Background(), []event.Event{testEvent(3)}, [][]byte{[]byte("c")}); err != nil {
		t.Fatal(err)
	}
	server.(*net.TCPConn).SetLinger(0)
	server.Close()
	sdktest.WaitFor(t, 5*time.Second, "connection loss noticed", func() bool {
		_, _, err := w.Progress()
		return errors.Is(err, ErrConnection)
	})
	if c, _, _ := w.Progress(); c != 2 {
		t.Fatalf("confirmed %d after loss, want 2", c)
	}
	// The next write reconnects.
	if err := w.Write(context.Background(), []event.Event{testEvent(3)}, [][]byte{[]byte("c")}); err != nil {
		t.Fatalf("write after reconnect: %v", err)
	}
	(<-conns).Close()
}

// sendAll writes evs through a writer of cfg and waits until the writer
// confirms them.
func sendAll(t *testing.T, cfg Config, evs []event.Event, lines [][]byte) {
	t.Helper()
	cfg.Settle = 10 * time.Millisecond
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < len(evs); i += 100 {
		j := min(i+100, len(evs))
		if err := w.Write(context.Background(), evs[i:j], lines[i:j]); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	sdktest.WaitFor(t, 10*time.Second, "delivery confirmed", func() bool {
		c, all, err := w.Progress()
		if err != nil {
			t.Fatal(err)
		}
		return all && c == evs[len(evs)-1].Seq
	})
}

func TestRsyslogReceivesEveryTransport(t *testing.T) {
	srv := rsyslogtest.Start(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"tcp octet counting", Config{Address: srv.TCPAddr, Transport: TCP, Framing: FramingOctet}},
		{"tcp lf framing", Config{Address: srv.TCPAddr, Transport: TCP, Framing: FramingLF}},
		{"udp", Config{Address: srv.UDPAddr, Transport: UDP}},
		{"tls with client certificate", Config{Address: srv.TLSAddr, Transport: TLS,
			TLS: TLSConfig{CAFile: srv.CAFile, CertFile: srv.ClientCert, KeyFile: srv.ClientKey, ServerName: "localhost"}}},
	}
	const n = 300
	sent := 0
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Header = Header{Facility: 16}
			var evs []event.Event
			var lines [][]byte
			for i := range n {
				e := testEvent(uint64(ti*n + i + 1))
				e.Component = tt.name
				evs = append(evs, e)
				lines = append(lines, fmt.Appendf(nil, `{"seq":%d,"msg":"x = \"y\" ] ü"}`, e.Seq))
			}
			sendAll(t, tt.cfg, evs, lines)
			sent += n
			got := srv.WaitLines(sent, 20*time.Second)
			var mine []string
			for _, l := range got {
				if strings.Contains(l, `component="`+tt.name+`"`) {
					mine = append(mine, l)
				}
			}
			if len(mine) != n {
				t.Fatalf("rsyslogd wrote %d of %d messages", len(mine), n)
			}
			for i, l := range mine {
				check5424(t, l, evs[i], string(lines[i]), 16)
			}
		})
	}
}

func TestRsyslogTLSRefusesWrongServerName(t *testing.T) {
	srv := rsyslogtest.Start(t)
	w, err := New(Config{Address: srv.TLSAddr, Transport: TLS,
		TLS: TLSConfig{CAFile: srv.CAFile, CertFile: srv.ClientCert, KeyFile: srv.ClientKey, ServerName: "not-the-server"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Write(context.Background(), []event.Event{testEvent(1)}, [][]byte{[]byte("x")})
	if !errors.Is(err, ErrConnection) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("write to a server with another name: %v", err)
	}
}

func TestRsyslogUDPOversize(t *testing.T) {
	srv := rsyslogtest.Start(t)
	long := []byte(strings.Repeat("0123456789", 400))
	tests := []struct {
		policy string
		parts  bool
	}{
		{OversizeTruncate, false},
		{OversizeSplit, true},
	}
	for i, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			e := testEvent(uint64(i + 1))
			e.Component = tt.policy
			cfg := Config{Address: srv.UDPAddr, Transport: UDP, UDPMaxSize: 1024, UDPOversize: tt.policy}
			sendAll(t, cfg, []event.Event{e}, [][]byte{long})
			var mine []string
			sdktest.WaitFor(t, 10*time.Second, "datagrams arrive", func() bool {
				mine = mine[:0]
				for _, l := range srv.Lines() {
					if strings.Contains(l, `component="`+tt.policy+`"`) {
						mine = append(mine, l)
					}
				}
				return len(mine) > 0 && (!tt.parts || len(mine) == 5)
			})
			var body string
			for _, l := range mine {
				if len(l) > 1024 {
					t.Fatalf("datagram of %d bytes", len(l))
				}
				body += deref(parse5424(t, l).Message)
			}
			if tt.parts && body != string(long) {
				t.Fatalf("split parts do not join up: %d bytes", len(body))
			}
			if !tt.parts && !strings.HasSuffix(body, truncMarker(len(long))) {
				t.Fatalf("truncated message has no marker: %q", body)
			}
		})
	}
}

func TestRsyslogReceivesRFC3164(t *testing.T) {
	srv := rsyslogtest.Start(t)
	e := testEvent(9)
	line := `CEF:0|Vigil|Vigil|1|session.create|Session created|3|suser=alice`
	sendAll(t, Config{Address: srv.TCPAddr, Framing: FramingLF, Header: Header{RFC: 3164, Facility: 10}},
		[]event.Event{e}, [][]byte{[]byte(line)})
	got := srv.WaitLines(1, 10*time.Second)
	m, err := rfc3164.NewParser(rfc3164.WithRFC3339()).Parse([]byte(got[0]))
	if err != nil {
		t.Fatalf("parse %q: %v", got[0], err)
	}
	p := m.(*rfc3164.SyslogMessage)
	if *p.Priority != 10*8+4 || !p.Timestamp.Equal(e.Time) || *p.Hostname != e.Host ||
		*p.Appname != "vigil" || *p.ProcID != e.Process || *p.Message != line {
		t.Fatalf("rsyslogd wrote %q", got[0])
	}
}
