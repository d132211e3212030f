// Package pluginhost finds, launches and supervises vigild's plugins.
//
// It discovers executables named vigil-plugin-<kind>-<name> in the plugin
// directory, launches each through the sdk (gRPC, AutoMTLS, API version
// negotiation, Info, Configure with the plugin's own [plugins.<kind>-<name>]
// table as JSON), re-logs its output under "plugin.<kind>-<name>", and
// relaunches it with capped exponential backoff whenever it exits. A
// watchdog pings each running process (a gRPC health check); one that
// fails several checks in a row is hung (stopped, deadlocked, stuck in a
// system call), so it is killed and relaunched the same way. Callers hold
// one stable handle per plugin (Manager.Storage, LogFormatter, Recorder)
// that routes each call to whichever process is live; while none is, calls
// fail fast with ErrPluginUnavailable and the caller's queue retries. Every
// start, exit, restart, hang and refusal is an event. On a reload the
// daemon calls Manager.Enable, which starts a plugin the configuration now
// uses, or one that refused its settings and has been given new ones.
package pluginhost
