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
	"runtime"
	"sync"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex"
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
	zones lex.ZoneCache
	in    *lex.Interner // for the stateful pass

	w scanner // ParseLine's scratch

	mtime time.Time // of the current file; zero when unknown
	last  time.Time // newest classic timestamp of the current file

	lastTS []byte    // timestamp bytes of the last parsed line
	lastT  time.Time // and their conversion

	pending   map[string]*pendingMsg
	dirty     map[string]struct{}
	newest    time.Time // newest line time seen, for TTL pruning
	lastPrune time.Time
}

var (
	_ ingest.Parser      = (*Parser)(nil)
	_ ingest.Stateful    = (*Parser)(nil)
	_ ingest.LinesParser = (*Parser)(nil)
)

// New returns a Parser.
func New(opts Options) *Parser {
	p := &Parser{
		loc:     opts.Location,
		now:     opts.Now,
		ttl:     opts.PendingTTL,
		noMT:    opts.IgnoreMTime,
		in:      new(lex.Interner),
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

// op is what the stateful pass does with a scanned line.
type op uint8

const (
	opSkip    op = iota // not an outcome
	opEvent             // a to= line: ev is complete but for its Time
	opRemoved           // the queue id left the queue
	opExpired           // qmgr gave the message up: st is its status text
	opReject            // err says why
)

// scanned is a line that the stateless part of parsing found to matter:
// what ParseLine does short of the steps that need the parser's state (the
// year of classic timestamps, the pending recipients). Lines that are not
// outcomes get no record. Its slices point into the line.
type scanned struct {
	off, n  int // the line: its offset in the scanned data and length
	op      op
	classic bool   // ts is "Mmm dd HH:MM:SS"
	ts      []byte // for opEvent and opExpired
	qid     []byte // for opRemoved and opExpired
	st      []byte // for opExpired
	err     error  // for opReject
	ev      int    // for opEvent: index in the scanner's evs
}

// scanner is one goroutine's scratch for scan and what it found in its
// run of lines.
type scanner struct {
	in    lex.Interner
	buf   []byte
	lines int // lines in the run
	recs  []scanned
	evs   []model.Event // complete but for their Time
}

func (w *scanner) reset() {
	clear(w.recs) // keep no pointer into the lines
	w.recs, w.evs, w.lines = w.recs[:0], w.evs[:0], 0
}

// ParseLine implements ingest.Parser.
func (p *Parser) ParseLine(line []byte, dst []model.Event) ([]model.Event, error) {
	p.w.reset()
	p.w.scan(0, line)
	if len(p.w.recs) == 0 {
		return dst, nil
	}
	return p.finish(&p.w, &p.w.recs[0], dst)
}

// lineScan is one ScanLines call: the runs of lines its scanners took, in
// line order.
type lineScan struct {
	runs []*scanner
}

// ScanLines implements ingest.LinesParser: data is cut at line ends into up
// to GOMAXPROCS runs, scanned on a goroutine each (the first on the
// caller's), splitting lines included. It touches no parser state, so it
// may run ahead of FinishLines.
func (p *Parser) ScanLines(data []byte) ingest.LineScan {
	if e := bytes.LastIndexByte(data, '\n'); e >= 0 {
		data = data[:e+1]
	} else {
		data = nil
	}
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, len(data)/minBytesPerWorker)
	if workers < 1 {
		workers = 1
	}
	ls := &lineScan{}
	cuts := make([]int, workers+1)
	cuts[workers] = len(data)
	for k := 1; k < workers; k++ {
		hi := max(cuts[k-1], k*len(data)/workers)
		if i := bytes.IndexByte(data[hi:], '\n'); i >= 0 {
			hi += i + 1
		} else {
			hi = len(data)
		}
		cuts[k] = hi
	}
	for range workers {
		ls.runs = append(ls.runs, scannerPool.Get().(*scanner))
	}
	var wg sync.WaitGroup
	for k := 1; k < workers; k++ {
		w, lo, hi := ls.runs[k], cuts[k], cuts[k+1]
		wg.Go(func() { w.scanRun(data, lo, hi) })
	}
	ls.runs[0].scanRun(data, 0, cuts[1])
	wg.Wait()
	return ls
}

// FinishLines implements ingest.LinesParser: the stateful part of every
// recorded line, in line order.
func (p *Parser) FinishLines(scan ingest.LineScan, dst []model.Event, res []ingest.LineResult) ([]model.Event, []ingest.LineResult, int) {
	ls := scan.(*lineScan)
	lines := 0
	for _, w := range ls.runs {
		lines += w.lines
		for j := range w.recs {
			r := &w.recs[j]
			before := len(dst)
			var err error
			dst, err = p.finish(w, r, dst)
			if n := len(dst) - before; n > 0 || err != nil {
				res = append(res, ingest.LineResult{Off: r.off, Len: r.n, Events: n, Err: err})
			}
		}
		w.reset()
		scannerPool.Put(w)
	}
	ls.runs = nil
	return dst, res, lines
}

// scanners are shared by every Parser: their state lasts from one
// ScanLines to its FinishLines.
var scannerPool = sync.Pool{New: func() any { return new(scanner) }}

// scanRun scans the lines of data[lo:hi], which starts at a line start.
func (w *scanner) scanRun(data []byte, lo, hi int) {
	w.reset()
	for lo < hi {
		i := bytes.IndexByte(data[lo:hi], '\n')
		if i < 0 {
			break
		}
		w.lines++
		e := lo + i
		if i > 0 && data[e-1] == '\r' {
			e--
		}
		w.scan(lo, data[lo:e])
		lo += i + 1
	}
}

// Scanning runs are at least this long (shorter ones cost more in
// goroutine start-up than they save), on at most maxWorkers goroutines.
const (
	minBytesPerWorker = 128 << 10
	maxWorkers        = 8
)

// scan does the stateless part of ParseLine for line i, recording it when
// it matters. It may run on several goroutines at once, each with its own
// scanner.
func (w *scanner) scan(off int, line []byte) {
	n := len(line)
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	hd, ok := splitSyslog(line)
	if !ok {
		return
	}
	kind, transport := classify(hd.prog)
	if kind == otherDaemon {
		return
	}
	qid, rest, ok := queueID(hd.msg)
	if !ok {
		return // NOQUEUE, warnings, statistics
	}
	if kind == queueManager {
		w.manager(off, n, hd, qid, rest)
		return
	}
	if !bytes.HasPrefix(rest, []byte("to=<")) {
		return // "host … said", "lost connection", "enabling PIX workarounds"
	}
	if bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		// Garbage or a broken writer: keep line breaks out of every field.
		w.scan(off, lex.NoBreaks(line))
		return
	}
	d, err := parseTo(rest)
	if err != nil {
		w.recs = append(w.recs, scanned{off: off, n: n, op: opReject, err: err})
		return
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
		return // address verification probes, not deliveries
	default:
		w.recs = append(w.recs, scanned{off: off, n: n, op: opReject, err: ingest.Reject("unknown status " + quoteShort(d.status))})
		return
	}
	w.buf = append(append(w.buf[:0], d.addr...), d.text...)
	both := string(w.buf)
	w.evs = append(w.evs, model.Event{
		Kind:      "postfix",
		Transport: w.in.Get(transport),
		Relay:     w.in.Get(d.relay),
		QueueID:   w.in.Get(qid),
		Recipient: both[:len(d.addr)],
		Response:  both[len(d.addr):],
		Outcome:   outcome,
		Status:    w.in.Get(d.dsn),
	})
	ev := &w.evs[len(w.evs)-1]
	ev.Domain = model.DomainKey(ev.Recipient)
	ev.Class = model.EventClass(ev) // reply and code
	w.recs = append(w.recs, scanned{off: off, n: n, op: opEvent, classic: hd.classic, ts: hd.ts, ev: len(w.evs) - 1})
}

