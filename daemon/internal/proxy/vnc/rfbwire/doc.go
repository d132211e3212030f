// Package rfbwire frames RFB (VNC, RFC 6143) messages for the VNC gateway.
//
// It reads the handshake messages and then whole client and server
// messages, checking every length, count and rectangle against the
// framebuffer and fixed limits before it reads what they announce, so
// that the gateway relays a stream it knows the shape of, and refuses one
// it does not with an error that says what was wrong (ErrProtocol). It
// never decodes pixels: pixel data, compressed or not, is passed through
// in pieces as it arrives. Where an encoding's length is only known by
// walking its structure (Hextile, TRLE, Tight's headers), the framer
// walks that structure, still without interpreting a single pixel value.
//
// The encodings it frames are the ones Vigil's VNC recorder decodes:
// Raw, CopyRect, RRE, Hextile, TRLE, ZRLE and Tight, with the
// DesktopSize, ExtendedDesktopSize, LastRect, Cursor, XCursor, PointerPos
// and DesktopName pseudo-encodings. FilterEncodings narrows a client's
// SetEncodings to them, so a server never has reason to send another.
package rfbwire
