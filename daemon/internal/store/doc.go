// Package store is vigild's embedded database: one SQLite file (through the
// cgo-free modernc.org/sqlite) holding users and their SSH keys, groups with
// their permissions and settings, targets with their sealed credentials and
// pinned host keys, the session history with its segments, renders and
// searchable transcripts, the recording pipeline's job journal, and the index
// of the event journal that the log dashboard and reports query.
//
// The store owns the schema (versioned, embedded migrations) and every SQL
// statement; callers see Go types and sentinel errors (ErrNotFound,
// ErrExists, ErrInvalid, ...). vigild and vigilctl may hold the file open at
// the same time. Settings are not here: they live in settings.toml.
package store
