package wui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// login is one server-side login session. The browser holds only its
// random token; the table is keyed by the token's SHA-256, so the table
// itself holds nothing a cookie could be made from.
type login struct {
	key     string
	userID  int64
	name    string
	csrf    string
	created time.Time

	mu       sync.Mutex
	lastSeen time.Time
	plays    map[string]time.Time // clip -> when its play was logged
}

// playDedupWindow: repeated fetches of one clip by one login within it
// (range requests while seeking, replays) are one play in the audit log.
const playDedupWindow = 10 * time.Minute

// firstPlay reports whether a play of clip at now should be logged, and
// remembers it.
func (l *login) firstPlay(clip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.plays[clip]; ok && now.Sub(t) < playDedupWindow {
		return false
	}
	if l.plays == nil {
		l.plays = map[string]time.Time{}
	}
	l.plays[clip] = now
	return true
}

// loginStore is the table of login sessions, with idle and absolute
// timeouts and a bound on its size.
type loginStore struct {
	idle, absolute time.Duration
	max            int
	now            func() time.Time

	mu        sync.Mutex
	byKey     map[string]*login
	lastSweep time.Time

	file   string // LoginsFile; "" keeps the table in memory only
	log    *slog.Logger
	saveMu sync.Mutex // one write of file at a time
}

func newLoginStore(cfg Config) *loginStore {
	s := &loginStore{
		idle: cfg.IdleTimeout, absolute: cfg.AbsoluteTimeout, max: cfg.MaxLoginSessions,
		now: cfg.Now, byKey: map[string]*login{}, file: cfg.LoginsFile, log: cfg.Logger,
	}
	s.load()
	return s
}

// savedLogin is one login session in LoginsFile.
type savedLogin struct {
	Key      string    `json:"key"` // SHA-256 of the token
	UserID   int64     `json:"user_id"`
	Name     string    `json:"name"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// load reads the sessions saved in the file, dropping expired ones. A
// file that cannot be read logs everyone out (and says why): the users
// log in again, nobody gets in without a password.
func (s *loginStore) load() {
	if s.file == "" {
		return
	}
	b, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var saved []savedLogin
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil {
		s.log.Warn("wui: login sessions not restored; everyone logs in again", "file", s.file, "error", err)
		return
	}
	now := s.now()
	for _, v := range saved {
		l := &login{key: v.Key, userID: v.UserID, name: v.Name, csrf: v.CSRF, created: v.Created, lastSeen: v.LastSeen}
		if len(v.Key) == sha256.Size*2 && v.CSRF != "" && !s.expired(l, now) {
			s.byKey[l.key] = l
		}
	}
}

// save writes the table to the file, if there is one.
func (s *loginStore) save() {
	if s.file == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	saved := make([]savedLogin, 0, len(s.byKey))
	for _, l := range s.byKey {
		l.mu.Lock()
		saved = append(saved, savedLogin{Key: l.key, UserID: l.userID, Name: l.name, CSRF: l.csrf, Created: l.created, LastSeen: l.lastSeen})
		l.mu.Unlock()
	}
	s.mu.Unlock()
	b, err := json.Marshal(saved)
	if err == nil {
		err = writeFile0600(s.file, b)
	}
	if err != nil {
		s.log.Error("wui: saving login sessions", "file", s.file, "error", err)
	}
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// create starts a login session and returns it with the token for the
// cookie.
func (s *loginStore) create(userID int64, name string) (*login, string) {
	token := randomToken()
	now := s.now()
	l := &login{key: tokenKey(token), userID: userID, name: name, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	s.sweepLocked(now)
	if len(s.byKey) >= s.max {
		s.dropOldestLocked()
	}
	s.byKey[l.key] = l
	s.mu.Unlock()
	s.save()
	return l, token
}

// get returns the live session of token and marks it used, or nil.
func (s *loginStore) get(token string) *login {
	if token == "" {
		return nil
	}
	key := tokenKey(token)
	now := s.now()
	s.mu.Lock()
	l := s.byKey[key]
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	if s.expired(l, now) {
		s.delete(l.key)
		return nil
	}
	l.mu.Lock()
	l.lastSeen = now
	l.mu.Unlock()
	return l
}

func (s *loginStore) expired(l *login, now time.Time) bool {
	l.mu.Lock()
	last := l.lastSeen
	l.mu.Unlock()
	return now.Sub(last) >= s.idle || now.Sub(l.created) >= s.absolute
}

func (s *loginStore) delete(key string) {
	s.mu.Lock()
	_, ok := s.byKey[key]
	delete(s.byKey, key)
	s.mu.Unlock()
	if ok {
		s.save()
	}
}

// deleteUser ends every session of a user (used when the backend says the
// account is gone or disabled).
func (s *loginStore) deleteUser(userID int64) {
	s.mu.Lock()
	n := len(s.byKey)
	for k, l := range s.byKey {
		if l.userID == userID {
			delete(s.byKey, k)
		}
	}
	changed := len(s.byKey) != n
	s.mu.Unlock()
	if changed {
		s.save()
	}
}

func (s *loginStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// sweepLocked drops expired sessions, at most once a minute.
func (s *loginStore) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for k, l := range s.byKey {
		if s.expired(l, now) {
			delete(s.byKey, k)
		}
	}
}

func (s *loginStore) dropOldestLocked() {
	var oldest *login
	for _, l := range s.byKey {
		if oldest == nil || l.created.Before(oldest.created) {
			oldest = l
		}
	}
	if oldest != nil {
		delete(s.byKey, oldest.key)
	}
}
