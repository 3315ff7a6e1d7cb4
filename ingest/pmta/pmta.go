// Package pmta parses PowerMTA accounting CSV files into model.Events.
//
// Columns are found by the header line of each file (the line whose first
// field is "type"), because record-fields, the version and the record types
// selected all change the column set. Rows are split by a hand-written RFC
// 4180 splitter over the line's bytes: encoding/csv allocates per record and
// accounting files are the biggest source cutover follows.
package pmta

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex"
	"cutover/model"
)

// Options configures a Parser.
type Options struct {
	// Location is used for timestamps without a zone; default time.Local.
	Location *time.Location
}

// Parser implements ingest.Parser for PowerMTA accounting files. It is not
// safe for concurrent use: use one per source.
type Parser struct {
	loc    *time.Location
	zones  lex.ZoneCache
	intern *lex.Interner

	col       [numCols]int // column index per field, -1 when absent
	nfields   int          // fields in the header: every record has as many
	hasHeader bool

	spans []span
	buf   []byte

	lastTS []byte // raw time field of the last record
	lastT  time.Time
}

// Columns the parser reads. The header maps names to these.
const (
	cType = iota
	cTimeLogged
	cTimeQueued
	cRcpt
	cDsnStatus
	cDsnDiag
	cDsnMta
	cBounceCat
	cSourceIP
	cVMTA
	cPool
	cQueue
	cFeedbackType
	cReportedDomain
	numCols
)

var colNames = map[string]int{
	"type":           cType,
	"timelogged":     cTimeLogged,
	"timequeued":     cTimeQueued,
	"rcpt":           cRcpt,
	"dsnstatus":      cDsnStatus,
	"dsndiag":        cDsnDiag,
	"dsnmta":         cDsnMta,
	"bouncecat":      cBounceCat,
	"dlvsourceip":    cSourceIP,
	"vmta":           cVMTA,
	"vmtapool":       cPool,
	"queue":          cQueue,
	"feedbacktype":   cFeedbackType,
	"reporteddomain": cReportedDomain,
}

// New returns a Parser.
func New(opts Options) *Parser {
	p := &Parser{loc: opts.Location, intern: new(lex.Interner)}
	if p.loc == nil {
		p.loc = time.Local
	}
	p.resetHeader()
	return p
}

var _ ingest.ForkParser = (*Parser)(nil)

// Fork returns a parser in p's header state, to parse the lines that follow
// on another goroutine (ingest.ForkParser): what a record gives depends on
// nothing but the header before it. Its time, zone and string caches start
// empty.
func (p *Parser) Fork() ingest.Parser {
	return &Parser{loc: p.loc, intern: new(lex.Interner), col: p.col, nfields: p.nfields, hasHeader: p.hasHeader}
}

// Skip moves p past whole lines as ParseLine would, looking at header
// lines only.
func (p *Parser) Skip(data []byte) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) >= 4 && (line[0] == 't' || line[0] == '"' || line[0] == bom[0]) {
			if line = trimCR(line); isHeader(line) {
				p.setHeader(line)
			}
		}
	}
}

func (p *Parser) resetHeader() {
	for i := range p.col {
		p.col[i] = -1
	}
	p.nfields = 0
	p.hasHeader = false
}

// NewFile forgets the previous file's header; header, when given, is the
// new file's first line (reading resumes past it).
func (p *Parser) NewFile(path string, modTime time.Time, header []byte) {
	p.resetHeader()
	if header != nil {
		line := trimCR(header)
		if isHeader(line) {
			p.setHeader(line)
		}
	}
}

