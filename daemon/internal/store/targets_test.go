package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestTargetValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	ok := Target{Name: "web-1.prod_a", Protocol: ProtocolSSH, Host: "10.0.0.1"}
	tests := []struct {
		name string
		mod  func(*Target)
	}{
		{"bad name char", func(t *Target) { t.Name = "web 1" }},
		{"empty name", func(t *Target) { t.Name = "" }},
		{"name with colon", func(t *Target) { t.Name = "a:b" }},
		{"long name", func(t *Target) { t.Name = strings.Repeat("a", 65) }},
		{"protocol", func(t *Target) { t.Protocol = "telnet" }},
		{"empty host", func(t *Target) { t.Host = "" }},
		{"host with space", func(t *Target) { t.Host = "a b" }},
		{"port", func(t *Target) { t.Port = 70000 }},
		{"negative port", func(t *Target) { t.Port = -1 }},
		{"friendly control", func(t *Target) { t.FriendlyName = "x\ny" }},
		{"ssh host key", func(t *Target) { t.HostKey = "not a key" }},
	}
	for _, tt := range tests {
		tg := ok
		tt.mod(&tg)
		if _, err := s.CreateTarget(ctx, tg, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tt.name, err)
		}
	}
	for _, p := range []Protocol{ProtocolSSH, ProtocolVNC, ProtocolRDP} {
		tg := ok
		tg.Name, tg.Protocol = "t-"+string(p), p
		got, err := s.CreateTarget(ctx, tg, nil)
		if err != nil || got.Port != p.DefaultPort() {
			t.Errorf("%s default port: %+v, %v", p, got, err)
		}
	}
	if _, err := s.CreateTarget(ctx, Target{Name: "t-ssh", Protocol: ProtocolSSH, Host: "h"}, nil); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
	badCreds := []Credential{
		{Kind: CredentialPassword},
		{Kind: "token", Secret: []byte("x")},
		{Kind: CredentialPrivateKey, Secret: []byte("-----BEGIN NONSENSE-----")},
		{Kind: CredentialPassword, Secret: make([]byte, MaxCredentialSize+1)},
	}
	for i, c := range badCreds {
		tg := ok
		tg.Name = "c" + string(rune('a'+i))
		if _, err := s.CreateTarget(ctx, tg, &c); !errors.Is(err, ErrInvalid) {
			t.Errorf("credential %d: %v", i, err)
		}
	}
}

func newPrivateKeyPEM(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(blk)
}

