// Package wuitest is an in-memory implementation of every interface of
// wui.Backend, seeded with plausible users, groups, targets, sessions,
// recordings (real asciicast v2 casts and a real H.264 MP4), live
// sessions, events and report series. The WUI's tests and the screenshots
// program (wui/cmd/screenshots) run the real WUI on it.
//
// testdata/clip.mp4 and testdata/thumb.png were made with ffmpeg 5.1:
//
//	ffmpeg -f lavfi -i testsrc2=size=640x360:rate=15:duration=6 -c:v libx264 -preset veryslow \
//	  -crf 38 -pix_fmt yuv420p -movflags +faststart clip.mp4
//	ffmpeg -ss 2 -i clip.mp4 -frames:v 1 -vf scale=320:180 thumb.png
package wuitest
