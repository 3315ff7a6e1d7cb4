package sim

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"cutover/model"
)

// The new side: PowerMTA with five virtual MTAs on a /29 in one pool,
// writing d, b, t, tq and f records to one accounting file a day.

const (
	nVMTA       = 5
	srcMTA      = "app1.example.com (10.0.0.5)"
	acctMaxSize = 250 << 20          // PowerMTA's max-size default: a new -NNNN file beyond it
	acctKeep    = 8 * 24 * time.Hour // delete-after default
)

var newIPs = [nVMTA]string{"203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"}

// acctHeader is the union of the default d/b/t fields and the f fields, in
// the order PowerMTA writes them.
const acctHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,repSourceIp,feedbackType,format,userAgent,reportingMta,reportedDomain"

const (
	cType = iota
	cTimeLogged
	cTimeQueued
	cOrig
	cRcpt
	cOrcpt
	cAction
	cStatus
	cDiag
	cDsnMta
	cBounceCat
	cSrcType
	cSrcMta
	cDlvType
	cSrcIP
	cDstIP
	cEsmtp
	cSize
	cVMTA
	cJobID
	cEnvID
	cQueue
	cPool
	cRepIP
	cFeedbackType
	cFormat
	cUserAgent
	cReportingMta
	cReportedDomain
	nCols
)

// pmMsg is one recipient in the PowerMTA queue. It is kept small: a
// day-one overload queues a day of mail.
type pmMsg struct {
	addr   string
	dom    *domain
	queued int64
	ready  int64
	size   int32
	midN   uint32 // makes the message-id
	tries  uint16
	fate   fate
	vmta   uint8
	last   why  // last deferral, for the expiry record
	lastMX int8 // its MX, -1 before any attempt
}

func (m *pmMsg) mid(s *Sim) string {
	return s.time(m.queued).UTC().Format("20060102150405") + "." + strconv.Itoa(int(m.midN)) + "@news.example.com"
}

type pmWriter struct {
	s       *Sim
	out     *outFile
	dir     string
	day     int
	seq     int
	lastSec int64
	stamp   []byte
	f       [nCols]string
	buf     []byte
	jobs    map[int64]string // jobId per injection day
}

func newPMWriter(s *Sim) *pmWriter {
	return &pmWriter{s: s, dir: filepath.Join(s.dir, "new"), lastSec: -1, jobs: map[int64]string{}}
}

func (w *pmWriter) newMsg(at int64, addr string, d *domain, f fate) *pmMsg {
	p := d.prov
	p.rr = (p.rr + 1) % nVMTA
	return &pmMsg{addr: addr, dom: d, fate: f, queued: at, ready: at, size: int32(18000 + w.s.rng.IntN(60000)),
		vmta: uint8(p.rr), midN: uint32(w.s.rng.IntN(1000000)), lastMX: -1}
}

func vmtaName(i uint8) string { return "vmta-new-" + strconv.Itoa(int(i)+1) }

// record starts a record at the current simulated time with every field
// empty; emit writes it.
func (w *pmWriter) record(typ string) {
	at := w.s.at
	if sec := at / second; sec != w.lastSec {
		w.lastSec = sec
		t := w.s.time(at)
		if day := t.Year()*10000 + int(t.Month())*100 + t.Day(); day > w.day {
			w.newFile(day, 0)
		}
		w.stamp = t.AppendFormat(w.stamp[:0], "2006-01-02 15:04:05-0700")
	}
	w.f = [nCols]string{}
	w.f[cType] = typ
	w.f[cTimeLogged] = string(w.stamp)
}

func (w *pmWriter) emit() {
	w.buf = w.buf[:0]
	for i, v := range w.f {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = appendCSV(w.buf, v)
	}
	w.buf = append(w.buf, '\r', '\n') // RFC 4180, as PowerMTA writes
	if w.out.size+int64(len(w.buf)) > acctMaxSize {
		w.newFile(w.day, w.seq+1)
	}
	w.out.add(w.buf, w.s.time(w.s.at))
	w.s.lines[model.SideNew]++
}

// newFile opens acct-YYYY-MM-DD-NNNN.csv and writes its header line.
func (w *pmWriter) newFile(day, seq int) {
	now := w.s.time(w.s.at)
	if w.out != nil {
		if err := w.out.close(); err != nil {
			w.s.fail(err)
		}
	}
	w.day, w.seq = day, seq
	path := filepath.Join(w.dir, fmt.Sprintf("acct-%04d-%02d-%02d-%04d.csv", day/10000, day/100%100, day%100, seq))
	o, err := createOut(path)
	if err != nil {
		w.s.fail(err)
		o = &outFile{path: path}
	}
	w.out = o
	o.add([]byte(acctHeader+"\r\n"), now)
	w.s.lines[model.SideNew]++
	if seq == 0 {
		pruneAcct(w.dir, now, acctKeep)
	}
}

func (w *pmWriter) common(m *pmMsg) {
	t := w.s.time(m.queued)
	w.f[cTimeQueued] = t.Format("2006-01-02 15:04:05-0700")
	w.f[cOrig] = Sender
	w.f[cRcpt] = m.addr
	w.f[cSrcType] = "smtp"
	w.f[cSrcMta] = srcMTA
	w.f[cVMTA] = vmtaName(m.vmta)
	day := int64(t.Year()*10000 + int(t.Month())*100 + t.Day())
	job, ok := w.jobs[day]
	if !ok {
		job = "nl-" + t.Format("20060102")
		w.jobs[day] = job
	}
	w.f[cJobID] = job
	w.f[cQueue] = m.dom.name + "/" + vmtaName(m.vmta)
	w.f[cPool] = NewPool
}

