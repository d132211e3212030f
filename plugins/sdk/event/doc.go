// Package event defines the one event schema shared by the vigild core and
// every logformat plugin. Field names and JSON keys follow design.md (and the
// Kasm / LoadMaster seeds they come from); every log format is derived from
// this struct, so a field added here reaches every sink.
package event
