package logsink

import (
	"errors"
	"fmt"

	"github.com/vigilgw/vigil/daemon/internal/config"
)

// CheckAll reports a [[log.sink]] that vigild could not start (a TLS
// syslog sink whose CA or certificate file is unreadable or holds none),
// without opening anything: what `vigild --check-config` and `vigilctl
// config check` add to the configuration's own checks.
func CheckAll(cfg *config.Config) error {
	var errs []error
	for _, s := range cfg.Log.Sinks {
		if err := FromConfig(s).Check(); err != nil {
			errs = append(errs, fmt.Errorf("log.sink %q: %w", s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// FromConfig maps one [[log.sink]] onto the sink package's config.
func FromConfig(s config.Sink) Config {
	return Config{
		Name: s.Name, Type: s.Type, Format: s.Format, Components: s.Components,
		Path: s.Path, MaxSize: int64(s.MaxSize), MaxAge: s.MaxAge, Retention: s.Retention,
		Address: s.Address, Transport: s.Transport, Framing: s.Framing, RFC: s.RFC,
		Facility: s.Facility, AppName: s.AppName, UDPMaxSize: s.UDPMaxSize, UDPOversize: s.UDPOversize,
		TLSCAFile: s.TLSCA, TLSCertFile: s.TLSCert, TLSKeyFile: s.TLSKey, TLSServerName: s.TLSServerName,
		TLSSkipVerify: s.TLSSkipVerify, BufferMaxBytes: int64(s.BufferMaxBytes), BufferMaxAge: s.BufferMaxAge,
	}
}
