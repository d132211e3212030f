package cefclass

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		metric string
		want   Class
	}{
		{"account.login.successful", Class{"8", "Logged on", 1, "login"}},
		{"account.login.failed_invalid_password", Class{"9", "Access denied", 5, "login"}},
		{"account.login.failed_ldap_error", Class{"9", "Access denied", 5, "login"}},
		{"session.destroy", Class{"6", "Logged off", 1, "end"}},
		{"session.kill", Class{"102", "User session kill", 3, "kill"}},
		{"session.kill_all", Class{"103", "Kill all sessions", 3, "kill"}},
		{"recording.play", Class{"213", "Recording played", 3, "play"}},
		{"recording.render_failed", Class{"219", "Recording event", 0, "render_failed"}},
		{"plugin.crash", Class{"229", "Plugin event", 0, "crash"}},
		{"plugin.refused", Class{"223", "Plugin refused", 7, "refuse"}},
		{"plugin.unresponsive", Class{"224", "Plugin unresponsive", 7, "kill"}},
		{"config.reload_failed", Class{"251", "Configuration reload failed", 7, "reload"}},
		{"totally.new.metric", Class{"totally.new.metric", "totally.new.metric", 0, "metric"}},
		{"nodots", Class{"nodots", "nodots", 0, "nodots"}},
		{"", Class{"unknown", "unknown", 0, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			if got := Lookup(tt.metric); got != tt.want {
				t.Fatalf("Lookup(%q) = %+v, want %+v", tt.metric, got, tt.want)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		floor int
		level string
		want  int
	}{
		{0, "DEBUG", 0}, {0, "INFO", 1}, {0, "warning", 4}, {0, "ERROR", 7},
		{0, "CRITICAL", 10}, {5, "INFO", 5}, {7, "WARNING", 7}, {3, "", 3}, {0, "LOUD", 0},
	}
	for _, tt := range tests {
		if got := Severity(Class{Severity: tt.floor}, tt.level); got != tt.want {
			t.Errorf("Severity(floor %d, %q) = %d, want %d", tt.floor, tt.level, got, tt.want)
		}
	}
}

// TestReadmeListsEveryRule keeps the README's table in step with Rules:
// every rule has a row "| metric | id | name | severity | act |".
func TestReadmeListsEveryRule(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, r := range Rules {
		metric := "`" + r.Metric + "`"
		if r.Prefix {
			metric = "`" + r.Metric + "*`"
		}
		act := "`" + r.Class.Action + "`"
		if r.Class.Action == "" {
			act = "last part of the metric"
		}
		row := "| " + strings.Join([]string{metric, r.Class.ID, r.Class.Name, strconv.Itoa(r.Class.Severity), act}, " | ") + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}
