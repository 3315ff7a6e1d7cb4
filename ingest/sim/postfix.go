package sim

import (
	"path/filepath"
	"strconv"

	"cutover/model"
)

// The old side: a Postfix instance with one transport per big provider
// (syslog_name postfix/gmail, postfix/microsoft, …) and the default smtp
// transport for the rest, fed over SMTP by the newsletter application.

const (
	injector   = "app1.example.com[10.0.0.5]"
	pfKeep     = 7 // rotated postfix.log.N kept
	ndrService = "bouncehandler"
)

var oldIPs = []string{"198.51.100.20", "198.51.100.21", "198.51.100.22", "198.51.100.23"}

type pfRcpt struct {
	addr string
	dom  *domain
	fate fate
	done bool
}

type pfMsg struct {
	qid    string
	mid    string
	queued int64
	size   int
	rcpts  []pfRcpt
	tries  int
	bounce bool // some recipient bounced: a non-delivery notification goes out
}

// pfConn is a transport's SMTP client process and its cached connection.
type pfConn struct {
	pid, uses int
	left, use int // deliveries left on the connection, and its use count
}

type pfWriter struct {
	s    *Sim
	out  *outFile
	path string
	day  int // yyyymmdd of the current file

	nextPID                     int
	qmgr, cleanup, bounce, pipe int
	cleanupUses                 int
	smtpd, smtpdLeft            int
	smtpdMail, smtpdRcpt        int
	inodes                      int64
	live                        map[string]bool
	buf                         []byte
	lastSec                     int64
	stamp                       []byte
	oldIP                       map[*provider]string
	conns                       map[*domain]*pfConn
}

func newPFWriter(s *Sim) *pfWriter {
	w := &pfWriter{s: s, path: filepath.Join(s.dir, "old", "postfix.log"), live: map[string]bool{},
		lastSec: -1, oldIP: map[*provider]string{}, conns: map[*domain]*pfConn{}}
	w.nextPID = 900 + s.rng.IntN(3000)
	w.qmgr = w.newPID()
	w.cleanup = w.newPID()
	w.bounce = w.newPID()
	w.pipe = w.newPID()
	w.inodes = 0x980000 + s.rng.Int64N(0x60000)
	for i, p := range s.provs {
		w.oldIP[p] = oldIPs[i%len(oldIPs)]
	}
	return w
}

func (w *pfWriter) newPID() int {
	w.nextPID += 1 + w.s.rng.IntN(40)
	return w.nextPID
}

// queueID makes a short Postfix queue id: five hex digits of microseconds
// and the queue file's inode number in hex. Ids in the log stay unique.
func (w *pfWriter) queueID(at int64) string {
	for {
		usec := (at / 1000) % 1000000
		w.inodes += 1 + w.s.rng.Int64N(64)
		b := make([]byte, 0, 12)
		b = appendHex(b, usec, 5)
		b = strconv.AppendInt(b, w.inodes&0xFFFFFF, 16)
		for i := 5; i < len(b); i++ {
			if b[i] >= 'a' {
				b[i] -= 'a' - 'A'
			}
		}
		if id := string(b); !w.live[id] {
			w.live[id] = true
			return id
		}
		at += 1000
	}
}

func appendHex(b []byte, v int64, width int) []byte {
	const digits = "0123456789ABCDEF"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*i))&0xF])
	}
	return b
}

func (w *pfWriter) newMsg(at int64, addr string, d *domain, f fate) *pfMsg {
	m := &pfMsg{queued: at, size: 18000 + w.s.rng.IntN(60000), rcpts: []pfRcpt{{addr: addr, dom: d, fate: f}}}
	m.qid = w.queueID(at)
	t := w.s.time(at)
	m.mid = t.UTC().Format("20060102150405") + "." + strconv.Itoa(w.s.rng.IntN(1000000)) + "@news.example.com"
	return m
}

// line starts a syslog line: "Mmm dd HH:MM:SS host prog[pid]: ".
func (w *pfWriter) line(prog string, pid int) {
	at := w.s.at
	sec := at / second
	if sec != w.lastSec {
		w.lastSec = sec
		t := w.s.time(at)
		if day := t.Year()*10000 + int(t.Month())*100 + t.Day(); day > w.day {
			w.rotate(day)
		}
		w.stamp = t.AppendFormat(w.stamp[:0], "Jan _2 15:04:05")
	}
	w.buf = append(w.buf[:0], w.stamp...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, OldHost...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, prog...)
	w.buf = append(w.buf, '[')
	w.buf = strconv.AppendInt(w.buf, int64(pid), 10)
	w.buf = append(w.buf, "]: "...)
}

