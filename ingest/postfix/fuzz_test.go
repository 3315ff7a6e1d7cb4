package postfix

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex/lextest"
	"cutover/model"
)

func validEvent(t testing.TB, ev model.Event) {
	t.Helper()
	lextest.CheckEvent(t, ev)
	if ev.Recipient == "" || ev.QueueID == "" {
		t.Fatalf("incomplete event %+v", ev)
	}
}

func FuzzParsePostfix(f *testing.F) {
	f.Add([]byte(strings.Join(realLog, "\n")))
	for _, l := range realLog {
		f.Add([]byte(l))
	}
	f.Add([]byte("<22>1 2026-11-26T19:16:25.5Z h postfix/gmail/smtp 123 - [meta x=\"a\\]b\"] 3AAA01B2C: to=<u@x>, relay=none, dsn=2.0.0, status=sent (ok)"))
	f.Add([]byte("2026-11-26T19:16:25+01:00 h postfix/smtp[1]: 3Pt2mN2VXxznjll: to=<a@b.c>, orig_to=<x>, relay=none, delay=1, status=deferred (x\r\ny)"))
	f.Add([]byte("Nov  6 09:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c>, relay=none, delay=1, dsn=4.0.0, status=deferred (x)\nNov  6 09:16:25 h postfix/qmgr[1]: ABCDEF: from=<>, status=expired, returned to sender"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := New(Options{Location: time.UTC, Now: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }})
		p.NewFile("maillog", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), nil)
		var evs []model.Event
		for _, line := range bytes.Split(data, []byte("\n")) {
			evs, _ = p.ParseLine(line, evs[:0])
			for _, ev := range evs {
				validEvent(t, ev)
			}
		}
		evs, _ = p.ParseLine(data, evs[:0])
		for _, ev := range evs {
			validEvent(t, ev)
		}
		// State survives a round trip, and garbage state is refused quietly.
		q := New(Options{})
		q.Load(p.TakeDelta())
		q.Load(map[string][]byte{"ABCDEF": data})
	})
}

func TestHugeLine(t *testing.T) {
	p := New(Options{})
	big := bytes.Repeat([]byte("x, "), 1<<20/3)
	pre := "Nov 26 19:16:25 h postfix/smtp[1]: ABCDEF: "
	for _, l := range [][]byte{
		append([]byte(pre+"to=<"), big...),
		append([]byte(pre+"to=<a@b>, relay=none, "), big...),
		append(append([]byte(pre+"to=<a@b>, relay=none, dsn=4.0.0, status=deferred ("), big...), ')'),
		append([]byte("<1>"), big...),
		bytes.Repeat([]byte{0xff, 0, ' ', '<'}, 1<<18),
	} {
		evs, _ := p.ParseLine(l, nil)
		for _, ev := range evs {
			validEvent(t, ev)
		}
	}
}

