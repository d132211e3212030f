package capture

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Status is a verification verdict.
type Status int

// Verdicts. NotVerified is what an insecure read reports.
const (
	NotVerified Status = iota
	Intact
	Altered   // Result.Record and Result.Offset name the first bad record
	Truncated // the file ends after Result.Checkpoint
	WrongKey  // signed by Result.KeyID, not Result.WantKeyID
	Unreadable
)

func (s Status) String() string {
	switch s {
	case Intact:
		return "intact"
	case Altered:
		return "altered"
	case Truncated:
		return "truncated"
	case WrongKey:
		return "wrong key"
	case Unreadable:
		return "unreadable"
	}
	return "not verified"
}

// Result is what verifying a session's segments found. Record indexes and
// counts include every record of a segment: its header (record 0) and its
// checkpoints too.
type Result struct {
	Status Status
	// Path is the segment the verdict is about: the one with the problem,
	// or the last one.
	Path string
	// Segment is that segment's number, from its header (-1 if unread).
	Segment int
	// Segments is how many segments verified completely.
	Segments int
	// Records is how many records verified, over all segments;
	// SegmentRecords how many of them in the segment at Path.
	Records        uint64
	SegmentRecords uint64
	// Record and Offset locate the first altered record in Path.
	Record uint64
	Offset int64
	// Checkpoint is the last good checkpoint of the segment at Path
	// (1 = the first one, 0 = none).
	Checkpoint int
	// KeyID is the key the segment says it was signed with, WantKeyID the
	// one verification used (as FormatKeyID renders them).
	KeyID, WantKeyID string
	// Recovered is set when a segment was sealed by Recover after a crash.
	Recovered bool
	// MissingSegment, when positive, is the segment that should follow
	// the last one of a session (ReadOptions.Session) but was not given.
	MissingSegment int
	SessionID      string
	// Start is the first segment's start, End the time of the last
	// verified checkpoint or trailer.
	Start, End time.Time
	// Err says more about a verdict other than Intact.
	Err error
}

// Describe says the verdict in the words of `vigilctl session-logs verify`,
// without the file name.
func (r Result) Describe() string {
	switch r.Status {
	case Intact:
		s := fmt.Sprintf("verified (%d records, %d %s)", r.Records, r.Segments, plural(r.Segments, "segment", "segments"))
		if r.Recovered {
			s += ", recovered after a crash"
		}
		return s
	case Altered:
		return fmt.Sprintf("altered at record %d (offset %d)", r.Record, r.Offset)
	case Truncated:
		if r.MissingSegment > 0 {
			return fmt.Sprintf("truncated: segment %d is missing (%d records verified)", r.MissingSegment, r.Records)
		}
		return fmt.Sprintf("truncated after checkpoint %d (%d records verified)", r.Checkpoint, r.SegmentRecords)
	case WrongKey:
		return fmt.Sprintf("signed by key %s, expected %s", r.KeyID, r.WantKeyID)
	case Unreadable:
		return fmt.Sprintf("unreadable: %v", r.Err)
	}
	return fmt.Sprintf("not verified (%d records read)", r.Records)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// VerifyError is what a verifying Reader returns when verification fails.
type VerifyError struct{ Result Result }

func (e *VerifyError) Error() string {
	msg := "capture: " + e.Result.Path + ": " + e.Result.Describe()
	if e.Result.Err != nil && e.Result.Status != Unreadable {
		msg += ": " + e.Result.Err.Error()
	}
	return msg
}

func (e *VerifyError) Unwrap() error { return e.Result.Err }

// Record is one data record.
type Record struct {
	Segment int
	Index   uint64 // in its segment; 0 is the header
	Offset  int64  // byte offset in its segment file
	Time    time.Duration
	At      time.Time // the segment's start plus Time
	Kind    Kind
	Channel uint32
	Payload []byte // valid until the next call to Next
}

// ReadOptions configure a Reader.
type ReadOptions struct {
	// Insecure reads records without verifying anything (and without a
	// key): for looking at a capture that does not verify. Reading stops
	// quietly at the first bytes that do not parse.
	Insecure bool
	// Session says the paths are a whole session: the last one must end
	// it. A last segment whose trailer says the session continues makes
	// the verdict Truncated, with MissingSegment set.
	Session bool
}

// Reader iterates over the data records of a session's segments, given in
// order. A verifying reader checks that each segment follows the one
// before and yields records only once a signed checkpoint covers them, so
// nothing it yields is unverified; it holds back at most one checkpoint
// interval of records to do so.
type Reader struct {
	paths []string
	pub   ed25519.PublicKey
	opts  ReadOptions
	keep  bool

	i     int // index of the segment being read
	f     *os.File
	sc    *scanner
	batch []dataRec
	arena []byte // the batch's payloads
	bi    int
	prev  *link
	hdr   Header
	// continued: the last segment read says the session goes on.
	continued bool
	res       Result
	err       error
}

// Open returns a Reader of the segments at paths, verified with pub unless
// opts.Insecure.
func Open(paths []string, pub ed25519.PublicKey, opts ReadOptions) (*Reader, error) {
	return open(paths, pub, opts, true)
}

func open(paths []string, pub ed25519.PublicKey, opts ReadOptions, keep bool) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("capture: open: no segment given")
	}
	if !opts.Insecure && len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("capture: open: %w", ErrBadPublicKey)
	}
	r := &Reader{paths: paths, pub: pub, opts: opts, keep: keep}
	r.res.Segment = -1
	if !opts.Insecure {
		r.res.WantKeyID = KeyID(pub)
	}
	return r, nil
}

