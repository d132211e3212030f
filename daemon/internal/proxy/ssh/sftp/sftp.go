package sftp

import "encoding/binary"

// Direction of a transfer, seen from the user.
const (
	Upload   = "upload"
	Download = "download"
)

// Packet types used (draft-ietf-secsh-filexfer-02, section 3).
const (
	fxpOpen   = 3
	fxpClose  = 4
	fxpRead   = 5
	fxpWrite  = 6
	fxpStatus = 101
	fxpHandle = 102
	fxpData   = 103
)

// Open flags.
const (
	fxfWrite  = 0x02
	fxfAppend = 0x04
)

const (
	// maxPacket bounds a packet's declared length. OpenSSH's limit is
	// 256 KiB; anything far larger is not SFTP.
	maxPacket = 1 << 24
	// maxHeader is the most of a packet kept to parse it: enough for an
	// OPEN with a PATH_MAX path.
	maxHeader = 16 << 10
	// maxTracked bounds open handles and outstanding requests followed.
	maxTracked = 4096
)

// Transfer is one file handle's traffic, reported at close.
type Transfer struct {
	Path      string
	Direction string
	Bytes     int64 // bytes written (upload) or read (download)
	Complete  bool  // the client closed the handle
}

type file struct {
	path    string
	writing bool
	read    int64
	written int64
}

// Parser follows one SFTP session. Feed the client's bytes to ClientData
// and the server's to ServerData in the order they crossed the gateway. It
// is not safe for concurrent use.
type Parser struct {
	report  func(Transfer)
	client  framer
	server  framer
	opens   map[uint32]openReq
	reads   map[uint32]string
	handles map[string]*file
	stopped bool
}

type openReq struct {
	path    string
	writing bool
}

// NewParser returns a parser that calls report for every file closed, and
// for files still open on Close.
func NewParser(report func(Transfer)) *Parser {
	p := &Parser{
		report:  report,
		opens:   map[uint32]openReq{},
		reads:   map[uint32]string{},
		handles: map[string]*file{},
	}
	p.client.packet = p.clientPacket
	p.server.packet = p.serverPacket
	return p
}

// ClientData feeds bytes the client sent.
func (p *Parser) ClientData(b []byte) {
	if !p.stopped && !p.client.feed(b) {
		p.stop()
	}
}

// ServerData feeds bytes the server sent.
func (p *Parser) ServerData(b []byte) {
	if !p.stopped && !p.server.feed(b) {
		p.stop()
	}
}

func (p *Parser) stop() {
	p.stopped = true
	p.opens, p.reads = nil, nil
}

// Close reports the files still open as incomplete transfers.
func (p *Parser) Close() {
	for h, f := range p.handles {
		p.emit(f, false)
		delete(p.handles, h)
	}
	p.stop()
}

func (p *Parser) emit(f *file, complete bool) {
	tr := Transfer{Path: f.path, Direction: Download, Bytes: f.read, Complete: complete}
	if f.writing || f.written > 0 {
		tr.Direction, tr.Bytes = Upload, f.written
	}
	p.report(tr)
}

// clientPacket handles a request; hdr holds up to maxHeader bytes of the
// packet (type onward), length is the packet's full length.
func (p *Parser) clientPacket(hdr []byte, length uint32) {
	r := reader{b: hdr}
	typ, _ := r.u8()
	id, ok := r.u32()
	if !ok {
		return
	}
	switch typ {
	case fxpOpen:
		path, ok1 := r.str()
		flags, ok2 := r.u32()
		if ok1 && ok2 && len(p.opens) < maxTracked {
			p.opens[id] = openReq{path: string(path), writing: flags&(fxfWrite|fxfAppend) != 0}
		}
	case fxpRead:
		if h, ok := r.str(); ok && len(p.reads) < maxTracked {
			if _, open := p.handles[string(h)]; open {
				p.reads[id] = string(h)
			}
		}
	case fxpWrite:
		h, ok1 := r.str()
		_, ok2 := r.u64()
		n, ok3 := r.u32()
		if ok1 && ok2 && ok3 {
			if f := p.handles[string(h)]; f != nil {
				f.written += int64(min(n, r.rest(hdr, length)))
			}
		}
	case fxpClose:
		if h, ok := r.str(); ok {
			if f := p.handles[string(h)]; f != nil {
				delete(p.handles, string(h))
				p.emit(f, true)
			}
		}
	}
}

func (p *Parser) serverPacket(hdr []byte, length uint32) {
	r := reader{b: hdr}
	typ, _ := r.u8()
	id, ok := r.u32()
	if !ok {
		return
	}
	switch typ {
	case fxpHandle:
		req, pending := p.opens[id]
		if !pending {
			return
		}
		delete(p.opens, id)
		if h, ok := r.str(); ok && len(p.handles) < maxTracked {
			p.handles[string(h)] = &file{path: req.path, writing: req.writing}
		}
	case fxpData:
		h, pending := p.reads[id]
		if !pending {
			return
		}
		delete(p.reads, id)
		if n, ok := r.u32(); ok {
			if f := p.handles[h]; f != nil {
				f.read += int64(min(n, r.rest(hdr, length)))
			}
		}
	case fxpStatus:
		delete(p.opens, id)
		delete(p.reads, id)
	}
}

// framer splits one direction's stream into packets, keeping at most
// maxHeader bytes of each and skipping the rest.
type framer struct {
	packet func(hdr []byte, length uint32)
	lenBuf [4]byte
	lenN   int
	length uint32 // current packet's length, once lenN == 4
	hdr    []byte
	want   int    // header bytes to keep for the current packet
	skip   uint32 // body bytes left to skip after the header
}

// feed consumes b; false means the stream is not SFTP.
func (f *framer) feed(b []byte) bool {
	for len(b) > 0 {
		switch {
		case f.lenN < 4:
			k := copy(f.lenBuf[f.lenN:], b)
			f.lenN += k
			b = b[k:]
			if f.lenN < 4 {
				return true
			}
			f.length = binary.BigEndian.Uint32(f.lenBuf[:])
			if f.length == 0 || f.length > maxPacket {
				return false
			}
			f.want = int(min(f.length, maxHeader))
			f.skip = f.length - uint32(f.want)
			f.hdr = f.hdr[:0]
		case len(f.hdr) < f.want:
			k := min(f.want-len(f.hdr), len(b))
			f.hdr = append(f.hdr, b[:k]...)
			b = b[k:]
			if len(f.hdr) == f.want {
				f.packet(f.hdr, f.length)
				if f.skip == 0 {
					f.lenN = 0
				}
			}
		default:
			k := uint32(min(uint64(f.skip), uint64(len(b))))
			f.skip -= k
			b = b[k:]
			if f.skip == 0 {
				f.lenN = 0
			}
		}
	}
	return true
}

type reader struct{ b []byte }

// rest is how many bytes of a packet of length, whose kept header is hdr,
// lie beyond what r has read: the most a trailing data field can hold.
func (r *reader) rest(hdr []byte, length uint32) uint32 {
	return length - uint32(len(hdr)-len(r.b))
}

func (r *reader) u8() (byte, bool) {
	if len(r.b) < 1 {
		return 0, false
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v, true
}

func (r *reader) u32() (uint32, bool) {
	if len(r.b) < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, true
}

func (r *reader) u64() (uint64, bool) {
	if len(r.b) < 8 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, true
}

func (r *reader) str() ([]byte, bool) {
	n, ok := r.u32()
	if !ok || uint64(n) > uint64(len(r.b)) {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}
