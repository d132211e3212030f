// Package termrender renders the terminal part of a capture (SSH sessions)
// for people: as an asciicast v2 recording that asciinema and the web
// player play (Cast), and as a plain-text transcript, escape sequences
// stripped, one line per terminal line with its time, for search
// (Transcript), and as the raw bytes the terminal got (Raw). All take
// capture.Records one at a time, so a render streams a segment of any size
// in one pass, and all leave out the channels that carry sftp or scp.
package termrender
