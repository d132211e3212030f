// Package vnctest holds what the VNC gateway's tests share with vigild's
// end-to-end tests: a small RFB viewer that logs in through the gateway
// (VeNCrypt X509Plain) or straight to a VNC server (VncAuth), real peers
// to run it against (Xvfb, x11vnc, X clients), a scriptable fake RFB
// server that misbehaves on demand, and ffprobe/ffmpeg helpers
// that check the rendered video. It is imported by tests only.
package vnctest
