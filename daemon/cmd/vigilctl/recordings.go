package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/store"
)

func (a *app) recordingsCmd() *cli.Command {
	var states cli.Strings
	var session string
	var limit int
	return &cli.Command{Name: "recordings", Summary: "the recording pipeline's jobs", Sub: []*cli.Command{
		{Name: "jobs", Usage: "[--state S]... [--session ID] [--limit N]", Summary: "list encode and upload jobs with their state and progress",
			Flags: func(fs *flag.FlagSet) {
				states = nil
				fs.Var(&states, "state", "only jobs in this state (repeatable): pending, encoding, encoded, uploading, uploaded, failed, retrying, stuck")
				fs.StringVar(&session, "session", "", "only this session's jobs")
				fs.IntVar(&limit, "limit", 100, "at most this many jobs")
			},
			Args: cli.NArgs(0),
			Run: func(e *cli.Env) error {
				st, err := a.store()
				if err != nil {
					return err
				}
				f := store.JobFilter{SessionID: session, Limit: limit}
				for _, s := range states {
					f.States = append(f.States, store.JobState(s))
				}
				jobs, err := st.ListJobs(context.Background(), f)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tKIND\tSESSION\tSEGMENT\tSTATE\tPROGRESS\tATTEMPTS\tSTARTED\tFINISHED\tOBJECT / LAST ERROR")
				for _, j := range jobs {
					detail := j.ObjectKey
					if j.LastError != "" {
						detail = strings.ReplaceAll(j.LastError, "\n", " ")
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%d%%\t%d\t%s\t%s\t%s\n", j.ID, j.Kind, j.SessionID, j.Segment, j.State,
						j.Progress, j.Attempts, stamp(j.Started), stamp(j.Finished), detail)
				}
				return w.Flush()
			}},
	}}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
