package pipeline

import (
	"strconv"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Component is the component of every event the pipeline publishes.
const Component = "pipeline"

// Metric names of the pipeline's events.
const (
	MetricSealed          = "recording.segment.sealed"
	MetricAdopted         = "recording.segment.adopted" // a sealed file the store did not know, taken in by Recover
	MetricCaptureMissing  = "recording.segment.missing" // a segment whose capture file is gone before its upload
	MetricEncodeStart     = "recording.encode.start"
	MetricEncodeDone      = "recording.encode.done"
	MetricEncodeFailed    = "recording.encode.failed"
	MetricUploadDone      = "recording.upload.done"
	MetricUploadFailed    = "recording.upload.failed"
	MetricUploadRetry     = "recording.upload.retry"
	MetricRetentionDelete = "recording.retention.delete"
	MetricStuck           = "recording.stuck"
	MetricResources       = "scaling.status.resources"
)

// publish sends an event, filling in the session's fields. A failure to
// publish is logged: the journal (the store) stays the truth.
func (p *Pipeline) publish(metric, level, msg string, sess *store.Session, segment int, extra map[string]string) {
	e := event.Event{MetricName: metric, Level: level, Message: msg, Component: Component, Extra: extra}
	if sess != nil {
		e.SessionID = sess.ID
		e.UserName = sess.UserName
		e.TargetName = sess.TargetName
		e.TargetFriendlyName = sess.TargetFriendlyName
		e.Protocol = string(sess.Protocol)
		e.VS, e.RS = sess.VS, sess.RS
		if sess.UserID != 0 {
			e.UserID = strconv.FormatInt(sess.UserID, 10)
		}
		if sess.TargetID != 0 {
			e.TargetID = strconv.FormatInt(sess.TargetID, 10)
		}
	}
	if segment >= 0 {
		if e.Extra == nil {
			e.Extra = map[string]string{}
		}
		e.Extra["segment"] = strconv.Itoa(segment)
	}
	if err := p.cfg.Events.Publish(e); err != nil {
		p.log.Error("publishing event", "metric", metric, "session", e.SessionID, "error", err)
	}
}
