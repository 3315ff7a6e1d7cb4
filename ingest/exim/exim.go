// Package exim parses Exim main log lines into model.Events.
//
// Layout: "YYYY-MM-DD HH:MM:SS[.mmm] [+zzzz] [[pid]] MSGID FLAG ADDRESS
// [(parent)] [<original>] fields[: error text]". One event comes from each
// delivery (=>, ->, >>), deferral (==) and failure (**) line.
package exim

import (
	"bytes"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex"
	"cutover/model"
)

// Options configures a Parser.
type Options struct {
	// Location is used for timestamps without a zone (log_timezone is off by
	// default); default time.Local.
	Location *time.Location
}

// Parser implements ingest.Parser for Exim main logs. It is not safe for
// concurrent use: use one per source.
type Parser struct {
	loc   *time.Location
	zones lex.ZoneCache
	in    *lex.Interner
	buf   []byte

	lastTS []byte // date, time and zone bytes of the last parsed line
	lastT  time.Time
}

var _ ingest.ForkParser = (*Parser)(nil)

// Fork implements ingest.ForkParser: a line's events depend on the line
// alone, so a copy (with its own caches) parses any chunk on another
// goroutine.
func (p *Parser) Fork() ingest.Parser { return &Parser{loc: p.loc, in: new(lex.Interner)} }

// Skip implements ingest.ForkParser: no line changes the parser's state.
func (p *Parser) Skip(data []byte) {}

// New returns a Parser.
func New(opts Options) *Parser {
	p := &Parser{loc: opts.Location, in: new(lex.Interner)}
	if p.loc == nil {
		p.loc = time.Local
	}
	return p
}

// NewFile implements ingest.Parser; Exim lines carry the full date and the
// parser keeps no per-file state.
func (p *Parser) NewFile(path string, modTime time.Time, header []byte) {}

// ParseLine implements ingest.Parser.
func (p *Parser) ParseLine(line []byte, dst []model.Event) ([]model.Event, error) {
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	// Date and time, then optional ".mmm", " +zzzz" and " [pid]".
	if len(line) < 20 || line[4] != '-' || line[7] != '-' || line[10] != ' ' || line[13] != ':' || line[16] != ':' {
		return dst, nil
	}
	i := 19
	if line[i] == '.' {
		for i++; i < len(line) && line[i] >= '0' && line[i] <= '9'; i++ {
		}
	}
	tsEnd := i
	if i >= len(line) || line[i] != ' ' {
		return dst, nil
	}
	i++
	if i+5 < len(line) && (line[i] == '+' || line[i] == '-') && line[i+5] == ' ' && digits(line[i+1:i+5]) {
		i += 6
		tsEnd = i - 1
	}
	if i < len(line) && line[i] == '[' {
		e := bytes.IndexByte(line[i:], ']')
		if e < 0 || i+e+1 >= len(line) || line[i+e+1] != ' ' {
			return dst, nil
		}
		i += e + 2
	}
	idLen := messageID(line[i:])
	if idLen == 0 {
		return dst, nil // daemon, queue run, rejected RCPT, …
	}
	id := line[i : i+idLen]
	i += idLen + 1
	if i+3 > len(line) || line[i+2] != ' ' {
		return dst, nil // "Completed", "Frozen", "SMTP error …"
	}
	var outcome model.Outcome
	switch string(line[i : i+2]) {
	case "=>", "->", ">>":
		outcome = model.Delivered
	case "==":
		outcome = model.Deferred
	case "**":
		outcome = model.Bounced
	default: // <=, (=, *> (suppressed by -N), anything else
		return dst, nil
	}
	if bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		// Garbage or a broken writer: keep line breaks out of every field.
		return p.ParseLine(lex.NoBreaks(line), dst)
	}
	f := parseFields(line[i+3:])
	if len(f.addr) == 0 {
		return dst, ingest.Reject("no address")
	}
	t, ok := p.time(line[:tsEnd])
	if !ok {
		return dst, ingest.Reject("bad timestamp")
	}
	resp := f.errText
	switch outcome {
	case model.Delivered:
		resp = f.conf
	case model.Deferred:
		if bytes.Contains(resp, []byte("retry time not reached")) {
			outcome = model.Held // no attempt was made
		}
	case model.Bounced:
		// Both are Exim giving up after its retry rules, not a 5xx: the
		// second is what it logs when every host of a dead site failed past
		// the cutoff.
		if bytes.Contains(resp, []byte("retry timeout exceeded")) ||
			bytes.Contains(resp, []byte("have been failing for a long time")) {
			outcome = model.Expired
		}
	}
	rcpt := f.recipient()
	p.buf = append(append(p.buf[:0], rcpt...), resp...)
	both := string(p.buf)
	ev := model.Event{
		Time:      t,
		Kind:      "exim",
		SourceIP:  p.in.Get(f.iface),
		Transport: p.in.Get(f.transport),
		Router:    p.in.Get(f.router),
		Relay:     p.in.Get(f.relay),
		QueueID:   p.in.Get(id),
		Recipient: both[:len(rcpt)],
		Response:  both[len(rcpt):],
		Outcome:   outcome,
		Status:    p.in.Get(lex.FindCode(resp)),
	}
	if !specialTarget(rcpt) {
		ev.Domain = model.DomainKey(ev.Recipient)
	}
	ev.Class = model.EventClass(&ev) // reply and code
	return append(dst, ev), nil
}

