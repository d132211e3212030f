// Package extra reads the typed fields that events carry in event.Extra as
// strings, with the conventions every logformat plugin shares:
//
//   - start, end: a time, as RFC 3339 or as whole seconds since the epoch;
//   - duration: seconds (an integer or a decimal) or a Go duration ("1m30s");
//   - bytes, size, count and other counters: a decimal integer.
//
// A value that does not follow its convention reads as absent, and the
// formats then carry it as an uninterpreted string instead.
package extra
