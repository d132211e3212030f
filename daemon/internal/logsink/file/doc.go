// Package file writes log lines to files under the log directory, one file
// per component when the path template says {component} (the default JSON
// layout is <log_dir>/<component>_json.log), with files 0640, rotation by
// size and by age (the old file renamed <name>.<UTC time>, optionally
// gzipped in the background) and deletion of rotated files past their
// retention (default 7 days). Rotation and retention follow an injectable
// clock.
package file