func TestTargetCredentials(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const secret = "Tr0ub4dor&3-plaintext-marker"
	g := must[Group](t)(s.CreateGroup(ctx, "ops", nil, nil))
	tg, err := s.CreateTarget(ctx, Target{
		Name: "db1", FriendlyName: "Database 1", Protocol: ProtocolSSH, Host: "db1.internal", Port: 2222,
		Username: "root", AllowAgentForwarding: true, Groups: []int64{g.ID, g.ID},
	}, &Credential{Kind: CredentialPassword, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	if tg.CredentialKind != CredentialPassword || tg.Port != 2222 || !reflect.DeepEqual(tg.Groups, []int64{g.ID}) ||
		!tg.AllowAgentForwarding || tg.AllowPortForwarding {
		t.Errorf("created %+v", tg)
	}

	// Stored sealed: the plaintext is nowhere in the row, nor in the file.
	var sealed []byte
	if err := s.db.QueryRowContext(ctx, `SELECT credential_sealed FROM targets WHERE id = ?`, tg.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(secret)) || len(sealed) < 24+16+len(secret) {
		t.Errorf("credential stored as %q", sealed)
	}
	var row string
	s.db.QueryRowContext(ctx, `SELECT quote(targets.credential_sealed) || name || host || username FROM targets WHERE id = ?`, tg.ID).Scan(&row)
	if strings.Contains(row, secret) {
		t.Error("plaintext credential in the row")
	}

	// Listing and getting never carry the secret: no field holds it.
	list := must[[]Target](t)(s.ListTargets(ctx))
	if len(list) != 1 || !reflect.DeepEqual(list[0], tg) {
		t.Errorf("ListTargets = %+v, want [%+v]", list, tg)
	}
	if strings.Contains(fmt.Sprintf("%#v", list), secret) {
		t.Error("ListTargets leaks the credential")
	}
	if got := must[Target](t)(s.GetTargetByName(ctx, "db1")); !reflect.DeepEqual(got, tg) {
		t.Errorf("GetTargetByName = %+v", got)
	}

	c, err := s.TargetCredential(ctx, tg.ID)
	if err != nil || c.Kind != CredentialPassword || string(c.Secret) != secret {
		t.Fatalf("TargetCredential = %+v, %v", c, err)
	}
	pemKey := newPrivateKeyPEM(t)
	if err := s.SetTargetCredential(ctx, tg.ID, &Credential{Kind: CredentialPrivateKey, Secret: pemKey}); err != nil {
		t.Fatal(err)
	}
	if c := must[Credential](t)(s.TargetCredential(ctx, tg.ID)); c.Kind != CredentialPrivateKey || !bytes.Equal(c.Secret, pemKey) {
		t.Errorf("private key credential = %+v", c)
	}

	// A blob moved to another target does not open there.
	other := must[Target](t)(s.CreateTarget(ctx, Target{Name: "db2", Protocol: ProtocolSSH, Host: "db2"}, nil))
	if _, err := s.TargetCredential(ctx, other.ID); !errors.Is(err, ErrNoCredential) {
		t.Errorf("no credential: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE targets SET (credential_kind, credential_sealed) =
		(SELECT credential_kind, credential_sealed FROM targets WHERE id = ?) WHERE id = ?`, tg.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TargetCredential(ctx, other.ID); !errors.Is(err, ErrCredentialUnreadable) {
		t.Errorf("moved credential: %v", err)
	}
	if _, err := s.TargetCredential(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing target: %v", err)
	}

	// Another key, or none, cannot read it.
	for _, opts := range []Options{{SealingKey: bytes.Repeat([]byte{7}, 32)}, {}} {
		s2, err := Open(ctx, s.Path(), opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s2.TargetCredential(ctx, tg.ID)
		if opts.SealingKey == nil && !errors.Is(err, ErrNoSealingKey) || opts.SealingKey != nil && !errors.Is(err, ErrCredentialUnreadable) {
			t.Errorf("key %x: %v", opts.SealingKey, err)
		}
		if opts.SealingKey == nil {
			if err := s2.SetTargetCredential(ctx, tg.ID, &Credential{Kind: CredentialPassword, Secret: []byte("x")}); !errors.Is(err, ErrNoSealingKey) {
				t.Errorf("write without a key: %v", err)
			}
		}
		s2.Close()
	}

	if err := s.SetTargetCredential(ctx, tg.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TargetCredential(ctx, tg.ID); !errors.Is(err, ErrNoCredential) {
		t.Errorf("cleared credential: %v", err)
	}
	if got := must[Target](t)(s.GetTarget(ctx, tg.ID)); got.CredentialKind != "" {
		t.Errorf("cleared credential kind %q", got.CredentialKind)
	}
}

func TestTargetUpdateAndPermitted(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	ops := must[Group](t)(s.CreateGroup(ctx, "ops", nil, nil))
	devs := must[Group](t)(s.CreateGroup(ctx, "devs", nil, nil))
	alice := must[User](t)(s.CreateUser(ctx, "alice", ""))
	bob := must[User](t)(s.CreateUser(ctx, "bob", ""))
	s.AddUserToGroup(ctx, alice.ID, ops.ID)
	s.AddUserToGroup(ctx, alice.ID, devs.ID)
	s.AddUserToGroup(ctx, bob.ID, devs.ID)

	a := must[Target](t)(s.CreateTarget(ctx, Target{Name: "a", Protocol: ProtocolSSH, Host: "a", Groups: []int64{ops.ID, devs.ID}},
		&Credential{Kind: CredentialPassword, Secret: []byte("pw")}))
	b := must[Target](t)(s.CreateTarget(ctx, Target{Name: "b", Protocol: ProtocolRDP, Host: "b", Groups: []int64{ops.ID}}, nil))
	must[Target](t)(s.CreateTarget(ctx, Target{Name: "c", Protocol: ProtocolVNC, Host: "c"}, nil))
	if _, err := s.CreateTarget(ctx, Target{Name: "d", Protocol: ProtocolVNC, Host: "d", Groups: []int64{999}}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}

	names := func(ts []Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	if got := names(must[[]Target](t)(s.PermittedTargets(ctx, alice.ID))); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("alice may use %v", got)
	}
	if got := names(must[[]Target](t)(s.PermittedTargets(ctx, bob.ID))); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("bob may use %v", got)
	}

	clk.Add(1)
	b.Groups, b.Host, b.Name = []int64{devs.ID}, "b.example", "b2"
	upd, err := s.UpdateTarget(ctx, b)
	if err != nil || upd.Host != "b.example" || upd.Name != "b2" || !upd.Updated.After(upd.Created) {
		t.Fatalf("UpdateTarget = %+v, %v", upd, err)
	}
	if got := names(must[[]Target](t)(s.PermittedTargets(ctx, bob.ID))); !reflect.DeepEqual(got, []string{"a", "b2"}) {
		t.Errorf("bob may use %v after update", got)
	}
	// Updating leaves the credential alone.
	a.FriendlyName = "A"
	a.CredentialKind = ""
	if _, err := s.UpdateTarget(ctx, a); err != nil {
		t.Fatal(err)
	}
	if c, err := s.TargetCredential(ctx, a.ID); err != nil || string(c.Secret) != "pw" {
		t.Errorf("credential after update: %+v, %v", c, err)
	}
	if _, err := s.UpdateTarget(ctx, Target{ID: 999, Name: "z", Protocol: ProtocolSSH, Host: "z"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if _, err := s.UpdateTarget(ctx, Target{ID: a.ID, Name: "b2", Protocol: ProtocolSSH, Host: "z"}); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto another: %v", err)
	}
	if err := s.DeleteTarget(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTarget(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted target: %v", err)
	}
	if err := s.DeleteTarget(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestPinTargetHostKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	tg := must[Target](t)(s.CreateTarget(ctx, Target{Name: "a", Protocol: ProtocolSSH, Host: "a"}, nil))
	k1 := string(ssh.MarshalAuthorizedKey(newSSHKey(t)))
	k2 := string(ssh.MarshalAuthorizedKey(newSSHKey(t)))
	if err := s.PinTargetHostKey(ctx, tg.ID, k1); err != nil {
		t.Fatal(err)
	}
	if got := must[Target](t)(s.GetTarget(ctx, tg.ID)); got.HostKey != strings.TrimSpace(k1) {
		t.Errorf("pinned %q", got.HostKey)
	}
	if err := s.PinTargetHostKey(ctx, tg.ID, strings.TrimSpace(k1)+" with a comment"); err != nil {
		t.Errorf("same key again: %v", err)
	}
	if err := s.PinTargetHostKey(ctx, tg.ID, k2); !errors.Is(err, ErrHostKeyMismatch) {
		t.Errorf("other key: %v", err)
	}
	if err := s.PinTargetHostKey(ctx, tg.ID, "garbage"); !errors.Is(err, ErrInvalid) {
		t.Errorf("garbage key: %v", err)
	}
	if err := s.PinTargetHostKey(ctx, 999, k1); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing target: %v", err)
	}
	// The administrator clears the pin; the next key is pinned.
	tg = must[Target](t)(s.GetTarget(ctx, tg.ID))
	tg.HostKey = ""
	must[Target](t)(s.UpdateTarget(ctx, tg))
	if err := s.PinTargetHostKey(ctx, tg.ID, k2); err != nil {
		t.Errorf("after clearing: %v", err)
	}
	rdp := must[Target](t)(s.CreateTarget(ctx, Target{Name: "r", Protocol: ProtocolRDP, Host: "r"}, nil))
	if err := s.PinTargetHostKey(ctx, rdp.ID, "SHA256:abcdef"); err != nil {
		t.Errorf("rdp fingerprint: %v", err)
	}
}
