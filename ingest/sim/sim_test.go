package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/model"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func newSim(t testing.TB, o Options) *Sim {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Start.IsZero() {
		o.Start = t0
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func step(t testing.TB, s *Sim, d time.Duration) {
	t.Helper()
	if err := s.Step(d); err != nil {
		t.Fatal(err)
	}
}

// files lists a side's files oldest first, as a follower would read them.
func files(t testing.TB, dir string, side model.Side) []string {
	t.Helper()
	if side == model.SideNew {
		m, _ := filepath.Glob(filepath.Join(dir, NewGlob))
		sort.Strings(m)
		return m
	}
	m, _ := filepath.Glob(filepath.Join(dir, OldGlob))
	sort.Slice(m, func(i, j int) bool { return rotN(m[i]) > rotN(m[j]) })
	return m
}

func rotN(p string) int {
	var n int
	if i := strings.LastIndex(p, ".log."); i >= 0 {
		fmt.Sscanf(p[i+5:], "%d", &n)
	}
	return n
}

func lines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in a partial line after Step", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

const (
	qidRE   = `[0-9A-F]{10,12}`
	delayRE = `(?:0|\d+|\d\.\d{1,2}|0\.\d{1,2})`
)

// The line shapes of reference/real-mtas.md §1.6 and mta-formats.md §3.1.
var (
	pfPrefix = regexp.MustCompile(`^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] \d\d:\d\d:\d\d mta-old (postfix(?:/[a-z]+)?/[a-z]+)\[\d+\]: (.*)$`)
	pfMsgs   = []*regexp.Regexp{
		regexp.MustCompile(`^connect from app1\.example\.com\[10\.0\.0\.5\]$`),
		regexp.MustCompile(`^disconnect from app1\.example\.com\[10\.0\.0\.5\] ehlo=1 mail=(\d+) rcpt=\d+ data=(\d+) quit=1 commands=\d+$`),
		regexp.MustCompile(`^` + qidRE + `: client=app1\.example\.com\[10\.0\.0\.5\]$`),
		regexp.MustCompile(`^` + qidRE + `: message-id=<\d{14}\.\d+@news\.example\.com>$`),
		regexp.MustCompile(`^` + qidRE + `: from=<(newsletter@news\.example\.com)?>, size=\d+, nrcpt=[123] \(queue active\)$`),
		regexp.MustCompile(`^` + qidRE + `: removed$`),
		regexp.MustCompile(`^` + qidRE + `: from=<newsletter@news\.example\.com>, status=expired, returned to sender$`),
		regexp.MustCompile(`^` + qidRE + `: sender non-delivery notification: ` + qidRE + `$`),
		regexp.MustCompile(`^Untrusted TLS connection established to [a-z0-9.-]+\[[0-9.]+\]:25: TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\) key-exchange X25519 server-signature RSA-PSS \(2048 bits\) server-digest SHA256$`),
	}
	pfDelivery = regexp.MustCompile(`^` + qidRE + `: to=<[a-z0-9._+-]+@[a-z0-9.-]+>, relay=(?:([a-z0-9.-]+)\[([0-9.]+)\]:25|none|bouncehandler), (?:conn_use=\d+, )?delay=` + delayRE + `, delays=` + delayRE + `/` + delayRE + `/` + delayRE + `/` + delayRE + `, dsn=([245]\.\d{1,3}\.\d{1,3}), status=(sent|deferred|bounced) \((.*)\)$`)
	pfRemote   = regexp.MustCompile(`^host ([a-z0-9.-]+)\[([0-9.]+)\] said: (.*) \(in reply to (RCPT TO|MAIL FROM|end of DATA) command\)$`)
	pfConnect  = regexp.MustCompile(`^(delivery temporarily suspended: )?connect to mx\.oldcorp\.example\[192\.0\.2\.44\]:25: Connection timed out$`)
)

