// Package video turns screens into files for the VNC recorder: it scales
// RGB24 pictures into a fixed output size (letterboxed, aspect kept),
// pipes frames to ffmpeg to make an H.264 MP4, and writes JPEG stills.
package video
