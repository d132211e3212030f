package sdk

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// A logformat plugin's Format calls travel on its side channels
// (sidechan.go), here called lanes, while it has any left (a caller that
// finds all busy waits for one); the gRPC Format call remains for a plugin
// without lanes (one attached in process) and for a part whose lane broke. A lane carries no TLS, no
// compression and no HTTP/2 framing: it is a socket pair nothing else can
// reach, and copying a batch through it costs less than compressing it.
//
// Each lane carries one call at a time, strictly in turn; integers are
// little-endian:
//
//	request  (host -> plugin): [u32 n] [n bytes: an EventBatch, as appendEvent writes it]
//	response (plugin -> host): [u8 status] [u32 a] [u32 b] ...
//	  status laneOK:    a lines, b bytes of lines; then a u32 line lengths, then the b bytes
//	  status laneError: a = 0; then b bytes of a google.rpc.Status, as toStatus made it
//
// The host trusts nothing a plugin sends: every count and length is
// checked against what it asked for and against maxMessageSize, the bound
// of the gRPC path, and a buffer grows with the bytes that actually
// arrive, not with the length announced; a lane that sent something the
// host cannot read, or whose call was cancelled (the host stops waiting at
// once), is closed and never used again. The plugin formats with a
// context of its own: the host gives up on a call by closing the lane.

const (
	laneOK    = 0
	laneError = 1

	laneRequestHeader  = 4
	laneResponseHeader = 9

	// maxLaneError bounds the status a plugin sends for a failed call.
	maxLaneError = 64 << 10

	// Each end reads through a buffer and asks the kernel for a send
	// buffer as large as most frames, so that a frame takes one write and
	// about one read: system calls, not copies, are what a frame costs.
	laneReadBuffer   = 64 << 10
	laneSocketBuffer = 1 << 20
)

// logFormatSideChannels is how many side channels (sidechan.go) the host
// gives a logformat plugin: one per core, at least 2 and at most 8. Format
// splits a batch into a part per free lane, so that the plugin formats on
// every core while the host encodes the next part. More lanes than cores
// only add system calls and wake-ups: measured on 2 cores with batches of
// 512 events, 1 lane formats about 10% slower than 2, and 3, 4 or 6 no
// faster.
func logFormatSideChannels() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

// serveLogFormatSide serves impl on the plugin's inherited side channels,
// one goroutine per lane.
func serveLogFormatSide(impl LogFormatter, conns []*net.UnixConn) {
	for _, c := range conns {
		go serveFormatLane(impl, c)
	}
}

// serveFormatLane answers the calls on one lane until the host closes it.
// The lane's buffers serve every call in turn: the events decoded from a
// request, their strings and their Extra maps are reused for the next one,
// which the LogFormatter contract allows.
func serveFormatLane(impl LogFormatter, conn *net.UnixConn) {
	defer conn.Close()
	conn.SetWriteBuffer(laneSocketBuffer)
	var (
		r    = bufio.NewReaderSize(conn, laneReadBuffer)
		lane laneBatch
		req  []byte
		resp []byte
	)
	for {
		var err error
		req, err = readLaneRequest(r, req)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				Logger().Warn("logformat side channel: closing it", "error", err)
			}
			return
		}
		resp = lane.format(impl, req, resp[:0])
		if _, err := conn.Write(resp); err != nil {
			return // the host closed the lane: it gave up on the call
		}
		if cap(resp) > maxPooledRequest {
			resp = nil
		}
	}
}

