package scp

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		cmd  string
		want Command
		ok   bool
	}{
		{"scp -t /tmp/x", Command{Direction: Upload, Paths: []string{"/tmp/x"}}, true},
		{"scp -v -d -t -- /tmp/dir", Command{Direction: Upload, DirTarget: true, Paths: []string{"/tmp/dir"}}, true},
		{"scp -r -t dest", Command{Direction: Upload, Recursive: true, Paths: []string{"dest"}}, true},
		{"/usr/bin/scp -f /etc/hosts", Command{Direction: Download, Paths: []string{"/etc/hosts"}}, true},
		{"scp -pf 'my file.txt'", Command{Direction: Download, Paths: []string{"my file.txt"}}, true},
		{`scp -f "a \"b\".txt"`, Command{Direction: Download, Paths: []string{`a "b".txt`}}, true},
		{`scp -f a\ b`, Command{Direction: Download, Paths: []string{"a b"}}, true},
		{"scp -t -- -dash", Command{Direction: Upload, Paths: []string{"-dash"}}, true},
		{"scp /tmp/x", Command{}, false},           // client side, not the server
		{"scp -t", Command{}, false},               // no path
		{"sftp-server", Command{}, false},          // not scp
		{"rscp -t /x", Command{}, false},           // another program
		{"scp -f 'unterminated", Command{}, false}, // bad quoting
		{"", Command{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseCommand(tt.cmd)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.cmd, got, ok, tt.want, tt.ok)
		}
	}
}

func collect(cmd Command, chunks ...string) []Transfer {
	var got []Transfer
	p := NewParser(cmd, func(tr Transfer) { got = append(got, tr) })
	for _, c := range chunks {
		if n, err := p.Write([]byte(c)); n != len(c) || err != nil {
			panic("Write did not consume everything")
		}
	}
	p.Close()
	return got
}

