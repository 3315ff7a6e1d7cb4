package postfix

import (
	"bytes"
	"time"

	"cutover/ingest/lex"
)

// syslogLine is a log line split into its parts; ts is parsed only for the
// lines that become events.
type syslogLine struct {
	ts      []byte
	classic bool // "Mmm dd HH:MM:SS": no year, no zone
	prog    []byte
	msg     []byte
}

// splitSyslog recognises the three layouts Postfix logs reach files in:
//
//	Nov 26 19:16:25 host postfix/smtp[7911]: msg           (syslog, maillog_file)
//	2026-11-26T19:16:25.123456+00:00 host postfix/smtp[1]: msg   (rsyslog RFC 3339)
//	<22>1 2026-11-26T19:16:25.123Z host postfix/smtp 123 - - msg  (RFC 5424)
func splitSyslog(l []byte) (s syslogLine, ok bool) {
	var rest []byte
	switch {
	case len(l) > 0 && l[0] == '<':
		return split5424(l)
	case len(l) >= 20 && l[4] == '-' && l[7] == '-' && l[10] == 'T':
		sp := bytes.IndexByte(l, ' ')
		if sp < 0 {
			return s, false
		}
		s.ts, rest = l[:sp], l[sp+1:]
	case len(l) >= 16 && l[3] == ' ' && l[0] >= 'A' && l[0] <= 'Z':
		// "Mmm dd", "Mmm  d" or "Mmm d", then HH:MM:SS and an optional
		// fraction.
		i := 4
		if l[i] == ' ' {
			i++
		}
		j := i
		for j < len(l) && j-i < 2 && l[j] >= '0' && l[j] <= '9' {
			j++
		}
		if j == i || j+9 > len(l) || l[j] != ' ' || l[j+3] != ':' || l[j+6] != ':' {
			return s, false
		}
		e := j + 9
		if e < len(l) && l[e] == '.' {
			for e++; e < len(l) && l[e] >= '0' && l[e] <= '9'; e++ {
			}
		}
		if e >= len(l) || l[e] != ' ' {
			return s, false
		}
		s.ts, s.classic, rest = l[:e], true, l[e+1:]
	default:
		return s, false
	}
	// host, then "prog[pid]:" or "prog:".
	sp := indexShort(rest, ' ')
	if sp < 0 {
		return s, false
	}
	rest = rest[sp+1:]
	sp = indexShort(rest, ' ')
	if sp < 1 || rest[sp-1] != ':' {
		return s, false
	}
	tag := rest[:sp-1]
	if b := indexShort(tag, '['); b >= 0 {
		tag = tag[:b]
	}
	s.prog, s.msg = tag, rest[sp+1:]
	return s, true
}

// indexShort is bytes.IndexByte for a byte expected within the first few
// dozen: host names and syslog tags are short, and a plain loop beats the
// vector search's set-up there.
func indexShort(b []byte, c byte) int {
	n := min(len(b), 48)
	for i := 0; i < n; i++ {
		if b[i] == c {
			return i
		}
	}
	if n == len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[n:], c); i >= 0 {
		return n + i
	}
	return -1
}

