// Command vigil-plugin-logformat-espaaa is the logformat plugin that writes
// Vigil's login and session events as Kemp LoadMaster ESP AAA log lines
//
//	2021-09-08T07:34:22-04:00 vigil1 ssomgr: vs=10.0.0.1:22 user=bob domain=corp server=local protocol=Local result=0:Success
//
// or, with {"cef": true}, the same content as CEF after the same prefix, for
// SIEMs that already parse LoadMaster's ESP logs. Values use CEF's extension
// escaping (the shared writer in logformat-cef/cefwrite), so no value can
// break the line or forge a key=. README.md documents the shapes, the
// mapping and the settings; espparse is the strict parser of the shapes.
package main
