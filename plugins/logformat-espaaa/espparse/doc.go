// Package espparse is a strict parser of the ESP AAA lines logformat-espaaa
// writes (Kemp LoadMaster's ESP log shape), in both of its forms:
//
//	<time> <host> ssomgr: vs=... user=... domain=... server=... protocol=... result=<code>:<text>
//	<time> <host> ssomgr: CEF:0|vendor|product|version|id|name|severity|vs=... event=<name> user=... msg=...
//
// <time> is RFC 3339 to the second with a numeric offset (never Z), <host>
// one token of printable ASCII with other bytes, `%` and a lone `-`
// percent-encoded ("-" when there is no host). The body is a CEF extension
// (cefparse.ParseExtension) in the plain form and a CEF line (cefparse.Parse)
// in the CEF form. Keys must be known and in the documented order: vs, event
// (CEF form only, and there always, equal to the header name), srcip, user,
// domain, server, protocol, result, msg, detail; a line has a result or a
// msg; result reads <code>:<text>.
package espparse
