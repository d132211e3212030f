package vncproxy

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestRelayAndRecording: a session through the gateway to a scripted
// target relays both ways, narrows SetEncodings, and records what the
// recorder needs in the documented layout.
func TestRelayAndRecording(t *testing.T) {
	for _, recordInput := range []bool{false, true} {
		t.Run("record_input="+map[bool]string{false: "false", true: "true"}[recordInput], func(t *testing.T) {
			ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{Password: "tgt-pass"})
			g := newGateway(t, []Target{fakeTargetOf(ft, "desk")}, func(c *Config, _ *gateway) { c.RecordInput = recordInput })
			c := g.mustDial(t, "alice:desk")
			if c.Init.Width != 64 || c.Init.Height != 48 || c.Init.Name != "fake desktop [session recorded]" {
				t.Errorf("ServerInit %+v", c.Init)
			}
			c.SetEncodings(rfbwire.EncTight, 6 /* zlib */, rfbwire.EncZRLE, -312 /* fence */, rfbwire.EncRaw, rfbwire.EncCursor)
			c.Request(false, 0, 0, 64, 48)
			c.WaitUpdates(t, 1)
			c.Pointer(1, 10, 20)
			c.Key(true, 'x')
			// A pixel format change: the next update comes in 16 bits.
			pf16 := rfbwire.PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}
			c.SetPixelFormat(pf16)
			c.Request(false, 8, 8, 4, 4)
			c.WaitUpdates(t, 2)
			g.events.wait(t, "session.create")
			fc := ft.Conns()[0]
			sdktest.WaitFor(t, 10*time.Second, "the target to get the key event", func() bool {
				return slices.ContainsFunc(fc.Received(), func(m rfbwire.ClientMessage) bool { return m.Type == rfbwire.MsgKeyEvent })
			})
			if fc.Shared != 1 {
				t.Errorf("the gateway asked the target for shared flag %d, want 1", fc.Shared)
			}
			encs := fc.Encodings()
			if want := []int32{rfbwire.EncTight, rfbwire.EncZRLE, rfbwire.EncRaw, rfbwire.EncCursor}; !slices.Equal(encs, want) {
				t.Errorf("the target got encodings %v, want %v", encs, want)
			}
			c.Close()
			g.events.wait(t, "session.destroy")

			recs := g.rec.records(t, g.rec.only(t))
			metas := ofKind(recs, capture.Meta)
			var m capture.SessionMeta
			for _, p := range metas {
				if err := m.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			if m.Protocol != "vnc" || m.User != "alice" || m.Target != "desk" || m.PixelFormat != pf16.String() ||
				m.Extra["rfb_width"] != "64" || m.Extra["rfb_target_security"] != "vncauth" {
				t.Errorf("merged meta %+v", m)
			}
			// The server stream: ServerInit as the viewer got it, then the
			// updates; the 16-bit format is marked right before the
			// update that uses it.
			var server []byte
			markAt := -1
			for _, r := range recs {
				switch r.Kind {
				case capture.ScreenServer:
					server = append(server, r.Payload...)
				case capture.Meta:
					var mm capture.SessionMeta
					mm.Merge(r.Payload)
					if mm.PixelFormat == pf16.String() && mm.Extra == nil {
						markAt = len(server)
					}
				}
			}
			si := rfbwire.ServerInit{Width: 64, Height: 48, PixelFormat: vnctest.PFRGB888, Name: "fake desktop [session recorded]"}
			first := vnctest.RawUpdate(vnctest.PFRGB888, 0, 0, 64, 48, 0xff0000)
			second := vnctest.RawUpdate(pf16, 8, 8, 4, 4, 0x00ff00)
			if want := slices.Concat(si.Bytes(), first, second); !bytes.Equal(server, want) {
				t.Errorf("recorded server stream of %d bytes, want %d", len(server), len(want))
			}
			if want := len(si.Bytes()) + len(first); markAt != want {
				t.Errorf("pixel format marked at byte %d of the stream, want %d", markAt, want)
			}
			var types []byte
			for _, p := range ofKind(recs, capture.ScreenClient) {
				types = append(types, p[0])
			}
			want := []byte{rfbwire.MsgSetEncodings, rfbwire.MsgFramebufferUpdateRequest, rfbwire.MsgPointerEvent}
			if recordInput {
				want = append(want, rfbwire.MsgKeyEvent)
			}
			want = append(want, rfbwire.MsgSetPixelFormat, rfbwire.MsgFramebufferUpdateRequest)
			if !bytes.Equal(types, want) {
				t.Errorf("recorded client messages %v, want %v", types, want)
			}
			if got := ofKind(recs, capture.ScreenClient)[0]; !bytes.Equal(got, rfbwire.SetEncodings([]int32{rfbwire.EncTight, rfbwire.EncZRLE, rfbwire.EncRaw, rfbwire.EncCursor})) {
				t.Errorf("recorded SetEncodings %x, want the narrowed one", got)
			}
			sz, err := capture.DecodeResize(ofKind(recs, capture.Resize)[0])
			if err != nil || sz.Width != 64 || sz.Height != 48 {
				t.Errorf("resize %+v %v", sz, err)
			}

			create, destroy := g.events.named("session.create")[0], g.events.named("session.destroy")[0]
			for _, e := range []struct {
				name string
				got  any
				want any
			}{
				{"component", create.Component, "vnc"}, {"protocol", create.Protocol, "vnc"},
				{"user", create.UserName, "alice"}, {"target", create.TargetName, "desk"},
				{"recorded", create.Extra["recorded"], "true"}, {"destroy reason", destroy.Reason, "normal"},
				{"session ids", destroy.SessionID, create.SessionID},
				{"bytes out", destroy.Extra["bytes_out"] != "" && destroy.Extra["bytes_out"] != "0", true},
				{"login", g.events.named("account.login.successful")[0].Extra["method"], "vencrypt-x509plain"},
			} {
				if e.got != e.want {
					t.Errorf("%s: %v, want %v", e.name, e.got, e.want)
				}
			}
		})
	}
}

