// Package sshproxy is Vigil's SSH gateway: users log in to it with their
// gateway account, it logs in to the target with the credential stored for
// the target (users never learn it), and it relays and records the session.
//
// A connection goes through these steps:
//
//  1. Handshake, with the banner ("This session is recorded.") shown before
//     authentication, a login grace period and a cap on failed attempts.
//     Password, keyboard-interactive (a single password prompt) and public
//     key authentication go to the Authenticator. Each failure is an
//     account.login.failed_<reason> event; a public key the client merely
//     offered and that was refused is reported only if the connection
//     never logs in.
//  2. The target: the login name USER:TARGET is split at its last ':' (see
//     package loginname); without a target the user's only permitted target is
//     used, or the first shell shows a menu of the permitted targets.
//  3. Admission (Admitter, with record = the user's record_sessions), then
//     the capture is opened (Recorder), then the target is dialled. Its
//     host key must match the pinned key; with none pinned it is pinned
//     first (trust on first use). Any refusal is shown to the user on the
//     session's stderr with exit status 1, and reported as an event.
//  4. Relay. Session channels are relayed request by request (pty-req,
//     env filtered by the allowlist, shell, exec, subsystem, window-change,
//     signal, break; exit-status and exit-signal back), with EOF and close
//     passed on in both directions and stderr as extended data. Port
//     forwarding (direct-tcpip, tcpip-forward) and agent forwarding work
//     only when the target allows them; X11 forwarding never does.
//  5. Recording. Data is teed into the Capture without slowing the relay:
//     the relay reads into pooled buffers (large while data keeps coming,
//     small while it waits for more) and hands the same buffer to a
//     per-session recorder goroutine (no copy, no per-byte work),
//     which writes the records and runs the scp and sftp parsers that turn
//     file transfers into Transfer records and transfer.* events. A capture
//     that falls behind slows the session down; a capture that fails ends
//     it. Client input is recorded only with Config.RecordInput. The
//     target connection is read only a bounded way ahead of the relay
//     (readGate), so that a busy gateway keeps what it has not relayed yet
//     in TCP's buffers rather than its own memory.
//  6. The session is in the sessions registry while it runs; a kill closes
//     both sides at once (after a notice on the user's stderr) and emits
//     session.kill or session.kill_all.
//
// Events (component "ssh", protocol "ssh"): account.login.successful,
// account.login.failed_<reason>, admission.denied, target.hostkey.pinned,
// target.hostkey.mismatch, target.connect.failed, session.create,
// session.destroy (reason, duration, bytes_in, bytes_out), session.kill,
// session.kill_all, transfer.upload, transfer.download (path, size).
//
// Names that come from clients (login names, paths in transfers) are kept
// as data in events and records, never formatted into log messages or file
// paths.
package sshproxy