func (w *pfWriter) end() {
	w.buf = append(w.buf, '\n')
	w.out.add(w.buf, w.s.time(w.s.at))
	w.s.lines[model.SideOld]++
}

// rotate starts a new day's file, renaming the old one like logrotate.
func (w *pfWriter) rotate(day int) {
	if w.out != nil {
		if err := w.out.close(); err != nil {
			w.s.fail(err)
		}
		if err := rotateNumbered(w.path, pfKeep); err != nil {
			w.s.fail(err)
		}
	}
	o, err := createOut(w.path)
	if err != nil {
		w.s.fail(err)
		o = &outFile{path: w.path} // keeps the run going until the error is seen
	}
	w.out = o
	w.day = day
}

func (w *pfWriter) qline(prog string, pid int, qid string) {
	w.line(prog, pid)
	w.buf = append(w.buf, qid...)
	w.buf = append(w.buf, ": "...)
}

// arrive logs the submission: smtpd, cleanup, qmgr.
func (w *pfWriter) arrive(m *pfMsg) {
	if w.smtpdLeft == 0 {
		w.smtpd = w.newPID()
		w.smtpdLeft = 20 + w.s.rng.IntN(60)
		w.smtpdMail, w.smtpdRcpt = 0, 0
		w.line("postfix/smtpd", w.smtpd)
		w.buf = append(w.buf, "connect from "+injector...)
		w.end()
	}
	w.qline("postfix/smtpd", w.smtpd, m.qid)
	w.buf = append(w.buf, "client="+injector...)
	w.end()
	if w.cleanupUses++; w.cleanupUses > 100 { // max_use
		w.cleanup, w.cleanupUses = w.newPID(), 0
	}
	w.qline("postfix/cleanup", w.cleanup, m.qid)
	w.buf = append(w.buf, "message-id=<"...)
	w.buf = append(w.buf, m.mid...)
	w.buf = append(w.buf, '>')
	w.end()
	w.active(m)
	w.smtpdMail++
	w.smtpdRcpt += len(m.rcpts)
	if w.smtpdLeft--; w.smtpdLeft == 0 {
		w.line("postfix/smtpd", w.smtpd)
		w.buf = append(w.buf, "disconnect from "+injector+" ehlo=1 mail="...)
		w.buf = strconv.AppendInt(w.buf, int64(w.smtpdMail), 10)
		w.buf = append(w.buf, " rcpt="...)
		w.buf = strconv.AppendInt(w.buf, int64(w.smtpdRcpt), 10)
		w.buf = append(w.buf, " data="...)
		w.buf = strconv.AppendInt(w.buf, int64(w.smtpdMail), 10)
		w.buf = append(w.buf, " quit=1 commands="...)
		w.buf = strconv.AppendInt(w.buf, int64(2+2*w.smtpdMail+w.smtpdRcpt), 10)
		w.end()
	}
	// qmgr hands it to the delivery agent within a second or two.
	w.s.push(&job{at: w.s.at + 200*1e6 + w.s.rng.Int64N(2500*1e6), kind: jOldAttempt, pf: m})
}

func (w *pfWriter) active(m *pfMsg) {
	w.qline("postfix/qmgr", w.qmgr, m.qid)
	w.buf = append(w.buf, "from=<"+Sender+">, size="...)
	w.buf = strconv.AppendInt(w.buf, int64(m.size), 10)
	w.buf = append(w.buf, ", nrcpt="...)
	w.buf = strconv.AppendInt(w.buf, int64(len(m.rcpts)), 10)
	w.buf = append(w.buf, " (queue active)"...)
	w.end()
}

