package sftp

import (
	"encoding/binary"
	"reflect"
	"sort"
	"testing"
)

// pkt builds one SFTP packet from its fields: byte, uint32, uint64 and
// string (as an SSH string).
func pkt(fields ...any) []byte {
	var body []byte
	for _, f := range fields {
		switch v := f.(type) {
		case byte:
			body = append(body, v)
		case uint32:
			body = binary.BigEndian.AppendUint32(body, v)
		case uint64:
			body = binary.BigEndian.AppendUint64(body, v)
		case string:
			body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
			body = append(body, v...)
		default:
			panic("pkt: bad field")
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func data(n int) string { return string(make([]byte, n)) }

type step struct {
	client bool
	b      []byte
}

func c(b []byte) step { return step{true, b} }
func s(b []byte) step { return step{false, b} }

func run(steps []step, chunk int) []Transfer {
	var got []Transfer
	p := NewParser(func(tr Transfer) { got = append(got, tr) })
	for _, st := range steps {
		for b := st.b; len(b) > 0; {
			k := len(b)
			if chunk > 0 && k > chunk {
				k = chunk
			}
			if st.client {
				p.ClientData(b[:k])
			} else {
				p.ServerData(b[:k])
			}
			b = b[k:]
		}
	}
	p.Close()
	sort.Slice(got, func(i, j int) bool { return got[i].Path < got[j].Path })
	return got
}

func TestParser(t *testing.T) {
	init := c(pkt(byte(1), uint32(3)))
	version := s(pkt(byte(2), uint32(3)))
	tests := []struct {
		name  string
		steps []step
		want  []Transfer
	}{
		{
			name: "put",
			steps: []step{init, version,
				c(pkt(byte(fxpOpen), uint32(1), "/tmp/up.bin", uint32(0x1a), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(1), "H1")),
				c(pkt(byte(fxpWrite), uint32(2), "H1", uint64(0), data(32768))),
				c(pkt(byte(fxpWrite), uint32(3), "H1", uint64(32768), data(1000))),
				s(pkt(byte(fxpStatus), uint32(2), uint32(0), "", "")),
				s(pkt(byte(fxpStatus), uint32(3), uint32(0), "", "")),
				c(pkt(byte(fxpClose), uint32(4), "H1")),
				s(pkt(byte(fxpStatus), uint32(4), uint32(0), "", "")),
			},
			want: []Transfer{{Path: "/tmp/up.bin", Direction: Upload, Bytes: 33768, Complete: true}},
		},
		{
			name: "get with pipelined reads and EOF",
			steps: []step{init, version,
				c(pkt(byte(fxpOpen), uint32(7), "/etc/motd", uint32(1), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(7), "hh")),
				c(pkt(byte(fxpRead), uint32(8), "hh", uint64(0), uint32(32768))),
				c(pkt(byte(fxpRead), uint32(9), "hh", uint64(32768), uint32(32768))),
				c(pkt(byte(fxpRead), uint32(10), "hh", uint64(65536), uint32(32768))),
				s(pkt(byte(fxpData), uint32(9), data(100))),
				s(pkt(byte(fxpData), uint32(8), data(32768))),
				s(pkt(byte(fxpStatus), uint32(10), uint32(1), "EOF", "")),
				c(pkt(byte(fxpClose), uint32(11), "hh")),
			},
			want: []Transfer{{Path: "/etc/motd", Direction: Download, Bytes: 32868, Complete: true}},
		},
		{
			name: "failed open reports nothing",
			steps: []step{
				c(pkt(byte(fxpOpen), uint32(1), "/root/secret", uint32(1), uint32(0))),
				s(pkt(byte(fxpStatus), uint32(1), uint32(3), "Permission denied", "")),
				s(pkt(byte(fxpHandle), uint32(1), "late")),
			},
		},
		{
			name: "handle still open at close is incomplete",
			steps: []step{
				c(pkt(byte(fxpOpen), uint32(1), "/tmp/partial", uint32(0x1a), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(1), "X")),
				c(pkt(byte(fxpWrite), uint32(2), "X", uint64(0), data(10))),
			},
			want: []Transfer{{Path: "/tmp/partial", Direction: Upload, Bytes: 10}},
		},
		{
			name: "two files interleaved",
			steps: []step{
				c(pkt(byte(fxpOpen), uint32(1), "/a", uint32(1), uint32(0))),
				c(pkt(byte(fxpOpen), uint32(2), "/b", uint32(0x1a), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(2), "B")),
				s(pkt(byte(fxpHandle), uint32(1), "A")),
				c(pkt(byte(fxpRead), uint32(3), "A", uint64(0), uint32(5))),
				c(pkt(byte(fxpWrite), uint32(4), "B", uint64(0), data(7))),
				s(pkt(byte(fxpData), uint32(3), data(5))),
				c(pkt(byte(fxpClose), uint32(5), "A")),
				c(pkt(byte(fxpClose), uint32(6), "B")),
			},
			want: []Transfer{
				{Path: "/a", Direction: Download, Bytes: 5, Complete: true},
				{Path: "/b", Direction: Upload, Bytes: 7, Complete: true},
			},
		},
		{
			name: "hostile path kept as data",
			steps: []step{
				c(pkt(byte(fxpOpen), uint32(1), "../../x\n|y=z", uint32(0x1a), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(1), "Z")),
				c(pkt(byte(fxpClose), uint32(2), "Z")),
			},
			want: []Transfer{{Path: "../../x\n|y=z", Direction: Upload, Complete: true}},
		},
		{
			name: "write declaring more data than its packet holds is capped",
			steps: []step{
				c(pkt(byte(fxpOpen), uint32(1), "/w", uint32(0x1a), uint32(0))),
				s(pkt(byte(fxpHandle), uint32(1), "W")),
				c(pkt(byte(fxpWrite), uint32(2), "W", uint64(0), uint32(1<<30))),
				c(pkt(byte(fxpClose), uint32(3), "W")),
			},
			want: []Transfer{{Path: "/w", Direction: Upload, Bytes: 0, Complete: true}},
		},
		{
			name:  "not sftp: giant length stops the parser",
			steps: []step{c([]byte("\xff\xff\xff\xffhello")), c(pkt(byte(fxpOpen), uint32(1), "/a", uint32(1), uint32(0)))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 3, 7, 4096} {
				if got := run(tt.steps, chunk); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("chunk %d:\n got %+v\nwant %+v", chunk, got, tt.want)
				}
			}
		})
	}
}

func TestBoundedMemory(t *testing.T) {
	p := NewParser(func(Transfer) {})
	for i := uint32(0); i < 3*maxTracked; i++ {
		p.ClientData(pkt(byte(fxpOpen), i, "/f", uint32(1), uint32(0)))
	}
	if len(p.opens) > maxTracked {
		t.Fatalf("tracking %d opens, bound is %d", len(p.opens), maxTracked)
	}
}

func FuzzParser(f *testing.F) {
	f.Add(pkt(byte(fxpOpen), uint32(1), "/tmp/up.bin", uint32(0x1a), uint32(0)),
		pkt(byte(fxpHandle), uint32(1), "H1"), 5)
	f.Add(pkt(byte(fxpRead), uint32(8), "hh", uint64(0), uint32(32768)),
		pkt(byte(fxpData), uint32(8), data(300)), 2)
	f.Fuzz(func(t *testing.T, client, server []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		steps := []step{c(client), s(server), c(client), s(server)}
		a := run(steps, 0)
		b := run(steps, chunk)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("chunking changes the result:\n%+v\n%+v", a, b)
		}
		var total int64
		for _, tr := range a {
			if tr.Bytes < 0 {
				t.Fatalf("negative byte count %+v", tr)
			}
			total += tr.Bytes
		}
		if total > int64(2*(len(client)+len(server))) {
			t.Fatalf("counted %d bytes from %d bytes of stream", total, 2*(len(client)+len(server)))
		}
	})
}
