package termrender

import "unicode/utf8"

// splitUTF8 splits b before a UTF-8 sequence that its end cuts short, so
// that a character split across two records is decoded whole.
func splitUTF8(b []byte) (complete, rest []byte) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[i:]) {
				return b[:i], b[i:]
			}
			break
		}
	}
	return b, nil
}

// decoder joins a stream's records into whole UTF-8 text.
type decoder struct{ carry []byte }

// text returns p, after what the previous record left over, up to the last
// complete character; the rest waits for the next record.
func (d *decoder) text(p []byte) []byte {
	var b []byte
	if len(d.carry) > 0 {
		b = append(d.carry, p...)
	} else {
		b = p
	}
	complete, rest := splitUTF8(b)
	d.carry = append([]byte(nil), rest...)
	return complete
}

// flush returns what is left over at the end of the stream.
func (d *decoder) flush() []byte {
	b := d.carry
	d.carry = nil
	return b
}
