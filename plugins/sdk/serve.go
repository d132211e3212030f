package sdk

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// stderr is the process's standard error as it was at start. plugin.Serve
// later points os.Stderr at a pipe of its own; the host reads hclog's JSON
// lines from the real one.
var stderr = os.Stderr

var logger = sync.OnceValue(func() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Output: stderr, JSONFormat: true, Level: level})
})

// Logger is the plugin process's logger. It writes hclog JSON to standard
// error, where the host parses each line and re-logs it, structured, under
// the plugin's name. Plugins log through it, never to stdout (the go-plugin
// handshake) and preferably not with fmt to stderr (that arrives as
// unstructured debug lines).
func Logger() hclog.Logger { return logger() }

// ServeLogFormatter serves impl as a logformat plugin. A plugin's main calls
// it and nothing else; it returns when the host closes the connection.
//
// Unless GOGC says otherwise, the collector runs at a quarter of Go's
// default pace: a logformat plugin keeps a few MiB live but makes about as
// much garbage with every batch, so the default would collect every few
// batches and cost the plugin a good part of its time.
func ServeLogFormatter(impl LogFormatter) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(logFormatGCPercent)
	}
	serve(KindLogFormat, impl)
}

// logFormatGCPercent is a logformat plugin's GOGC.
const logFormatGCPercent = 400

// ServeStorage serves impl as a storage plugin. A plugin's main calls it and
// nothing else; it returns when the host closes the connection.
func ServeStorage(impl Storage) { serve(KindStorage, impl) }

// ServeRecorder serves impl as a recorder plugin. A plugin's main calls it
// and nothing else; it returns when the host closes the connection.
func ServeRecorder(impl Recorder) { serve(KindRecorder, impl) }

func serve(kind Kind, impl Plugin) {
	cfg, err := NewServeConfig(kind, impl)
	if err != nil {
		Logger().Error("cannot serve plugin", "error", err)
		os.Exit(1)
	}
	if path := os.Getenv(CPUProfileEnv); path != "" {
		if stop, err := startCPUProfile(path); err != nil {
			Logger().Warn("no CPU profile", "error", err)
		} else {
			defer stop()
		}
	}
	serveSideChannels(kind, impl)
	plugin.Serve(cfg)
}

// NewServeConfig returns the go-plugin configuration the Serve functions
// use: the handshake, one plugin set per API version this SDK speaks for
// kind, gRPC only, and Logger. sdktest serves implementations in process
// with it, so tests exercise exactly what plugin binaries serve.
func NewServeConfig(kind Kind, impl Plugin) (*plugin.ServeConfig, error) {
	if impl == nil {
		return nil, fmt.Errorf("sdk: serve %s: no implementation", kind)
	}
	sets, err := pluginSets(kind, impl, APIVersions(kind))
	if err != nil {
		return nil, fmt.Errorf("sdk: serve %s: %w", kind, err)
	}
	grpcServer := newGRPCServer
	switch kind {
	case KindLogFormat:
		grpcServer = func(opts []grpc.ServerOption) *grpc.Server {
			return newGRPCServer(append(opts, logFormatServerOptions()...))
		}
	case KindStorage:
		grpcServer = func(opts []grpc.ServerOption) *grpc.Server {
			return newGRPCServer(append(opts, storageServerOptions()...))
		}
	}
	return &plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: sets,
		GRPCServer:       grpcServer,
		Logger:           Logger(),
	}, nil
}
