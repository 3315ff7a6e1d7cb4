package pmta

import (
	"bytes"
	"time"

	"cutover/ingest/lex"
)

// parseTime accepts the three accounting time forms: ISO "2019-02-08
// 21:54:05+0000" (iso-times yes), the manual's "02/08/2019 21:54:05+0000",
// and Unix seconds (iso-times no). A missing zone means loc.
func parseTime(b []byte, loc *time.Location, zc *lex.ZoneCache) (time.Time, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return time.Time{}, false
	}
	if n, ok := lex.Atoi(b); ok {
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
		y, ok1 = lex.Atoi(b[0:4])
		mo, ok2 = lex.Atoi(b[5:7])
		d, ok3 = lex.Atoi(b[8:10])
	case b[2] == '/' && b[5] == '/':
		mo, ok1 = lex.Atoi(b[0:2])
		d, ok2 = lex.Atoi(b[3:5])
		y, ok3 = lex.Atoi(b[6:10])
	default:
		return time.Time{}, false
	}
	if !ok1 || !ok2 || !ok3 || (b[10] != ' ' && b[10] != 'T') {
		return time.Time{}, false
	}
	h, m, s, ok := lex.Clock(b[11:19])
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
	z, ok := lex.Zone(bytes.TrimSpace(rest), loc, zc)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, m, s, nsec, z), true
}

// enhancedCode returns the leading "X.Y.Z" of b ("5.1.1 (bad destination
// mailbox address)"), or nil.
func enhancedCode(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if n := lex.CodeLen(b); n > 0 {
		return b[:n]
	}
	return nil
}