// readLaneRequest reads one request into buf (grown as needed) and returns
// the batch it holds.
func readLaneRequest(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [laneRequestHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxMessageSize {
		return buf, fmt.Errorf("request of %d bytes, more than %d", n, maxMessageSize)
	}
	if cap(buf) < int(n) || cap(buf) > maxPooledRequest && int(n) <= maxPooledRequest {
		b, err := readGrowing(r, int(n))
		if err != nil {
			return buf, fmt.Errorf("request: %w", noEOF(err))
		}
		return b, nil
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, fmt.Errorf("request: %w", noEOF(err))
	}
	return buf, nil
}

// laneBatch is what one lane of a plugin decodes requests into.
type laneBatch struct {
	events []event.Event
	extras []map[string]string // events[i].Extra's map, kept for the next batch
}

// format formats the batch and appends the response to out.
func (l *laneBatch) format(impl LogFormatter, batch, out []byte) []byte {
	events, err := l.decode(batch)
	if err != nil {
		return appendLaneError(out, status.Error(codes.InvalidArgument, "sdk: logformat format: "+err.Error()))
	}
	lines, err := impl.Format(context.Background(), events)
	if err != nil {
		return appendLaneError(out, toStatus(err))
	}
	if len(lines) != len(events) {
		// What the host says of it over gRPC, and the lane stays in step.
		return appendLaneError(out, status.Errorf(codes.Internal,
			"sdk: logformat format: plugin returned %d lines for %d events", len(lines), len(events)))
	}
	total := 0
	for _, line := range lines {
		total += len(line)
	}
	if total > maxMessageSize {
		// What the gRPC path says of a response larger than a message.
		return appendLaneError(out, status.Errorf(codes.ResourceExhausted,
			"sdk: logformat format: %d bytes of lines, more than the %d a message may carry", total, maxMessageSize))
	}
	need := laneResponseHeader + 4*len(lines) + total
	if cap(out)-len(out) < need {
		out = append(make([]byte, 0, len(out)+need), out...)
	}
	out = append(out, laneOK)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(lines)))
	out = binary.LittleEndian.AppendUint32(out, uint32(total))
	for _, line := range lines {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(line)))
	}
	for _, line := range lines {
		out = append(out, line...)
	}
	return out
}

// decode reads an EventBatch into the lane's events, reusing them.
func (l *laneBatch) decode(b []byte) ([]event.Event, error) {
	n, err := countEvents(b)
	if err != nil {
		return nil, err
	}
	if cap(l.events) < n {
		l.events = make([]event.Event, n)
		l.extras = append(l.extras, make([]map[string]string, n-len(l.extras))...)
	}
	l.events = l.events[:n]
	clear(l.events)
	if err := decodeEvents(l.events, l.extras, b); err != nil {
		return nil, err
	}
	return l.events, nil
}

// appendLaneError appends a laneError response carrying err's status.
func appendLaneError(out []byte, err error) []byte {
	st := status.Convert(err).Proto()
	if len(st.GetMessage()) > maxLaneError/2 {
		st.Message = st.GetMessage()[:maxLaneError/2] + "..."
	}
	b, merr := proto.Marshal(st)
	if merr != nil || len(b) > maxLaneError {
		b, _ = proto.Marshal(&spb.Status{Code: st.GetCode(), Message: st.GetMessage()})
	}
	out = append(out, laneError)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
	return append(out, b...)
}

// noEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// formatLanes are the host's ends of a plugin's lanes. A free lane waits
// in free; a lane in use belongs to its caller, who puts it back or, if it
// broke, closes it. dead is closed when the last lane was.
type formatLanes struct {
	free chan *formatLane
	n    int
	live atomic.Int32
	dead chan struct{}
}

// formatLane is the host's end of one lane and the buffers of its calls.
type formatLane struct {
	conn    *net.UnixConn
	r       *bufio.Reader
	req     []byte // the request being sent: header, then the batch
	scratch laneScratch
}

// laneScratch holds a response's line lengths, as read and as numbers.
type laneScratch struct {
	raw     []byte
	lengths []uint32
}

func newFormatLanes(conns []*net.UnixConn) *formatLanes {
	ls := &formatLanes{free: make(chan *formatLane, len(conns)), n: len(conns), dead: make(chan struct{})}
	for _, c := range conns {
		c.SetWriteBuffer(laneSocketBuffer)
		ls.free <- &formatLane{conn: c, r: bufio.NewReaderSize(c, laneReadBuffer)}
	}
	ls.live.Store(int32(len(conns)))
	return ls
}

// tryGet returns a free lane, or nil when none is free.
func (ls *formatLanes) tryGet() *formatLane {
	select {
	case l := <-ls.free:
		return l
	default:
		return nil
	}
}

// get returns a lane once one is free, or nil when none is left or ctx
// ended first.
func (ls *formatLanes) get(ctx context.Context) *formatLane {
	if l := ls.tryGet(); l != nil {
		return l
	}
	select {
	case l := <-ls.free:
		return l
	case <-ls.dead:
		return nil
	case <-ctx.Done():
		return nil
	}
}

func (ls *formatLanes) put(l *formatLane) {
	if cap(l.req) > maxPooledRequest {
		l.req = nil
	}
	ls.free <- l
}

// drop closes a lane that broke; it is never used again.
func (ls *formatLanes) drop(l *formatLane) {
	l.conn.Close()
	if ls.live.Add(-1) == 0 {
		close(ls.dead)
	}
}

