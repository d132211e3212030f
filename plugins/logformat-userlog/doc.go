// Command vigil-plugin-logformat-userlog is the logformat plugin that writes
// Vigil's events as Kemp LoadMaster user-log lines:
//
//	"10.0.0.1:22" ("10.1.0.5:22") User "bob" requested "SSH" "ssh://db-prod" "SSH-2.0-OpenSSH_9.2"
//	"10.0.0.1:22": User "bob" logged off
//	"10.0.0.1:22": User "bob" "logged on" from "192.0.2.10"
//
// Every value is quoted and escaped so that none can end its quotes, break
// the line or forge another field. README.md documents the mapping of each
// metric onto a shape; userlogparse is the strict parser of the shapes.
package main
