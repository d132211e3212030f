// Package sessions is the registry of live proxied sessions (ssh, vnc, rdp).
//
// A proxy registers each session when it starts relaying and marks it done
// when it ends. The registry answers what vigilctl and the WUI ask about
// running sessions (list, count, bytes so far), carries their kill requests
// to the proxy that owns the session, and lets the daemon drain sessions on
// SIGTERM. It holds no protocol logic: closing connections and emitting
// session.kill events is the owning proxy's job, done in the kill function it
// registers.
package sessions
