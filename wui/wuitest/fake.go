package wuitest

import (
	"sync"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

// Lockout policy of the fake: MaxFailures wrong passwords in a row lock an
// account for LockDuration.
const (
	MaxFailures  = 5
	LockDuration = 15 * time.Minute
)

// Fake is the in-memory backend. Its methods are safe for concurrent use.
type Fake struct {
	now func() time.Time

	mu         sync.Mutex
	nextID     int64
	users      map[int64]*fakeUser
	groups     map[int64]*wui.Group
	targets    map[int64]*fakeTarget
	sessions   []*fakeSession // newest first
	byID       map[string]*fakeSession
	live       []wui.LiveSession
	events     []event.Event
	seq        uint64
	settings   []wui.Setting
	secrets    map[string]string
	started    time.Time
	publishErr error
	openClips  int
}

type fakeUser struct {
	wui.User
	password string
}

type fakeTarget struct {
	wui.Target
	secret string
}

type fakeSession struct {
	wui.SessionSummary
	clips      []wui.Clip
	media      map[int][]byte // segment -> media bytes
	thumbs     map[int][]byte
	transcript []transcriptLine
}

type transcriptLine struct {
	segment  int
	offsetMS int64
	text     string
}

// Options tune New.
type Options struct {
	// Now is the clock; default time.Now. Seeded data is placed relative
	// to it.
	Now func() time.Time
	// Sessions is how many past sessions to seed (default 120).
	Sessions int
	// Empty seeds nothing but what a test adds.
	Empty bool
}

// New returns a seeded fake backend.
func New(opts Options) *Fake {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sessions == 0 {
		opts.Sessions = 120
	}
	f := &Fake{
		now: opts.Now, users: map[int64]*fakeUser{}, groups: map[int64]*wui.Group{}, targets: map[int64]*fakeTarget{},
		byID: map[string]*fakeSession{}, secrets: map[string]string{}, started: opts.Now().Add(-(3*24*time.Hour + 5*time.Hour + 17*time.Minute)),
	}
	f.seedSettings()
	if !opts.Empty {
		f.seed(opts.Sessions)
	}
	return f
}

// Backend returns the fake as a wui.Backend.
func (f *Fake) Backend() wui.Backend {
	return wui.Backend{
		Auth: f, Users: f, Groups: f, Targets: f, Sessions: f, Recordings: f, Live: f,
		Events: f, Reports: f, Settings: f, Status: f,
	}
}

// Compile-time checks that the fake implements every interface.
var (
	_ wui.Auth         = (*Fake)(nil)
	_ wui.Users        = (*Fake)(nil)
	_ wui.Groups       = (*Fake)(nil)
	_ wui.Targets      = (*Fake)(nil)
	_ wui.Sessions     = (*Fake)(nil)
	_ wui.Recordings   = (*Fake)(nil)
	_ wui.LiveSessions = (*Fake)(nil)
	_ wui.Events       = (*Fake)(nil)
	_ wui.Reports      = (*Fake)(nil)
	_ wui.Settings     = (*Fake)(nil)
	_ wui.Status       = (*Fake)(nil)
)

func (f *Fake) id() int64 {
	f.nextID++
	return f.nextID
}
