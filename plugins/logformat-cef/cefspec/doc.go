// Package cefspec holds what the ArcSight Common Event Format (CEF)
// specification fixes and both the writer (cefwrite) and the strict parser
// (cefparse) need: the header field limits, the extension dictionary keys
// Vigil uses with their maximum lengths, and the severity scale.
//
// Lengths are counted in bytes of UTF-8 before escaping. The specification
// gives them without saying whether it counts bytes, characters or UTF-16
// units; a value within the limit in bytes is within it in all three.
package cefspec
