// Package replay plays the records of a VNC capture through the RFB decoder
// and samples the screen at a fixed frame rate on the capture's time line.
//
// The gateway records (see daemon/internal/proxy/vnc/README.md) the
// server-to-client byte stream from ServerInit on as ScreenServer records,
// each client message as a ScreenClient record, and a Meta record carrying
// the new pixel format at the message boundary where a SetPixelFormat
// takes effect. The player decodes the stream as one continuous byte
// stream, whatever the record boundaries, applies a Meta pixel format at
// the next message, takes the pointer position from the client's pointer
// events, and hands the screen to a callback at every frame time: frame i
// shows every record up to i/framerate.
package replay
