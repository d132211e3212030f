package sdk

import "net"

// storageSideChannels is how many side channels (sidechan.go) the host
// gives a storage plugin.
func storageSideChannels() int { return 0 }

// serveStorageSide serves impl on the plugin's inherited side channels.
func serveStorageSide(_ Storage, conns []*net.UnixConn) {
	for _, c := range conns {
		c.Close()
	}
}
