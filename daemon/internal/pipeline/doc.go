// Package pipeline owns what happens to a recording after its capture
// segment is sealed (design.md, "A recorded session", steps 7-10): it
// records the seal, renders the segment with the recorder plugin of its
// protocol in a bounded number of encode slots, uploads the signed capture
// and every render under keys built from the upload-location template,
// verifies each upload, deletes local copies once they are uploaded and
// past retention, and reports each step as an event.
//
// The store's job table is the journal: every step is a job (encode, then
// upload, then delete) claimed atomically, so any step survives kill -9 and
// is resumed by Recover at the next start, and re-doing a step is harmless
// (renders are rebuilt, an object is put again under the same key with the
// same content). Nothing is deleted locally before a verified upload; a
// segment that cannot be uploaded is kept and, past the stuck threshold,
// marked stuck for an administrator.
//
// Lifecycle: New (checks the configuration, starts nothing), Recover (at
// start, before Run), Run (the workers, until its context ends), and from
// any goroutine Sealed (the capture writer's OnSeal) and Status.
//
// The pipeline depends only on the small interfaces of deps.go; vigild
// wires the store, the event bus, the plugin host's recorders and storage.
package pipeline