func TestPostfixLineShapes(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 1200, QueueLifetime: 4 * time.Hour, Start: t0.Add(18 * time.Hour), Control: Fixed(Control{RatioNew: 30})})
	step(t, s, 12*time.Hour)
	seen := map[string]int{}
	for _, f := range files(t, s.Dir(), model.SideOld) {
		for _, l := range lines(t, f) {
			m := pfPrefix.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("bad syslog prefix: %q", l)
			}
			prog, msg := m[2], m[3]
			ok := false
			for i, re := range pfMsgs {
				if re.MatchString(msg) {
					seen[fmt.Sprint("msg", i)]++
					ok = true
				}
			}
			if d := pfDelivery.FindStringSubmatch(msg); d != nil {
				ok = true
				dsn, status, text := d[3], d[4], d[5]
				seen[status]++
				switch {
				case d[1] == "" && status == "sent": // the bounce handler pipe
					if prog != "postfix/pipe" || text != "delivered via bouncehandler service" {
						t.Fatalf("pipe line: %q", l)
					}
				case status == "sent":
					if enhanced(text) != dsn || text[0] != '2' {
						t.Fatalf("dsn %s for %q", dsn, l)
					}
				case pfConnect.MatchString(text):
					seen["connect"]++
					if dsn != "4.4.1" || status != "deferred" {
						t.Fatalf("connect failure: %q", l)
					}
				default:
					r := pfRemote.FindStringSubmatch(text)
					if r == nil || r[1] != d[1] || r[2] != d[2] {
						t.Fatalf("remote reply: %q", l)
					}
					if enhanced(r[3]) != dsn || (status == "deferred") != (r[3][0] == '4') {
						t.Fatalf("dsn %s/%s for reply %q", dsn, status, r[3])
					}
				}
				if prog != "postfix/pipe" && !strings.HasSuffix(prog, "/smtp") {
					t.Fatalf("delivery by %s: %q", prog, l)
				}
			}
			if !ok {
				t.Fatalf("unknown Postfix line: %q", l)
			}
		}
	}
	for _, k := range []string{"msg0", "msg1", "msg2", "msg3", "msg4", "msg5", "msg6", "msg7", "msg8", "sent", "deferred", "bounced", "connect"} {
		if seen[k] == 0 {
			t.Errorf("no %s line in 12 h: %v", k, seen)
		}
	}
}

