package wuitest

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

var (
	//go:embed testdata/clip.mp4
	clipMP4 []byte
	//go:embed testdata/thumb.png
	thumbPNG []byte
)

// Seeded accounts. AdminPassword logs in as "admin", who holds every
// permission; XSSUser is a user whose name is markup, to prove it renders
// inert.
const (
	AdminName     = "admin"
	AdminPassword = "vigil-admin-pw"
	XSSUser       = `<script>alert("pwned")</script>`
)

func (f *Fake) seed(sessions int) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := f.now()
	group := func(name string, record bool, perms ...wui.Permission) int64 {
		g := &wui.Group{ID: f.id(), Name: name, Permissions: perms, RecordSessions: record}
		f.groups[g.ID] = g
		return g.ID
	}
	admins := group("administrators", true, wui.AllPermissions()...)
	auditors := group("auditors", true, wui.PermSessionsView, wui.PermSessionRecordingsView, wui.PermLogsView, wui.PermReportsView)
	operators := group("operators", true, wui.PermSessionsView, wui.PermSessionsKill, wui.PermLogsView)
	contractors := group("contractors", true)
	dba := group("dba-team", true)
	trusted := group("break-glass", false)

	user := func(name, password string, groups ...int64) *fakeUser {
		u := &fakeUser{User: wui.User{ID: f.id(), Name: name, HasPassword: true, Created: now.Add(-90 * 24 * time.Hour), Groups: groups}, password: password}
		f.users[u.ID] = u
		return u
	}
	user(AdminName, AdminPassword, admins).LastLogin = now.Add(-2 * time.Hour)
	user("auditor", "auditor-pw-123", auditors).LastLogin = now.Add(-26 * time.Hour)
	user("ops.oncall", "ops-pw-12345", operators).LastLogin = now.Add(-5 * time.Hour)
	user("alice", "alice-pw-123", contractors, dba).LastLogin = now.Add(-40 * time.Minute)
	user("bob", "bob-pw-12345", contractors).LastLogin = now.Add(-3 * time.Hour)
	user("carol", "carol-pw-123", dba).LastLogin = now.Add(-30 * time.Hour)
	user("dave", "dave-pw-1234", contractors).Disabled = true
	eve := user("eve", "eve-pw-12345", contractors)
	eve.LockedUntil, eve.FailedLogins = now.Add(11*time.Minute), 0
	user("root-emergency", "break-glass-pw", trusted)
	user(XSSUser, "xss-pw-12345", contractors)
	f.countMembers()

	target := func(name, friendly, proto, host string, port int, login, kind string, groups ...int64) {
		t := &fakeTarget{Target: wui.Target{ID: f.id(), Name: name, FriendlyName: friendly, Protocol: proto, Host: host, Port: port,
			Username: login, CredentialKind: kind, Groups: groups}, secret: "seeded-secret"}
		f.targets[t.ID] = t
	}
	target("db1", "Orders database", "ssh", "10.0.3.11", 0, "postgres", "private_key", dba, admins)
	target("web01", "Shop web server", "ssh", "web01.internal", 22, "deploy", "password", contractors, admins)
	target("build-box", "CI build host", "ssh", "10.0.5.40", 2222, "ci", "", contractors)
	target("win-jump", "Windows jump host", "rdp", "10.0.4.20", 0, "Administrator", "password", admins)
	target("hmi-panel", "Plant HMI panel", "vnc", "10.0.7.3", 5901, "", "password", contractors, admins)

	f.seedSessions(rng, sessions, now)
	f.seedLive(now)
	f.seedEvents(rng, now)
}

type seedUser struct{ name, target, friendly, proto, host string }

