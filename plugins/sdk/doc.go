// Package sdk is the one contract between vigild and its out-of-process
// plugins: the handshake, the plugin-set names, the API versions, the Go
// interfaces each kind implements, the gRPC adapters generated from
// proto/<kind>/v1, Serve() for plugin mains and the client side the host uses.
//
// Both sides import this package; neither imports the other's internals.
//
// gRPC over go-plugin's AutoMTLS link carries the calls, but for a
// launched logformat plugin's Format, which takes its side channels: Unix socket pairs the host passes the process as inherited file
// descriptors (sidechan.go), on which a batch travels as a length-prefixed
// frame, without TLS, compression or HTTP/2 (logformat_side.go); a plugin
// attached in process, or a batch whose side channels broke, goes over
// gRPC.
package sdk