// ParseLine implements ingest.Parser.
func (p *Parser) ParseLine(line []byte, dst []model.Event) ([]model.Event, error) {
	line = trimCR(line)
	if len(line) == 0 {
		return dst, nil
	}
	if isHeader(line) {
		p.setHeader(line)
		return dst, nil
	}
	line = lex.NoBreaks(line)
	if !p.hasHeader {
		if len(trim(line)) == 0 {
			return dst, nil
		}
		return dst, ingest.Reject("no header line")
	}
	if len(trim(line)) == 0 {
		return dst, nil
	}
	// Every record has its header's field count. A line with another count
	// is damaged: a torn write that ran two records into one, a record a
	// crash cut short, a quote PowerMTA did not double. Its fields would be
	// read from the wrong columns, so it counts nowhere.
	var ok bool
	p.spans, ok = split(line, p.spans[:0], -1)
	if !ok {
		return dst, ingest.Reject("broken quoting (a quote not doubled, text after a closing quote, or an unclosed quote)")
	}
	if len(p.spans) != p.nfields {
		return dst, ingest.Reject(fmt.Sprintf("%d fields where the header has %d (torn or truncated record)", len(p.spans), p.nfields))
	}

	var outcome model.Outcome
	switch string(p.raw(line, cType)) {
	case "d":
		outcome = model.Delivered
	case "b", "rb":
		outcome = model.Bounced
	case "t":
		outcome = model.Deferred
	case "tq":
		return p.queueRecord(line, dst)
	case "f":
		return p.feedback(line, dst)
	default: // r, rs and record types this version does not know
		return dst, nil
	}

	ev := model.Event{Kind: "pmta", Outcome: outcome}
	if ev.Time, ok = p.time(line); !ok {
		return dst, ingest.Reject("no parsable timeLogged")
	}
	rcpt := trim(p.raw(line, cRcpt))
	if len(rcpt) == 0 {
		return dst, ingest.Reject("no recipient")
	}
	p.common(line, &ev, rcpt)
	ev.Domain = model.DomainKey(ev.Recipient)
	if outcome != model.Delivered {
		// v4 logged "success" on d records: meaningless there.
		ev.BounceCat = p.istr(line, cBounceCat)
	}
	if outcome == model.Bounced && ev.BounceCat == "message-expired" {
		ev.Outcome = model.Expired
	}
	ev.Class = model.EventClass(&ev) // reply, code and bounceCat
	if ev.VMTA == "" {
		_, ev.VMTA = p.queue(line)
	}
	return append(dst, ev), nil
}

// common fills the fields shared by d, b, t, rb and tq records, and the
// recipient: it shares one allocation with the response text.
func (p *Parser) common(line []byte, ev *model.Event, rcpt []byte) {
	status := p.raw(line, cDsnStatus)
	diag := p.raw(line, cDsnDiag)
	ev.Status = p.intern.Get(enhancedCode(status))
	if ev.Status == "" {
		ev.Status = p.intern.Get(lex.FindCode(diag))
	}
	resp := stripDiagType(diag)
	if len(resp) == 0 {
		// Trimmed record-fields often keep dsnStatus only; its text is the
		// best reason there is.
		resp = trim(status)
	}
	p.buf = append(append(p.buf[:0], rcpt...), resp...)
	both := string(p.buf)
	ev.Recipient, ev.Response = both[:len(rcpt)], both[len(rcpt):]
	ev.Relay = p.istr(line, cDsnMta)
	if ip := p.raw(line, cSourceIP); string(ip) != "0.0.0.0" {
		ev.SourceIP = p.intern.Get(trim(ip))
	}
	ev.VMTA = p.istr(line, cVMTA)
	ev.Pool = p.istr(line, cPool)
}

// queueRecord handles tq: a queue-level failure with no recipient, counted
// against the queue's domain.
func (p *Parser) queueRecord(line []byte, dst []model.Event) ([]model.Event, error) {
	ev := model.Event{Kind: "pmta", Outcome: model.Held}
	var ok bool
	if ev.Time, ok = p.time(line); !ok {
		return dst, ingest.Reject("no parsable timeLogged")
	}
	dom, vmta := p.queue(line)
	if dom == "" {
		return dst, ingest.Reject("tq record without a queue domain (empty or not a host name)")
	}
	ev.Domain = dom
	p.common(line, &ev, nil)
	if ev.VMTA == "" {
		ev.VMTA = vmta
	}
	ev.BounceCat = p.istr(line, cBounceCat)
	ev.Class = model.ClassFor(ev.Outcome, ev.Status)
	return append(dst, ev), nil
}

