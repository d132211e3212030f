package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pipeline"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

// pipelineHook receives sealed segments (the recording pipeline).
type pipelineHook interface {
	sealed(ctx context.Context, sessionID, protocol string, s capture.SealedSegment)
	queues(ctx context.Context) []wui.QueueDepth
}

// recordingPipeline runs the encode and upload queues over the store's job
// journal, through the recorder plugins and the storage backend.
type recordingPipeline struct {
	d *Daemon
	p *pipeline.Pipeline
}

func (d *Daemon) startPipeline(ctx context.Context) error {
	cfg := d.Config()
	rc := cfg.Recording
	if _, _, err := pipeline.StoragePlugin(&cfg.Recording, cfg.PluginConfigJSON()); err != nil {
		return err
	}
	if err := d.requirePlugin("storage-"+storagePlugin(cfg), "recording.upload_location"); err != nil {
		return err
	}
	storage, err := d.plugins.Storage(storagePlugin(cfg))
	if err != nil {
		return err
	}
	recorders := map[string]pipeline.Recorder{}
	for _, id := range d.plugins.Names(sdk.KindRecorder) {
		r, err := d.plugins.Recorder(id)
		if err != nil {
			return err
		}
		recorders[id] = r
	}
	tun := pipelineTunables(cfg)
	p, err := pipeline.New(pipeline.Config{
		Store: d.store, Events: d.bus, Storage: storage, Recorders: recorders,
		Logger:    d.log.Named("pipeline"),
		SealedDir: d.layout.SpoolSealed(), RendersDir: d.layout.Renders(), PublicKey: d.keys.Public(),
		Render:                tun.Render,
		UploadLocation:        rc.UploadLocation,
		QueueLength:           rc.QueueLength,
		Retention:             tun.Retention,
		UploadRetryMaxBackoff: tun.UploadRetryMaxBackoff,
		Unavailable:           pipeline.PluginUnavailable,
	})
	if err != nil {
		return err
	}
	// Render settings, retention, retry backoff and the upload location
	// (within its scheme: the storage plugin is chosen at start) follow
	// reloads; queue_length needs a restart (see reload).
	d.reloaders = append(d.reloaders, func(cfg *config.Config) error {
		t := pipelineTunables(cfg)
		err := p.Reload(t)
		if errors.Is(err, pipeline.ErrRestart) {
			t.UploadLocation = p.UploadLocation() // restartPending says so
			err = p.Reload(t)
		}
		return err
	})
	// Recover (reset running jobs, adopt orphans in spool/sealed) before
	// anything new is sealed.
	if err := p.Recover(ctx); err != nil {
		return err
	}
	d.pipeline = &recordingPipeline{d: d, p: p}
	d.goRun("pipeline", p.Run)
	return nil
}

// pipelineTunables is what of cfg the running pipeline follows.
func pipelineTunables(cfg *config.Config) pipeline.Tunables {
	rc := cfg.Recording
	return pipeline.Tunables{
		Render: sdk.RenderSettings{BitrateKbps: rc.Bitrate, Framerate: rc.Framerate, Width: rc.Width, Height: rc.Height,
			ThumbnailEvery: rc.ThumbnailEvery, RecordInput: rc.RecordInput},
		Retention:             rc.Retention,
		UploadRetryMaxBackoff: rc.UploadRetryMaxBackoff,
		UploadLocation:        rc.UploadLocation,
	}
}

// sealed hands a segment to the pipeline. A failure leaves the file in
// spool/sealed, where the pipeline's recovery adopts it at the next start:
// it is retried here for a while, then reported, never dropped.
func (rp *recordingPipeline) sealed(ctx context.Context, sessionID, _ string, s capture.SealedSegment) {
	info := pipeline.FromSealed(sessionID, s)
	backoff := 100 * time.Millisecond
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = rp.p.Sealed(ctx, info); err == nil {
			return
		}
		time.Sleep(backoff) // on the writer's seal goroutine, never the relay
		backoff *= 2
	}
	rp.d.log.Error("pipeline: seal not recorded; the segment stays in spool/sealed for recovery", "path", s.Path, "error", err)
	rp.d.publish(event.Event{MetricName: "recording.stuck", Level: event.LevelError, Component: "pipeline", SessionID: sessionID,
		Message: fmt.Sprintf("sealed segment %d could not be queued; it is kept in spool/sealed and adopted at the next start", s.Segment),
		Reason:  err.Error(), Extra: map[string]string{"path": s.Path}})
}

func (rp *recordingPipeline) queues(ctx context.Context) []wui.QueueDepth {
	st, err := rp.p.Status(ctx)
	if err != nil {
		return nil
	}
	return []wui.QueueDepth{
		{Name: "encode", Waiting: st.EncodeQueued, Running: st.EncodeBusy, Capacity: st.EncodeSlots},
		{Name: "upload", Waiting: st.UploadQueued, Running: st.UploadBusy, Capacity: st.UploadWorkers},
	}
}
