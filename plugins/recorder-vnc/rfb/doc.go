// Package rfb decodes the server-to-client half of an RFB (VNC, RFC 6143)
// session into a framebuffer, for the VNC recorder plugin.
//
// It reads ServerInit and then server messages from a Source: framebuffer
// updates in the Raw, CopyRect, RRE, Hextile, TRLE, ZRLE and Tight
// encodings with the DesktopSize, ExtendedDesktopSize, LastRect, Cursor,
// XCursor, PointerPos and DesktopName pseudo-encodings; colour map entries;
// bells and server cut text (skipped). Pixels of any valid RFB pixel format
// (8, 16 or 32 bits per pixel, true colour or colour map, either byte
// order) end up as RGB24 in a Framebuffer.
//
// The stream is hostile data. Every length is checked against the
// framebuffer and the Limits before anything is allocated or read: a
// rectangle outside the framebuffer, a count or length that cannot fit, a
// compressed stream that inflates to more than its rectangle needs, or a
// message cut short inside its own data is an error wrapping ErrMalformed,
// and decoding stops there. Nothing the stream says makes the decoder
// allocate more than a bounded multiple of the framebuffer's size.
package rfb
