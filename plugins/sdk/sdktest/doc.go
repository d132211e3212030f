// Package sdktest holds what tests on both sides of the plugin contract
// share: an in-process harness and conformance suites per plugin kind, plus
// helpers to require a real peer (sshd, versitygw, rsyslogd, ffmpeg, ...) and
// to wait for a condition instead of sleeping.
package sdktest
