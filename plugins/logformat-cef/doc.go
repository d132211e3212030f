// Command vigil-plugin-logformat-cef is the logformat plugin that writes
// Vigil's events as ArcSight CEF lines ("CEF:0|Vigil|Gateway|version|class
// id|name|severity|extension"), for SIEMs that read CEF over syslog or from
// files. The event-to-CEF mapping lives here; the class table, the writer and
// a strict parser are the packages beside it (cefclass, cefwrite, cefparse),
// which logformat-espaaa and the SIEM tests import too. README.md documents
// the settings and every mapping.
package main