func TestParser(t *testing.T) {
	up := Command{Direction: Upload, Paths: []string{"/tmp/dest"}}
	upDir := Command{Direction: Upload, Recursive: true, Paths: []string{"/tmp/dest"}}
	down := Command{Direction: Download, Paths: []string{"/var/log/syslog"}}
	tests := []struct {
		name   string
		cmd    Command
		stream string
		want   []Transfer
	}{
		{
			name: "one upload", cmd: up,
			stream: "C0644 5 hello.txt\nhello\x00",
			want:   []Transfer{{Direction: Upload, Path: "/tmp/dest", Name: "hello.txt", Mode: "0644", Size: 5, Received: 5, Complete: true}},
		},
		{
			name: "times then file", cmd: down,
			stream: "T1700000000 0 1700000000 0\nC0640 3 syslog\nabc\x00",
			want:   []Transfer{{Direction: Download, Path: "/var/log/syslog", Name: "syslog", Mode: "0640", Size: 3, Received: 3, Complete: true}},
		},
		{
			name: "empty file", cmd: up,
			stream: "C0600 0 empty\n\x00",
			want:   []Transfer{{Direction: Upload, Path: "/tmp/dest", Name: "empty", Mode: "0600", Size: 0, Received: 0, Complete: true}},
		},
		{
			name: "recursive", cmd: upDir,
			stream: "D0755 0 top\nC0644 2 a\nhi\x00D0700 0 sub\nC0644 1 b\nx\x00E\nE\nC0644 1 c\ny\x00",
			want: []Transfer{
				{Direction: Upload, Path: "/tmp/dest/top/a", Name: "top/a", Mode: "0644", Size: 2, Received: 2, Complete: true},
				{Direction: Upload, Path: "/tmp/dest/top/sub/b", Name: "top/sub/b", Mode: "0644", Size: 1, Received: 1, Complete: true},
				{Direction: Upload, Path: "/tmp/dest/c", Name: "c", Mode: "0644", Size: 1, Received: 1, Complete: true},
			},
		},
		{
			name: "cut off", cmd: up,
			stream: "C0644 10 big\n12345",
			want:   []Transfer{{Direction: Upload, Path: "/tmp/dest", Name: "big", Mode: "0644", Size: 10, Received: 5}},
		},
		{
			name: "data containing newlines and C lines is not parsed", cmd: up,
			stream: "C0644 12 f\nC0644 9 x\n\n\x00C0644 1 g\nz\x00",
			want: []Transfer{
				{Direction: Upload, Path: "/tmp/dest", Name: "f", Mode: "0644", Size: 12, Received: 12, Complete: true},
				{Direction: Upload, Path: "/tmp/dest", Name: "g", Mode: "0644", Size: 1, Received: 1, Complete: true},
			},
		},
		{
			name: "error line from the source", cmd: down,
			stream: "\x01scp: /var/log/syslog: Permission denied\n",
		},
		{
			name: "hostile name kept as data", cmd: down,
			stream: "C0644 1 ../../etc/pass|wd=x\n!\x00",
			want:   []Transfer{{Direction: Download, Path: "/var/log/../../etc/pass|wd=x", Name: "../../etc/pass|wd=x", Mode: "0644", Size: 1, Received: 1, Complete: true}},
		},
		{name: "garbage stops the parser", cmd: up, stream: "hello world\nC0644 1 a\nx\x00"},
		{name: "bad mode", cmd: up, stream: "C06x4 1 a\nx\x00"},
		{name: "negative size", cmd: up, stream: "C0644 -1 a\nx\x00"},
		{name: "overlong line", cmd: up, stream: "C0644 1 " + strings.Repeat("n", maxLine) + "\nx\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := collect(tt.cmd, tt.stream)
			if !reflect.DeepEqual(whole, tt.want) {
				t.Fatalf("one chunk:\n got %+v\nwant %+v", whole, tt.want)
			}
			// Every split point, and byte by byte, must give the same result.
			for i := 1; i < len(tt.stream); i++ {
				if got := collect(tt.cmd, tt.stream[:i], tt.stream[i:]); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("split at %d:\n got %+v\nwant %+v", i, got, tt.want)
				}
			}
			bytewise := make([]string, len(tt.stream))
			for i := range tt.stream {
				bytewise[i] = tt.stream[i : i+1]
			}
			if got := collect(tt.cmd, bytewise...); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("byte by byte:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParser(f *testing.F) {
	f.Add("C0644 5 hello.txt\nhello\x00", 3, true)
	f.Add("D0755 0 top\nC0644 2 a\nhi\x00E\n", 7, false)
	f.Add("T1 0 1 0\nC0644 99999999999 x\nabc", 1, true)
	f.Fuzz(func(t *testing.T, stream string, split int, upload bool) {
		cmd := Command{Direction: Download, Paths: []string{"/src/file"}}
		if upload {
			cmd = Command{Direction: Upload, Recursive: true, Paths: []string{"/dst"}}
		}
		if split < 0 {
			split = -split
		}
		split %= len(stream) + 1
		whole := collect(cmd, stream)
		parts := collect(cmd, stream[:split], stream[split:])
		if !reflect.DeepEqual(whole, parts) {
			t.Fatalf("split at %d changes the result:\n%+v\n%+v", split, whole, parts)
		}
		var total int64
		for _, tr := range whole {
			if tr.Received < 0 || tr.Received > tr.Size {
				t.Fatalf("received %d of %d", tr.Received, tr.Size)
			}
			if tr.Complete != (tr.Received == tr.Size) {
				t.Fatalf("complete=%v with %d of %d", tr.Complete, tr.Received, tr.Size)
			}
			total += tr.Received
		}
		if total > int64(len(stream)) {
			t.Fatalf("counted %d data bytes in a %d-byte stream", total, len(stream))
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add("scp -v -d -t -- /tmp/dir")
	f.Add(`scp -f "a \"b\".txt"`)
	f.Fuzz(func(t *testing.T, cmd string) {
		c, ok := ParseCommand(cmd)
		if ok && (len(c.Paths) == 0 || (c.Direction != Upload && c.Direction != Download)) {
			t.Fatalf("accepted %q as %+v", cmd, c)
		}
	})
}
