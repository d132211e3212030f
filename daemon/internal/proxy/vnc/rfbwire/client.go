package rfbwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Client-to-server message types (RFC 6143, 7.5; 251 from 7.5.x of the
// ExtendedDesktopSize extension).
const (
	MsgSetPixelFormat           = 0
	MsgSetEncodings             = 2
	MsgFramebufferUpdateRequest = 3
	MsgKeyEvent                 = 4
	MsgPointerEvent             = 5
	MsgClientCutText            = 6
	MsgSetDesktopSize           = 251
)

// ClientMessage is one message from the client.
type ClientMessage struct {
	Type byte
	// Raw is the whole message as the client sent it, valid until the
	// next call to Next.
	Raw []byte
	// PixelFormat is set for SetPixelFormat.
	PixelFormat PixelFormat
	// Encodings is set for SetEncodings, in the client's order.
	Encodings []int32
}

// ClientReader reads whole client messages.
type ClientReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewClientReader reads client messages from r.
func NewClientReader(r *bufio.Reader) *ClientReader { return &ClientReader{r: r} }

// Buffered is how many bytes of the client's stream have arrived but not
// been read as messages: zero means the next Next would wait.
func (c *ClientReader) Buffered() int { return c.r.Buffered() }

// take reads n more bytes of the current message.
func (c *ClientReader) take(n int) ([]byte, error) {
	start := len(c.buf)
	c.buf = append(c.buf, make([]byte, n)...)
	if _, err := io.ReadFull(c.r, c.buf[start:]); err != nil {
		if errors.Is(err, io.EOF) && start > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return c.buf[start:], nil
}

// Next reads the next client message. It refuses unknown types and
// lengths beyond the limits with an error wrapping ErrProtocol.
func (c *ClientReader) Next() (ClientMessage, error) {
	if cap(c.buf) > 1<<20 { // after a large cut text
		c.buf = nil
	}
	c.buf = c.buf[:0]
	t, err := c.take(1)
	if err != nil {
		return ClientMessage{}, err
	}
	m := ClientMessage{Type: t[0]}
	switch m.Type {
	case MsgSetPixelFormat:
		b, err := c.take(3 + PixelFormatSize)
		if err != nil {
			return m, err
		}
		if m.PixelFormat, err = ParsePixelFormat(b[3:]); err != nil {
			return m, fmt.Errorf("client SetPixelFormat: %w", err)
		}
	case MsgSetEncodings:
		b, err := c.take(3)
		if err != nil {
			return m, err
		}
		n := int(binary.BigEndian.Uint16(b[1:]))
		e, err := c.take(4 * n)
		if err != nil {
			return m, err
		}
		m.Encodings = make([]int32, n)
		for i := range m.Encodings {
			m.Encodings[i] = int32(binary.BigEndian.Uint32(e[4*i:]))
		}
	case MsgFramebufferUpdateRequest:
		_, err = c.take(9)
	case MsgKeyEvent:
		_, err = c.take(7)
	case MsgPointerEvent:
		_, err = c.take(5)
	case MsgClientCutText:
		var b []byte
		if b, err = c.take(7); err != nil {
			return m, err
		}
		n := binary.BigEndian.Uint32(b[3:])
		if n > MaxCutText { // also the negative lengths of the extended clipboard, never negotiated
			return m, fmt.Errorf("client cut text of %d bytes, more than %d: %w", n, MaxCutText, ErrProtocol)
		}
		_, err = c.take(int(n))
	case MsgSetDesktopSize:
		var b []byte
		if b, err = c.take(7); err != nil {
			return m, err
		}
		_, err = c.take(16 * int(b[5]))
	default:
		return m, fmt.Errorf("client message type %d: unknown: %w", m.Type, ErrProtocol)
	}
	if err != nil {
		return m, err
	}
	m.Raw = c.buf
	return m, nil
}

// Encodings the recorder decodes, and pseudo-encodings that are hints.
const (
	EncRaw                 int32 = 0
	EncCopyRect            int32 = 1
	EncRRE                 int32 = 2
	EncHextile             int32 = 5
	EncTight               int32 = 7
	EncTRLE                int32 = 15
	EncZRLE                int32 = 16
	EncDesktopSize         int32 = -223
	EncLastRect            int32 = -224
	EncPointerPos          int32 = -232
	EncCursor              int32 = -239
	EncXCursor             int32 = -240
	EncDesktopName         int32 = -307
	EncExtendedDesktopSize int32 = -308
)

// Supported reports whether the gateway lets a client ask for encoding e:
// an encoding it can frame and the recorder can decode, or one of Tight's
// JPEG quality (-32..-23) and compression level (-256..-247) hints.
func Supported(e int32) bool {
	switch e {
	case EncRaw, EncCopyRect, EncRRE, EncHextile, EncTight, EncTRLE, EncZRLE,
		EncDesktopSize, EncLastRect, EncPointerPos, EncCursor, EncXCursor, EncDesktopName, EncExtendedDesktopSize:
		return true
	}
	return (e >= -32 && e <= -23) || (e >= -256 && e <= -247)
}

// FilterEncodings keeps, in order and without repeats, the encodings
// Supported allows.
func FilterEncodings(encs []int32) []int32 {
	out := make([]int32, 0, len(encs))
	seen := map[int32]bool{}
	for _, e := range encs {
		if Supported(e) && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// SetEncodings is the wire form of a SetEncodings message.
func SetEncodings(encs []int32) []byte {
	b := []byte{MsgSetEncodings, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	return b
}
