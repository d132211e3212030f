package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/passwd"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"alice@example.com", true},
		{"Jürgen Müller", true},
		{"山田太郎", true},
		{"dom\\user", true},
		{"a:b", true},
		{"", false},
		{strings.Repeat("a", MaxNameLength+1), false},
		{"bad\nname", false},
		{"tab\tname", false},
		{"nul\x00", false},
		{"esc\x1b[31m", false},
		{"c1\u0085", false},
		{"rtl\u202eevil", false},
		{"zero\u200bwidth", false},
		{"line\u2028sep", false},
		{" leading", false},
		{"trailing ", false},
		{"\xff\xfe", false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, not ErrInvalid", tt.name, err)
		}
	}
}

func TestUserCRUD(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	u, err := s.CreateUser(ctx, "alice", "secret-1")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Name != "alice" || !u.HasPassword || !u.Created.Equal(clk.Now()) || u.Disabled {
		t.Fatalf("created %+v", u)
	}
	if _, err := s.CreateUser(ctx, "alice", "x"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := s.CreateUser(ctx, "Alice", ""); err != nil {
		t.Errorf("names are case-sensitive, Alice: %v", err)
	}
	if _, err := s.CreateUser(ctx, "bad\nname", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
	keyOnly := must[User](t)(s.CreateUser(ctx, "bob", ""))
	if keyOnly.HasPassword {
		t.Error("key-only user has a password")
	}
	if g := must[User](t)(s.GetUser(ctx, u.ID)); g != u {
		t.Errorf("GetUser = %+v, want %+v", g, u)
	}
	if g := must[User](t)(s.GetUserByName(ctx, "alice")); g != u {
		t.Errorf("GetUserByName = %+v", g)
	}
	if _, err := s.GetUser(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser(999): %v", err)
	}
	if _, err := s.GetUserByName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUserByName(nobody): %v", err)
	}
	us := must[[]User](t)(s.ListUsers(ctx))
	if len(us) != 3 || us[0].Name != "Alice" || us[1].Name != "alice" || us[2].Name != "bob" {
		t.Errorf("ListUsers = %+v", us)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if !must[User](t)(s.GetUser(ctx, u.ID)).Disabled {
		t.Error("not disabled")
	}
	if err := s.SetPassword(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(999): %v", err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "$1$md5crypt"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPasswordHash(md5crypt): %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	alice := must[User](t)(s.CreateUser(ctx, "alice", "argon-pw"))
	bob := must[User](t)(s.CreateUser(ctx, "bob", ""))
	bh, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, bob.ID, "$2y$"+string(bh[4:])); err != nil {
		t.Fatal(err)
	}
	carol := must[User](t)(s.CreateUser(ctx, "carol", ""))
	dave := must[User](t)(s.CreateUser(ctx, "dave", "dave-pw"))
	if err := s.SetUserDisabled(ctx, dave.ID, true); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, user, pw string
		err            error
	}{
		{"argon2id ok", "alice", "argon-pw", nil},
		{"argon2id wrong", "alice", "argon-PW", ErrWrongPassword},
		{"bcrypt ok", "bob", "bcrypt-pw", nil},
		{"unknown user", "mallory", "x", ErrUnknownUser},
		{"no password set", "carol", "", ErrNoPassword},
		{"disabled", "dave", "dave-pw", ErrUserDisabled},
		{"disabled wrong pw", "dave", "nope", ErrWrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.user, tt.pw)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.err)
			}
			if errors.Is(tt.err, ErrBadCredentials) != errors.Is(err, ErrBadCredentials) {
				t.Errorf("%v: ErrBadCredentials mismatch", err)
			}
			if err == nil && (u.Name != tt.user || !u.LastLogin.Equal(clk.Now())) {
				t.Errorf("user = %+v", u)
			}
		})
	}

	// The bcrypt hash was replaced by argon2id on success and still works.
	var h string
	s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, bob.ID).Scan(&h)
	if !strings.HasPrefix(h, "$argon2id$") || passwd.NeedsRehash(h) {
		t.Errorf("bcrypt hash not rehashed: %q", h)
	}
	if _, err := s.Authenticate(ctx, "bob", "bcrypt-pw"); err != nil {
		t.Errorf("after rehash: %v", err)
	}
	// A failed login counts, a successful one resets the count.
	if u := must[User](t)(s.GetUser(ctx, alice.ID)); u.FailedLogins != 1 {
		t.Errorf("alice FailedLogins = %d after one failure", u.FailedLogins)
	}
	if u, err := s.Authenticate(ctx, "alice", "argon-pw"); err != nil || u.FailedLogins != 0 {
		t.Errorf("alice after success: %+v, %v", u, err)
	}
	if u := must[User](t)(s.GetUser(ctx, carol.ID)); u.FailedLogins != 1 {
		t.Errorf("carol FailedLogins = %d, want 1", u.FailedLogins)
	}
}

