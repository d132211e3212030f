package termrender

import (
	"fmt"
	"io"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// Raw writes the bytes a terminal got: the Output and Stderr payloads of
// the terminal channels, unchanged, escape sequences included, so that
// printing them to a terminal shows the session (what `vigilctl
// session-logs cat` does).
type Raw struct {
	w     io.Writer
	chans channels
}

// NewRaw returns a Raw writing to w.
func NewRaw(w io.Writer) *Raw { return &Raw{w: w} }

// Add takes one record.
func (r *Raw) Add(rec capture.Record) error {
	r.chans.note(rec)
	if (rec.Kind != capture.Output && rec.Kind != capture.Stderr) || !r.chans.terminal(rec.Channel) {
		return nil
	}
	if _, err := r.w.Write(rec.Payload); err != nil {
		return fmt.Errorf("termrender: %w", err)
	}
	return nil
}
