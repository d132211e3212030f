// Package admission decides whether a session may start.
//
// It enforces the rule "never an unrecorded session that policy says to
// record": when a session must be recorded, free space on the recording
// spool's filesystem must be at least the configured minimum (default
// 500 MB, as Kasm does), or the session is refused with a message the user
// can act on. The other half of the rule, that the capture file can be
// created, is checked by the proxy, which opens the capture before it
// connects to the target and refuses the session when that fails. Sessions
// whose policy says not to record are always admitted here.
package admission
