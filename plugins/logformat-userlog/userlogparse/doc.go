// Package userlogparse is a strict parser of the user-log lines
// logformat-userlog writes (Kemp LoadMaster's user-log shapes):
//
//	"VSIP:Port" ("RSIP:Port") User "USERNAME" requested "METHOD" "URI" "USERAGENT"
//	"VSIP:Port" ("RSIP:Port") User "USERNAME" attempted "METHOD" "URI" "USERAGENT"
//	"VSIP:Port": User "USERNAME" logged off
//	"VSIP:Port": User "USERNAME" "MESSAGE" from "HOST"
//
// Any of them may be followed by ` detail="MESSAGE"`, the event's own message
// (never empty when present).
//
// Every value is quoted; inside the quotes `\` and `"` are escaped with a
// backslash, LF is `\n` and CR is `\r`, and no other escape or control
// character but tab is allowed. The line is valid UTF-8 and matches one shape
// exactly, with single spaces and nothing before or after.
package userlogparse