// TestLoginFailures: each failure is refused with a reason the viewer
// shows, and reported with the matching event.
func TestLoginFailures(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	other := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk"), fakeTargetOf(other, "other")})
	g.auth.users["bob"] = &fakeUser{user: User{Name: "bob"}, password: alicePassword, err: ErrLocked}
	g.auth.users["carol"] = &fakeUser{user: User{Name: "carol", RecordSessions: true}, password: alicePassword}
	g.targets.byUser["carol"] = []Target{fakeTargetOf(ft, "desk")}
	g.auth.users["dave"] = &fakeUser{user: User{Name: "dave", RecordSessions: true}, password: alicePassword}
	for _, c := range []struct {
		name, login, password string
		reason                string // in the refusal
		metric, eventReason   string
	}{
		{"unknown user", "mallory:desk", alicePassword, "authentication failed", "account.login.failed_unknown_user", "unknown_user"},
		{"bad password", "alice:desk", "guess", "authentication failed", "account.login.failed_invalid_password", "invalid_password"},
		{"locked", "bob", alicePassword, "authentication failed", "account.login.failed_locked", "locked"},
		{"control character", "alice\n:desk", alicePassword, "authentication failed", "account.login.failed_invalid_login_name", "invalid_login_name"},
		{"not permitted", "carol:other", alicePassword, `target "other" does not exist or is not available to you`, "admission.denied", "target_not_permitted"},
		{"several targets", "alice", alicePassword, "log in as USER:TARGET", "admission.denied", "target_not_chosen"},
		{"no targets", "dave", alicePassword, "no VNC targets", "admission.denied", "no_target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(g.events.named(c.metric))
			_, err := vnctest.Dial(g.addr, vnctest.LoginOpts{User: c.login, Password: c.password, Roots: g.roots})
			var re *rfbwire.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, c.reason) {
				t.Fatalf("login: %v, want a refusal saying %q", err, c.reason)
			}
			sdktest.WaitFor(t, 10*time.Second, c.metric, func() bool { return len(g.events.named(c.metric)) > before })
			if e := g.events.named(c.metric)[before]; e.Reason != c.eventReason || e.Component != "vnc" {
				t.Errorf("event %+v, want reason %s", e, c.eventReason)
			}
		})
	}
	if n := len(g.rec.all()); n != 0 {
		t.Errorf("%d captures opened for refused logins", n)
	}
	if n := len(g.events.named("session.create")); n != 0 {
		t.Errorf("%d sessions created", n)
	}
}

// TestOnlyTarget: without ":TARGET" the user's only target is used; the
// user name may itself contain ':'.
func TestOnlyTarget(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, nil)
	g.auth.users["ad:alice"] = &fakeUser{user: User{Name: "ad:alice"}, password: alicePassword}
	g.targets.byUser["ad:alice"] = []Target{fakeTargetOf(ft, "desk")}
	for _, login := range []string{"ad:alice:", "ad:alice:desk"} {
		c := g.mustDial(t, login)
		c.Request(false, 0, 0, 8, 8)
		c.WaitUpdates(t, 1)
		c.Close()
	}
	if n := len(g.rec.all()); n != 0 {
		t.Errorf("%d captures for an unrecorded user", n)
	}
	sdktest.WaitFor(t, 10*time.Second, "two sessions", func() bool { return len(g.events.named("session.destroy")) == 2 })
	if g.events.named("session.create")[0].Extra["recorded"] != "false" {
		t.Error("session.create does not say the session is unrecorded")
	}
}

