// Package sdktest holds what tests on both sides of the plugin contract
// share:
//
//   - an in-process harness that serves an implementation over real gRPC,
//     with the very ServeConfig plugin binaries use, and returns the host's
//     typed client (Serve, ServeStorage, ServeLogFormatter, ServeRecorder);
//   - helpers that build a plugin's main package and launch it as a real
//     process (BuildPlugin, PluginBinary, Launch, LaunchStorage, ...);
//   - conformance suites every implementation of a kind must pass, whichever
//     way it is reached (StorageConformance, LogFormatConformance);
//   - MemStorage, the in-memory loopback storage, for tests of code that
//     stores objects;
//   - helpers to require a real peer (sshd, versitygw, rsyslogd, ffmpeg, ...)
//     and to wait for a condition instead of sleeping.
package sdktest