// attempt delivers every pending recipient of m once.
func (w *pfWriter) attempt(m *pfMsg) {
	s := w.s
	now := s.at
	if m.tries > 0 {
		w.active(m) // back from the deferred queue
	}
	pending := 0
	for i := range m.rcpts {
		r := &m.rcpts[i]
		if r.done {
			continue
		}
		w.deliver(m, r)
		if !r.done {
			pending++
		}
	}
	m.tries++
	switch {
	case pending == 0:
		w.finish(m)
	case now-m.queued >= s.lifetime:
		w.qline("postfix/qmgr", w.qmgr, m.qid)
		w.buf = append(w.buf, "from=<"+Sender+">, status=expired, returned to sender"...)
		w.end()
		for i := range m.rcpts {
			if !m.rcpts[i].done {
				s.count(model.SideOld, m.rcpts[i].dom.isp, model.Expired, false)
			}
		}
		m.bounce = true
		w.finish(m)
	default:
		// The message's age, clamped to the backoff limits, then the next
		// queue run.
		next := now + min(max(now-m.queued, pfMinBackoff), pfMaxBackoff)
		next = (next/pfQueueRun+1)*pfQueueRun + s.rng.Int64N(20*second)
		s.push(&job{at: next, kind: jOldAttempt, pf: m})
	}
}

// finish logs the non-delivery notification, if any, and the removal.
func (w *pfWriter) finish(m *pfMsg) {
	s := w.s
	var ndr string
	if m.bounce {
		ndr = w.queueID(s.at + 7000)
		w.qline("postfix/bounce", w.bounce, m.qid)
		w.buf = append(w.buf, "sender non-delivery notification: "...)
		w.buf = append(w.buf, ndr...)
		w.end()
	}
	w.qline("postfix/qmgr", w.qmgr, m.qid)
	w.buf = append(w.buf, "removed"...)
	w.end()
	delete(w.live, m.qid)
	if ndr == "" {
		return
	}
	// The notification goes to the sender's bounce processor through a
	// pipe transport, and is counted as a delivery like any other.
	w.qline("postfix/qmgr", w.qmgr, ndr)
	w.buf = append(w.buf, "from=<>, size="...)
	w.buf = strconv.AppendInt(w.buf, int64(2400+s.rng.IntN(1600)), 10)
	w.buf = append(w.buf, ", nrcpt=1 (queue active)"...)
	w.end()
	w.qline("postfix/pipe", w.pipe, ndr)
	w.buf = append(w.buf, "to=<"+Sender+">, relay="+ndrService+", delay="...)
	c := 0.02 + s.rng.Float64()*0.1
	w.buf = appendDelay(w.buf, c+0.01)
	w.buf = append(w.buf, ", delays=0.01/0/0/"...)
	w.buf = appendDelay(w.buf, c)
	w.buf = append(w.buf, ", dsn=2.0.0, status=sent (delivered via "+ndrService+" service)"...)
	w.end()
	s.count(model.SideOld, s.ndrISP, model.Delivered, false)
	w.qline("postfix/qmgr", w.qmgr, ndr)
	w.buf = append(w.buf, "removed"...)
	w.end()
	delete(w.live, ndr)
}

func (w *pfWriter) conn(d *domain) *pfConn {
	c := w.conns[d]
	if c == nil {
		c = &pfConn{pid: w.newPID()}
		w.conns[d] = c
	}
	return c
}