func TestPMTALineShapes(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 1200, QueueLifetime: 4 * time.Hour, Start: t0.Add(18 * time.Hour),
		Control: Fixed(Control{RatioNew: 30, PerISP: map[string]int{"microsoft": 5, "yahoo": 5}})})
	s.complaintX = 100
	step(t, s, 12*time.Hour)
	newNet := netip.MustParsePrefix("203.0.113.8/29")
	seen := map[string]int{}
	fs := files(t, s.Dir(), model.SideNew)
	if len(fs) != 2 {
		t.Fatalf("acct files %v, want one per day", fs)
	}
	for _, f := range fs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
			t.Fatalf("%s: record terminator is not CRLF", f)
		}
		r := csv.NewReader(bytes.NewReader(raw))
		r.FieldsPerRecord = nCols
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.Join(recs[0], ",") != acctHeader {
			t.Fatalf("%s: header %v", f, recs[0])
		}
		day := filepath.Base(f)[5:15]
		for _, rec := range recs[1:] {
			typ := rec[cType]
			seen[typ]++
			tl, err := time.Parse("2006-01-02 15:04:05-0700", rec[cTimeLogged])
			if err != nil || tl.Format("2006-01-02") != day {
				t.Fatalf("%s: timeLogged %q (%v) not of %s", f, rec[cTimeLogged], err, day)
			}
			if typ == "f" {
				if rec[cFeedbackType] != "abuse" || rec[cRcpt] == "" || rec[cReportedDomain] != "news.example.com" {
					t.Fatalf("f record %v", rec)
				}
				continue
			}
			vmta := rec[cVMTA]
			if !regexp.MustCompile(`^vmta-new-[1-5]$`).MatchString(vmta) {
				t.Fatalf("vmta %q", vmta)
			}
			if typ == "tq" {
				if rec[cStatus] != "4.4.1 (no answer from host)" || rec[cQueue] != "oldcorp.example/"+vmta || rec[cSrcIP] != "0.0.0.0" {
					t.Fatalf("tq record %v", rec)
				}
				continue
			}
			tq, err := time.Parse("2006-01-02 15:04:05-0700", rec[cTimeQueued])
			if err != nil || tq.After(tl) {
				t.Fatalf("timeQueued %q after timeLogged", rec[cTimeQueued])
			}
			if rec[cQueue] != model.DomainOf(rec[cRcpt])+"/"+vmta || rec[cPool] != NewPool || rec[cOrig] != Sender {
				t.Fatalf("queue/pool/orig %v", rec)
			}
			if ip, err := netip.ParseAddr(rec[cSrcIP]); err != nil || !newNet.Contains(ip) {
				t.Fatalf("dlvSourceIp %q not in the new /29", rec[cSrcIP])
			}
			code := strings.SplitN(rec[cStatus], " ", 2)[0]
			switch typ {
			case "d":
				if rec[cAction] != "relayed" || !strings.HasPrefix(rec[cStatus], "2.") || !strings.HasSuffix(rec[cStatus], " (success)") || !strings.HasPrefix(rec[cDiag], "smtp;250 ") || rec[cSize] == "" {
					t.Fatalf("d record %v", rec)
				}
			case "t":
				if rec[cAction] != "delayed" || code[0] != '4' || enhanced(strings.TrimPrefix(rec[cDiag], "smtp;")) != code || rec[cBounceCat] == "" {
					t.Fatalf("t record %v", rec)
				}
			case "b":
				if rec[cAction] != "failed" || rec[cBounceCat] == "" {
					t.Fatalf("b record %v", rec)
				}
				if rec[cBounceCat] == "message-expired" {
					seen["expired"]++
					if rec[cStatus] != "4.4.7 (delivery time expired)" {
						t.Fatalf("expiry %v", rec)
					}
				} else if code[0] != '5' || enhanced(strings.TrimPrefix(rec[cDiag], "smtp;")) != code {
					t.Fatalf("b record %v", rec)
				}
			default:
				t.Fatalf("record type %q", typ)
			}
		}
	}
	for _, k := range []string{"d", "t", "b", "tq", "f", "expired"} {
		if seen[k] == 0 {
			t.Errorf("no %s record in 12 h: %v", k, seen)
		}
	}
	// The Gmail deferral is the real text, continuation lines joined.
	b, _ := os.ReadFile(fs[0])
	if !bytes.Contains(b, []byte(`"smtp;421-4.7.28 [203.0.113.`)) || !bytes.Contains(b, []byte("unusual rate of 421-4.7.28 unsolicited mail")) {
		t.Error("no Gmail 421-4.7.28 deferral")
	}
}

// count parses a side's files with the project's parser, the way the
// pipeline does, and counts events per side and provider.
func count(t testing.TB, s *Sim, side model.Side) (map[Key]model.Tally, int) {
	t.Helper()
	var p ingest.Parser
	if side == model.SideOld {
		p = postfix.New(postfix.Options{Location: s.Location(), Now: s.Clock, IgnoreMTime: true})
	} else {
		p = pmta.New(pmta.Options{Location: s.Location()})
	}
	cl := ingest.NewClassifier(nil)
	got := map[Key]model.Tally{}
	rejects := 0
	var evs []model.Event
	for _, f := range files(t, s.Dir(), side) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		p.NewFile(f, fi.ModTime(), nil)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			evs, err = p.ParseLine(sc.Bytes(), evs[:0])
			if err != nil {
				rejects++
				if rejects < 5 {
					t.Errorf("rejected %q: %v", sc.Text(), err)
				}
			}
			for _, ev := range evs {
				if ev.Class == model.ClassNone {
					ev.Class = model.ClassFor(ev.Outcome, ev.Status)
				}
				k := Key{side, cl.ISP(ev.Domain)}
				c := got[k]
				switch ev.Outcome {
				case model.Delivered:
					c.Delivered++
				case model.Deferred:
					c.Deferred++
				case model.Held:
					c.Held++
				case model.Bounced:
					c.Bounced++
					if ev.Class == model.ClassHard {
						c.HardBounce++
					}
				case model.Expired:
					c.Expired++
				case model.Complaint:
					c.Complaints++
				}
				got[k] = c
			}
		}
		fh.Close()
	}
	return got, rejects
}

