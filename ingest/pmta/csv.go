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
// fields when max >= 0. It never fails: a stray quote inside an unquoted
// field is kept as data, text after a closing quote up to the next comma is
// dropped, and an unclosed quote runs to the end of the line (PowerMTA only
// quotes fields with commas, quotes or line breaks, so these only appear in
// damaged lines). Commas are found eight bytes at a time: with ~25 short
// fields a line, a call per field costs more than the scan.
func split(line []byte, dst []span, max int) []span {
	if max == 0 {
		return dst
	}
	start := 0
outer:
	for {
		if start < len(line) && line[start] == '"' {
			sp, next := quoted(line, start)
			dst = append(dst, sp)
			if next < 0 || len(dst) == max {
				return dst
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
					return dst
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
					return dst
				}
				start = i + 1
				if start < len(line) && line[start] == '"' {
					continue outer
				}
			}
		}
		return append(dst, span{start, len(line), false})
	}
}

// quoted reads the quoted field that starts at line[i] == '"'. next is the
// index after the comma that ends it, or -1 at the end of the line.
func quoted(line []byte, i int) (sp span, next int) {
	j, esc := i+1, false
	for {
		k := bytes.IndexByte(line[j:], '"')
		if k < 0 {
			return span{i + 1, len(line), esc}, -1
		}
		j += k
		if j+1 < len(line) && line[j+1] == '"' {
			esc = true
			j += 2
			continue
		}
		break
	}
	sp = span{i + 1, j, esc}
	k := bytes.IndexByte(line[j+1:], ',')
	if k < 0 {
		return sp, -1
	}
	return sp, j + 1 + k + 1
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
