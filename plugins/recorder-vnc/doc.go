// Command vigil-plugin-recorder-vnc is the recorder plugin for VNC
// sessions: it verifies a sealed capture segment with the appliance's
// public key, replays the RFB stream the gateway recorded (package rfb
// decodes it, package replay samples it on the capture's time line) and
// renders an H.264 MP4 through ffmpeg, JPEG thumbnails and a poster
// (package video). The RFB stream is hostile data: a malformed one fails
// the render with sdk.ErrInvalidCapture, in this process, never in vigild.
// README.md documents the settings and the outputs.
package main
