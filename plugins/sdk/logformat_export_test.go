package sdk

// LiveFormatLanes is how many lanes (logformat_side.go) the host side of a
// logformat plugin has left; -1 when f is not one or has none at all.
func LiveFormatLanes(f LogFormatter) int {
	c, ok := f.(*logFormatClient)
	if !ok || c.lanes == nil {
		return -1
	}
	return int(c.lanes.live.Load())
}
