package sdk

import "net"

// logFormatSideChannels is how many side channels (sidechan.go) the host
// gives a logformat plugin.
func logFormatSideChannels() int { return 0 }

// serveLogFormatSide serves impl on the plugin's inherited side channels.
func serveLogFormatSide(_ LogFormatter, conns []*net.UnixConn) {
	for _, c := range conns {
		c.Close()
	}
}
