package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// historyConsumer keeps the session history in the store from the gateways'
// session events. Driving it from the durable journal (rather than from
// calls in each proxy) makes the history complete after a crash: a session
// event that was accepted is replayed until the store has it, and SSH, VNC
// and any later gateway feed the same table the same way.
const historyConsumer = "history"

func (d *Daemon) runHistory(ctx context.Context) error {
	c, err := d.bus.Consumer(historyConsumer, events.ConsumerOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	// Events up to startHead were published by an earlier run. A
	// session.create among them that this consumer had not applied before
	// the crash recreates an active session that will never end; once they
	// are all applied, such sessions are ended again.
	startHead, caughtUp := d.bus.Head(), false
	backoff := 100 * time.Millisecond
	for {
		evs, err := c.Next(ctx, 256)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
				return nil
			}
			return fmt.Errorf("history: %w", err)
		}
		for _, e := range evs {
			for {
				err := d.applyHistory(ctx, e)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return nil
				}
				d.log.Warn("history: retrying", "seq", e.Seq, "metric", e.MetricName, "error", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 10*time.Second)
			}
			backoff = 100 * time.Millisecond
			if err := c.Ack(e.Seq); err != nil {
				return fmt.Errorf("history: %w", err)
			}
			if !caughtUp && e.Seq >= startHead {
				caughtUp = true
				if err := d.endStaleSessions(ctx); err != nil && ctx.Err() == nil {
					d.log.Warn("history: ending sessions of the previous run", "error", err)
				}
			}
		}
	}
}

// endStaleSessions marks ended every session that the store still has as
// active although it started before this vigild did: no session of an
// earlier run can still be running.
func (d *Daemon) endStaleSessions(ctx context.Context) error {
	n, err := d.store.EndActiveSessions(ctx, d.started, "vigild restarted")
	if err != nil {
		return err
	}
	if n > 0 {
		d.publish(event.Event{MetricName: "session.recovered", Level: event.LevelWarning, Component: "core",
			Message: fmt.Sprintf("%d session(s) were still active when vigild stopped; marked ended", n)})
	}
	return nil
}

// applyHistory is idempotent: replaying an event changes nothing.
func (d *Daemon) applyHistory(ctx context.Context, e event.Event) error {
	if e.SessionID == "" {
		return nil
	}
	switch e.MetricName {
	case "session.create":
		s := store.Session{
			ID: e.SessionID, UserName: e.UserName, TargetName: e.TargetName, TargetFriendlyName: e.TargetFriendlyName,
			Protocol: store.Protocol(e.Protocol), VS: e.VS, RS: e.RS, ClientIP: e.RequestIP,
			StartedAt: e.Time, State: store.SessionActive, Recorded: e.Extra["recorded"] == "true",
		}
		s.UserID, _ = strconv.ParseInt(e.UserID, 10, 64)
		s.TargetID, _ = strconv.ParseInt(e.TargetID, 10, 64)
		s.ClientPort, _ = strconv.Atoi(e.RequestPort)
		if s.Recorded {
			s.RecordingState = store.RecordingRecording
		}
		_, err := d.store.CreateSession(ctx, s)
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	case "session.destroy":
		end := store.SessionEnd{State: store.SessionEnded, EndedAt: e.Time, Reason: e.Reason}
		if in, err := strconv.ParseInt(e.Extra["bytes_in"], 10, 64); err == nil {
			end.BytesIn = &in
		}
		if out, err := strconv.ParseInt(e.Extra["bytes_out"], 10, 64); err == nil {
			end.BytesOut = &out
		}
		if st, err := strconv.Atoi(e.Extra["exit_status"]); err == nil {
			end.ExitStatus = &st
		}
		if e.Reason == "killed" {
			end.State = store.SessionKilled
		}
		err := d.store.EndSession(ctx, e.SessionID, end)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrState) {
			return nil // never created (refused before start) or already ended
		}
		return err
	}
	return nil
}