// What the simulator says it wrote is what the parsers count, provider by
// provider, with nothing rejected.
func TestParsersCountWhatWasWritten(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 1200, QueueLifetime: 4 * time.Hour, Start: t0.Add(18 * time.Hour),
		Control: Fixed(Control{RatioNew: 40, PerISP: map[string]int{"other": 90}, MaxPerHour: map[string]int{"yahoo": 100}})})
	s.complaintX = 50
	step(t, s, 14*time.Hour)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := s.Totals()
	for _, side := range []model.Side{model.SideOld, model.SideNew} {
		got, rejects := count(t, s, side)
		if rejects > 0 {
			t.Errorf("%v: %d lines rejected", side, rejects)
		}
		for _, isp := range Providers() {
			k := Key{side, isp}
			if got[k] != want.Counts[k] {
				t.Errorf("%v %s: parsed %+v\n\twritten %+v", side, isp, got[k], want.Counts[k])
			}
			delete(got, k)
		}
		for k, v := range got {
			t.Errorf("parsed events for an unexpected provider %v: %+v", k, v)
		}
		tot := want.Side(side)
		if tot.Delivered == 0 || tot.Deferred == 0 || tot.Bounced == 0 || tot.Expired == 0 || tot.HardBounce == 0 {
			t.Errorf("%v: some outcome never happened: %+v", side, tot)
		}
		if side == model.SideNew && tot.Complaints == 0 {
			t.Errorf("no complaints on the new side: %+v", tot)
		}
	}
}

func deferral(c model.Tally) float64 { return float64(c.Deferred) / float64(c.Attempts()) }

// A cold new IP pushed at 100 % on day one is deferred almost everywhere;
// at 5 % it delivers.
func TestColdIPDayOne(t *testing.T) {
	run := func(ratio int) Totals {
		s := newSim(t, Options{VolumePerHour: 1500, Control: Fixed(Control{RatioNew: ratio})})
		step(t, s, 24*time.Hour)
		return s.Totals()
	}
	hot, gentle := run(100), run(5)
	for _, isp := range []string{"google", "microsoft", "yahoo", "apple"} {
		h := hot.Counts[Key{model.SideNew, isp}]
		g := gentle.Counts[Key{model.SideNew, isp}]
		t.Logf("%-10s 100%%: %.1f%% deferred of %d attempts, %d delivered | 5%%: %.1f%% deferred of %d, %d delivered",
			isp, 100*deferral(h), h.Attempts(), h.Delivered, 100*deferral(g), g.Attempts(), g.Delivered)
		if deferral(h) < 0.8 {
			t.Errorf("%s at 100%%: deferral %.2f, want heavy", isp, deferral(h))
		}
		if deferral(g) > 0.03 || float64(g.Delivered) < 0.95*float64(g.Attempts()-g.Bounced) {
			t.Errorf("%s at 5%%: %+v, want mostly delivered", isp, g)
		}
		if o := gentle.Counts[Key{model.SideOld, isp}]; deferral(o) > 0.02 {
			t.Errorf("%s old side (warm) deferral %.3f", isp, deferral(o))
		}
	}
	// The day-one disaster also shows the providers' own words.
	var ms model.Tally
	for _, isp := range []string{"google", "microsoft", "yahoo"} {
		ms.Add(hot.Counts[Key{model.SideNew, isp}])
	}
	if ms.Bounced == 0 {
		t.Error("no reputation blocks under 100 % on cold IPs")
	}
}

// A careful ramp (5, 10, 25, 50, 100 % over five days) warms the new IPs
// without ever being deferred much.
func TestRampWarmsUp(t *testing.T) {
	ratio := 5
	s := newSim(t, Options{VolumePerHour: 600, Control: func() Control { return Control{RatioNew: ratio} }})
	prev := model.Tally{}
	for day, r := range []int{5, 10, 25, 50, 100} {
		ratio = r
		step(t, s, 24*time.Hour)
		cur := s.Totals().Counts[Key{model.SideNew, "google"}]
		d := cur
		d.Delivered -= prev.Delivered
		d.Deferred -= prev.Deferred
		d.Bounced -= prev.Bounced
		d.Expired -= prev.Expired
		prev = cur
		t.Logf("day %d at %3d%%: google deferral %.2f%% of %d attempts, allowance %.0f/h", day+1, r,
			100*deferral(d), d.Attempts(), s.byName["google"].rep[model.SideNew].allow)
		if deferral(d) > 0.1 {
			t.Errorf("day %d at %d%%: google deferral %.2f", day+1, r, deferral(d))
		}
	}
}

