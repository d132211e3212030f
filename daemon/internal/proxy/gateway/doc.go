// Package gateway holds what the SSH and VNC proxies share and that does
// not depend on their protocols: the listener accept loop with connection
// tracking and graceful drain (Server), and the dependency types both
// gateways take from the daemon (User, SessionMeta, Admitter, Publisher).
//
// Each proxy keeps its own error values and message prefix ("sshproxy:",
// "vncproxy:"); Server is told the prefix and which error means "closed".
// The proxies import this package as proxygw: their test harnesses
// already have a type named gateway.
package gateway
