// Package vncproxy is Vigil's VNC gateway: a listener that speaks RFB 3.3,
// 3.7 and 3.8 to native viewers, authenticates users as themselves
// (VeNCrypt X509Plain: user name and password inside TLS), picks their
// target from the user name (USER:TARGET) or their only VNC target,
// admits the session, logs into the target with the credential stored for
// it (VncAuth or None), and relays and records the session.
//
// The gateway frames RFB messages in both directions (package rfbwire) so
// that it relays only a stream it knows the shape of: lengths are bounded,
// absurd sizes end the session with a clear error, and the client's
// SetEncodings is narrowed to what the VNC recorder decodes. It never
// decodes pixels. It records, through the Capture it is given, the
// server-to-client stream from ServerInit on, the pixel format and
// desktop size whenever they change, and the client's messages (key events
// and cut text only when input recording is on); README.md describes the
// layout the VNC recorder plugin relies on.
//
// Like the SSH gateway it depends only on small interfaces it declares
// (deps.go): vigild supplies the store, capture writer, admission
// controller, event bus and live-session registry through adapters.
package vncproxy
