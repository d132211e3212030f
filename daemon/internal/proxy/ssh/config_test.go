package sshproxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/sessions"
)

func validConfig() Config {
	return Config{
		HostKeyPath: "/nonexistent/hk", Authenticator: &fakeAuth{}, Targets: &fakeTargets{},
		Recorder: &fakeRecorder{}, Admission: admitAll{}, Events: &fakeEvents{}, Sessions: sessions.New(),
	}
}

type admitAll struct{}

func (admitAll) Admit(_ context.Context, _ bool) error { return nil }

func TestConfigCheckAndSetDefaults(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "no recorder", mutate: func(c *Config) { c.Recorder = nil }, wantErr: "missing dependencies [Recorder]"},
		{name: "no host key path", mutate: func(c *Config) { c.HostKeyPath = "" }, wantErr: "HostKeyPath"},
		{name: "bad glob", mutate: func(c *Config) { c.EnvAllowlist = []string{"LC_["} }, wantErr: `pattern "LC_["`},
		{name: "negative idle", mutate: func(c *Config) { c.IdleTimeout = -time.Second }, wantErr: "IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.CheckAndSetDefaults()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Banner != DefaultBanner || c.LoginGrace != DefaultLoginGrace || c.MaxAuthTries != DefaultMaxAuthTries ||
					c.ConnectTimeout != DefaultConnectTimeout || c.Logger == nil || len(c.EnvAllowlist) == 0 {
					t.Errorf("defaults not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "sshproxy: ") {
				t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnvAllowed(t *testing.T) {
	c := validConfig()
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"LANG": true, "LC_ALL": true, "LC_CTYPE": true, "TZ": true, "LANGUAGE": true,
		"LD_PRELOAD": false, "PATH": false, "LC": false, "lang": false, "LC_/x": false, "": false,
	} {
		if got := c.envAllowed(name); got != want {
			t.Errorf("envAllowed(%q) = %v, want %v", name, got, want)
		}
	}
}
