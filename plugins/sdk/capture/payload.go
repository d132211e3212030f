package capture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Size is the payload of a Resize record: a terminal's character cells and,
// when known, its pixel size (for screens, only the pixels).
type Size struct {
	Cols, Rows    uint32
	Width, Height uint32 // pixels
}

// AppendResize appends the payload of a Resize record: four uvarints.
func AppendResize(dst []byte, s Size) []byte {
	dst = binary.AppendUvarint(dst, uint64(s.Cols))
	dst = binary.AppendUvarint(dst, uint64(s.Rows))
	dst = binary.AppendUvarint(dst, uint64(s.Width))
	return binary.AppendUvarint(dst, uint64(s.Height))
}

// DecodeResize reads a Resize payload.
func DecodeResize(p []byte) (Size, error) {
	d := decoder{b: p}
	s := Size{
		Cols:   uint32(d.uvarint(1<<32 - 1)),
		Rows:   uint32(d.uvarint(1<<32 - 1)),
		Width:  uint32(d.uvarint(1<<32 - 1)),
		Height: uint32(d.uvarint(1<<32 - 1)),
	}
	if err := d.end(); err != nil {
		return Size{}, fmt.Errorf("capture: resize: %w", err)
	}
	return s, nil
}

// AppendExitStatus appends the payload of an ExitStatus record: a uvarint.
func AppendExitStatus(dst []byte, status uint32) []byte {
	return binary.AppendUvarint(dst, uint64(status))
}

// DecodeExitStatus reads an ExitStatus payload.
func DecodeExitStatus(p []byte) (uint32, error) {
	d := decoder{b: p}
	v := uint32(d.uvarint(1<<32 - 1))
	if err := d.end(); err != nil {
		return 0, fmt.Errorf("capture: exit status: %w", err)
	}
	return v, nil
}

// SessionMeta is the JSON object of a Meta record. A capture may hold
// several Meta records; a reader merges them in order, later non-empty
// fields winning. The writer repeats every Meta record at the start of each
// new segment, so that a segment renders on its own.
type SessionMeta struct {
	SessionID  string    `json:"session_id,omitempty"`
	Team       string    `json:"team,omitempty"`
	User       string    `json:"user,omitempty"`
	Target     string    `json:"target,omitempty"`
	TargetAddr string    `json:"target_addr,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
	Protocol   string    `json:"protocol,omitempty"` // "ssh", "vnc", "rdp"
	Start      time.Time `json:"start,omitzero"`
	Term       string    `json:"term,omitempty"` // terminal type, e.g. xterm-256color
	// PixelFormat is the RFB pixel format in force, as the VNC proxy
	// describes it.
	PixelFormat string            `json:"rfb_pixel_format,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
}

// Marshal returns the payload of a Meta record.
func (m SessionMeta) Marshal() []byte {
	b, err := json.Marshal(m)
	if err != nil { // only plain strings, a time and a string map
		panic("capture: marshal meta: " + err.Error())
	}
	return b
}

// Merge decodes a Meta payload over m: fields the payload sets replace m's.
func (m *SessionMeta) Merge(p []byte) error {
	var n SessionMeta
	if err := json.Unmarshal(p, &n); err != nil {
		return fmt.Errorf("capture: meta: %w", err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&m.SessionID, n.SessionID)
	set(&m.Team, n.Team)
	set(&m.User, n.User)
	set(&m.Target, n.Target)
	set(&m.TargetAddr, n.TargetAddr)
	set(&m.ClientAddr, n.ClientAddr)
	set(&m.Protocol, n.Protocol)
	set(&m.Term, n.Term)
	set(&m.PixelFormat, n.PixelFormat)
	if !n.Start.IsZero() {
		m.Start = n.Start
	}
	for k, v := range n.Extra {
		if m.Extra == nil {
			m.Extra = map[string]string{}
		}
		m.Extra[k] = v
	}
	return nil
}

// FileTransfer is the JSON object of a Transfer record (scp, sftp).
type FileTransfer struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Direction string `json:"direction"`          // "upload" (client to target) or "download"
	Protocol  string `json:"protocol,omitempty"` // "scp", "sftp"
}

// Marshal returns the payload of a Transfer record.
func (t FileTransfer) Marshal() []byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic("capture: marshal transfer: " + err.Error())
	}
	return b
}

// DecodeTransfer reads a Transfer payload.
func DecodeTransfer(p []byte) (FileTransfer, error) {
	var t FileTransfer
	if err := json.Unmarshal(p, &t); err != nil {
		return FileTransfer{}, fmt.Errorf("capture: transfer: %w", err)
	}
	return t, nil
}
