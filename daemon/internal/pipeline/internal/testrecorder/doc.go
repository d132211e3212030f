// Package testrecorder is a terminal recorder for the pipeline's tests:
// it renders a capture segment to an asciicast and a transcript with the
// SDK's termrender, as the recorder-ssh plugin does, and can be told to
// hold a render until it is released or killed, or to fail, so that the
// tests can kill a daemon or a plugin process in the middle of an encode
// at a point they choose. The plugin subdirectory serves it as a plugin
// executable.
package testrecorder
