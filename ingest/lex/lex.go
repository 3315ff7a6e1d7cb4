// Package lex holds the byte-level helpers the log parsers share: clock
// times and numeric zones without allocation, an interner for the few
// distinct values of a field (transports, vmtas, status codes), and the
// enhanced-status-code scanner.
package lex

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
)

// Clock parses "HH:MM:SS".
func Clock(b []byte) (h, m, s int, ok bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := Atoi(b[0:2])
	m, ok2 := Atoi(b[3:5])
	s, ok3 := Atoi(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 {
		return 0, 0, 0, false
	}
	return h, m, s, true
}

// Zone parses "", "Z", "+hhmm" or "+hh:mm".
func Zone(b []byte, loc *time.Location, zc *ZoneCache) (*time.Location, bool) {
	switch {
	case len(b) == 0:
		return loc, true
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
		return time.UTC, true
	case b[0] != '+' && b[0] != '-':
		return nil, false
	}
	var hh, mm []byte
	switch len(b) {
	case 5:
		hh, mm = b[1:3], b[3:5]
	case 6:
		if b[3] != ':' {
			return nil, false
		}
		hh, mm = b[1:3], b[4:6]
	default:
		return nil, false
	}
	h, ok1 := Atoi(hh)
	m, ok2 := Atoi(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return zc.Get(off), true
}

// ZoneCache keeps one *time.Location per offset: time.FixedZone allocates.
type ZoneCache struct{ m map[int]*time.Location }

func (z *ZoneCache) Get(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if l, ok := z.m[off]; ok {
		return l
	}
	if z.m == nil {
		z.m = make(map[int]*time.Location)
	}
	l := time.FixedZone("", off)
	if len(z.m) < 64 {
		z.m[off] = l
	}
	return l
}

// Atoi parses a non-empty run of ASCII digits (at most 18).
func Atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Interner returns one string per distinct value of low-cardinality fields
// (vmta, pool, IPs, hosts, status codes), so a busy file does not allocate
// them per line. It is a direct-mapped cache: a collision only costs an
// allocation, and its size is fixed whatever the input.
type Interner struct{ slot [1024]string }

func (in *Interner) Get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	e := &in.slot[slot(b)]
	if *e == string(b) {
		return *e
	}
	*e = string(b)
	return *e
}

// slot hashes the first, middle and last eight bytes (or all of a short
// value): cheaper than a byte loop, and values that differ only elsewhere
// merely share a slot.
func slot(b []byte) int {
	var h uint64
	if n := len(b); n >= 8 {
		h = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n/2-4:]), 21) ^
			bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 42)
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
	}
	h ^= uint64(len(b))
	return int((h * 0x9e3779b97f4a7c15) >> 54)
}

// CodeLen returns the length of an enhanced status code at the start of b
// (class 2, 4 or 5, subject and detail of 1-3 digits, then a non-code
// byte), or 0.
func CodeLen(b []byte) int {
	if len(b) < 5 || (b[0] != '2' && b[0] != '4' && b[0] != '5') || b[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(b) && j-i < 4 && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || j-i > 3 {
			return 0
		}
		i = j
		if part == 0 {
			if i >= len(b) || b[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] >= '0' && b[i] <= '9') {
		return 0 // an IP address or a version, not a status code
	}
	return i
}

// FindCode finds the enhanced code that follows an SMTP reply code in a
// response ("550 5.1.1 ..." or "550-5.1.1 ..."), or nil.
func FindCode(b []byte) []byte {
	for i := 0; i+9 <= len(b); i++ {
		c := b[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
			continue
		}
		if b[i+1] < '0' || b[i+1] > '9' || b[i+2] < '0' || b[i+2] > '9' ||
			(b[i+3] != ' ' && b[i+3] != '-') || b[i+4] != c {
			continue
		}
		if n := CodeLen(b[i+4:]); n > 0 {
			return b[i+4 : i+4+n]
		}
	}
	return nil
}

// NoBreaks returns b with CR and LF replaced by spaces (a copy if needed):
// no event field may carry a line break to a terminal or a CSV.
func NoBreaks(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	c := make([]byte, len(b))
	for i, x := range b {
		if x == '\n' || x == '\r' {
			x = ' '
		}
		c[i] = x
	}
	return c
}
