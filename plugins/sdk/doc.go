// Package sdk is the one contract between vigild and its out-of-process
// plugins: the handshake, the plugin-set names, the API versions, the Go
// interfaces each kind implements, the gRPC adapters generated from
// proto/<kind>/v1, Serve() for plugin mains and the client side the host uses.
//
// Both sides import this package; neither imports the other's internals.
package sdk
