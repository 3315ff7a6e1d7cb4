// Package postfix parses Postfix mail logs (syslog, RFC 3339/5424 syslog and
// maillog_file) into model.Events.
//
// One event comes from each delivery-agent line "QID: to=<…>, relay=…,
// dsn=…, status=…". Expiry is logged per message by qmgr ("from=<…>,
// status=expired, returned to sender"), so the parser remembers, per queue
// id, the recipients whose last status was deferred and turns them into
// Expired events then. That memory is the parser's ingest.Stateful state.
package postfix

import (
	"bytes"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// Options configures a Parser.
type Options struct {
	// Location is used for timestamps without a zone (classic syslog and
	// maillog_file); default time.Local.
	Location *time.Location
	// Now gives the reference time for year inference when the file's
	// modification time is unknown; default time.Now.
	Now func() time.Time
	// PendingTTL drops a queue id with deferred recipients when nothing was
	// logged for it for this long (its "removed" line was missed); default
	// 10 days, above Postfix's 5-day maximal_queue_lifetime.
	PendingTTL time.Duration
	// IgnoreMTime makes Now the reference for year inference even when the
	// file's mtime is known: the demo's simulator writes simulated times
	// that run ahead of the wall clock.
	IgnoreMTime bool
}

// Parser implements ingest.Parser and ingest.Stateful for Postfix logs. It is
// not safe for concurrent use: use one per source.
type Parser struct {
	loc   *time.Location
	now   func() time.Time
	ttl   time.Duration
	noMT  bool
	zones zoneCache
	in    *interner

	mtime time.Time // of the current file; zero when unknown
	last  time.Time // newest classic timestamp of the current file

	lastTS []byte    // timestamp bytes of the last parsed line
	lastT  time.Time // and their conversion

	pending   map[string]*pendingMsg
	dirty     map[string]struct{}
	newest    time.Time // newest line time seen, for TTL pruning
	lastPrune time.Time

	buf []byte
}

var (
	_ ingest.Parser   = (*Parser)(nil)
	_ ingest.Stateful = (*Parser)(nil)
)

// New returns a Parser.
func New(opts Options) *Parser {
	p := &Parser{
		loc:     opts.Location,
		now:     opts.Now,
		ttl:     opts.PendingTTL,
		noMT:    opts.IgnoreMTime,
		in:      new(interner),
		pending: make(map[string]*pendingMsg),
		dirty:   make(map[string]struct{}),
	}
	if p.loc == nil {
		p.loc = time.Local
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.ttl <= 0 {
		p.ttl = 10 * 24 * time.Hour
	}
	return p
}

// NewFile sets the reference time for year inference. Pending recipients
// are kept: a queue id outlives log rotation.
func (p *Parser) NewFile(path string, modTime time.Time, header []byte) {
	p.mtime = modTime
	if p.noMT {
		p.mtime = time.Time{}
	}
	p.last = time.Time{}
	p.lastT = time.Time{}
}

type daemonKind uint8

const (
	otherDaemon daemonKind = iota
	deliveryAgent
	queueManager // qmgr, and postsuper for "removed"
)

// ParseLine implements ingest.Parser.
func (p *Parser) ParseLine(line []byte, dst []model.Event) ([]model.Event, error) {
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	hd, ok := splitSyslog(line)
	if !ok {
		return dst, nil
	}
	kind, transport := classify(hd.prog)
	if kind == otherDaemon {
		return dst, nil
	}
	qid, rest, ok := queueID(hd.msg)
	if !ok {
		return dst, nil // NOQUEUE, warnings, statistics
	}
	if kind == queueManager {
		return p.manager(hd, qid, rest, dst)
	}
	if !bytes.HasPrefix(rest, []byte("to=<")) {
		return dst, nil // "host … said", "lost connection", "enabling PIX workarounds"
	}
	if bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		// Garbage or a broken writer: keep line breaks out of every field.
		return p.ParseLine(noBreaks(line), dst)
	}
	d, err := parseTo(rest)
	if err != nil {
		return dst, err
	}
	var outcome model.Outcome
	switch string(d.status) {
	case "sent":
		outcome = model.Delivered
	case "deferred", "SOFTBOUNCE": // soft_bounce=yes turns would-be bounces into deferrals
		outcome = model.Deferred
		if bytes.HasPrefix(d.text, []byte("delivery temporarily suspended")) {
			outcome = model.Held
		}
	case "bounced":
		outcome = model.Bounced
	case "expired":
		outcome = model.Expired
	case "deliverable", "undeliverable":
		return dst, nil // address verification probes, not deliveries
	default:
		return dst, ingest.Reject("unknown status " + quoteShort(d.status))
	}
	t, ok := p.time(hd)
	if !ok {
		return dst, ingest.Reject("bad timestamp")
	}

	p.buf = append(append(p.buf[:0], d.addr...), d.text...)
	both := string(p.buf)
	ev := model.Event{
		Time:      t,
		Kind:      "postfix",
		Transport: p.in.Get(transport),
		Relay:     p.in.Get(d.relay),
		QueueID:   p.in.Get(qid),
		Recipient: both[:len(d.addr)],
		Response:  both[len(d.addr):],
		Outcome:   outcome,
		Status:    p.in.Get(d.dsn),
	}
	ev.Domain = model.DomainOf(ev.Recipient)
	ev.Class = model.EventClass(&ev) // reply and code
	p.track(&ev)
	return append(dst, ev), nil
}

// manager handles the qmgr (and postsuper) lines that end a queue id.
func (p *Parser) manager(hd syslogLine, qid, rest []byte, dst []model.Event) ([]model.Event, error) {
	if string(rest) == "removed" {
		p.forget(qid)
		return dst, nil
	}
	if !bytes.HasPrefix(rest, []byte("from=<")) {
		return dst, nil
	}
	i := bytes.Index(rest, []byte(", status="))
	if i < 0 {
		return dst, nil // "from=<…>, size=…, nrcpt=… (queue active)"
	}
	st := rest[i+len(", status="):]
	if !bytes.HasPrefix(st, []byte("expired,")) && !bytes.HasPrefix(st, []byte("force-expired,")) {
		return dst, nil
	}
	m := p.pending[string(qid)]
	if m == nil {
		return dst, nil // nothing deferred was seen for it
	}
	t, ok := p.time(hd)
	if !ok {
		return dst, ingest.Reject("bad timestamp")
	}
	q := p.in.Get(qid)
	resp := p.in.Get(noBreaks(st))
	for _, r := range m.rcpts {
		dst = append(dst, model.Event{
			Time:      t,
			Kind:      "postfix",
			Transport: r.transport,
			Relay:     r.relay,
			QueueID:   q,
			Recipient: r.addr,
			Domain:    model.DomainOf(r.addr),
			Outcome:   model.Expired,
			Status:    r.status,
			Class:     model.ClassFor(model.Expired, r.status),
			Response:  resp,
		})
	}
	p.forget(qid)
	return dst, nil
}

// classify returns the kind of daemon of a syslog name and the transport it
// stands for: the part between instance and daemon ("gmail" in
// postfix/gmail/smtp), else the daemon name.
func classify(prog []byte) (daemonKind, []byte) {
	daemon := prog
	first := bytes.IndexByte(prog, '/')
	last := bytes.LastIndexByte(prog, '/')
	if last >= 0 {
		daemon = prog[last+1:]
	}
	var kind daemonKind
	switch string(daemon) {
	case "smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard":
		kind = deliveryAgent
	case "qmgr", "nqmgr", "postsuper":
		return queueManager, nil
	default:
		return otherDaemon, nil
	}
	if first >= 0 && first < last {
		return kind, prog[first+1 : last]
	}
	return kind, daemon
}

// queueID splits "QID: rest". Short ids are upper-case hex (6 or more), long
// ids (enable_long_queue_ids) use a vowel-free base-52 alphabet with a 'z'
// between the time and the inode number.
func queueID(msg []byte) (qid, rest []byte, ok bool) {
	k := bytes.IndexByte(msg, ':')
	if k < 6 || k > 32 || k+1 >= len(msg) || msg[k+1] != ' ' {
		return nil, nil, false
	}
	qid = msg[:k]
	if !shortID(qid) && !longID(qid) {
		return nil, nil, false
	}
	return qid, msg[k+2:], true
}

func shortID(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func longID(b []byte) bool {
	z := bytes.LastIndexByte(b, 'z')
	if z < 10 || z == len(b)-1 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			switch c | 0x20 {
			case 'a', 'e', 'i', 'o', 'u':
				return false
			}
		default:
			return false
		}
	}
	return true
}

