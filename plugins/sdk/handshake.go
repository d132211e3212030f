package sdk

import (
	"fmt"
	"slices"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is what host and plugin check before anything else. The cookie
// is not a secret: it only stops a plugin binary run by hand from waiting
// for a host that will never come, and tells the user so.
var Handshake = plugin.HandshakeConfig{
	MagicCookieKey:   "VIGIL_PLUGIN",
	MagicCookieValue: "5b9e0f6c2d7a4e18a3c1f0b8d4e6a297",
}

// BuildVersion is the version plugins report in Info unless they have their
// own. The build sets it:
//
//	-ldflags '-X github.com/vigilgw/vigil/plugins/sdk.BuildVersion=1.2.3'
var BuildVersion = "dev"

// LogLevelEnv names the environment variable through which the host tells
// a plugin the lowest hclog level worth sending (trace, debug, info, warn,
// error); Logger starts at that level.
const LogLevelEnv = "VIGIL_PLUGIN_LOG_LEVEL"

// maxMessageSize bounds one gRPC message both ways. Storage content travels
// in chunkSize pieces; a logformat batch is split by the client so that a
// request stays under formatBatchBytes, leaving room for escaping to grow the
// response.
const (
	maxMessageSize   = 64 << 20
	chunkSize        = 256 << 10
	formatBatchBytes = 8 << 20
	listPageSize     = 1000
)

// apiVersions lists, per kind, the API versions this SDK build serves (plugin
// side) and can talk to (host side), oldest first. A new API version adds
// its proto package and adapters and appends here.
var apiVersions = map[Kind][]int{
	KindRecorder:  {1},
	KindStorage:   {1},
	KindLogFormat: {1},
}

// Kinds returns every plugin kind, in a fixed order.
func Kinds() []Kind { return []Kind{KindRecorder, KindStorage, KindLogFormat} }

// ParseKind returns the Kind named s, or false.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	_, ok := apiVersions[k]
	return k, ok
}

// APIVersions returns the API versions of kind this SDK speaks, oldest first.
func APIVersions(kind Kind) []int { return slices.Clone(apiVersions[kind]) }

// pluginSets builds go-plugin's VersionedPlugins for kind: one plugin set
// per version, whose only entry is named after the kind ("recorder",
// "storage", "logformat"). impl is the implementation on the plugin side and
// nil on the host side.
func pluginSets(kind Kind, impl Plugin, versions []int) (map[int]plugin.PluginSet, error) {
	sets := make(map[int]plugin.PluginSet, len(versions))
	for _, v := range versions {
		if !slices.Contains(apiVersions[kind], v) {
			return nil, fmt.Errorf("%s API version %d is not one this SDK speaks %v", kind, v, apiVersions[kind])
		}
		p, err := newGoPlugin(kind, impl)
		if err != nil {
			return nil, err
		}
		sets[v] = plugin.PluginSet{string(kind): p}
	}
	return sets, nil
}

// newGoPlugin returns the go-plugin glue for one kind at API version 1.
func newGoPlugin(kind Kind, impl Plugin) (plugin.Plugin, error) {
	switch kind {
	case KindStorage:
		p := &StoragePlugin{}
		if impl != nil {
			s, ok := impl.(Storage)
			if !ok {
				return nil, fmt.Errorf("%T does not implement sdk.Storage", impl)
			}
			p.Impl = s
		}
		return p, nil
	case KindLogFormat:
		p := &LogFormatPlugin{}
		if impl != nil {
			f, ok := impl.(LogFormatter)
			if !ok {
				return nil, fmt.Errorf("%T does not implement sdk.LogFormatter", impl)
			}
			p.Impl = f
		}
		return p, nil
	case KindRecorder:
		p := &RecorderPlugin{}
		if impl != nil {
			r, ok := impl.(Recorder)
			if !ok {
				return nil, fmt.Errorf("%T does not implement sdk.Recorder", impl)
			}
			p.Impl = r
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown plugin kind %q", kind)
}

// newGRPCServer is the gRPC server every plugin serves on.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	return grpc.NewServer(opts...)
}

// dialOptions are the host side's counterpart of newGRPCServer.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))}
}