// Header is the header of the segment the last record came from.
func (r *Reader) Header() Header { return r.hdr }

// Next returns the next data record; io.EOF after the last. A verifying
// reader returns a *VerifyError when verification fails.
func (r *Reader) Next() (Record, error) {
	for {
		if r.bi < len(r.batch) {
			d := r.batch[r.bi]
			r.bi++
			rec := Record{
				Segment: r.hdr.Segment,
				Index:   d.index,
				Offset:  d.off,
				Time:    time.Duration(d.t) * time.Microsecond,
				Kind:    d.kind,
				Channel: d.ch,
			}
			rec.At = r.hdr.Start.Add(rec.Time)
			if r.keep {
				rec.Payload = r.arena[d.p0:d.p1:d.p1]
			}
			if r.opts.Insecure {
				r.res.Records++
			}
			return rec, nil
		}
		if r.err != nil {
			return Record{}, r.err
		}
		if r.sc == nil && !r.openNext() {
			continue
		}
		batch, err := r.sc.nextBatch()
		if r.sc.haveHdr {
			r.hdr = r.sc.hdr
			if r.res.Segment < 0 || r.res.Segment != r.hdr.Segment {
				r.noteHeader()
			}
		}
		r.batch, r.arena, r.bi = batch, r.sc.arena, 0
		if err != nil {
			r.endSegment(err)
		}
	}
}

// openNext opens the next segment, or ends the read after the last.
func (r *Reader) openNext() bool {
	if r.i == len(r.paths) {
		switch {
		case r.opts.Insecure:
			r.res.Status = NotVerified
		case r.opts.Session && r.continued:
			r.res.Status, r.res.MissingSegment = Truncated, r.res.Segment+1
			r.res.Err = fmt.Errorf("segment %d says the session continues", r.res.Segment)
			r.err = &VerifyError{Result: r.res}
			return false
		default:
			r.res.Status = Intact
		}
		r.err = io.EOF
		return false
	}
	path := r.paths[r.i]
	r.res.Path = path
	f, err := os.Open(path)
	var st os.FileInfo
	if err == nil {
		st, err = f.Stat()
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		r.res.Status, r.res.Err = Unreadable, err
		r.err = &VerifyError{Result: r.res}
		return false
	}
	r.f = f
	r.sc = newScanner(f, st.Size(), r.pub, !r.opts.Insecure, r.keep, r.prev)
	return true
}

func (r *Reader) noteHeader() {
	h := r.sc.hdr
	if r.res.Start.IsZero() {
		r.res.Start = h.Start
		r.res.SessionID = h.SessionID
	}
	r.res.Segment = h.Segment
	r.res.KeyID = FormatKeyID(h.KeyID)
}

// endSegment takes the scanner's verdict on the segment being read.
func (r *Reader) endSegment(err error) {
	sc := r.sc
	if sc.haveHdr && sc.goodRecords > 0 {
		r.res.End = sc.hdr.Start.Add(time.Duration(sc.goodT) * time.Microsecond)
	}
	r.res.Recovered = r.res.Recovered || sc.flags&FlagRecovered != 0
	r.continued = sc.flags&FlagContinued != 0
	if r.opts.Insecure {
		if err == io.EOF {
			r.res.Err = errors.Join(r.res.Err, sc.res.err)
			r.closeSegment(sc)
			return
		}
		r.res.Err = err
		r.err = fmt.Errorf("capture: %s: %w", r.res.Path, err)
		return
	}
	res := sc.res
	r.res.SegmentRecords = res.records
	r.res.Records += res.records
	if res.status == Intact {
		r.res.Segments++
		r.closeSegment(sc)
		return
	}
	r.res.Status, r.res.Record, r.res.Offset, r.res.Checkpoint, r.res.Err =
		res.status, res.record, res.offset, res.checkpoint, res.err
	r.err = &VerifyError{Result: r.res}
}

func (r *Reader) closeSegment(sc *scanner) {
	if sc.haveHdr {
		r.prev = &link{segment: sc.hdr.Segment + 1, session: sc.hdr.SessionID, prev: sc.chain.h}
	}
	r.f.Close()
	r.f, r.sc = nil, nil
	r.i++
}

// Result is the verdict once Next has returned an error (io.EOF included).
// For an insecure read, Status is NotVerified.
func (r *Reader) Result() Result { return r.res }

// Close releases the open file.
func (r *Reader) Close() error {
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}

// Verify checks segments given in order: every hash chain, checkpoint and
// trailer signature, and that each segment follows the one before.
func Verify(paths []string, pub ed25519.PublicKey) Result {
	return verify(paths, pub, ReadOptions{})
}

func verify(paths []string, pub ed25519.PublicKey, opts ReadOptions) Result {
	r, err := open(paths, pub, opts, false)
	if err != nil {
		return Result{Status: Unreadable, Segment: -1, Err: err}
	}
	defer r.Close()
	for {
		if _, err := r.Next(); err != nil {
			return r.Result()
		}
	}
}

// VerifyFile verifies path as a session: with its later segments beside it
// when path is a segment 0 (see SessionFiles), and then the last one must
// end the session; alone otherwise.
func VerifyFile(path string, pub ed25519.PublicKey) Result {
	paths, err := SessionFiles(path)
	if err != nil {
		return Result{Status: Unreadable, Path: path, Segment: -1, Err: err}
	}
	_, n, _ := SegmentNumber(path)
	res := verify(paths, pub, ReadOptions{Session: n == 0})
	if res.Status == Intact {
		res.Path = filepath.Clean(path)
	}
	return res
}