// benchLines is a realistic maillog mix for bulk mail: connections reused
// for several messages; per message smtpd client, cleanup, qmgr from= and
// removed; 1-5 recipients (avg 3) of which 70% sent, 20% deferred, 10%
// bounced. That makes ~40% to= lines, ~60% others.
func benchLines(n int) (lines [][]byte, outcomes int) {
	doms := []string{"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "example.org", "comcast.net", "gmx.de"}
	trans := []string{"postfix/smtp", "postfix/gmail/smtp", "postfix/smtp-yahoo/smtp", "postfix-out/smtp"}
	add := func(format string, a ...any) { lines = append(lines, []byte(fmt.Sprintf(format, a...))) }
	for i := 0; len(lines) < n; i++ {
		qid := fmt.Sprintf("%X", 0xD19969848C5+i*7919)
		ts := fmt.Sprintf("Nov 26 19:%02d:%02d", i/60%60, i%60)
		tr := trans[i%len(trans)]
		if i%4 == 0 {
			add("%s mta-out-1 postfix/smtpd[%d]: connect from app%d.internal[10.1.0.%d]", ts, 7000+i%300, i%40, i%250)
		}
		add("%s mta-out-1 postfix/smtpd[%d]: %s: client=app%d.internal[10.1.0.%d]", ts, 7000+i%300, qid, i%40, i%250)
		add("%s mta-out-1 postfix/cleanup[%d]: %s: message-id=<%d.%s@app.example.com>", ts, 7100+i%50, qid, i*31, qid)
		add("%s mta-out-1 postfix/qmgr[7749]: %s: from=<bounce+%d@news.example.com>, size=%d, nrcpt=%d (queue active)", ts, qid, i, 3000+i%9000, 1+i%5)
		for k := 0; k <= i%5; k++ {
			j := i*5 + k
			d := doms[j%len(doms)]
			switch r := j % 10; {
			case r < 7:
				add("%s mta-out-1 %s[%d]: %s: to=<user%d@%s>, relay=mx%d.%s[203.0.113.%d]:25, delay=0.%d, delays=0.01/0.03/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 OK  1611221070 h17si%dwmq.57 - gsmtp)",
					ts, tr, 8000+i%400, qid, j, d, j%4, d, j%250, j%10, j)
			case r < 9:
				add("%s mta-out-1 %s[%d]: %s: to=<user%d@%s>, relay=mx%d.%s[203.0.113.%d]:25, delay=1.%d, delays=0.01/0.03/0.5/0.4, dsn=4.7.0, status=deferred (host mx%d.%s[203.0.113.%d] said: 421 4.7.0 [TSS04] Messages from 192.0.2.%d temporarily deferred due to unexpected volume or user complaints (in reply to MAIL FROM command))",
					ts, tr, 8000+i%400, qid, j, d, j%4, d, j%250, j%10, j%4, d, j%250, j%16)
			default:
				add("%s mta-out-1 %s[%d]: %s: to=<user%d@%s>, relay=mx%d.%s[203.0.113.%d]:25, conn_use=2, delay=0.%d, delays=0.01/0.03/0.1/0.2, dsn=5.1.1, status=bounced (host mx%d.%s[203.0.113.%d] said: 550 5.1.1 <user%d@%s>: Recipient address rejected: User unknown (in reply to RCPT TO command))",
					ts, tr, 8000+i%400, qid, j, d, j%4, d, j%250, j%10, j%4, d, j%250, j, d)
			}
			outcomes++
		}
		add("%s mta-out-1 postfix/qmgr[7749]: %s: removed", ts, qid)
		if i%4 == 3 {
			add("%s mta-out-1 postfix/smtpd[%d]: disconnect from app%d.internal[10.1.0.%d] ehlo=1 mail=4 rcpt=12 data=4 quit=1 commands=22", ts, 7000+i%300, i%40, i%250)
		}
	}
	return lines, outcomes
}

func BenchmarkParsePostfix(b *testing.B) {
	lines, outcomes := benchLines(2048)
	b.Logf("%d lines, %.0f%% to= lines", len(lines), 100*float64(outcomes)/float64(len(lines)))
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	p := New(Options{Location: time.UTC, Now: func() time.Time { return now }})
	p.NewFile("maillog", now, nil)
	var evs []model.Event
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	startCPU(b)
	n := 0
	for i := 0; i < b.N; i++ {
		var err error
		evs, err = p.ParseLine(lines[i%len(lines)], evs[:0])
		if err != nil {
			b.Fatal(err)
		}
		n++
		if i%4096 == 0 {
			p.TakeDelta()
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	reportCPU(b, n)
}

var cpuStart time.Duration

func startCPU(b *testing.B)         { cpuStart = lextest.CPUTime() }
func reportCPU(b *testing.B, n int) { lextest.ReportCPU(b, cpuStart, n) }

// BenchmarkParsePostfixChunks: the path the pipeline takes, ScanLines and
// FinishLines over 1 MiB chunks of the same mix. With -cpu 1 it is the
// per-core figure; with more, the scan's spread over cores shows.
func BenchmarkParsePostfixChunks(b *testing.B) {
	lines, _ := benchLines(40000)
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	var chunks [][]byte
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		if n < len(data) {
			n = bytes.LastIndexByte(data[:n], '\n') + 1
		}
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	p := New(Options{Location: time.UTC, Now: func() time.Time { return now }})
	p.NewFile("maillog", now, nil)
	var evs []model.Event
	var res []ingest.LineResult
	b.SetBytes(int64(len(bytes.Join(lines, nil)) + len(lines)))
	b.ResetTimer()
	startCPU(b)
	n := 0
	for i := 0; i < b.N; i++ {
		for _, c := range chunks {
			var k int
			evs, res, k = p.FinishLines(p.ScanLines(c), evs[:0], res[:0])
			n += k
			p.TakeDelta()
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	reportCPU(b, n)
}
