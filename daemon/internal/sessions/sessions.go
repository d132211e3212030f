package sessions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned by Kill for an ID that is not live.
var ErrNotFound = errors.New("sessions: no such live session")

// Info describes a live session. It is fixed at registration.
type Info struct {
	ID       string
	Protocol string // ssh, vnc, rdp
	User     string // gateway user name
	Target   string // target name
	Client   string // client ip:port
	Start    time.Time
	// Recorded says whether the session is being recorded (its user's
	// groups say record_sessions=true).
	Recorded bool
}

// Session is a snapshot of a live session: its Info and the bytes relayed so
// far. BytesIn flows from the client to the target, BytesOut back.
type Session struct {
	Info
	BytesIn  int64
	BytesOut int64
}

// KillRequest says who asked for a kill and whether it was part of a
// kill-all, so the proxy can emit session.kill or session.kill_all.
type KillRequest struct {
	By  string
	All bool
}

// KillFunc ends a session: it must close both sides promptly (well within a
// second) and must not block on the session's own teardown, because the
// registry calls it synchronously from Kill and KillAll.
type KillFunc func(KillRequest)

// Registry is the set of live sessions. The zero value is not usable; call
// New. It is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	live  map[string]*Handle
	empty chan struct{} // closed while no session is live
}

// New returns an empty registry.
func New() *Registry {
	empty := make(chan struct{})
	close(empty)
	return &Registry{live: map[string]*Handle{}, empty: empty}
}

// Handle is a registered session's link to the registry.
type Handle struct {
	r        *Registry
	info     Info
	kill     KillFunc
	in, out  atomic.Int64
	killOnce sync.Once
	doneOnce sync.Once
}

// Register adds a live session. Session IDs are random and unique, so an
// empty or duplicate ID is a programming error and panics.
func (r *Registry) Register(info Info, kill KillFunc) *Handle {
	if info.ID == "" {
		panic("sessions: Register with an empty session ID")
	}
	if kill == nil {
		panic("sessions: Register without a kill function")
	}
	h := &Handle{r: r, info: info, kill: kill}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.live[info.ID]; dup {
		panic(fmt.Sprintf("sessions: duplicate session ID %q", info.ID))
	}
	if len(r.live) == 0 {
		r.empty = make(chan struct{})
	}
	r.live[info.ID] = h
	return h
}

// Info returns what the session was registered with.
func (h *Handle) Info() Info { return h.info }

// AddBytes counts bytes relayed: in from the client to the target, out from
// the target to the client. It is cheap enough to call per relayed chunk.
func (h *Handle) AddBytes(in, out int64) {
	if in != 0 {
		h.in.Add(in)
	}
	if out != 0 {
		h.out.Add(out)
	}
}

// Bytes returns the bytes counted so far.
func (h *Handle) Bytes() (in, out int64) { return h.in.Load(), h.out.Load() }

// Done removes the session from the registry. Calling it again does nothing.
func (h *Handle) Done() {
	h.doneOnce.Do(func() {
		r := h.r
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.live, h.info.ID)
		if len(r.live) == 0 {
			close(r.empty)
		}
	})
}

func (h *Handle) snapshot() Session {
	return Session{Info: h.info, BytesIn: h.in.Load(), BytesOut: h.out.Load()}
}

// requestKill calls the kill function once; later requests for the same
// session are absorbed, since the first one is already closing it.
func (h *Handle) requestKill(req KillRequest) {
	h.killOnce.Do(func() { h.kill(req) })
}

// List returns the live sessions, oldest first.
func (r *Registry) List() []Session {
	r.mu.Lock()
	out := make([]Session, 0, len(r.live))
	for _, h := range r.live {
		out = append(out, h.snapshot())
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns one live session.
func (r *Registry) Get(id string) (Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.live[id]
	if !ok {
		return Session{}, false
	}
	return h.snapshot(), true
}

// Count is the number of live sessions.
func (r *Registry) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// Kill asks the owning proxy to end session id on behalf of by (an
// administrator's name, "vigilctl", ...). The session leaves the registry
// when the proxy has torn it down, not when Kill returns.
func (r *Registry) Kill(id, by string) error {
	r.mu.Lock()
	h, ok := r.live[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	h.requestKill(KillRequest{By: by})
	return nil
}

// KillAll asks the owning proxies to end every live session of user, or
// every live session when user is empty, and returns how many it asked.
func (r *Registry) KillAll(user, by string) int {
	r.mu.Lock()
	var victims []*Handle
	for _, h := range r.live {
		if user == "" || h.info.User == user {
			victims = append(victims, h)
		}
	}
	r.mu.Unlock()
	for _, h := range victims {
		h.requestKill(KillRequest{By: by, All: true})
	}
	return len(victims)
}

// Drain waits until no session is live or ctx ends. It does not stop new
// registrations: the daemon closes its listeners first, then drains with a
// grace period, then kills what is left with KillAll.
func (r *Registry) Drain(ctx context.Context) error {
	for {
		r.mu.Lock()
		n, empty := len(r.live), r.empty
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-empty:
		case <-ctx.Done():
			return fmt.Errorf("sessions: drain: %d sessions still live: %w", r.Count(), ctx.Err())
		}
	}
}