var sessionMix = []seedUser{
	{"alice", "db1", "Orders database", "ssh", "db1"},
	{"carol", "db1", "Orders database", "ssh", "db1"},
	{"bob", "web01", "Shop web server", "ssh", "web01"},
	{"alice", "web01", "Shop web server", "ssh", "web01"},
	{"bob", "build-box", "CI build host", "ssh", "build-box"},
	{"admin", "win-jump", "Windows jump host", "rdp", "win-jump"},
	{"bob", "hmi-panel", "Plant HMI panel", "vnc", "hmi-panel"},
	{XSSUser, "web01", "Shop web server", "ssh", "web01"},
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// sessionID makes a ULID-like id: time-ordered, 26 characters.
func sessionID(rng *rand.Rand, t time.Time) string {
	ms := uint64(t.UnixMilli())
	b := make([]byte, 26)
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 10; i < 26; i++ {
		b[i] = crockford[rng.IntN(32)]
	}
	return string(b)
}

func (f *Fake) seedSessions(rng *rand.Rand, n int, now time.Time) {
	t := now.Add(-25 * time.Minute)
	for i := 0; i < n; i++ {
		mix := sessionMix[rng.IntN(len(sessionMix))]
		if i == 0 {
			mix = sessionMix[0] // the newest: a terminal session of alice on db1
		}
		if i == 1 {
			mix = sessionMix[6] // then a screen session
		}
		dur := time.Duration(2+rng.IntN(80))*time.Minute + time.Duration(rng.IntN(60))*time.Second
		s := &fakeSession{SessionSummary: wui.SessionSummary{
			ID: sessionID(rng, t), UserName: mix.name, TargetName: mix.target, TargetFriendlyName: mix.friendly,
			Protocol: mix.proto, ClientIP: fmt.Sprintf("192.0.2.%d", 10+rng.IntN(200)), StartedAt: t, EndedAt: t.Add(dur),
			State: "ended", BytesIn: int64(2_000 + rng.IntN(400_000)), BytesOut: int64(20_000 + rng.IntN(9_000_000)),
			Recorded: true, RecordingState: "uploaded", SignatureState: "verified",
		}, media: map[int][]byte{}, thumbs: map[int][]byte{}}
		if mix.proto != "ssh" {
			s.BytesOut *= 40
		}
		switch {
		case i == 2:
			s.RecordingState, s.SignatureState = "encoding", "unknown"
		case i == 7:
			s.RecordingState = "failed"
		case i == 11:
			s.State = "killed"
		case i == 15:
			s.Recorded, s.RecordingState, s.SignatureState = false, "none", "unknown"
			s.UserName = "root-emergency"
		case i == 23:
			s.SignatureState = "invalid"
		case i == 31:
			s.State, s.RecordingState, s.SignatureState, s.EndedAt = "refused", "none", "unknown", t
			s.Recorded, s.BytesIn, s.BytesOut = false, 0, 0
		}
		if s.Recorded && s.RecordingState != "failed" {
			segments := 1
			if dur > 45*time.Minute {
				segments = 2
			}
			for seg := 1; seg <= segments; seg++ {
				f.addClip(rng, s, seg, mix)
			}
		}
		f.sessions = append(f.sessions, s)
		f.byID[s.ID] = s
		t = t.Add(-time.Duration(20+rng.IntN(100)) * time.Minute)
	}
}

func (f *Fake) addClip(rng *rand.Rand, s *fakeSession, seg int, mix seedUser) {
	loc := fmt.Sprintf("s3://recordings@s3.example.net/vigil/%s/%s/%s.%d", mix.name, s.StartedAt.UTC().Format("2006-01-02"), s.ID, seg)
	if mix.proto == "ssh" {
		cast, lines, ms := makeCast(rng, mix.name, mix.host, s.StartedAt, seg)
		thumbs := terminalThumbs()
		thumb := thumbs[rng.IntN(len(thumbs))]
		s.media[seg], s.thumbs[seg] = cast, thumb
		s.transcript = append(s.transcript, lines...)
		s.clips = append(s.clips, wui.Clip{Segment: seg, Role: wui.RoleCast, Size: int64(len(cast)), DurationMS: ms,
			Location: loc + ".cast", ThumbnailSize: int64(len(thumb)), ThumbnailType: "image/png"})
		return
	}
	s.media[seg], s.thumbs[seg] = clipMP4, thumbPNG
	s.clips = append(s.clips, wui.Clip{Segment: seg, Role: wui.RoleVideo, Size: int64(len(clipMP4)), DurationMS: 6000,
		Location: loc + ".mp4", ThumbnailSize: int64(len(thumbPNG)), ThumbnailType: "image/png"})
}

func (f *Fake) seedLive(now time.Time) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i, m := range []seedUser{sessionMix[0], sessionMix[2], sessionMix[6], sessionMix[5], sessionMix[3]} {
		start := now.Add(-time.Duration(3+i*17) * time.Minute)
		f.live = append(f.live, wui.LiveSession{ID: sessionID(rng, start), UserName: m.name, TargetName: m.target, Protocol: m.proto,
			ClientIP: fmt.Sprintf("192.0.2.%d", 20+i*7), StartedAt: start, BytesIn: int64(1_000 + i*23_000), BytesOut: int64(40_000 + i*900_000)})
	}
}