// delivery holds the fields of a "to=<…>" line.
type delivery struct {
	addr, relay, dsn, status, text []byte
}

// parseTo parses "to=<…>, [orig_to=<…>,] relay=…, [conn_use=N,] delay=…,
// delays=…, [tls=…,] dsn=X.Y.Z, status=WORD (text)". Unknown items are
// skipped so that a new Postfix field does not break the parser.
func parseTo(r []byte) (d delivery, err error) {
	r = r[len("to=<"):]
	e := bytes.Index(r, []byte(">, "))
	if e < 0 {
		return d, ingest.Reject("truncated to= line")
	}
	d.addr, r = r[:e], r[e+3:]
	if len(d.addr) == 0 {
		return d, ingest.Reject("empty recipient")
	}
	if bytes.HasPrefix(r, []byte("orig_to=<")) {
		e = bytes.Index(r, []byte(">, "))
		if e < 0 {
			return d, ingest.Reject("truncated to= line")
		}
		r = r[e+3:]
	}
	for !bytes.HasPrefix(r, []byte("status=")) {
		e = nextItem(r)
		if e < 0 {
			return d, ingest.Reject("to= line without status")
		}
		switch {
		case bytes.HasPrefix(r, []byte("relay=")):
			d.relay = r[len("relay="):e]
		case bytes.HasPrefix(r, []byte("dsn=")):
			d.dsn = r[len("dsn="):e]
		}
		r = r[e+2:]
	}
	r = r[len("status="):]
	e = bytes.IndexByte(r, ' ')
	if e < 0 {
		d.status = r
	} else {
		d.status, r = r[:e], r[e+1:]
		if len(r) > 0 && r[0] == '(' {
			r = r[1:]
			// A line cut by the syslog size limit loses its ')': keep the text.
			if len(r) > 0 && r[len(r)-1] == ')' {
				r = r[:len(r)-1]
			}
		}
		d.text = r
	}
	if codeLen(d.dsn) != len(d.dsn) {
		d.dsn = nil // not an enhanced code: "dsn=" is optional before 2.3
	}
	return d, nil
}

// nextItem returns the index of the ", " that ends the item at the start of
// r, or -1. Items are short: a byte loop beats a search call per item.
func nextItem(r []byte) int {
	for i := 0; i+1 < len(r); i++ {
		if r[i] == ',' && r[i+1] == ' ' {
			return i
		}
	}
	return -1
}

// quoteShort quotes at most 32 bytes of b for a reject reason.
func quoteShort(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return "\"" + string(noBreaks(b)) + "\""
}

// noBreaks returns b with CR and LF replaced by spaces (a copy if needed).
func noBreaks(b []byte) []byte {
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