// TestRecordingRequiredButImpossible: admission (low disk) and a capture
// that cannot be created refuse the session with a reason, before the
// target is contacted.
func TestRecordingRequiredButImpossible(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	for _, c := range []struct {
		name   string
		opt    func(*Config, *gateway)
		reason string
		event  string
	}{
		{"low disk", func(cfg *Config, _ *gateway) {
			adm, err := admission.New(admission.Config{SpoolDir: "/", MinFreeBytes: 1 << 62})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Admission = adm
		}, "disk space", admission.ReasonLowDiskSpace},
		{"capture fails", func(_ *Config, g *gateway) { g.rec.fail = errors.New("spool unwritable") },
			"the recording could not be started", "capture_failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t, []Target{fakeTargetOf(ft, "desk")}, c.opt)
			_, err := g.dial("alice:desk")
			var re *rfbwire.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, c.reason) {
				t.Fatalf("login: %v, want a refusal saying %q", err, c.reason)
			}
			if e := g.events.wait(t, "admission.denied"); e.Reason != c.event {
				t.Errorf("admission.denied reason %q, want %q", e.Reason, c.event)
			}
		})
	}
	if n := len(ft.Conns()); n != 0 {
		t.Errorf("the target was contacted %d times", n)
	}
}

// TestTargetFailures: a target that refuses the stored password, or that
// is down, refuses the session and reports target.connect.failed; the
// capture opened for it is sealed and verifies.
func TestTargetFailures(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{Password: "right"})
	wrong := fakeTargetOf(ft, "desk")
	wrong.Password = "wrong"
	down, err := vnctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		target Target
		reason string
	}{
		{"wrong stored password", wrong, "login_refused"},
		{"down", Target{ID: "down", Name: "desk", Host: "127.0.0.1", Port: down}, "connect_failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t, []Target{c.target})
			_, err := g.dial("alice:desk")
			var re *rfbwire.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, `could not connect to target "desk"`) {
				t.Fatalf("login: %v", err)
			}
			if e := g.events.wait(t, "target.connect.failed"); e.Reason != c.reason {
				t.Errorf("reason %q, want %q", e.Reason, c.reason)
			}
			recs := g.rec.records(t, g.rec.only(t))
			if len(ofKind(recs, capture.ScreenServer)) != 0 {
				t.Error("a session that never connected recorded screen data")
			}
		})
	}
}

// TestViewerHandshakes: viewers that cannot authenticate as themselves
// are refused with a reason (3.3 cannot carry one to 3.3 viewers, but
// it is sent anyway), and so are other VeNCrypt subtypes.
func TestViewerHandshakes(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")})
	for _, c := range []struct {
		name string
		o    vnctest.LoginOpts
		want string
	}{
		{"rfb 3.3", vnctest.LoginOpts{Version: "RFB 003.003\n"}, "RFB 3.3"},
		{"vncauth chosen", vnctest.LoginOpts{Security: rfbwire.SecVncAuth}, "only accepts VeNCrypt"},
		{"tls plain", vnctest.LoginOpts{Subtype: rfbwire.VeNCryptTLSPlain}, "subtype refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := vnctest.Dial(g.addr, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("login: %v, want an error naming %q", err, c.want)
			}
		})
	}
	// A 3.7 viewer logs in; its failures carry no reason (3.7 has none).
	c, err := vnctest.Dial(g.addr, vnctest.LoginOpts{Version: "RFB 003.007\n", User: "alice:desk", Password: alicePassword, Roots: g.roots})
	if err != nil {
		t.Fatalf("3.7 login: %v", err)
	}
	c.Request(false, 0, 0, 4, 4)
	c.WaitUpdates(t, 1)
	c.Close()
}