// pending counts new-side recipients still queued or in flight.
func pending(s *Sim) int64 {
	var n int64
	for _, p := range s.provs {
		n += int64(len(p.ready) + len(p.retry) + len(p.incoming))
	}
	for _, j := range s.jobs {
		if j.kind == jNewAttempt || j.kind == jNewExpire {
			n++
		}
	}
	return n
}

// Mail over the throttle waits in the queue: attempts per hour stay at the
// throttle, nothing is deferred for reputation, nothing is lost.
func TestThrottleQueues(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 4000, Control: Fixed(Control{RatioNew: 100, MaxPerHour: map[string]int{"google": 120}})})
	var last model.Tally
	for h := 0; h < 6; h++ {
		step(t, s, time.Hour)
		c := s.Totals().Counts[Key{model.SideNew, "google"}]
		att := c.Attempts() - last.Attempts()
		if att > 120+3 {
			t.Errorf("hour %d: %d attempts at google over a 120/h throttle", h, att)
		}
		last = c
	}
	if deferral(last) > 0.05 {
		t.Errorf("throttled under the allowance, yet deferral %.2f", deferral(last))
	}
	tot := s.Totals().Side(model.SideNew)
	done := int64(tot.Delivered + tot.Bounced + tot.Expired)
	if q := pending(s); done+q != s.injected[model.SideNew] || q < 1000 {
		t.Errorf("new side: %d done + %d queued != %d injected (or too little queued)", done, q, s.injected[model.SideNew])
	}
}

func digest(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %x\n", rel, len(data), data[len(data)/2:len(data)/2+min(len(data)/2, 64)])
		b.Write(data)
		return nil
	})
	return b.String()
}

// The same seed gives the same bytes, however time is stepped.
func TestDeterministic(t *testing.T) {
	o := Options{VolumePerHour: 2000, Control: Fixed(Control{RatioNew: 50})}
	a := newSim(t, o)
	step(t, a, 4*time.Hour)
	b := newSim(t, o)
	for i := 0; i < 4*60; i++ {
		step(t, b, time.Minute)
	}
	if digest(t, a.Dir()) != digest(t, b.Dir()) {
		t.Fatal("same seed, different output")
	}
	o.Seed = 2
	c := newSim(t, o)
	step(t, c, 4*time.Hour)
	if digest(t, a.Dir()) == digest(t, c.Dir()) {
		t.Fatal("different seeds, same output")
	}
}

func TestRotation(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 150, Start: time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC), Control: Fixed(Control{RatioNew: 5})})
	step(t, s, 52*time.Hour) // to Mar 5 00:00
	old := files(t, s.Dir(), model.SideOld)
	want := []string{"postfix.log.2", "postfix.log.1", "postfix.log"}
	if len(old) != 3 {
		t.Fatalf("old files %v, want %v", old, want)
	}
	for i, f := range old {
		if filepath.Base(f) != want[i] {
			t.Fatalf("old files %v, want %v", old, want)
		}
		day := fmt.Sprintf("Mar  %d ", 2+i)
		for _, l := range lines(t, f) {
			if !strings.HasPrefix(l, day) {
				t.Fatalf("%s holds %q, want only %q", f, l, day)
			}
		}
	}
	nw := files(t, s.Dir(), model.SideNew)
	if len(nw) != 3 || filepath.Base(nw[0]) != "acct-2026-03-02-0000.csv" || filepath.Base(nw[2]) != "acct-2026-03-04-0000.csv" {
		t.Fatalf("new files %v", nw)
	}
	// Rename rotation keeps 7 days; PowerMTA deletes after 8.
	step(t, s, 10*24*time.Hour)
	if old := files(t, s.Dir(), model.SideOld); len(old) != 1+pfKeep {
		t.Errorf("after 10 more days: %d old files", len(old))
	}
	if nw := files(t, s.Dir(), model.SideNew); len(nw) != 9 {
		t.Errorf("after 10 more days: new files %v", nw)
	}
	// mtime is the simulated time of the file's last line.
	fi, err := os.Stat(filepath.Join(s.Dir(), "old", "postfix.log.1"))
	if end := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC); err != nil || !fi.ModTime().Before(end) || fi.ModTime().Before(end.Add(-10*time.Minute)) {
		t.Errorf("rotated file mtime %v, want the simulated end of its day", fi.ModTime())
	}
}

func TestPartialFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	o, err := createOut(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	partial := 0
	var want bytes.Buffer
	for i := 0; i < 200; i++ {
		l := fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", i%17))
		o.add([]byte(l), time.Time{})
		want.WriteString(l)
		if err := o.flush(r); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if len(b) == 0 || b[len(b)-1] != '\n' {
			partial++
			if !bytes.HasPrefix(want.Bytes(), b) || want.Len()-len(b) >= len(l) || want.Len() == len(b) {
				t.Fatalf("partial flush wrote %q", b[max(0, len(b)-20):])
			}
		}
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, want.Bytes()) || partial == 0 {
		t.Fatalf("after close: equal=%v partial flushes=%d", bytes.Equal(b, want.Bytes()), partial)
	}
}

// Run follows the wall clock at Speed and leaves whole lines behind.
func TestRun(t *testing.T) {
	s := newSim(t, Options{VolumePerHour: 5000, Speed: 7200, Control: Fixed(Control{RatioNew: 50})})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var clocks []time.Time
	for len(clocks) < 5 {
		time.Sleep(100 * time.Millisecond)
		clocks = append(clocks, s.Clock())
		_ = s.Totals()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wall := time.Since(began)
	if el := s.Clock().Sub(t0); el < 10*time.Minute || el > time.Duration(7200*1.1*float64(wall)) {
		t.Errorf("simulated %v in %v at 7200×", el, wall)
	}
	if !sort.SliceIsSorted(clocks, func(i, j int) bool { return clocks[i].Before(clocks[j]) }) {
		t.Errorf("clock went back: %v", clocks)
	}
	for _, side := range []model.Side{model.SideOld, model.SideNew} {
		for _, f := range files(t, s.Dir(), side) {
			lines(t, f)
		}
	}
	if err := s.Step(time.Minute); err == nil {
		t.Error("Step after Run's Close succeeded")
	}
	if _, err := New(Options{Dir: s.Dir()}); err == nil {
		t.Error("New on a used directory succeeded")
	}
}

func TestEnhanced(t *testing.T) {
	for in, want := range map[string]string{
		"550-5.1.1 The email account":          "5.1.1",
		"421 4.7.0 [TSS04] Messages from":      "4.7.0",
		"451 4.7.650 The mail server":          "4.7.650",
		"554 delivery error: dd This user":     "5.0.0",
		"552 1 Requested mail action aborted":  "5.0.0",
		"451 mta1.mail.gq1.yahoo.com Resource": "4.0.0",
		"250 ok dirdel":                        "2.0.0",
		"421 4.2.0 RL000001 Throttled":         "4.2.0",
		"550 5.5.0 Requested action not taken": "5.5.0",
	} {
		if got := enhanced(in); got != want {
			t.Errorf("enhanced(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"2.0.0": "2.0.0 (success)", "5.1.1": "5.1.1 (bad destination mailbox address)",
		"4.7.28": "4.7.28 (other or undefined security status)", "5.7.1": "5.7.1 (delivery not authorized)",
	} {
		if got := statusText(in); got != want {
			t.Errorf("statusText(%s) = %q, want %q", in, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 0.004: "0", 0.05: "0.05", 0.1: "0.1", 0.26: "0.26", 1.4: "1.4", 7.8: "7.8", 306.2: "306", 89758: "89758", 0.999: "1"} {
		if got := string(appendDelay(nil, v)); got != want {
			t.Errorf("delay %v = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkLines measures simulated lines written per second of CPU, on a
// day-one overload (the heaviest case: retries of deferred mail).
func BenchmarkLines(b *testing.B) {
	for _, ratio := range []int{5, 100} {
		b.Run(fmt.Sprintf("ratio%d", ratio), func(b *testing.B) {
			s := newSim(b, Options{VolumePerHour: 20000, Control: Fixed(Control{RatioNew: ratio})})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(b, s, 10*time.Minute)
			}
			b.StopTimer()
			tot := s.Totals()
			n := tot.Lines[model.SideOld] + tot.Lines[model.SideNew]
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
			s.Close()
		})
	}
}