// messageID returns the length of an Exim message id followed by a space at
// the start of b: 16 characters (XXXXXX-XXXXXX-XX) before 4.97, 23
// (XXXXXX-XXXXXXXXXXX-XXXX) since; 0 if there is none.
func messageID(b []byte) int {
	for _, f := range [2]struct{ n, dash int }{{16, 13}, {23, 18}} {
		n := f.n
		if len(b) <= n || b[n] != ' ' || b[6] != '-' || b[f.dash] != '-' {
			continue
		}
		ok := true
		for k, c := range b[:n] {
			if k == 6 || k == f.dash {
				continue
			}
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
	}
	return 0
}

// fields is what a delivery line says after its flag.
type fields struct {
	addr, parent, orig              []byte
	router, transport, relay, iface []byte
	conf                            []byte // C="…" (smtp_confirmation)
	errText                         []byte // text after ": "
}

// recipient prefers a real address: pipe, file, :blackhole: and autoreply
// deliveries log their target first ("|/usr/bin/cmd", "/var/mail/x",
// ":blackhole:", ">a@x,b@y") and the recipient in "<original>" or
// "(parent)"; a local delivery may log only the local part. When no field
// holds an address the target itself is returned, and the event counts
// without a domain.
func (f *fields) recipient() []byte {
	if !specialTarget(f.addr) && bytes.IndexByte(f.addr, '@') >= 0 &&
		(bytes.Count(f.addr, []byte("@")) == 1 || bytes.IndexByte(f.orig, '@') < 0) {
		return f.addr
	}
	// "abc@def@dom <\"abc@def\"@dom>": Exim logs a quoted local part
	// unquoted first; the original keeps the quotes.
	if bytes.IndexByte(f.orig, '@') >= 0 {
		return f.orig
	}
	if bytes.IndexByte(f.parent, '@') >= 0 {
		return f.parent
	}
	return f.addr
}

// specialTarget: a pipe, a file, :blackhole: or an autoreply's recipients
// in the address position (Exim spec, "Log line flags" and the redirect
// router's special items).
func specialTarget(a []byte) bool {
	return len(a) > 0 && (a[0] == '|' || a[0] == '/' || a[0] == '>' || bytes.HasPrefix(a, []byte(":blackhole:")) || bytes.HasPrefix(a, []byte(":fail:")) || bytes.HasPrefix(a, []byte(":defer:")))
}

// parseFields splits "ADDRESS [(parent)] [<original>] R=… T=… H=host [ip]
// … [: error text]".
func parseFields(r []byte) (f fields) {
	// The address. A pipe command ("|/usr/bin/x arg") may contain spaces and
	// is followed by "(parent)".
	var tok []byte
	switch {
	case len(r) > 0 && r[0] == '|':
		// The command ends before the first " (parent)" or " <original>":
		// the error text later on the line has parentheses of its own
		// ("returned 127 (could mean unable to exec ...)").
		k := bytes.Index(r, []byte(" ("))
		if j := bytes.Index(r, []byte(" <")); j >= 0 && (k < 0 || j < k) {
			k = j
		}
		if k >= 0 {
			tok, r = r[:k], r[k+1:]
		}
	case bytes.HasPrefix(r, []byte(":blackhole:")):
		// Its own trailing colon is not the error mark.
		tok, r = r[:len(":blackhole:")], bytes.TrimPrefix(r[len(":blackhole:"):], []byte(" "))
		f.addr = tok
	case len(r) > 0 && r[0] == '<':
		// A quoted local part may hold spaces and '@': "<\"a b@c\"@d>".
		if k := closeAngle(r); k > 0 {
			tok, r = r[:k+1], bytes.TrimPrefix(r[k+1:], []byte(" "))
		}
	}
	if tok == nil {
		tok, r = cut(r)
	}
	if f.addr == nil {
		if end, ok := errMark(tok); ok {
			f.addr, f.errText = end, r
			return f
		}
		f.addr = tok
	}
	if len(r) > 0 && r[0] == '(' {
		if k := bytes.IndexByte(r, ')'); k >= 0 {
			f.parent, r = r[1:k], r[k+1:]
			if len(r) > 0 && r[0] == ':' {
				f.errText = bytes.TrimPrefix(r[1:], []byte(" "))
				return f
			}
			r = bytes.TrimPrefix(r, []byte(" "))
		}
	}
	if len(r) > 0 && r[0] == '<' {
		if k := closeAngle(r); k > 0 {
			f.orig, r = r[1:k], r[k+1:]
			if len(r) > 0 && r[0] == ':' {
				f.errText = trimTimes(bytes.TrimPrefix(r[1:], []byte(" ")))
				return f
			}
		} else {
			tok, r = cut(r)
			end, isErr := errMark(tok)
			if len(end) >= 2 && end[len(end)-1] == '>' {
				f.orig = end[1 : len(end)-1]
			}
			if isErr {
				f.errText = r
				return f
			}
		}
	}
	for len(r) > 0 {
		if r[0] == ' ' {
			r = r[1:]
			continue
		}
		if bytes.HasPrefix(r, []byte(`C="`)) {
			f.conf, r = quoted(r[3:])
			continue
		}
		tok, r = cut(r)
		end, isErr := errMark(tok)
		switch {
		case bytes.HasPrefix(end, []byte("R=")):
			f.router = end[2:]
		case bytes.HasPrefix(end, []byte("T=")):
			f.transport = end[2:]
		case bytes.HasPrefix(end, []byte("I=")):
			f.iface = bracketed(end[2:])
		case bytes.HasPrefix(end, []byte("H=")):
			// "H=host [ip]", "H=host [ip]:port", "H=[ip]"; "*" after the
			// address marks a reused connection.
			host := end[2:]
			relayEnd := host
			if !isErr && len(host) > 0 && host[0] != '[' && len(r) > 0 && r[0] == '[' {
				var ipTok []byte
				ipTok, r = cut(r)
				var ipEnd []byte
				ipEnd, isErr = errMark(ipTok)
				if k := bytes.IndexByte(ipEnd, ']'); k >= 0 {
					// "host [ip]" as logged: host and the ip token are
					// adjacent in the line, so extend the host slice over
					// the space and the bracketed address.
					relayEnd = host[:len(host)+1+k+1]
				}
			} else if k := bytes.IndexByte(host, ']'); k >= 0 {
				relayEnd = host[:k+1]
			}
			f.relay = relayEnd
		}
		if isErr {
			f.errText = trimTimes(r)
			return f
		}
	}
	return f
}

// closeAngle returns the index of the '>' that closes the "<" at r[0],
// skipping a quoted local part ("<\"abc@def\"@dom>"); -1 if none.
func closeAngle(r []byte) int {
	q := false
	for i := 1; i < len(r); i++ {
		switch c := r[i]; {
		case c == '\\' && q:
			i++
		case c == '"':
			q = !q
		case c == '>' && !q:
			return i
		}
	}
	return -1
}

// cut splits off the token up to the next space.
func cut(r []byte) (tok, rest []byte) {
	if k := bytes.IndexByte(r, ' '); k >= 0 {
		return r[:k], r[k+1:]
	}
	return r, nil
}

// errMark reports whether tok ends with the ':' that starts the error text,
// and returns tok without it.
func errMark(tok []byte) ([]byte, bool) {
	if len(tok) > 0 && tok[len(tok)-1] == ':' {
		return tok[:len(tok)-1], true
	}
	return tok, false
}

// quoted reads a C="…" value. Exim does not escape quotes inside it, so it
// ends at the first quote followed by the end of the line or by a space and
// another field ("QT=…", "DT=…").
func quoted(r []byte) (val, rest []byte) {
	for i := 0; i < len(r); i++ {
		if r[i] == '"' && (i+1 == len(r) || r[i+1] == ' ' && fieldStart(r[i+2:])) {
			return r[:i], r[i+1:]
		}
	}
	return r, nil
}

// fieldStart reports "NAME=" with a short alphabetic name at the start of b.
func fieldStart(b []byte) bool {
	for i := 0; i < len(b) && i <= 4; i++ {
		c := b[i]
		if c == '=' {
			return i > 0
		}
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return false
}

// bracketed returns the inside of "[ip]" or "[ip]:port", else b.
func bracketed(b []byte) []byte {
	if len(b) > 0 && b[0] == '[' {
		if k := bytes.IndexByte(b, ']'); k > 0 {
			return b[1:k]
		}
	}
	return b
}

// trimTimes drops the " DT=…" and " QT=…" that +deliver_time and
// +queue_time append after the error text of a "**" line.
func trimTimes(t []byte) []byte {
	for {
		k := bytes.LastIndexByte(t, ' ')
		if k < 0 {
			return t
		}
		last := t[k+1:]
		if !bytes.HasPrefix(last, []byte("DT=")) && !bytes.HasPrefix(last, []byte("QT=")) {
			return t
		}
		t = t[:k]
	}
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// time converts "YYYY-MM-DD HH:MM:SS[.mmm][ +zzzz]".
func (p *Parser) time(b []byte) (time.Time, bool) {
	if string(b) == string(p.lastTS) && !p.lastT.IsZero() {
		return p.lastT, true
	}
	y, ok1 := lex.Atoi(b[0:4])
	mo, ok2 := lex.Atoi(b[5:7])
	d, ok3 := lex.Atoi(b[8:10])
	h, m, s, ok4 := lex.Clock(b[11:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		scale := 100000000
		k := 1
		for ; k < len(rest) && rest[k] >= '0' && rest[k] <= '9'; k++ {
			nsec += int(rest[k]-'0') * scale
			scale /= 10
		}
		rest = rest[k:]
	}
	z, ok := lex.Zone(bytes.TrimPrefix(rest, []byte(" ")), p.loc, &p.zones)
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, m, s, nsec, z)
	p.lastTS = append(p.lastTS[:0], b...)
	p.lastT = t
	return t, true
}
