package rfbwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrProtocol is wrapped by every error about what a peer sent, as
// opposed to the connection failing.
var ErrProtocol = errors.New("RFB protocol violation")

// Limits on what a peer may declare. The VNC recorder enforces the same
// ones when it decodes the capture.
const (
	MaxWidth      = 16384   // framebuffer width
	MaxHeight     = 16384   // framebuffer height
	MaxPixels     = 1 << 25 // framebuffer area: 8K UHD (7680x4320) fits
	MaxNameLength = 1 << 16 // desktop name
	MaxCutText    = 16 << 20
	MaxCursorSize = 1024 // cursor width and height
	// MaxReasonLength bounds a failure reason read from a server.
	MaxReasonLength = 4096
)

// CheckSize checks a framebuffer size against the limits.
func CheckSize(w, h int) error {
	if w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight || w*h > MaxPixels {
		return fmt.Errorf("framebuffer size %dx%d outside 1x1..%dx%d (at most %d pixels): %w",
			w, h, MaxWidth, MaxHeight, MaxPixels, ErrProtocol)
	}
	return nil
}

// Version is an RFB protocol version: 3.3, 3.7 or 3.8.
type Version int

// Protocol versions.
const (
	V33 Version = 3
	V37 Version = 7
	V38 Version = 8
)

// Bytes is the ProtocolVersion message for v.
func (v Version) Bytes() []byte { return fmt.Appendf(nil, "RFB 003.%03d\n", int(v)) }

func (v Version) String() string { return fmt.Sprintf("3.%d", int(v)) }

// ReadVersion reads a ProtocolVersion message. Versions other than 3.7
// and 3.8 count as 3.3, as RFC 6143 (7.1.1) says; 3.889 (Apple) and later
// 3.x count as 3.8, whose handshake they follow.
func ReadVersion(r io.Reader) (Version, error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("reading the protocol version: %w", err)
	}
	var major, minor int
	if n, err := fmt.Sscanf(string(b[:]), "RFB %03d.%03d\n", &major, &minor); n != 2 || err != nil || major != 3 {
		return 0, fmt.Errorf("protocol version %q: %w", b[:], ErrProtocol)
	}
	switch {
	case minor == 7:
		return V37, nil
	case minor >= 8:
		return V38, nil
	}
	return V33, nil
}

// Security types (RFC 6143, 7.1.2, and the IANA registry).
const (
	SecInvalid  = 0
	SecNone     = 1
	SecVncAuth  = 2
	SecVeNCrypt = 19
)

// VeNCrypt subtypes.
const (
	VeNCryptPlain     = 256
	VeNCryptTLSNone   = 257
	VeNCryptTLSVnc    = 258
	VeNCryptTLSPlain  = 259
	VeNCryptX509None  = 260
	VeNCryptX509Vnc   = 261
	VeNCryptX509Plain = 262
)

// ReadSecurityTypes reads a 3.7/3.8 server's list of security types. An
// empty list is the server's refusal: the error carries its reason.
func ReadSecurityTypes(r io.Reader) ([]byte, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("reading security types: %w", err)
	}
	if n[0] == 0 {
		return nil, readRefusal(r, "the server refused the connection")
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(r, types); err != nil {
		return nil, fmt.Errorf("reading security types: %w", err)
	}
	return types, nil
}

// ReadSecurityType33 reads a 3.3 server's choice of security type (a
// U32); 0 is a refusal with a reason.
func ReadSecurityType33(r io.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("reading the security type: %w", err)
	}
	t := binary.BigEndian.Uint32(b[:])
	if t == SecInvalid {
		return 0, readRefusal(r, "the server refused the connection")
	}
	return t, nil
}

// RefusedError is a peer's failure message with its reason string.
type RefusedError struct {
	What   string
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return e.What
	}
	return fmt.Sprintf("%s: %q", e.What, e.Reason)
}

// readRefusal reads a reason string (U32 length, bytes) after a failure.
func readRefusal(r io.Reader, what string) error {
	reason, err := ReadString(r, MaxReasonLength)
	if err != nil {
		return fmt.Errorf("%s; reading its reason: %w", what, err)
	}
	return &RefusedError{What: what, Reason: reason}
}

// ReadString reads a U32 length and that many bytes, refusing lengths
// above max.
func ReadString(r io.Reader, max int) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	n := binary.BigEndian.Uint32(b[:])
	if n > uint32(max) {
		return "", fmt.Errorf("string of %d bytes, more than %d: %w", n, max, ErrProtocol)
	}
	s := make([]byte, n)
	if _, err := io.ReadFull(r, s); err != nil {
		return "", err
	}
	return string(s), nil
}

// AppendString appends a U32 length and s.
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// ReadSecurityResult reads a SecurityResult. A failure is a
// *RefusedError, with the reason string 3.8 servers send.
func ReadSecurityResult(r io.Reader, v Version) error {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("reading the security result: %w", err)
	}
	if binary.BigEndian.Uint32(b[:]) == 0 {
		return nil
	}
	if v >= V38 {
		return readRefusal(r, "authentication failed")
	}
	return &RefusedError{What: "authentication failed"}
}

// SecurityResult is the SecurityResult message: OK when reason is empty,
// else failed, with reason for 3.8 clients.
func SecurityResult(v Version, failReason string) []byte {
	if failReason == "" {
		return []byte{0, 0, 0, 0}
	}
	b := []byte{0, 0, 0, 1}
	if v >= V38 {
		b = AppendString(b, failReason)
	}
	return b
}

// ServerInit is the ServerInit message (RFC 6143, 7.3.2).
type ServerInit struct {
	Width, Height int
	PixelFormat   PixelFormat
	Name          string
}

// ReadServerInit reads and checks a ServerInit.
func ReadServerInit(r io.Reader) (ServerInit, error) {
	var b [20]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return ServerInit{}, fmt.Errorf("reading ServerInit: %w", err)
	}
	si := ServerInit{Width: int(binary.BigEndian.Uint16(b[0:])), Height: int(binary.BigEndian.Uint16(b[2:]))}
	if err := CheckSize(si.Width, si.Height); err != nil {
		return ServerInit{}, fmt.Errorf("ServerInit: %w", err)
	}
	pf, err := ParsePixelFormat(b[4:])
	if err != nil {
		return ServerInit{}, fmt.Errorf("ServerInit: %w", err)
	}
	si.PixelFormat = pf
	if si.Name, err = ReadString(r, MaxNameLength); err != nil {
		return ServerInit{}, fmt.Errorf("ServerInit: desktop name: %w", err)
	}
	return si, nil
}

// Bytes is the wire form of si.
func (si ServerInit) Bytes() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(si.Width))
	b = binary.BigEndian.AppendUint16(b, uint16(si.Height))
	b = si.PixelFormat.AppendTo(b)
	return AppendString(b, si.Name)
}