// feedback handles f (ARF/JMRP complaint) records.
func (p *Parser) feedback(line []byte, dst []model.Event) ([]model.Event, error) {
	ev := model.Event{Kind: "pmta", Outcome: model.Complaint}
	var ok bool
	if ev.Time, ok = p.time(line); !ok {
		return dst, ingest.Reject("no parsable timeLogged")
	}
	if rcpt := trim(p.raw(line, cRcpt)); len(rcpt) > 0 {
		ev.Recipient = string(rcpt)
		ev.Domain = model.DomainKey(ev.Recipient)
	}
	if ev.Domain == "" {
		// Redacting FBLs drop the address; the reported domain still tells
		// which provider complained.
		ev.Domain = model.HostKey(p.istr(line, cReportedDomain))
	}
	if ip := p.raw(line, cSourceIP); string(ip) != "0.0.0.0" {
		ev.SourceIP = p.intern.Get(trim(ip))
	}
	ev.Response = p.istr(line, cFeedbackType)
	return append(dst, ev), nil
}

// queue splits the queue field "domain/vmta".
func (p *Parser) queue(line []byte) (domain, vmta string) {
	q := trim(p.raw(line, cQueue))
	if len(q) == 0 {
		return "", ""
	}
	d, v := q, []byte(nil)
	if i := bytes.LastIndexByte(q, '/'); i >= 0 {
		d, v = q[:i], q[i+1:]
	}
	return model.HostKey(p.intern.Get(d)), p.intern.Get(v)
}

// time reads timeLogged, or timeQueued when a trimmed record-fields list has
// no timeLogged.
func (p *Parser) time(line []byte) (time.Time, bool) {
	if b := trim(p.raw(line, cTimeLogged)); len(b) > 0 {
		return p.parseTime(b)
	}
	return p.parseTime(trim(p.raw(line, cTimeQueued)))
}

// parseTime converts b, reusing the last conversion: a busy file logs many
// records a second.
func (p *Parser) parseTime(b []byte) (time.Time, bool) {
	if len(b) > 0 && string(b) == string(p.lastTS) {
		return p.lastT, true
	}
	t, ok := parseTime(b, p.loc, &p.zones)
	if ok {
		p.lastTS = append(p.lastTS[:0], b...)
		p.lastT = t
	}
	return t, ok
}

// trim drops ASCII blanks around a field (bytes.TrimSpace also handles
// Unicode spaces, which costs on every field).
func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isHeader reports a line whose first field is "type" (PowerMTA writes a
// header at the top of every file and of every pipe restart).
func isHeader(line []byte) bool {
	line = bytes.TrimPrefix(line, bom)
	if len(line) > 0 && line[0] == '"' {
		return bytes.HasPrefix(line, []byte(`"type"`)) && (len(line) == 6 || line[6] == ',')
	}
	return bytes.HasPrefix(line, []byte("type")) && (len(line) == 4 || line[4] == ',')
}

var bom = []byte("\xef\xbb\xbf")

func (p *Parser) setHeader(line []byte) {
	p.resetHeader()
	line = bytes.TrimPrefix(line, bom)
	spans, _ := split(line, nil, -1)
	p.nfields = len(spans)
	for i, s := range spans {
		name := strings.ToLower(strings.TrimSpace(string(s.value(line))))
		c, ok := colNames[name]
		if ok && p.col[c] < 0 { // names can repeat: the first one wins
			p.col[c] = i
		}
	}
	p.hasHeader = true
}

// raw returns the bytes of column c, unquoted, or nil.
func (p *Parser) raw(line []byte, c int) []byte {
	i := p.col[c]
	if i < 0 || i >= len(p.spans) {
		return nil
	}
	return p.spans[i].value(line)
}

// istr returns column c trimmed, interned: vmta, pool, IPs and hosts repeat.
func (p *Parser) istr(line []byte, c int) string {
	return p.intern.Get(trim(p.raw(line, c)))
}

func trimCR(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// stripDiagType drops the diagnostic-type prefix ("smtp;") of dsnDiag.
func stripDiagType(d []byte) []byte {
	d = trim(d)
	for i := 0; i < len(d) && i < 24; i++ {
		c := d[i]
		if c == ';' {
			return trim(d[i+1:])
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			break
		}
	}
	return d
}
