package sshproxy

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"
)

// metaRecord is the payload of a KindMeta record: the JSON shape of the
// capture format's SessionMeta. Readers merge Meta records in order, later
// non-empty fields winning, so per-channel facts go under distinct "extra"
// keys (see channelFacts).
type metaRecord struct {
	SessionID  string            `json:"session_id,omitempty"`
	User       string            `json:"user,omitempty"`
	Target     string            `json:"target,omitempty"`
	TargetAddr string            `json:"target_addr,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	Protocol   string            `json:"protocol,omitempty"`
	Start      time.Time         `json:"start,omitzero"`
	Term       string            `json:"term,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
}

func (m metaRecord) marshal() []byte {
	b, err := json.Marshal(m)
	if err != nil { // strings, a time and a string map only
		panic("sshproxy: marshalling a meta record: " + err.Error())
	}
	return b
}

// channelFacts is a Meta record of facts about one channel: pairs of fact
// names and values, stored as extra "ch<N>.<fact>".
func channelFacts(channel uint32, pairs ...string) metaRecord {
	prefix := "ch" + strconv.FormatUint(uint64(channel), 10) + "."
	extra := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		extra[prefix+pairs[i]] = pairs[i+1]
	}
	return metaRecord{Extra: extra}
}

// resizePayload is a KindResize payload: cols, rows, width, height.
func resizePayload(cols, rows, width, height uint32) []byte {
	b := make([]byte, 0, 4*binary.MaxVarintLen32)
	for _, v := range []uint32{cols, rows, width, height} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

// exitStatusPayload is a KindExitStatus payload.
func exitStatusPayload(status uint32) []byte {
	return binary.AppendUvarint(nil, uint64(status))
}

// transferRecord is the KindTransfer payload and the transfer event's data.
type transferRecord struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"` // bytes that crossed the gateway
	Direction string `json:"direction"`
	Protocol  string `json:"protocol"`
	Name      string `json:"name,omitempty"` // scp: the name the protocol carried
	Complete  bool   `json:"complete"`
}

func (t transferRecord) marshal() []byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic("sshproxy: marshalling a transfer record: " + err.Error())
	}
	return b
}
