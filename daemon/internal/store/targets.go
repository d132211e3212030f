package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// Protocol is how the gateway talks to a target.
type Protocol string

// Protocols.
const (
	ProtocolSSH Protocol = "ssh"
	ProtocolVNC Protocol = "vnc"
	ProtocolRDP Protocol = "rdp"
)

// DefaultPort is the port a target of the protocol gets when none is given.
func (p Protocol) DefaultPort() int {
	switch p {
	case ProtocolSSH:
		return 22
	case ProtocolVNC:
		return 5900
	case ProtocolRDP:
		return 3389
	}
	return 0
}

func (p Protocol) valid() bool { return p == ProtocolSSH || p == ProtocolVNC || p == ProtocolRDP }

// CredentialKind says what a target credential's secret is.
type CredentialKind string

// Credential kinds.
const (
	CredentialPassword   CredentialKind = "password"
	CredentialPrivateKey CredentialKind = "private_key" // unencrypted PEM/OpenSSH private key
)

// MaxCredentialSize bounds a credential secret.
const MaxCredentialSize = 64 << 10

// Credential is what the gateway logs in to a target with. It is stored
// sealed and is read only through TargetCredential.
type Credential struct {
	Kind   CredentialKind
	Secret []byte
}

// Target is a server users reach through the gateway. Its credential is
// write-only: a Target carries only the credential's kind.
type Target struct {
	ID                   int64
	Name                 string // [A-Za-z0-9._-], 1-64 characters, unique
	FriendlyName         string
	Protocol             Protocol
	Host                 string
	Port                 int // 0: the protocol's default port
	Username             string
	CredentialKind       CredentialKind // "" when there is no credential
	HostKey              string         // pinned key; "" until pinned
	AllowPortForwarding  bool
	AllowAgentForwarding bool
	Groups               []int64 // groups whose members may use the target, sorted
	Created              time.Time
	Updated              time.Time
}

var targetNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (t *Target) normalize() error {
	if !targetNameRE.MatchString(t.Name) {
		return fmt.Errorf("%w: target name %q: want 1 to 64 of A-Z a-z 0-9 . _ -", ErrInvalid, t.Name)
	}
	if err := validateText(t.FriendlyName, 256); err != nil {
		return fmt.Errorf("friendly name: %w", err)
	}
	if !t.Protocol.valid() {
		return fmt.Errorf("%w: protocol %q: want ssh, vnc or rdp", ErrInvalid, t.Protocol)
	}
	if t.Host == "" || len(t.Host) > 255 || strings.IndexFunc(t.Host, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/'
	}) >= 0 {
		return fmt.Errorf("%w: host %q", ErrInvalid, t.Host)
	}
	if t.Port == 0 {
		t.Port = t.Protocol.DefaultPort()
	}
	if t.Port < 1 || t.Port > 65535 {
		return fmt.Errorf("%w: port %d", ErrInvalid, t.Port)
	}
	if err := validateText(t.Username, 256); err != nil {
		return fmt.Errorf("username: %w", err)
	}
	if t.HostKey != "" {
		k, err := normalizeHostKey(t.Protocol, t.HostKey)
		if err != nil {
			return err
		}
		t.HostKey = k
	}
	slices.Sort(t.Groups)
	t.Groups = slices.Compact(t.Groups)
	return nil
}

// normalizeHostKey validates a host key to pin. For SSH it is a public key
// in authorized_keys form (the comment is dropped); for VNC and RDP it is an
// opaque fingerprint of the server's TLS certificate.
func normalizeHostKey(p Protocol, key string) (string, error) {
	if p == ProtocolSSH {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
		if err != nil {
			return "", fmt.Errorf("%w: host key: %w", ErrInvalid, err)
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))), nil
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", fmt.Errorf("%w: empty host key", ErrInvalid)
	}
	if err := validateText(key, 4096); err != nil {
		return "", fmt.Errorf("host key: %w", err)
	}
	return key, nil
}

func validateCredential(c Credential) error {
	switch {
	case len(c.Secret) == 0:
		return fmt.Errorf("%w: empty credential", ErrInvalid)
	case len(c.Secret) > MaxCredentialSize:
		return fmt.Errorf("%w: credential larger than %d bytes", ErrInvalid, MaxCredentialSize)
	}
	switch c.Kind {
	case CredentialPassword:
		return nil
	case CredentialPrivateKey:
		if _, err := ssh.ParseRawPrivateKey(c.Secret); err != nil {
			return fmt.Errorf("%w: private key (passphrase-protected keys are not supported): %w", ErrInvalid, err)
		}
		return nil
	}
	return fmt.Errorf("%w: credential kind %q", ErrInvalid, c.Kind)
}

// credentialAAD binds a sealed credential to its target and kind, so a
// sealed blob copied to another row does not open.
func credentialAAD(targetID int64, kind CredentialKind) []byte {
	return fmt.Appendf(nil, "vigil target credential v1\x00%d\x00%s", targetID, kind)
}