// seedEvents fills two days of events, oldest first, as the components
// would have emitted them.
func (f *Fake) seedEvents(rng *rand.Rand, now time.Time) {
	var evs []event.Event
	add := func(t time.Time, metric, level, component, msg, userName string) *event.Event {
		evs = append(evs, event.Event{Time: t.UTC(), MetricName: metric, Level: level, Component: component, Message: msg,
			Process: "vigild", Host: "vigil-gw1", UserName: userName, RequestIP: fmt.Sprintf("192.0.2.%d", 10+rng.IntN(200))})
		return &evs[len(evs)-1]
	}
	for _, s := range f.sessions {
		if now.Sub(s.StartedAt) > 48*time.Hour {
			break
		}
		comp := s.Protocol
		add(s.StartedAt.Add(-2*time.Second), "account.login.successful", event.LevelInfo, comp, fmt.Sprintf("User %s logged in with a password", s.UserName), s.UserName)
		e := add(s.StartedAt, "session.create", event.LevelInfo, comp, fmt.Sprintf("Session %s created for %s to %s", s.ID, s.UserName, s.TargetName), s.UserName)
		e.SessionID, e.TargetName, e.Protocol = s.ID, s.TargetName, s.Protocol
		if s.State == "refused" {
			e := add(s.StartedAt, "session.refused", event.LevelWarning, "core", fmt.Sprintf("Session of %s to %s refused: spool free space below min_free_bytes", s.UserName, s.TargetName), s.UserName)
			e.Reason = "recording cannot start"
			continue
		}
		e = add(s.EndedAt, "session.destroy", event.LevelInfo, comp, fmt.Sprintf("Session %s destroyed after %s", s.ID, s.EndedAt.Sub(s.StartedAt).Round(time.Second)), s.UserName)
		e.SessionID = s.ID
		if s.Recorded {
			e = add(s.EndedAt.Add(40*time.Second), "recording.encode", event.LevelInfo, "pipeline", fmt.Sprintf("Recording of session %s encoded", s.ID), s.UserName)
			e.SessionID = s.ID
			if s.RecordingState == "failed" {
				e = add(s.EndedAt.Add(90*time.Second), "recording.upload", event.LevelError, "pipeline", fmt.Sprintf("Upload of session %s failed: storage plugin: connection refused; will retry", s.ID), s.UserName)
			} else {
				e = add(s.EndedAt.Add(70*time.Second), "recording.upload", event.LevelInfo, "pipeline", fmt.Sprintf("Recording of session %s uploaded", s.ID), s.UserName)
			}
			e.SessionID = s.ID
		}
	}
	for i := 0; i < 48*4; i++ {
		t := now.Add(-time.Duration(i) * 15 * time.Minute)
		add(t, "scaling.status.resources", event.LevelDebug, "core", fmt.Sprintf("Resources: spool free %d GiB, encode slots %d/4", 100+rng.IntN(20), rng.IntN(5)), "")
	}
	for i := 0; i < 9; i++ {
		t := now.Add(-time.Duration(rng.IntN(47*60)) * time.Minute)
		e := add(t, "account.login.failed_invalid_password", event.LevelWarning, "ssh", "Login failed for user bob: invalid password", "bob")
		e.Reason = "invalid password"
	}
	e := add(now.Add(-3*time.Hour), "plugin.restart", event.LevelWarning, "plugins", "Plugin vigil-plugin-storage-s3 exited (status 2); restarting in 4s", "")
	e.Process = "vigil-plugin-storage-s3"
	add(now.Add(-50*time.Minute), "account.locked", event.LevelWarning, "wui", "User eve locked out after repeated failed logins", "eve")
	if len(f.sessions) > 3 && len(f.sessions[3].clips) > 0 {
		s := f.sessions[3]
		e := add(now.Add(-8*time.Minute), "recording.play", event.LevelInfo, "wui", "User auditor played "+s.ID+" video: "+s.clips[0].Location, "auditor")
		e.SessionID = s.ID
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	for _, ev := range evs {
		f.appendEventLocked(ev)
	}
}