// attempt is one delivery attempt of m by its vmta.
func (w *pmWriter) attempt(m *pmMsg) {
	s := w.s
	d := m.dom
	p := d.prov
	mxi := s.rng.IntN(len(d.mx))
	mx := d.mx[mxi]
	m.lastMX = int8(mxi)
	if d.dead {
		// No SMTP session: one tq record for the queue per retry interval,
		// the recipients wait silently.
		if last := p.deadTQ[m.vmta]; last == 0 || s.at-last >= deadFor {
			p.deadTQ[m.vmta] = s.at
			w.record("tq")
			w.f[cStatus] = "4.4.1 (no answer from host)"
			w.f[cDsnMta] = mx.name + " (" + mx.ip + ")"
			w.f[cDlvType] = "smtp"
			w.f[cSrcIP] = "0.0.0.0"
			w.f[cDstIP] = mx.ip
			w.f[cVMTA] = vmtaName(m.vmta)
			w.f[cQueue] = d.name + "/" + vmtaName(m.vmta)
			w.emit()
			s.count(model.SideNew, d.isp, model.Held, false)
		}
		m.last = whyConn
		w.retry(m)
		return
	}
	g := &gen{r: s.rng, ip: newIPs[m.vmta], rcpt: m.addr, dom: d, mx: mx, t: s.time(s.at), mid: m.mid(s), size: int(m.size)}
	rp := s.attempt(model.SideNew, d, m.fate, int(m.tries), g)
	m.tries++
	code := enhanced(rp.text)
	typ, action := "d", "relayed"
	switch rp.kind {
	case kDefer:
		typ, action = "t", "delayed"
	case kBounce:
		typ, action = "b", "failed"
	}
	w.record(typ)
	w.common(m)
	w.f[cAction] = action
	w.f[cStatus] = statusText(code)
	w.f[cDiag] = "smtp;" + rp.text
	w.f[cDsnMta] = mx.name + " (" + mx.ip + ")"
	w.f[cBounceCat] = rp.cat
	w.f[cDlvType] = "smtp"
	w.f[cSrcIP] = newIPs[m.vmta]
	w.f[cDstIP] = mx.ip
	w.f[cEsmtp] = p.esmtp
	if rp.kind == kOK {
		w.f[cSize] = strconv.Itoa(int(m.size))
	}
	w.emit()
	switch rp.kind {
	case kOK:
		s.count(model.SideNew, d.isp, model.Delivered, false)
		if p.fbl != nil && s.rng.Float64() < p.complaint*s.complaintX {
			// Feedback loops report minutes to hours later.
			lag := int64(5*minute) + int64(s.rng.ExpFloat64()*float64(60*minute))
			s.push(&job{at: s.at + lag, kind: jComplaint, pm: m})
		}
	case kDefer:
		s.count(model.SideNew, d.isp, model.Deferred, false)
		m.last = rp.why
		w.retry(m)
	case kBounce:
		// Hard as the pipeline will judge it: reply, code and category.
		s.count(model.SideNew, d.isp, model.Bounced, model.ClassifyBounce(model.BounceInput{Status: code, Text: rp.text, BounceCat: rp.cat}).Hard)
	}
}

// retry puts m back in the queue, or bounces it when it is too old.
func (w *pmWriter) retry(m *pmMsg) {
	s := w.s
	if s.at-m.queued >= s.lifetime {
		w.expire(m)
		return
	}
	m.ready = s.at + pmRetry + s.rng.Int64N(2*minute)
	m.dom.prov.retry.push(m)
}

// expire writes the bounce PowerMTA logs at bounce-after.
func (w *pmWriter) expire(m *pmMsg) {
	s := w.s
	w.record("b")
	w.common(m)
	w.f[cAction] = "failed"
	w.f[cStatus] = "4.4.7 (delivery time expired)"
	if m.lastMX >= 0 {
		d := m.dom
		mx := d.mx[m.lastMX]
		g := &gen{r: s.rng, ip: newIPs[m.vmta], rcpt: m.addr, dom: d, mx: mx, t: s.time(s.at), size: int(m.size)}
		if txt := d.prov.again(m.last, g); txt != "" {
			w.f[cDiag] = "smtp;" + txt
		}
		w.f[cDsnMta] = mx.name + " (" + mx.ip + ")"
	}
	w.f[cBounceCat] = "message-expired"
	w.f[cDlvType] = "smtp"
	w.f[cSrcIP] = newIPs[m.vmta]
	w.emit()
	s.count(model.SideNew, m.dom.isp, model.Expired, false)
}

// complaint writes the feedback-loop report of a delivered message.
func (w *pmWriter) complaint(m *pmMsg) {
	s := w.s
	fb := m.dom.prov.fbl
	w.record("f")
	w.f[cOrig] = Sender
	w.f[cRcpt] = m.addr
	w.f[cSrcIP] = newIPs[m.vmta]
	w.f[cRepIP] = fb.repIP
	w.f[cFeedbackType] = "abuse"
	w.f[cFormat] = fb.format
	w.f[cUserAgent] = fb.userAgent
	w.f[cReportedDomain] = model.DomainOf(Sender)
	w.emit()
	s.count(model.SideNew, m.dom.isp, model.Complaint, false)
}
