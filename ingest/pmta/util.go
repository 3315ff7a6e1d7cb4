package pmta

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
)

// parseTime accepts the three accounting time forms: ISO "2019-02-08
// 21:54:05+0000" (iso-times yes), the manual's "02/08/2019 21:54:05+0000",
// and Unix seconds (iso-times no). A missing zone means loc.
func parseTime(b []byte, loc *time.Location, zc *zoneCache) (time.Time, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return time.Time{}, false
	}
	if n, ok := atoi(b); ok {
		if len(b) > 11 {
			return time.Time{}, false
		}
		return time.Unix(int64(n), 0), true
	}
	if len(b) < 19 {
		return time.Time{}, false
	}
	var y, mo, d int
	var ok1, ok2, ok3 bool
	switch {
	case b[4] == '-' && b[7] == '-':
		y, ok1 = atoi(b[0:4])
		mo, ok2 = atoi(b[5:7])
		d, ok3 = atoi(b[8:10])
	case b[2] == '/' && b[5] == '/':
		mo, ok1 = atoi(b[0:2])
		d, ok2 = atoi(b[3:5])
		y, ok3 = atoi(b[6:10])
	default:
		return time.Time{}, false
	}
	if !ok1 || !ok2 || !ok3 || (b[10] != ' ' && b[10] != 'T') {
		return time.Time{}, false
	}
	h, m, s, ok := clock(b[11:19])
	if !ok || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		rest = rest[i:]
	}
	z, ok := zone(bytes.TrimSpace(rest), loc, zc)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, m, s, nsec, z), true
}

// clock parses "HH:MM:SS".
func clock(b []byte) (h, m, s int, ok bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := atoi(b[0:2])
	m, ok2 := atoi(b[3:5])
	s, ok3 := atoi(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 {
		return 0, 0, 0, false
	}
	return h, m, s, true
}

// zone parses "", "Z", "+hhmm" or "+hh:mm".
func zone(b []byte, loc *time.Location, zc *zoneCache) (*time.Location, bool) {
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
	h, ok1 := atoi(hh)
	m, ok2 := atoi(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return zc.get(off), true
}

// zoneCache keeps one *time.Location per offset: time.FixedZone allocates.
type zoneCache struct{ m map[int]*time.Location }

func (z *zoneCache) get(off int) *time.Location {
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

// atoi parses a non-empty run of ASCII digits (at most 18).
func atoi(b []byte) (int, bool) {
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

// interner returns one string per distinct value of low-cardinality fields
// (vmta, pool, IPs, hosts, status codes), so a busy file does not allocate
// them per line. It is a direct-mapped cache: a collision only costs an
// allocation, and its size is fixed whatever the input.
type interner struct{ slot [1024]string }

func (in *interner) get(b []byte) string {
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

// enhancedCode returns the leading "X.Y.Z" of b ("5.1.1 (bad destination
// mailbox address)"), or nil.
func enhancedCode(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if n := codeLen(b); n > 0 {
		return b[:n]
	}
	return nil
}

// codeLen returns the length of an enhanced status code at the start of b
// (class 2, 4 or 5, subject and detail of 1-3 digits, then a non-code
// byte), or 0.
func codeLen(b []byte) int {
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

// findCode finds the enhanced code that follows an SMTP reply code in a
// response ("550 5.1.1 ..." or "550-5.1.1 ..."), or nil.
func findCode(b []byte) []byte {
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
		if n := codeLen(b[i+4:]); n > 0 {
			return b[i+4 : i+4+n]
		}
	}
	return nil
}