func (s *Store) seal(targetID int64, c Credential) ([]byte, error) {
	if s.aead == nil {
		return nil, ErrNoSealingKey
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(c.Secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, c.Secret, credentialAAD(targetID, c.Kind)), nil
}

func (s *Store) unseal(targetID int64, kind CredentialKind, sealed []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, ErrNoSealingKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrCredentialUnreadable
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], credentialAAD(targetID, kind))
	if err != nil {
		return nil, ErrCredentialUnreadable
	}
	return pt, nil
}

const targetCols = `id, name, friendly_name, protocol, host, port, username, COALESCE(credential_kind, ''),
	COALESCE(host_key, ''), allow_port_forwarding, allow_agent_forwarding, created_at, updated_at`

func scanTarget(r scanner) (Target, error) {
	var t Target
	var created, updated int64
	err := r.Scan(&t.ID, &t.Name, &t.FriendlyName, &t.Protocol, &t.Host, &t.Port, &t.Username, &t.CredentialKind,
		&t.HostKey, &t.AllowPortForwarding, &t.AllowAgentForwarding, &created, &updated)
	t.Created, t.Updated, t.Groups = fromNS(created), fromNS(updated), []int64{}
	return t, err
}

// CreateTarget adds a target, with its credential if cred is not nil.
func (s *Store) CreateTarget(ctx context.Context, t Target, cred *Credential) (Target, error) {
	if err := t.normalize(); err != nil {
		return Target{}, wrap("create target", err)
	}
	if cred != nil {
		if s.aead == nil {
			return Target{}, wrap("create target", ErrNoSealingKey)
		}
		if err := validateCredential(*cred); err != nil {
			return Target{}, wrap("create target", err)
		}
	}
	now := ns(s.now())
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO targets (name, friendly_name, protocol, host, port, username,
			host_key, allow_port_forwarding, allow_agent_forwarding, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?) RETURNING id`,
			t.Name, t.FriendlyName, t.Protocol, t.Host, t.Port, t.Username, t.HostKey,
			boolInt(t.AllowPortForwarding), boolInt(t.AllowAgentForwarding), now, now).Scan(&t.ID)
		if err != nil {
			return constraintErr(err, "target name "+t.Name)
		}
		if err := writeTargetGroups(ctx, tx, t); err != nil {
			return err
		}
		if cred != nil {
			if err := s.storeCredential(ctx, tx, t.ID, cred); err != nil {
				return err
			}
		}
		t, err = loadTarget(ctx, tx, `id = ?`, t.ID)
		return err
	})
	return t, wrap("create target", err)
}

// UpdateTarget replaces every field of target t.ID except its credential
// (see SetTargetCredential); t.CredentialKind is ignored. An empty HostKey
// clears the pin, so the next connection pins again.
func (s *Store) UpdateTarget(ctx context.Context, t Target) (Target, error) {
	if err := t.normalize(); err != nil {
		return Target{}, wrap("update target", err)
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE targets SET name = ?, friendly_name = ?, protocol = ?, host = ?,
			port = ?, username = ?, host_key = NULLIF(?, ''), allow_port_forwarding = ?, allow_agent_forwarding = ?,
			updated_at = ? WHERE id = ?`,
			t.Name, t.FriendlyName, t.Protocol, t.Host, t.Port, t.Username, t.HostKey,
			boolInt(t.AllowPortForwarding), boolInt(t.AllowAgentForwarding), ns(s.now()), t.ID)
		if err != nil {
			return constraintErr(err, "target name "+t.Name)
		}
		if err := rowsAffected(res, fmt.Sprintf("target %d", t.ID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM target_groups WHERE target_id = ?`, t.ID); err != nil {
			return err
		}
		if err := writeTargetGroups(ctx, tx, t); err != nil {
			return err
		}
		t, err = loadTarget(ctx, tx, `id = ?`, t.ID)
		return err
	})
	return t, wrap("update target", err)
}

func writeTargetGroups(ctx context.Context, tx *sql.Tx, t Target) error {
	for _, g := range t.Groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO target_groups (target_id, group_id) VALUES (?, ?)`, t.ID, g); err != nil {
			return constraintErr(err, fmt.Sprintf("group %d", g))
		}
	}
	return nil
}

func (s *Store) storeCredential(ctx context.Context, tx *sql.Tx, id int64, cred *Credential) error {
	var kind sql.NullString
	var sealed []byte
	if cred != nil {
		var err error
		if sealed, err = s.seal(id, *cred); err != nil {
			return err
		}
		kind = sql.NullString{String: string(cred.Kind), Valid: true}
	}
	res, err := tx.ExecContext(ctx, `UPDATE targets SET credential_kind = ?, credential_sealed = ?, updated_at = ? WHERE id = ?`,
		kind, sealed, ns(s.now()), id)
	if err != nil {
		return err
	}
	return rowsAffected(res, fmt.Sprintf("target %d", id))
}

// SetTargetCredential replaces the target's credential; nil removes it.
func (s *Store) SetTargetCredential(ctx context.Context, id int64, cred *Credential) error {
	if cred != nil {
		if s.aead == nil {
			return wrap("set target credential", ErrNoSealingKey)
		}
		if err := validateCredential(*cred); err != nil {
			return wrap("set target credential", err)
		}
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error { return s.storeCredential(ctx, tx, id, cred) })
	return wrap("set target credential", err)
}

