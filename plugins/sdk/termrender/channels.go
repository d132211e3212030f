package termrender

import (
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// channels tells terminal channels from those that carry a file-transfer
// protocol: an SSH subsystem (sftp: Meta extra "ch<N>.subsystem", the SSH
// proxy's convention) or an scp command (Exec "scp ..."). Their bytes are
// protocol, not text, so renders leave them out; the Transfer records say
// what moved.
type channels struct {
	protocol map[uint32]bool
}

// note learns from r what its channel carries.
func (c *channels) note(r capture.Record) {
	switch r.Kind {
	case capture.Meta:
		var m struct {
			Extra map[string]string `json:"extra"`
		}
		if json.Unmarshal(r.Payload, &m) != nil {
			return
		}
		for k, v := range m.Extra {
			rest, ok := strings.CutPrefix(k, "ch")
			num, fact, ok2 := strings.Cut(rest, ".")
			if !ok || !ok2 || fact != "subsystem" || v == "" {
				continue
			}
			if n, err := strconv.ParseUint(num, 10, 32); err == nil {
				c.mark(uint32(n))
			}
		}
	case capture.Exec:
		if f := strings.Fields(string(r.Payload)); len(f) > 0 && path.Base(f[0]) == "scp" {
			c.mark(r.Channel)
		}
	}
}

func (c *channels) mark(ch uint32) {
	if c.protocol == nil {
		c.protocol = map[uint32]bool{}
	}
	c.protocol[ch] = true
}

// terminal reports whether channel ch carries terminal text.
func (c *channels) terminal(ch uint32) bool { return !c.protocol[ch] }
