package main

import (
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefclass"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefwrite"
	"github.com/vigilgw/vigil/plugins/logformat-cef/extra"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// customPrefix starts the name of every custom (non-dictionary) extension key
// Vigil writes, as the specification asks ("VendornameKeyName").
const customPrefix = "vigil"

// csFields are the deviceCustomString slots: their label and what fills them.
var csFields = [6]struct {
	key, labelKey, label string
	value                func(*event.Event) string
}{
	{"cs1", "cs1Label", "sessionId", func(e *event.Event) string { return e.SessionID }},
	{"cs2", "cs2Label", "target", func(e *event.Event) string { return e.TargetName }},
	{"cs3", "cs3Label", "protocol", func(e *event.Event) string { return e.Protocol }},
	{"cs4", "cs4Label", "virtualService", func(e *event.Event) string { return e.VS }},
	{"cs5", "cs5Label", "component", func(e *event.Event) string { return e.Component }},
	{"cs6", "cs6Label", "reason", func(e *event.Event) string { return e.Reason }},
}

// Labels of the deviceCustomNumber slots that extra fields fill (see
// addExtras).
const (
	cn1Label = "durationSeconds"
	cn2Label = "bytes"
	cn3Label = "sizeBytes"
)

// appendEvent appends ev as one CEF line to dst.
func appendEvent(dst []byte, ev *event.Event, cfg *config) []byte {
	c := cefclass.Lookup(ev.MetricName)
	dst = cefwrite.AppendHeader(dst, cefwrite.Header{
		Vendor:   cfg.Vendor,
		Product:  cfg.Product,
		Version:  cfg.Version,
		ClassID:  c.ID,
		Name:     c.Name,
		Severity: cefclass.Severity(c, ev.Level),
	})
	x := cefwrite.StartExt(dst)
	var custom customKeys
	if !ev.Time.IsZero() {
		x.AddInt("rt", ev.Time.UnixMilli())
	}
	x.Add("dvchost", ev.Host)
	if ev.Seq != 0 {
		x.AddUint("externalId", ev.Seq)
	}
	x.Add("cat", ev.MetricName)
	x.Add("act", c.Action)
	x.Add("outcome", ev.Result)

	addAddress(&x, ev.RequestIP, "src", "c6a2", "Source IPv6 Address", "shost")
	if p, ok := port(ev.RequestPort); ok {
		x.AddInt("spt", p)
	} else {
		custom.add(&x, customPrefix+"RequestPort", ev.RequestPort)
	}
	addRealServer(&x, ev.RS)

	x.Add("suser", ev.UserName)
	x.Add("suid", ev.UserID)
	x.Add("sntdom", ev.Domain)
	x.Add("requestClientApplication", ev.UserAgent)
	x.Add("msg", ev.Message)
	for _, f := range csFields {
		if v := f.value(ev); v != "" {
			x.Add(f.labelKey, f.label)
			x.Add(f.key, v)
		}
	}
	x.Add("deviceExternalId", ev.ServerID)
	x.Add("deviceProcessName", ev.Process)
	custom.add(&x, customPrefix+"TargetId", ev.TargetID)
	custom.add(&x, customPrefix+"TargetFriendlyName", ev.TargetFriendlyName)
	addExtras(&x, ev, &custom)
	return x.Bytes()
}

// addExtras writes ev.Extra in key order: the known fields to their
// dictionary keys, the rest (and known fields that do not read as their
// type) as custom keys vigil<CamelCaseKey>.
func addExtras(x *cefwrite.Ext, ev *event.Event, custom *customKeys) {
	if len(ev.Extra) == 0 {
		return
	}
	var stack [16]string
	keys := stack[:0]
	for k := range ev.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := ev.Extra[k]
		switch k {
		case "uri":
			x.Add("request", v)
			continue
		case "method":
			x.Add("requestMethod", v)
			continue
		case "path":
			x.Add("filePath", v)
			continue
		case "target_user":
			x.Add("duser", v)
			continue
		case "duration":
			if n, ok := extra.Seconds(ev, k); ok {
				x.Add("cn1Label", cn1Label)
				x.AddInt("cn1", n)
				continue
			}
		case "bytes":
			if n, ok := extra.Int(ev, k); ok {
				x.Add("cn2Label", cn2Label)
				x.AddInt("cn2", n)
				continue
			}
		case "size":
			if n, ok := extra.Int(ev, k); ok {
				x.Add("cn3Label", cn3Label)
				x.AddInt("cn3", n)
				continue
			}
		case "start", "end":
			if t, ok := extra.Time(ev, k); ok {
				x.AddInt(k, t.UnixMilli())
				continue
			}
		}
		custom.add(x, customKeyName(k), v)
	}
}

// customKeys remembers the custom keys written to one line, so that two
// extra fields whose names fold to the same key (or one that folds to the
// name of an event field's key) never give a key twice: the first wins.
type customKeys struct {
	stack [8]string
	names []string
}

func (c *customKeys) add(x *cefwrite.Ext, key, value string) {
	if value == "" || key == customPrefix {
		return
	}
	if c.names == nil {
		c.names = c.stack[:0]
	}
	if slices.Contains(c.names, key) {
		return
	}
	c.names = append(c.names, key)
	x.Add(key, value)
}

// maxCustomKey is the longest custom key name written; longer names are cut.
const maxCustomKey = 64

// customKeyName folds an extra field name into a custom key name: "vigil"
// then each run of letters and digits with its first letter upper-cased
// (bytes_in -> vigilBytesIn), cut to maxCustomKey bytes; everything else is
// dropped, so the key is always a valid CEF key whatever the field is called.
func customKeyName(field string) string {
	b := make([]byte, 0, min(len(customPrefix)+len(field), maxCustomKey))
	b = append(b, customPrefix...)
	upper := true
	for i := 0; i < len(field) && len(b) < maxCustomKey; i++ {
		c := field[i]
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			upper = true
			continue
		}
		upper = false
		b = append(b, c)
	}
	return string(b)
}

// addAddress writes an address: an IPv4 one under v4Key, an IPv6 one under
// v6Key with its label, anything else (a host name, garbage) as a string
// under hostKey so that nothing is lost.
func addAddress(x *cefwrite.Ext, s, v4Key, v6Key, v6Label, hostKey string) {
	if s == "" {
		return
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		x.Add(hostKey, s)
	case a.Is4():
		x.Add(v4Key, s) // ParseAddr takes only the canonical dotted form
	case a.Is4In6():
		x.Add(v4Key, a.Unmap().String())
	default:
		x.Add(v6Key+"Label", v6Label)
		x.Add(v6Key, s)
	}
}

// addRealServer writes the target's ip:port as dst (or c6a3) and dpt; a
// host name goes to dhost, and anything that is not host:port goes to dhost
// whole.
func addRealServer(x *cefwrite.Ext, rs string) {
	if rs == "" {
		return
	}
	host, p, err := net.SplitHostPort(rs)
	n, ok := port(p)
	if err != nil || !ok || host == "" {
		x.Add("dhost", rs)
		return
	}
	addAddress(x, host, "dst", "c6a3", "Destination IPv6 Address", "dhost")
	x.AddInt("dpt", n)
}

// port reads a TCP/UDP port number.
func port(s string) (int64, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	return int64(n), err == nil
}