func TestLockout(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	u := must[User](t)(s.CreateUser(ctx, "alice", "right"))
	for i := 1; i < 5; i++ {
		if _, err := s.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if got := must[User](t)(s.GetUser(ctx, u.ID)); got.FailedLogins != i || got.Locked(clk.Now()) {
			t.Fatalf("after %d failures: %+v", i, got)
		}
	}
	// The fifth failure locks for 15 minutes and restarts the count.
	got, err := s.Authenticate(ctx, "alice", "wrong")
	if !errors.Is(err, ErrWrongPassword) || !got.Locked(clk.Now()) || got.FailedLogins != 0 ||
		!got.LockedUntil.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("fifth failure: %+v, %v", got, err)
	}
	// Locked: even the right password is refused, without counting.
	if _, err := s.Authenticate(ctx, "alice", "right"); !errors.Is(err, ErrUserLocked) {
		t.Fatalf("while locked: %v", err)
	}
	clk.Add(15 * time.Minute)
	if _, err := s.Authenticate(ctx, "alice", "right"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	got = must[User](t)(s.GetUser(ctx, u.ID))
	if got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("success did not reset: %+v", got)
	}

	// Concurrent failures each count once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RecordLoginFailure(ctx, u.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := must[User](t)(s.GetUser(ctx, u.ID)); got.FailedLogins != 4 {
		t.Errorf("FailedLogins = %d after 4 concurrent failures", got.FailedLogins)
	}
	if err := s.UnlockUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordLoginFailure(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordLoginFailure(999): %v", err)
	}
	if err := s.RecordLoginSuccess(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordLoginSuccess(999): %v", err)
	}
}

func TestLockoutDisabled(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, err := Open(ctx, t.TempDir()+"/v.db", Options{Now: c.Now, Lockout: LockoutPolicy{MaxFailures: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := must[User](t)(s.CreateUser(ctx, "alice", ""))
	for range 10 {
		u = must[User](t)(s.RecordLoginFailure(ctx, u.ID))
	}
	if u.Locked(c.Now()) || u.FailedLogins != 10 {
		t.Errorf("with MaxFailures -1: %+v", u)
	}
}

func newSSHKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func TestUserKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	alice := must[User](t)(s.CreateUser(ctx, "alice", ""))
	bob := must[User](t)(s.CreateUser(ctx, "bob", ""))
	pk := newSSHKey(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " alice@laptop\n"

	k, err := s.AddUserKey(ctx, alice.ID, line)
	if err != nil {
		t.Fatal(err)
	}
	if k.Fingerprint != ssh.FingerprintSHA256(pk) || !strings.HasPrefix(k.Fingerprint, "SHA256:") ||
		k.Comment != "alice@laptop" || strings.Contains(k.PublicKey, "laptop") {
		t.Errorf("key = %+v", k)
	}
	if _, err := s.AddUserKey(ctx, bob.ID, line); !errors.Is(err, ErrExists) {
		t.Errorf("same key for another user: %v", err)
	}
	other := string(ssh.MarshalAuthorizedKey(newSSHKey(t)))
	bad := []struct {
		name, line string
		user       int64
		err        error
	}{
		{"garbage", "ssh-ed25519 not-base64", alice.ID, ErrInvalid},
		{"options", `from="10.0.0.1" ` + other, alice.ID, ErrInvalid},
		{"two keys", other + other, alice.ID, ErrInvalid},
		{"control in comment", strings.TrimSpace(other) + " a\x1bb", alice.ID, ErrInvalid},
		{"missing user", other, 999, ErrNotFound},
	}
	for _, b := range bad {
		if _, err := s.AddUserKey(ctx, b.user, b.line); !errors.Is(err, b.err) {
			t.Errorf("%s: %v, want %v", b.name, err, b.err)
		}
	}
	u, err := s.FindUserByKeyFingerprint(ctx, k.Fingerprint)
	if err != nil || u.ID != alice.ID {
		t.Errorf("FindUserByKeyFingerprint = %+v, %v", u, err)
	}
	if _, err := s.FindUserByKeyFingerprint(ctx, "SHA256:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown fingerprint: %v", err)
	}
	ks := must[[]UserKey](t)(s.ListUserKeys(ctx, alice.ID))
	if len(ks) != 1 || ks[0] != k {
		t.Errorf("ListUserKeys = %+v, want [%+v]", ks, k)
	}
	if err := s.DeleteUserKey(ctx, bob.ID, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting another user's key: %v", err)
	}
	if err := s.DeleteUserKey(ctx, alice.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if ks := must[[]UserKey](t)(s.ListUserKeys(ctx, alice.ID)); len(ks) != 0 {
		t.Errorf("keys left: %+v", ks)
	}
	// Deleting a user deletes its keys.
	k2 := must[UserKey](t)(s.AddUserKey(ctx, bob.ID, other))
	if err := s.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindUserByKeyFingerprint(ctx, k2.Fingerprint); !errors.Is(err, ErrNotFound) {
		t.Errorf("key of deleted user still found: %v", err)
	}
}
