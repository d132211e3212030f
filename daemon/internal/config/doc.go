// Package config owns vigild's configuration: the TOML file
// (/etc/vigil/vigil.toml, every key documented in etc/vigil.toml) and the
// overlay the web UI writes (<state_dir>/settings.toml).
//
// Load reads both into one Config. Every key of the schema lives in the
// struct tags of Config and its tables; the static defaults in Default; the
// derived defaults and every check in CheckAndSetDefaults, the one place
// that decides what a valid configuration is. Problems are collected, not
// stopped at: each names the file, the line and the dotted key
// ("config: /etc/vigil/vigil.toml:12: recording.queue_length: must be >= 0,
// got -3"). toml.MetaData keeps no key positions, so lines come from a small
// scanner of the source (lines.go).
//
// Sizes are integers of bytes or strings with a unit ("500MB" = 500·10^6,
// "150MiB" = 150·2^20). Durations are Go durations plus a day suffix
// ("30s", "8h", "7d"). Relative paths resolve against the directory of the
// file that set them: the configuration file's directory, or state_dir for
// settings.toml. Sink paths resolve against log_dir.
//
// Each value remembers its Origin (default, file or settings) for
// `vigilctl config show` (Show). SaveSettings checks the web UI's changes
// before it writes them, and answers with FieldErrors keyed by field.
package config
