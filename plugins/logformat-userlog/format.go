package main

import (
	"strings"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/logformat-userlog/userlogparse"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// maxValue is the longest a quoted value gets, in bytes before escaping: the
// CEF dictionary's usual string limit, which keeps a line well under the
// 8 KiB many syslog receivers accept.
const maxValue = 1023

// rule is how one metric becomes a line.
type rule struct {
	shape userlogparse.Shape
	// text is the verb (Request: requested, attempted) or the MESSAGE.
	text string
}

// rules maps metric names to shapes; account.login.failed_* and unknown
// metrics are handled in ruleFor.
var rules = map[string]rule{
	"http.request":                    {userlogparse.Request, "requested"},
	"http.attempt":                    {userlogparse.Request, "attempted"},
	"session.create":                  {userlogparse.Request, "requested"},
	"account.login.successful":        {userlogparse.Message, "logged on"},
	"account.login.failed_locked":     {userlogparse.Message, "blocked access"},
	"account.login.blocked":           {userlogparse.Message, "blocked access"},
	"admission.denied":                {userlogparse.Message, "denied access"},
	"wui.access.denied":               {userlogparse.Message, "denied access"},
	"account.password.reset_required": {userlogparse.Message, "requires password reset"},
	"account.logout":                  {userlogparse.LoggedOff, ""},
	"session.destroy":                 {userlogparse.LoggedOff, ""},
	"session.timeout":                 {userlogparse.LoggedOff, ""},
	"session.kill":                    {userlogparse.Message, "session killed"},
	"session.kill_all":                {userlogparse.Message, "sessions killed"},
	"recording.play":                  {userlogparse.Message, "played recording"},
	"recording.download":              {userlogparse.Message, "downloaded recording"},
}

func ruleFor(metric string) (rule, bool) {
	if r, ok := rules[metric]; ok {
		return r, true
	}
	if strings.HasPrefix(metric, "account.login.failed_") {
		return rule{userlogparse.Message, "denied access"}, true
	}
	return rule{shape: userlogparse.Message}, false
}

// appendEvent appends ev as one user-log line to dst.
func appendEvent(dst []byte, ev *event.Event) []byte {
	r, known := ruleFor(ev.MetricName)
	dst = appendQuoted(dst, ev.VS)
	switch r.shape {
	case userlogparse.Request:
		method, uri := ev.Extra["method"], ev.Extra["uri"]
		if ev.MetricName == "session.create" {
			method, uri = sessionRequest(ev)
		}
		dst = append(dst, " ("...)
		dst = appendQuoted(dst, ev.RS)
		dst = append(dst, ") User "...)
		dst = appendQuoted(dst, ev.UserName)
		dst = append(dst, ' ')
		dst = append(dst, r.text...)
		dst = append(dst, ' ')
		dst = appendQuoted(dst, method)
		dst = append(dst, ' ')
		dst = appendQuoted(dst, uri)
		dst = append(dst, ' ')
		dst = appendQuoted(dst, ev.UserAgent)
	case userlogparse.LoggedOff:
		dst = append(dst, ": User "...)
		dst = appendQuoted(dst, ev.UserName)
		dst = append(dst, " logged off"...)
	default:
		msg := r.text
		switch {
		case !known:
			msg = ev.MetricName
		case ev.SessionID != "" && strings.HasPrefix(ev.MetricName, "recording."):
			msg += " " + ev.SessionID
		}
		dst = append(dst, ": User "...)
		dst = appendQuoted(dst, ev.UserName)
		dst = append(dst, ' ')
		dst = appendQuoted(dst, msg)
		dst = append(dst, " from "...)
		dst = appendQuoted(dst, ev.RequestIP)
	}
	// LoadMaster's shapes have no room for the event's own message; it
	// follows the shape, so no line loses it and parsers of LoadMaster's
	// lines still match from the start.
	if ev.Message != "" {
		dst = append(dst, " detail="...)
		dst = appendQuoted(dst, ev.Message)
	}
	return dst
}

// sessionRequest is the METHOD and URI of a proxied session: the protocol in
// upper case ("SESSION" when unknown) and <protocol>://<target name>, the
// target's address standing in for a missing name.
func sessionRequest(ev *event.Event) (method, uri string) {
	method = strings.ToUpper(ev.Protocol)
	if method == "" {
		method = "SESSION"
	}
	uri = ev.TargetName
	if uri == "" {
		uri = ev.RS
	}
	if ev.Protocol != "" {
		uri = strings.ToLower(ev.Protocol) + "://" + uri
	}
	return method, uri
}

const replacement = "\uFFFD"

// appendQuoted appends s in double quotes: `\` and `"` escaped with a
// backslash, LF as \n, CR as \r, every byte of invalid UTF-8 and every other
// control character but tab (C0, DEL, C1, U+2028, U+2029) as U+FFFD, and the
// value cut to maxValue bytes of that cleaned text on a rune boundary.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			w, out := 1, c
			switch {
			case c == '\\' || c == '"':
			case c == '\n':
				out = 'n'
			case c == '\r':
				out = 'r'
			case c < 0x20 && c != '\t' || c == 0x7f:
				w = len(replacement)
			}
			if n+w > maxValue {
				break
			}
			n += w
			i++
			switch {
			case w > 1:
				dst = append(dst, replacement...)
			case out != c || c == '\\' || c == '"':
				dst = append(dst, '\\', out)
			default:
				dst = append(dst, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && size == 1 || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029
		w := size
		if bad {
			w = len(replacement)
		}
		if n+w > maxValue {
			break
		}
		n += w
		if bad {
			dst = append(dst, replacement...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