// TargetCredential unseals the target's credential for the gateway, which
// is its only reader. ErrNoCredential if none is stored,
// ErrCredentialUnreadable if it does not open under the sealing key.
func (s *Store) TargetCredential(ctx context.Context, id int64) (Credential, error) {
	var kind sql.NullString
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT credential_kind, credential_sealed FROM targets WHERE id = ?`, id).
		Scan(&kind, &sealed)
	if err != nil {
		return Credential{}, wrap("target credential", notFound(err, fmt.Sprintf("target %d", id)))
	}
	if !kind.Valid || sealed == nil {
		return Credential{}, wrap("target credential", fmt.Errorf("%w: target %d", ErrNoCredential, id))
	}
	secret, err := s.unseal(id, CredentialKind(kind.String), sealed)
	if err != nil {
		return Credential{}, wrap(fmt.Sprintf("target credential: target %d", id), err)
	}
	return Credential{Kind: CredentialKind(kind.String), Secret: secret}, nil
}

// PinTargetHostKey pins key as the target's host key if none is pinned yet
// (trust on first use). The same key again is not an error; another key is
// ErrHostKeyMismatch.
func (s *Store) PinTargetHostKey(ctx context.Context, id int64, key string) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		var proto Protocol
		var pinned sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT protocol, host_key FROM targets WHERE id = ?`, id).Scan(&proto, &pinned)
		if err != nil {
			return notFound(err, fmt.Sprintf("target %d", id))
		}
		k, err := normalizeHostKey(proto, key)
		if err != nil {
			return err
		}
		if pinned.Valid {
			if pinned.String != k {
				return fmt.Errorf("%w: target %d", ErrHostKeyMismatch, id)
			}
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE targets SET host_key = ?, updated_at = ? WHERE id = ?`, k, ns(s.now()), id)
		return err
	})
	return wrap("pin host key", err)
}

// GetTarget returns target id (without its credential).
func (s *Store) GetTarget(ctx context.Context, id int64) (Target, error) {
	var t Target
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = loadTarget(ctx, tx, `id = ?`, id)
		return notFound(err, fmt.Sprintf("target %d", id))
	})
	return t, wrap("get target", err)
}

// GetTargetByName returns the target called name.
func (s *Store) GetTargetByName(ctx context.Context, name string) (Target, error) {
	var t Target
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = loadTarget(ctx, tx, `name = ?`, name)
		return notFound(err, "target "+quote(name))
	})
	return t, wrap("get target", err)
}

// ListTargets returns every target by name, never with credentials.
func (s *Store) ListTargets(ctx context.Context) ([]Target, error) {
	var ts []Target
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		ts, err = loadTargets(ctx, tx, `SELECT id FROM targets`)
		return err
	})
	return ts, wrap("list targets", err)
}

// PermittedTargets returns the targets allowed to any group of the user, by
// name.
func (s *Store) PermittedTargets(ctx context.Context, userID int64) ([]Target, error) {
	var ts []Target
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		ts, err = loadTargets(ctx, tx, `SELECT tg.target_id FROM target_groups tg
			JOIN user_groups ug ON ug.group_id = tg.group_id WHERE ug.user_id = ?`, userID)
		return err
	})
	return ts, wrap("permitted targets", err)
}

// DeleteTarget removes a target. Its sessions stay in the history.
func (s *Store) DeleteTarget(ctx context.Context, id int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("target %d", id))
	})
	return wrap("delete target", err)
}

func loadTarget(ctx context.Context, tx *sql.Tx, where string, arg any) (Target, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM targets WHERE `+where, arg).Scan(&id); err != nil {
		return Target{}, err
	}
	ts, err := loadTargets(ctx, tx, `SELECT ?`, id)
	if err != nil {
		return Target{}, err
	}
	if len(ts) == 0 {
		return Target{}, sql.ErrNoRows
	}
	return ts[0], nil
}

// loadTargets loads the targets whose ids idQuery selects, with their
// groups, ordered by name.
func loadTargets(ctx context.Context, tx *sql.Tx, idQuery string, args ...any) ([]Target, error) {
	sel := `WITH ids(id) AS (` + idQuery + `) `
	rows, err := tx.QueryContext(ctx, sel+`SELECT `+targetCols+` FROM targets WHERE id IN (SELECT id FROM ids) ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	ts, err := collect(rows, scanTarget)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*Target, len(ts))
	for i := range ts {
		byID[ts[i].ID] = &ts[i]
	}
	rows, err = tx.QueryContext(ctx, sel+`SELECT target_id, group_id FROM target_groups
		WHERE target_id IN (SELECT id FROM ids) ORDER BY group_id`, args...)
	if err != nil {
		return nil, err
	}
	_, err = collect(rows, func(r scanner) (struct{}, error) {
		var tid, gid int64
		if err := r.Scan(&tid, &gid); err != nil {
			return struct{}{}, err
		}
		byID[tid].Groups = append(byID[tid].Groups, gid)
		return struct{}{}, nil
	})
	return ts, err
}