// TestKill: killing a live session through the registry closes both
// sides at once and reports session.kill and the destroy reason.
func TestKill(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")})
	c := g.mustDial(t, "alice:desk")
	c.Request(false, 0, 0, 8, 8)
	c.WaitUpdates(t, 1)
	g.events.wait(t, "session.create")
	live := g.reg.List()
	if len(live) != 1 || live[0].Protocol != "vnc" || live[0].User != "alice" || live[0].Target != "desk" {
		t.Fatalf("live sessions %+v", live)
	}
	start := time.Now()
	if err := g.reg.Kill(live[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("the viewer's connection is still open a second after the kill")
	}
	select {
	case <-ft.Conns()[0].Closed():
	case <-time.After(time.Second):
		t.Fatal("the target's connection is still open a second after the kill")
	}
	t.Logf("both sides closed %s after the kill", time.Since(start))
	if e := g.events.wait(t, "session.kill"); e.Extra["by"] != "admin" || e.SessionID != live[0].ID {
		t.Errorf("session.kill %+v", e)
	}
	if e := g.events.wait(t, "session.destroy"); e.Reason != "killed" {
		t.Errorf("destroy reason %q", e.Reason)
	}
	sdktest.WaitFor(t, 10*time.Second, "the registry to empty", func() bool { return g.reg.Count() == 0 })
	g.rec.records(t, g.rec.only(t))
}

// TestRecordingFailureEndsSession: once the capture cannot be written,
// the session ends: policy never allows unrecorded traffic.
func TestRecordingFailureEndsSession(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")}, func(_ *Config, g *gateway) { g.rec.failAfter = 5 })
	c := g.mustDial(t, "alice:desk")
	c.Follow()
	c.Request(false, 0, 0, 64, 48)
	if e := g.events.wait(t, "session.destroy"); e.Reason != "recording_failed" {
		t.Errorf("destroy reason %q", e.Reason)
	}
	<-c.Done()
}

// TestIdleTimeout: no input for IdleTimeout ends the session, even while
// the viewer keeps requesting updates.
func TestIdleTimeout(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")}, func(c *Config, _ *gateway) { c.IdleTimeout = 300 * time.Millisecond })
	c := g.mustDial(t, "alice:desk")
	c.Follow()
	c.Request(true, 0, 0, 8, 8)
	if e := g.events.wait(t, "session.destroy"); e.Reason != "idle_timeout" {
		t.Errorf("destroy reason %q", e.Reason)
	}
}

// TestShutdown: Close ends live sessions with server_shutdown.
func TestShutdown(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")})
	c := g.mustDial(t, "alice:desk")
	c.Request(false, 0, 0, 8, 8)
	c.WaitUpdates(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a live session: %v", err)
	}
	if e := g.events.wait(t, "session.destroy"); e.Reason != "server_shutdown" {
		t.Errorf("destroy reason %q", e.Reason)
	}
	if _, err := g.dial("alice:desk"); err == nil {
		t.Error("a login after shutdown succeeded")
	}
}

// TestClientProtocolError: a viewer sending a message type RFB does not
// have is cut off.
func TestClientProtocolError(t *testing.T) {
	ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{})
	g := newGateway(t, []Target{fakeTargetOf(ft, "desk")})
	c := g.mustDial(t, "alice:desk")
	c.Send([]byte{99, 0, 0, 0})
	if e := g.events.wait(t, "session.destroy"); e.Reason != "client_protocol_error" {
		t.Errorf("destroy reason %q", e.Reason)
	}
}

func TestConfigChecks(t *testing.T) {
	full := func() Config {
		return Config{Certificate: tlsCert(t), Authenticator: &fakeAuth{}, Targets: &fakeTargets{}, Recorder: newFileRecorder(t),
			Admission: &admission.Controller{}, Events: &fakeEvents{}, Sessions: sessions.New()}
	}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no registry", func(c *Config) { c.Sessions = nil }, "missing dependencies [Sessions]"},
		{"no certificate", func(c *Config) { c.Certificate = nil }, "TLSCertFile"},
		{"negative idle", func(c *Config) { c.IdleTimeout = -time.Second }, "IdleTimeout"},
	} {
		cfg := full()
		c.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "vncproxy: ") {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}

func TestLoadOrCreateCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := dir+"/c.pem", dir+"/k.pem"
	c1, created, err := LoadOrCreateCertificate(cert, key, []string{"127.0.0.1", "gw.example"})
	if err != nil || !created {
		t.Fatalf("first start: %v, created %v", err, created)
	}
	c2, created, err := LoadOrCreateCertificate(cert, key, nil)
	if err != nil || created || !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatalf("second start: %v, created %v, same %v", err, created, bytes.Equal(c1.Certificate[0], c2.Certificate[0]))
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil || !leaf.IsCA || leaf.VerifyHostname("gw.example") != nil || leaf.VerifyHostname("127.0.0.1") != nil {
		t.Errorf("certificate: %v, CA %v", err, leaf != nil && leaf.IsCA)
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCertificate(cert, key, nil); err == nil {
		t.Error("half a pair was accepted or replaced")
	}
}

func TestDefaultHostsNamesEachOnce(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:5900", "0.0.0.0:5900", "10.1.2.3:5900"} {
		hosts := defaultHosts(listen)
		seen := map[string]bool{}
		for _, h := range hosts {
			if seen[h] {
				t.Errorf("defaultHosts(%q) = %q: %q twice", listen, hosts, h)
			}
			seen[h] = true
		}
		if !seen["localhost"] || !seen["127.0.0.1"] {
			t.Errorf("defaultHosts(%q) = %q: want localhost and 127.0.0.1", listen, hosts)
		}
	}
	if hosts := defaultHosts("10.1.2.3:5900"); !slices.Contains(hosts, "10.1.2.3") {
		t.Errorf("defaultHosts = %q: want the listen address", hosts)
	}
}