// split5424 parses "<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG".
func split5424(l []byte) (s syslogLine, ok bool) {
	e := bytes.IndexByte(l, '>')
	if e < 2 || e > 4 {
		return s, false
	}
	r := l[e+1:]
	var f [5][]byte // version, timestamp, host, app, procid
	for i := range f {
		sp := bytes.IndexByte(r, ' ')
		if sp < 0 {
			return s, false
		}
		f[i], r = r[:sp], r[sp+1:]
	}
	// MSGID, then structured data: "-" or one or more "[…]".
	sp := bytes.IndexByte(r, ' ')
	if sp < 0 {
		return s, false
	}
	r = r[sp+1:]
	switch {
	case len(r) > 0 && r[0] == '-':
		r = r[1:]
	case len(r) > 0 && r[0] == '[':
		for len(r) > 0 && r[0] == '[' {
			i := 1
			for ; i < len(r) && r[i] != ']'; i++ {
				if r[i] == '\\' {
					i++
				}
			}
			if i >= len(r) {
				return s, false
			}
			r = r[i+1:]
		}
	default:
		return s, false
	}
	if len(r) > 0 && r[0] == ' ' {
		r = r[1:]
	}
	r = bytes.TrimPrefix(r, []byte("\xef\xbb\xbf"))
	s.ts, s.prog, s.msg = f[1], f[3], r
	return s, true
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// time parses the line's timestamp. Classic timestamps have no year: it
// comes from the reference time (the file's mtime, else Now), moved back a
// year when that would put the line more than a day after it (unless the
// line was appended while following, see appended), and forward when the
// file's lines jump back by months (the year turned while it was followed).
func (p *Parser) time(classic bool, ts []byte) (time.Time, bool) {
	// Busy logs write many lines a second: reuse the last conversion.
	if len(ts) == len(p.lastTS) && string(ts) == string(p.lastTS) && !p.lastT.IsZero() {
		return p.lastT, true
	}
	t, ok := p.parseTS(classic, ts)
	if ok {
		p.lastTS = append(p.lastTS[:0], ts...)
		p.lastT = t
	}
	return t, ok
}

func (p *Parser) parseTS(classic bool, ts []byte) (time.Time, bool) {
	var t time.Time
	if !classic {
		var ok bool
		if t, ok = parseRFC3339(ts, p.loc, &p.zones); !ok {
			return t, false
		}
	} else {
		b := ts
		mon := 0
		for i, m := range months {
			if string(b[:3]) == m {
				mon = i + 1
				break
			}
		}
		i := 4
		if b[i] == ' ' {
			i++
		}
		j := bytes.IndexByte(b[i:], ' ') + i
		day, ok1 := lex.Atoi(b[i:j])
		h, m, sec, ok2 := lex.Clock(b[j+1 : j+9])
		if mon == 0 || !ok1 || !ok2 || day < 1 || day > 31 {
			return t, false
		}
		nsec := fraction(b[j+9:])
		ref := p.mtime
		if ref.IsZero() {
			ref = p.now()
		}
		if p.last.After(ref) {
			ref = p.last
		}
		y := ref.Year()
		t = time.Date(y, time.Month(mon), day, h, m, sec, nsec, p.loc)
		switch {
		case t.Sub(ref) > 24*time.Hour && !p.appended():
			t = time.Date(y-1, time.Month(mon), day, h, m, sec, nsec, p.loc)
		case !p.last.IsZero() && p.last.Sub(t) > 180*24*time.Hour:
			t = time.Date(y+1, time.Month(mon), day, h, m, sec, nsec, p.loc)
		}
		if t.After(p.last) {
			p.last = t
		}
	}
	if t.After(p.newest) {
		p.newest = t
	}
	return t, true
}

// appended reports whether a line more than a day after the file's mtime was
// written after NewFile (the file is being followed): the line before
// it was already near the mtime, i.e. at the end of what existed then. A
// file's older lines fail that test, so they still get the previous year.
func (p *Parser) appended() bool {
	return !p.mtime.IsZero() && !p.last.IsZero() && !p.last.Before(p.mtime.Add(-24*time.Hour))
}

// parseRFC3339 accepts "2006-01-02T15:04:05[.frac](Z|±hh:mm|±hhmm)"; a
// missing zone means loc.
func parseRFC3339(b []byte, loc *time.Location, zc *lex.ZoneCache) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, false
	}
	y, ok1 := lex.Atoi(b[0:4])
	mo, ok2 := lex.Atoi(b[5:7])
	d, ok3 := lex.Atoi(b[8:10])
	h, m, s, ok4 := lex.Clock(b[11:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := fraction(rest)
	for len(rest) > 0 && (rest[0] == '.' || rest[0] >= '0' && rest[0] <= '9') {
		rest = rest[1:]
	}
	z, ok := lex.Zone(rest, loc, zc)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, m, s, nsec, z), true
}

// fraction reads ".ddd…" as nanoseconds.
func fraction(b []byte) int {
	if len(b) == 0 || b[0] != '.' {
		return 0
	}
	n, scale := 0, 100000000
	for i := 1; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n += int(b[i]-'0') * scale
		scale /= 10
	}
	return n
}
