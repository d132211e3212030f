// Package pluginhost finds, launches and supervises vigild's plugins.
//
// It discovers executables named vigil-plugin-<kind>-<name> in the plugin
// directory, launches each through the sdk (gRPC, AutoMTLS, API version
// negotiation, Info, Configure with the plugin's own [plugins.<kind>-<name>]
// table as JSON), re-logs its output under "plugin.<kind>-<name>", and
// relaunches it with capped exponential backoff whenever it exits. Callers
// hold one stable handle per plugin (Manager.Storage, LogFormatter,
// Recorder) that routes each call to whichever process is live; while none
// is, calls fail fast with ErrPluginUnavailable and the caller's queue
// retries. Every start, exit, restart and refusal is an event.
package pluginhost