// deliver logs one recipient's attempt.
func (w *pfWriter) deliver(m *pfMsg, r *pfRcpt) {
	s := w.s
	d := r.dom
	p := d.prov
	mx := d.mx[s.rng.IntN(len(d.mx))]
	c := w.conn(d)
	prog := p.transport + "/smtp"
	total := float64(s.at-m.queued) / 1e9

	if d.dead {
		suspended := p.deadPF > 0 && s.at-p.deadPF < deadFor
		b, conn := 0.01*s.rng.Float64(), 30.0
		if suspended {
			conn = 0
		} else {
			p.deadPF = s.at
		}
		w.qline(prog, c.pid, m.qid)
		w.to(r.addr, "none", total, b, conn, 0)
		w.buf = append(w.buf, ", dsn=4.4.1, status=deferred ("...)
		if suspended {
			w.buf = append(w.buf, "delivery temporarily suspended: "...)
		}
		w.buf = append(w.buf, "connect to "+mx.name+"["+mx.ip+"]:25: Connection timed out)"...)
		w.end()
		o := model.Deferred
		if suspended {
			o = model.Held
		}
		s.count(model.SideOld, d.isp, o, false)
		return
	}

	// A new connection every so often: TLS line, conn_use restarts.
	if c.left == 0 {
		if c.uses >= 100 { // max_use: a fresh smtp process
			c.pid, c.uses = w.newPID(), 0
		}
		c.left, c.use = 10+s.rng.IntN(90), 0
		w.line(prog, c.pid)
		w.buf = append(w.buf, "Untrusted TLS connection established to "+mx.name+"["+mx.ip+"]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"...)
		w.end()
	}
	c.left--
	c.uses++
	c.use++

	g := &gen{r: s.rng, ip: w.oldIP[p], rcpt: r.addr, dom: d, mx: mx, t: s.time(s.at), mid: m.mid, size: m.size}
	rp := s.attempt(model.SideOld, d, r.fate, m.tries, g)

	connSetup := 0.0
	if c.use == 1 {
		connSetup = 0.1 + 0.3*s.rng.Float64()
	}
	xmit := 0.04 + 1.2*s.rng.Float64()
	if rp.kind != kOK {
		xmit = 0.02 + 0.2*s.rng.Float64()
	}
	b := 0.05 * s.rng.Float64()
	w.qline(prog, c.pid, m.qid)
	w.buf = append(w.buf, "to=<"...)
	w.buf = append(w.buf, r.addr...)
	w.buf = append(w.buf, ">, relay="+mx.name+"["+mx.ip+"]:25, "...)
	if c.use > 1 {
		w.buf = append(w.buf, "conn_use="...)
		w.buf = strconv.AppendInt(w.buf, int64(c.use), 10)
		w.buf = append(w.buf, ", "...)
	}
	w.delays(total, b, connSetup, xmit)
	code := enhanced(rp.text)
	w.buf = append(w.buf, ", dsn="...)
	w.buf = append(w.buf, code...)
	switch rp.kind {
	case kOK:
		w.buf = append(w.buf, ", status=sent ("...)
		w.buf = append(w.buf, rp.text...)
		w.buf = append(w.buf, ')')
		r.done = true
		s.count(model.SideOld, d.isp, model.Delivered, false)
	case kDefer, kBounce:
		o, word := model.Deferred, ", status=deferred (host "
		if rp.kind == kBounce {
			o, word = model.Bounced, ", status=bounced (host "
			r.done, m.bounce = true, true
		}
		w.buf = append(w.buf, word...)
		w.buf = append(w.buf, mx.name+"["+mx.ip+"] said: "...)
		w.buf = append(w.buf, rp.text...)
		w.buf = append(w.buf, " (in reply to "...)
		w.buf = append(w.buf, rp.stage...)
		w.buf = append(w.buf, " command))"...)
		s.count(model.SideOld, d.isp, o, o == model.Bounced && model.ClassifyBounce(model.BounceInput{Status: code, Text: rp.text}).Hard)
	}
	w.end()
}

// to writes "to=<…>, relay=…, delay=…, delays=…" for a connect failure.
func (w *pfWriter) to(addr, relay string, total, b, c, d float64) {
	w.buf = append(w.buf, "to=<"...)
	w.buf = append(w.buf, addr...)
	w.buf = append(w.buf, ">, relay="...)
	w.buf = append(w.buf, relay...)
	w.buf = append(w.buf, ", "...)
	w.delays(total, b, c, d)
}

// delays writes "delay=T, delays=a/b/c/d" with a = T - b - c - d: time
// before the queue manager (including the whole deferred wait on retries).
func (w *pfWriter) delays(total, b, c, d float64) {
	if sum := b + c + d; sum > total {
		// The attempt job fired sooner than the parts add up to: keep the
		// parts, the total is what the line claims.
		total = sum + 0.01
	}
	a := total - b - c - d
	w.buf = append(w.buf, "delay="...)
	w.buf = appendDelay(w.buf, total)
	w.buf = append(w.buf, ", delays="...)
	w.buf = appendDelay(w.buf, a)
	w.buf = append(w.buf, '/')
	w.buf = appendDelay(w.buf, b)
	w.buf = append(w.buf, '/')
	w.buf = appendDelay(w.buf, c)
	w.buf = append(w.buf, '/')
	w.buf = appendDelay(w.buf, d)
}