// errLaneBroken: the lane failed to carry a call (the plugin closed it, or
// exited); the call may be made again another way.
var errLaneBroken = errors.New("side channel broken")

// errLaneTooSmall: a request would be larger than a lane carries; nothing
// was sent, and the call may be made again over gRPC.
var errLaneTooSmall = errors.New("request too large for a side channel")

// laneProtocolError: the plugin sent on a lane what the protocol does not
// allow.
type laneProtocolError struct{ msg string }

func (e *laneProtocolError) Error() string { return "side channel: " + e.msg }

// longAgo is a deadline in the past: it makes a blocked read or write
// return at once.
var longAgo = time.Unix(1, 0)

// errNoLane: no lane is left (or ctx ended while waiting for one); the
// batch goes over gRPC.
var errNoLane = errors.New("no side channel left")

// laneWork is one lane's part of a batch, events[start:hi] still to do,
// events[start:sent] in flight.
type laneWork struct {
	l               *formatLane
	start, sent, hi int
	err             error
}

// formatOnLanes formats events into lines (as many) on as many lanes as
// are free, one per minFormatPart events at least, from this goroutine
// alone: it sends each lane its part as soon as it is encoded, so that the
// plugin formats the first parts (on every core it has) while the host
// encodes the next, and then reads the answers in turn. A part whose lane
// broke under it goes over gRPC (if the plugin has exited, gRPC says so
// as it always does); errNoLane means the whole batch should.
func (c *logFormatClient) formatOnLanes(ctx context.Context, events []event.Event, lines [][]byte) error {
	ls := c.lanes
	first := ls.get(ctx)
	if first == nil {
		return errNoLane
	}
	used := []*formatLane{first}
	for want := max(1, min(ls.n, len(events)/minFormatPart)); len(used) < want; {
		l := ls.tryGet()
		if l == nil {
			break
		}
		used = append(used, l)
	}
	work := make([]laneWork, len(used))
	stop := context.AfterFunc(ctx, func() {
		for _, l := range used {
			l.conn.SetDeadline(longAgo)
		}
	})
	for i, l := range used {
		lo, hi := i*len(events)/len(used), (i+1)*len(events)/len(used)
		w := &work[i]
		*w = laneWork{l: l, start: lo, sent: lo, hi: hi}
		w.sent, w.err = l.send(events, lo, hi)
	}
	for i := range work {
		w := &work[i]
		for w.err == nil && w.start < w.hi {
			if w.err = c.laneResponse(ctx, w.l, lines[w.start:w.sent]); w.err != nil {
				break
			}
			w.start = w.sent
			if w.start < w.hi {
				w.sent, w.err = w.l.send(events, w.start, w.hi)
			}
		}
	}
	if !stop() {
		// Lanes may be in the middle of a frame: none can be used again.
		for _, l := range used {
			ls.drop(l)
		}
		return callError("logformat format", ctx.Err())
	}
	var callErr error
	for i := range work {
		w := &work[i]
		var pe *laneProtocolError
		switch {
		case w.err == nil, errors.Is(w.err, errLaneTooSmall):
			ls.put(w.l)
		case errors.Is(w.err, errLaneBroken), errors.As(w.err, &pe):
			ls.drop(w.l)
		default:
			ls.put(w.l) // the plugin answered: the lane is in step
		}
		if w.err != nil && callErr == nil && !errors.Is(w.err, errLaneBroken) && !errors.Is(w.err, errLaneTooSmall) {
			callErr = w.err
		}
	}
	if callErr != nil {
		return callErr
	}
	for i := range work {
		if w := &work[i]; w.err != nil {
			if err := c.formatOverGRPC(ctx, events[w.start:w.hi], lines[w.start:w.hi]); err != nil {
				return err
			}
		}
	}
	return nil
}

// send encodes events[lo:hi], or as many of them as fit in a request of
// formatBatchBytes (one at least), and sends them on l. It returns where
// the request ends: the events it holds are [lo:end].
func (l *formatLane) send(events []event.Event, lo, hi int) (end int, err error) {
	b, n := appendBatch(append(l.req[:0], 0, 0, 0, 0), events[lo:hi])
	l.req, end = b, lo+n
	if len(b)-laneRequestHeader > maxMessageSize {
		// More than the plugin accepts: the gRPC path says so.
		return lo, errLaneTooSmall
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-laneRequestHeader))
	if _, err := l.conn.Write(b); err != nil {
		return lo, fmt.Errorf("%w: %v", errLaneBroken, err)
	}
	return end, nil
}

