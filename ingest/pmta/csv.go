package pmta

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// span is one CSV field of a line: line[start:end] without its quotes. esc
// says doubled quotes inside must be undone.
type span struct {
	start, end int
	esc        bool
}

func (s span) value(line []byte) []byte {
	if !s.esc {
		return line[s.start:s.end]
	}
	return unescape(make([]byte, 0, s.end-s.start), line[s.start:s.end])
}

// split appends the fields of an RFC 4180 record to dst, stopping after max
// fields when max >= 0 (then ok only covers the fields read). ok is false when the quoting is broken: a quote
// inside an unquoted field, text between a closing quote and the next comma,
// or an unclosed quote (PowerMTA quotes a field that holds a comma, a quote
// or a line break and doubles the quotes inside, so only damaged lines look
// like that). The fields are still returned, best effort: a stray quote
// inside an unquoted field is kept as data, text after a closing quote up to
// the next comma is dropped, an unclosed quote runs to the end of the line.
// Commas are found eight bytes at a time: with ~25 short fields a line, a
// call per field costs more than the scan. Quotes are checked by count: the
// quoted fields account for theirs, and one bytes.Count says whether any
// other quote is in the line.
func split(line []byte, dst []span, max int) (_ []span, ok bool) {
	if max == 0 {
		return dst, true
	}
	ok = true
	quotes := 0 // quotes the quoted fields account for
	done := func() bool {
		return ok && (quotes == 0 && bytes.IndexByte(line, '"') < 0 || bytes.Count(line, []byte{'"'}) == quotes)
	}
	start := 0
outer:
	for {
		if start < len(line) && line[start] == '"' {
			sp, next, n, good := quoted(line, start)
			dst = append(dst, sp)
			quotes += n
			ok = ok && good
			if len(dst) == max {
				return dst, ok
			}
			if next < 0 {
				return dst, done()
			}
			start = next
			continue
		}
		i := start
		for ; i+8 <= len(line); i += 8 {
			m := zeroBytes(binary.LittleEndian.Uint64(line[i:]) ^ commas)
			for m != 0 {
				k := i + bits.TrailingZeros64(m)>>3
				dst = append(dst, span{start, k, false})
				if len(dst) == max {
					return dst, ok
				}
				start = k + 1
				if start < len(line) && line[start] == '"' {
					continue outer
				}
				m &= m - 1
			}
		}
		for ; i < len(line); i++ {
			if line[i] == ',' {
				dst = append(dst, span{start, i, false})
				if len(dst) == max {
					return dst, ok
				}
				start = i + 1
				if start < len(line) && line[start] == '"' {
					continue outer
				}
			}
		}
		return append(dst, span{start, len(line), false}), done()
	}
}

// quoted reads the quoted field that starts at line[i] == '"'. next is the
// index after the comma that ends it, or -1 at the end of the line; n is the
// number of quote bytes the field holds (its own two and the doubled ones);
// ok is false for an unclosed quote or text after the closing one.
func quoted(line []byte, i int) (sp span, next, n int, ok bool) {
	j, esc := i+1, false
	n = 1
	for {
		k := bytes.IndexByte(line[j:], '"')
		if k < 0 {
			return span{i + 1, len(line), esc}, -1, n, false
		}
		j += k
		if j+1 < len(line) && line[j+1] == '"' {
			esc = true
			n += 2
			j += 2
			continue
		}
		break
	}
	n++
	sp = span{i + 1, j, esc}
	if j+1 == len(line) {
		return sp, -1, n, true
	}
	if line[j+1] == ',' {
		return sp, j + 2, n, true
	}
	k := bytes.IndexByte(line[j+1:], ',')
	if k < 0 {
		return sp, -1, n, false
	}
	return sp, j + 1 + k + 1, n, false
}

const commas = 0x2c2c2c2c2c2c2c2c

// zeroBytes sets the high bit of each byte of x that is zero (exact, no
// false positives from borrows).
func zeroBytes(x uint64) uint64 {
	y := (x & 0x7f7f7f7f7f7f7f7f) + 0x7f7f7f7f7f7f7f7f
	return ^(y | x | 0x7f7f7f7f7f7f7f7f)
}

// unescape appends b with every doubled quote reduced to one.
func unescape(dst, b []byte) []byte {
	for {
		k := bytes.Index(b, []byte(`""`))
		if k < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:k+1]...)
		b = b[k+2:]
	}
}
