package rfb

import (
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// maxLeftover bounds the compressed bytes a rectangle may leave unread for
// the next one: a server's sync flush leaves a handful.
const maxLeftover = 64 << 10

// errInputEnd: the inflater wanted more compressed bytes than the
// rectangle carries.
var errInputEnd = errors.New("compressed data ends before the rectangle's pixels")

// zstream is one zlib stream that runs through many rectangles (ZRLE has
// one per connection, Tight four). Each rectangle hands over its
// compressed bytes; its decoder then reads exactly the uncompressed bytes
// it needs. The inflater is never asked for more than that, so it never
// reads past the rectangle's data, and nothing inflates beyond what the
// rectangle's pixels can use: a zlib bomb costs at most a rectangle's
// worth of work.
type zstream struct {
	name string
	in   zinput
	zr   io.ReadCloser // nil until the stream's first rectangle, or after a reset
	out  []byte        // inflated bytes not yet consumed
	buf  []byte
}

// zinput feeds the inflater: bytes left over from earlier rectangles, then
// the current rectangle's, pulled from the Source as needed.
type zinput struct {
	src       Source
	pending   []byte // bytes in hand
	remaining int    // bytes of the current rectangle still in the Source
}

func (z *zinput) fill() error {
	if len(z.pending) > 0 {
		return nil
	}
	if z.remaining == 0 {
		return errInputEnd
	}
	b, err := z.src.Next(min(z.remaining, 32<<10))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	z.remaining -= len(b)
	z.pending = append(z.pending[:0], b...)
	return nil
}

func (z *zinput) ReadByte() (byte, error) {
	if err := z.fill(); err != nil {
		return 0, err
	}
	c := z.pending[0]
	z.pending = z.pending[1:]
	return c, nil
}

func (z *zinput) Read(p []byte) (int, error) {
	if err := z.fill(); err != nil {
		return 0, err
	}
	n := copy(p, z.pending)
	z.pending = z.pending[n:]
	return n, nil
}

// begin starts a rectangle that carries n compressed bytes in src.
func (s *zstream) begin(src Source, n int) error {
	s.in.src = src
	s.in.remaining = n
	if len(s.out) > 0 {
		return fmt.Errorf("%s: %d inflated bytes left over from the last rectangle: %w", s.name, len(s.out), ErrMalformed)
	}
	if s.zr == nil {
		zr, err := zlib.NewReader(&s.in)
		if err != nil {
			return s.wrap(err)
		}
		s.zr = zr
	}
	return nil
}

// next returns the next n inflated bytes, valid until the next call.
func (s *zstream) next(n int) ([]byte, error) {
	if len(s.out) >= n {
		b := s.out[:n]
		s.out = s.out[n:]
		return b, nil
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, max(n, 4096))
	}
	have := copy(s.buf[:cap(s.buf)], s.out)
	for have < n {
		k, err := s.zr.Read(s.buf[have:cap(s.buf)])
		have += k
		if err != nil && have < n {
			return nil, s.wrap(err)
		}
		if k == 0 && err == nil {
			continue
		}
	}
	s.out = s.buf[n:have]
	return s.buf[:n], nil
}

// end finishes a rectangle: its decoder has read everything it needed.
// Compressed bytes the inflater did not need stay for the next rectangle.
func (s *zstream) end() error {
	if len(s.out) > 0 {
		return fmt.Errorf("%s: %d inflated bytes more than the rectangle's pixels: %w", s.name, len(s.out), ErrMalformed)
	}
	if len(s.in.pending)+s.in.remaining > maxLeftover {
		return fmt.Errorf("%s: %d compressed bytes left unused by the rectangle: %w",
			s.name, len(s.in.pending)+s.in.remaining, ErrMalformed)
	}
	for s.in.remaining > 0 {
		b, err := s.in.src.Next(s.in.remaining)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		s.in.remaining = 0
		s.in.pending = append(s.in.pending, b...)
	}
	return nil
}

// reset drops the stream's state, as Tight's reset bits ask.
func (s *zstream) reset() {
	s.zr = nil
	s.out = nil
	s.in.pending = nil
}

func (s *zstream) wrap(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) && s.in.remaining > 0 {
		return err // the Source ended: the capture stops inside the rectangle
	}
	return fmt.Errorf("%s: inflating: %v: %w", s.name, err, ErrMalformed)
}