// laneResponse reads l's answer to the request in flight into lines.
func (c *logFormatClient) laneResponse(ctx context.Context, l *formatLane, lines [][]byte) error {
	if err := readLaneResponse(l.r, &l.scratch, lines); err != nil {
		return c.laneError(ctx, err)
	}
	return nil
}

// laneError is what a lane's call returns for err, an error reading its
// response.
func (c *logFormatClient) laneError(ctx context.Context, err error) error {
	var (
		pe *laneProtocolError
		se *laneStatusError
	)
	switch {
	case errors.As(err, &se):
		return callError("logformat format", fromStatus(ctx, c.done, se.st.Err()))
	case errors.As(err, &pe):
		return fmt.Errorf("sdk: logformat format: %w", err)
	case errors.Is(err, errLineLengths):
		return fmt.Errorf("sdk: logformat format: %w", err)
	}
	return fmt.Errorf("%w: %v", errLaneBroken, err)
}

// laneStatusError is a plugin's laneError response.
type laneStatusError struct{ st *status.Status }

func (e *laneStatusError) Error() string { return e.st.Err().Error() }

// errLineLengths: the line lengths a plugin returned do not add up to its
// lines.
var errLineLengths = errors.New("line lengths")

// readLaneResponse reads one response from r into lines, which has room
// for one line per event of the request; scratch holds the lane's buffers
// for the line lengths. The lines point into one new buffer of their own.
// Errors: *laneStatusError for the plugin's error, *laneProtocolError for
// what the protocol does not allow (the lane is then out of step), an
// error wrapping errLineLengths for lengths that do not add up (the lane is
// still in step), and the reader's error (never io.EOF within a frame).
func readLaneResponse(r io.Reader, scratch *laneScratch, lines [][]byte) error {
	var hdr [laneResponseHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	a := binary.LittleEndian.Uint32(hdr[1:])
	b := binary.LittleEndian.Uint32(hdr[5:])
	switch hdr[0] {
	case laneOK:
	case laneError:
		if a != 0 || b > maxLaneError {
			return &laneProtocolError{fmt.Sprintf("error status of %d bytes (%d), more than %d", b, a, maxLaneError)}
		}
		buf := make([]byte, b)
		if _, err := io.ReadFull(r, buf); err != nil {
			return noEOF(err)
		}
		var st spb.Status
		if err := proto.Unmarshal(buf, &st); err != nil {
			return &laneProtocolError{"error status: " + err.Error()}
		}
		if codes.Code(st.GetCode()) == codes.OK {
			st.Code = int32(codes.Unknown) // an error, whatever the plugin says
		}
		return &laneStatusError{status.FromProto(&st)}
	default:
		return &laneProtocolError{fmt.Sprintf("response status %d", hdr[0])}
	}
	if int64(a) != int64(len(lines)) {
		// The lengths that follow cannot be trusted to be few: the lane
		// is out of step.
		return &laneProtocolError{fmt.Sprintf("plugin returned %d lines for %d events", a, len(lines))}
	}
	if b > maxMessageSize {
		return &laneProtocolError{fmt.Sprintf("%d bytes of lines, more than %d", b, maxMessageSize)}
	}
	raw := append(scratch.raw[:0], make([]byte, 4*len(lines))...)
	scratch.raw = raw
	if _, err := io.ReadFull(r, raw); err != nil {
		return noEOF(err)
	}
	ls := scratch.lengths[:0]
	for i := range len(lines) {
		ls = append(ls, binary.LittleEndian.Uint32(raw[4*i:]))
	}
	scratch.lengths = ls
	buf, err := readGrowing(r, int(b))
	if err != nil {
		return noEOF(err)
	}
	if err := splitLines(lines, buf, ls); err != nil {
		return fmt.Errorf("%w: %w", errLineLengths, err)
	}
	return nil
}

// readGrowing reads n bytes from r into a new buffer that grows with what
// arrives, so that a length a plugin claims costs no more memory than the
// bytes it actually sent (twice over at most).
func readGrowing(r io.Reader, n int) ([]byte, error) {
	const first = 1 << 20
	if n <= first {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, first)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf[:cap(buf)], make([]byte, min(cap(buf), n-len(buf)))...)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			return nil, err
		}
	}
	return buf, nil
}
