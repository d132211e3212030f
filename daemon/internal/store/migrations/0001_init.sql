-- Vigil store, schema version 1.
-- Times are INTEGER Unix nanoseconds (UTC); NULL where a time has not happened.
-- Booleans are INTEGER 0/1. Names are case-sensitive.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	password_hash TEXT,                 -- NULL: no password login (keys only)
	created_at    INTEGER NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER,
	last_login    INTEGER
) STRICT;

CREATE TABLE user_keys (
	id          INTEGER PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	public_key  TEXT NOT NULL,           -- authorized_keys form, without comment
	fingerprint TEXT NOT NULL UNIQUE,    -- SHA256:...
	comment     TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX user_keys_user ON user_keys(user_id);

CREATE TABLE groups (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE group_permissions (
	group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	permission TEXT NOT NULL,
	PRIMARY KEY (group_id, permission)
) STRICT, WITHOUT ROWID;

CREATE TABLE group_settings (
	group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (group_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE user_groups (
	user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	PRIMARY KEY (user_id, group_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_groups_group ON user_groups(group_id);

CREATE TABLE targets (
	id                     INTEGER PRIMARY KEY,
	name                   TEXT NOT NULL UNIQUE,
	friendly_name          TEXT NOT NULL DEFAULT '',
	protocol               TEXT NOT NULL CHECK (protocol IN ('ssh', 'vnc', 'rdp')),
	host                   TEXT NOT NULL,
	port                   INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	username               TEXT NOT NULL DEFAULT '',
	credential_kind        TEXT,         -- password | private_key; NULL: none
	credential_sealed      BLOB,         -- XChaCha20-Poly1305: nonce || ciphertext
	host_key               TEXT,         -- pinned; NULL: pin on first use
	allow_port_forwarding  INTEGER NOT NULL DEFAULT 0,
	allow_agent_forwarding INTEGER NOT NULL DEFAULT 0,
	created_at             INTEGER NOT NULL,
	updated_at             INTEGER NOT NULL
) STRICT;

CREATE TABLE target_groups (
	target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
	group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	PRIMARY KEY (target_id, group_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX target_groups_group ON target_groups(group_id);

-- Session history keeps names as they were: users and targets may be renamed
-- or deleted later, the audit trail may not change.
CREATE TABLE sessions (
	id                   TEXT PRIMARY KEY,
	user_id              INTEGER REFERENCES users(id) ON DELETE SET NULL,
	user_name            TEXT NOT NULL,
	target_id            INTEGER REFERENCES targets(id) ON DELETE SET NULL,
	target_name          TEXT NOT NULL,
	target_friendly_name TEXT NOT NULL DEFAULT '',
	protocol             TEXT NOT NULL,
	vs                   TEXT NOT NULL DEFAULT '',
	rs                   TEXT NOT NULL DEFAULT '',
	client_ip            TEXT NOT NULL DEFAULT '',
	client_port          INTEGER NOT NULL DEFAULT 0,
	started_at           INTEGER NOT NULL,
	ended_at             INTEGER,
	state                TEXT NOT NULL CHECK (state IN ('active', 'ended', 'killed', 'refused')),
	bytes_in             INTEGER NOT NULL DEFAULT 0,
	bytes_out            INTEGER NOT NULL DEFAULT 0,
	recorded             INTEGER NOT NULL DEFAULT 0,
	recording_state      TEXT NOT NULL DEFAULT 'none'
		CHECK (recording_state IN ('none', 'recording', 'sealed', 'encoding', 'uploaded', 'failed', 'stuck')),
	signature_state      TEXT NOT NULL DEFAULT 'unknown'
		CHECK (signature_state IN ('unknown', 'verified', 'invalid')),
	exit_status          INTEGER,
	end_reason           TEXT NOT NULL DEFAULT ''
) STRICT;
-- History pages walk (started_at, id) newest first, optionally per user,
-- target or state; each index ends in the keyset columns.
CREATE INDEX sessions_started ON sessions(started_at, id);
CREATE INDEX sessions_user ON sessions(user_name, started_at, id);
CREATE INDEX sessions_target ON sessions(target_name, started_at, id);
CREATE INDEX sessions_state ON sessions(state, started_at, id);
CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;

-- Searchable text of SSH sessions; offset_ms is from the session start.
CREATE VIRTUAL TABLE transcripts USING fts5(
	text,
	session_id UNINDEXED,
	segment UNINDEXED,
	offset_ms UNINDEXED,
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE segments (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	n          INTEGER NOT NULL CHECK (n >= 0),
	path       TEXT NOT NULL,
	size       INTEGER NOT NULL DEFAULT 0,
	sha256     TEXT NOT NULL DEFAULT '',
	final_hash TEXT NOT NULL DEFAULT '',
	sealed_at  INTEGER,
	state      TEXT NOT NULL DEFAULT 'recording'
		CHECK (state IN ('recording', 'sealed', 'encoded', 'uploaded', 'failed', 'deleted')),
	object_key TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (session_id, n)
) STRICT;

CREATE TABLE renders (
	session_id TEXT NOT NULL,
	segment    INTEGER NOT NULL,
	role       TEXT NOT NULL CHECK (role IN ('cast', 'video', 'thumbnail', 'poster', 'transcript')),
	local_path TEXT NOT NULL DEFAULT '',
	object_key TEXT NOT NULL DEFAULT '',
	size       INTEGER NOT NULL DEFAULT 0,
	sha256     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (session_id, segment, role),
	FOREIGN KEY (session_id, segment) REFERENCES segments(session_id, n) ON DELETE CASCADE
) STRICT;

-- The recording pipeline's journal. One job per (segment, kind), ever.
CREATE TABLE jobs (
	id              INTEGER PRIMARY KEY,
	kind            TEXT NOT NULL CHECK (kind IN ('encode', 'upload', 'delete')),
	session_id      TEXT NOT NULL,
	segment         INTEGER NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'encoding', 'encoded', 'uploading', 'uploaded',
		'deleting', 'deleted', 'failed', 'retrying', 'stuck')),
	progress        INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	started_at      INTEGER,
	finished_at     INTEGER,
	object_key      TEXT NOT NULL DEFAULT '',
	UNIQUE (session_id, segment, kind),
	FOREIGN KEY (session_id, segment) REFERENCES segments(session_id, n) ON DELETE CASCADE
) STRICT;
-- ClaimJob: the oldest due job of a kind among the waiting ones.
CREATE INDEX jobs_due ON jobs(kind, next_attempt_at, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX jobs_state ON jobs(state, kind);
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;

-- Index of the event journal for the log dashboard and reports. Optional
-- fields are NULL when empty, so the partial indexes stay small.
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY,
	time        INTEGER NOT NULL,
	metric_name TEXT NOT NULL,
	level       TEXT NOT NULL,
	level_no    INTEGER NOT NULL,
	component   TEXT NOT NULL,
	process     TEXT,
	host        TEXT,
	user_name   TEXT,
	session_id  TEXT,
	target_name TEXT,
	message     TEXT NOT NULL,
	json        TEXT NOT NULL
) STRICT;
CREATE INDEX events_time ON events(time);
CREATE INDEX events_metric ON events(metric_name, time);
CREATE INDEX events_component ON events(component, time);
CREATE INDEX events_user ON events(user_name, time) WHERE user_name IS NOT NULL;
CREATE INDEX events_session ON events(session_id, time) WHERE session_id IS NOT NULL;
-- Warnings and worse are rare; the dashboard's "level >= WARNING" view
-- reads this instead of skipping through every INFO line.
CREATE INDEX events_warn ON events(time) WHERE level_no >= 30;
