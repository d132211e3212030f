package app

import (
	"context"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/wui"
)

// pipelineHook receives sealed segments (the recording pipeline).
type pipelineHook interface {
	sealed(ctx context.Context, sessionID, protocol string, s capture.SealedSegment)
	queues(ctx context.Context) []wui.QueueDepth
}
