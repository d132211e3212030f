package termrender

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

var t0 = time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

func out(at time.Duration, s string) capture.Record {
	return capture.Record{Kind: capture.Output, Channel: 0, Time: at, At: t0.Add(at), Payload: []byte(s)}
}

func TestTranscript(t *testing.T) {
	sec := time.Second
	for _, tc := range []struct {
		name string
		recs []capture.Record
		want string
	}{
		{"plain lines", []capture.Record{out(0, "hello\r\nworld\r\n")}, "0\thello\n0\tworld\n"},
		{"colours", []capture.Record{out(0, "\x1b[1;31mred\x1b[0m text\x1b[38;5;208m!\r\n")}, "0\tred text!\n"},
		{"backspace edit", []capture.Record{out(0, "$ lss\b \b\r\n")}, "0\t$ ls\n"},
		{"progress by carriage return", []capture.Record{out(0, "10%\r20%\r100%\r\n")}, "0\t100%\n"},
		{"redraw after erase", []capture.Record{out(0, "abc\r\x1b[Kdef\r\n")}, "0\tdef\n"},
		{"cursor left and overwrite", []capture.Record{out(0, "ab\x1b[Dc\r\n")}, "0\tac\n"},
		{"delete and insert", []capture.Record{out(0, "abcd\x1b[3G\x1b[P\r\nxy\x1b[D\x1b[2@\r\n")}, "0\tabd\n0\tx  y\n"},
		{"window title", []capture.Record{out(0, "\x1b]0;user@host: ~\x07$ pwd\r\n\x1b]2;t\x1b\\ok\n")}, "0\t$ pwd\n0\tok\n"},
		{"DCS skipped", []capture.Record{out(0, "\x1bPq#0;2;0;0;0\x1b\\after\r\n")}, "0\tafter\n"},
		{"charset and keypad", []capture.Record{out(0, "\x1b(B\x1b=\x1b[?1h\x1b[?2004hx\r\n")}, "0\tx\n"},
		{"C1 CSI", []capture.Record{out(0, "\u009b31mx\r\n")}, "0\tx\n"},
		{"controls dropped", []capture.Record{out(0, "bell\x07!\x00\x7f\r\n")}, "0\tbell!\n"},
		{"tab", []capture.Record{out(0, "a\tb\r\n")}, "0\ta       b\n"},
		{"full screen", []capture.Record{out(0, "\x1b[H\x1b[2Jtop line\x1b[2;3Hsecond\x1b[3;1Hthird")},
			"0\ttop line\n0\t  second\n0\tthird\n"},
		{"utf-8 split across records", []capture.Record{out(0, "caf\xc3"), out(sec, "\xa9 \xe2\x82"), out(sec, "\xac\r\n")},
			"0\tcafé €\n"},
		{"invalid utf-8", []capture.Record{out(0, "a\xffb\r\n")}, "0\ta\ufffdb\n"},
		{"times of lines", []capture.Record{out(1500*time.Millisecond, "one\r\n"), out(2*sec, "\r\n"), out(2250*time.Millisecond, "tw"), out(3*sec, "o\r\n")},
			"1500\tone\n2250\ttwo\n"},
		{"last line without newline", []capture.Record{out(sec, "$ exit")}, "1000\t$ exit\n"},
		{"exec and transfer", []capture.Record{
			{Kind: capture.Exec, At: t0, Payload: []byte("uname -a\n")},
			{Kind: capture.Transfer, At: t0.Add(sec), Payload: capture.FileTransfer{Path: "/etc/motd", Size: 12, Direction: "download", Protocol: "scp"}.Marshal()},
			{Kind: capture.Input, At: t0, Payload: []byte("secret\r")},
		}, "0\t$ uname -a\n1000\tscp download /etc/motd (12 bytes)\n"},
		{"file-transfer channels left out", []capture.Record{
			{Kind: capture.Meta, Payload: []byte(`{"extra":{"ch1.subsystem":"sftp","ch1.type":"session"}}`)},
			{Kind: capture.Output, Channel: 1, At: t0, Payload: []byte("\x00\x00\x00\x05\x02sftp junk\n")},
			{Kind: capture.Exec, Channel: 2, At: t0, Payload: []byte("scp -t /tmp")},
			{Kind: capture.Output, Channel: 2, At: t0, Payload: []byte("\x00C0644 5 file\n")},
			{Kind: capture.Output, Channel: 3, At: t0, Payload: []byte("shell\r\n")},
		}, "0\t$ scp -t /tmp\n0\tshell\n"},
		{"channels apart", []capture.Record{
			{Kind: capture.Output, Channel: 1, At: t0, Payload: []byte("one ")},
			{Kind: capture.Output, Channel: 2, At: t0, Payload: []byte("two\r\n")},
			{Kind: capture.Output, Channel: 1, At: t0, Payload: []byte("more\r\n")},
		}, "0\ttwo\n0\tone more\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tr := NewTranscript(&b, t0)
			for _, r := range tc.recs {
				if err := tr.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
			if tr.Lines() != strings.Count(tc.want, "\n") {
				t.Errorf("Lines() = %d", tr.Lines())
			}
		})
	}
}

func TestTranscriptLongLineIsCut(t *testing.T) {
	var b bytes.Buffer
	tr := NewTranscript(&b, t0)
	tr.Add(out(0, strings.Repeat("x", maxLineCols+10)+"\r\n"))
	tr.Close()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || len(lines[0]) != len("0\t")+maxLineCols || lines[1] != "0\txxxxxxxxxx" {
		t.Errorf("%d lines: %.20q...", len(lines), lines)
	}
}

func TestReadTranscript(t *testing.T) {
	var b bytes.Buffer
	tr := NewTranscript(&b, t0)
	tr.Add(out(1234*time.Millisecond, "a\tb c\r\n"))
	tr.Add(out(2*time.Second, "\x02marked\x03\r\n"))
	tr.Close()
	var got []string
	err := ReadTranscript(&b, func(ms int64, text string) error {
		if strings.ContainsAny(text, "\t\x02\x03") {
			t.Errorf("control character in %q", text)
		}
		got = append(got, fmt.Sprintf("%d|%s", ms, text))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "1234|a       b c,2000|marked" {
		t.Errorf("%v %q", err, got)
	}
	for _, bad := range []string{"x\ttext\n", "12 text\n", "-1\ttext\n"} {
		if err := ReadTranscript(strings.NewReader(bad), func(int64, string) error { return nil }); !errors.Is(err, ErrBadTranscript) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestRaw(t *testing.T) {
	var b bytes.Buffer
	r := NewRaw(&b)
	for _, rec := range []capture.Record{
		{Kind: capture.Meta, Payload: []byte(`{"extra":{"ch1.subsystem":"sftp"}}`)},
		{Kind: capture.Output, Channel: 0, Payload: []byte("\x1b[1mbold\x1b[0m\r\n")},
		{Kind: capture.Output, Channel: 1, Payload: []byte("sftp")},
		{Kind: capture.Input, Channel: 0, Payload: []byte("typed")},
		{Kind: capture.Stderr, Channel: 0, Payload: []byte("err\x00\xff")},
	} {
		if err := r.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
	if b.String() != "\x1b[1mbold\x1b[0m\r\nerr\x00\xff" {
		t.Errorf("%q", b.String())
	}
}