// manager scans the qmgr (and postsuper) lines that end a queue id.
func (w *scanner) manager(off, n int, hd syslogLine, qid, rest []byte) {
	if string(rest) == "removed" {
		w.recs = append(w.recs, scanned{off: off, n: n, op: opRemoved, qid: qid})
		return
	}
	if !bytes.HasPrefix(rest, []byte("from=<")) {
		return
	}
	k := bytes.Index(rest, []byte(", status="))
	if k < 0 {
		return // "from=<…>, size=…, nrcpt=… (queue active)"
	}
	st := rest[k+len(", status="):]
	if !bytes.HasPrefix(st, []byte("expired,")) && !bytes.HasPrefix(st, []byte("force-expired,")) {
		return
	}
	w.recs = append(w.recs, scanned{off: off, n: n, op: opExpired, classic: hd.classic, ts: hd.ts, qid: qid, st: st})
}

// finish does the stateful part of ParseLine for one record of w, in line
// order.
func (p *Parser) finish(w *scanner, s *scanned, dst []model.Event) ([]model.Event, error) {
	switch s.op {
	case opReject:
		return dst, s.err
	case opRemoved:
		p.forget(s.qid)
	case opEvent:
		t, ok := p.time(s.classic, s.ts)
		if !ok {
			return dst, ingest.Reject("bad timestamp")
		}
		dst = append(dst, w.evs[s.ev])
		ev := &dst[len(dst)-1]
		ev.Time = t
		p.track(ev)
	case opExpired:
		return p.expire(s, dst)
	}
	return dst, nil
}

// expire turns the pending recipients of an expired queue id into events.
func (p *Parser) expire(s *scanned, dst []model.Event) ([]model.Event, error) {
	m := p.pending[string(s.qid)]
	if m == nil {
		return dst, nil // nothing deferred was seen for it
	}
	t, ok := p.time(s.classic, s.ts)
	if !ok {
		return dst, ingest.Reject("bad timestamp")
	}
	q := p.in.Get(s.qid)
	resp := p.in.Get(lex.NoBreaks(s.st))
	for _, r := range m.rcpts {
		dst = append(dst, model.Event{
			Time:      t,
			Kind:      "postfix",
			Transport: r.transport,
			Relay:     r.relay,
			QueueID:   q,
			Recipient: r.addr,
			Domain:    model.DomainKey(r.addr),
			Outcome:   model.Expired,
			Status:    r.status,
			Class:     model.ClassFor(model.Expired, r.status),
			Response:  resp,
		})
	}
	p.forget(s.qid)
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
		if !upperHex[c] {
			return false
		}
	}
	return true
}

var upperHex = func() (t [256]bool) {
	for _, c := range "0123456789ABCDEF" {
		t[c] = true
	}
	return t
}()

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
	if len(r) >= 9 && string(r[:9]) == "orig_to=<" {
		e = bytes.Index(r, []byte(">, "))
		if e < 0 {
			return d, ingest.Reject("truncated to= line")
		}
		r = r[e+3:]
	}
	// Constant-string comparisons compile to a few loads; bytes.HasPrefix
	// is a call per item.
	for !(len(r) >= 7 && string(r[:7]) == "status=") {
		e = nextItem(r)
		if e < 0 {
			return d, ingest.Reject("to= line without status")
		}
		switch {
		case e >= 6 && string(r[:6]) == "relay=":
			d.relay = r[len("relay="):e]
		case e >= 4 && string(r[:4]) == "dsn=":
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
	if lex.CodeLen(d.dsn) != len(d.dsn) {
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
	return "\"" + string(lex.NoBreaks(b)) + "\""
}
