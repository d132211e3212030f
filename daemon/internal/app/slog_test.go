package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestSloggerFollowsTheDaemonLogger(t *testing.T) {
	var out bytes.Buffer
	d := &Daemon{log: hclog.New(&hclog.LoggerOptions{Name: "vigild", Output: &out, JSONFormat: true, Level: hclog.Info})}
	l := d.slogger("ssh").With("session", "s-1").WithGroup("client")
	l.Debug("not shown at info")
	l.Info("connected", "addr", "10.0.0.5:50122", slog.Group("tls", "version", "1.3"))
	l.Error("gone\ninjected=line", "err", "boom")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (debug filtered at info):\n%s", len(lines), out.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"@module": "vigild.ssh", "@level": "info", "@message": "connected", "session": "s-1",
		"client.addr": "10.0.0.5:50122", "client.tls.version": "1.3",
	} {
		if first[k] != want {
			t.Errorf("first line %s = %v, want %v (%s)", k, first[k], want, lines[0])
		}
	}
	if second["@level"] != "error" || second["@message"] != "gone\ninjected=line" || second["client.err"] != "boom" {
		t.Errorf("second line: %s", lines[1])
	}

	d.log.SetLevel(hclog.Debug)
	out.Reset()
	l.Debug("shown at debug")
	if !strings.Contains(out.String(), "shown at debug") {
		t.Errorf("a debug line at log_level debug: %q", out.String())
	}
}
