package exim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

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

func FuzzParseExim(f *testing.F) {
	f.Add([]byte(strings.Join(realLog, "\n")))
	for _, l := range realLog {
		f.Add([]byte(l))
	}
	f.Add([]byte(`2026-11-26 19:18:45.123 +0100 [4242] 16VDhn-000000001bo-D342 => bob@Yahoo.COM R=yahoo T=remote_smtp_yahoo H=mta7.am0.yahoodns.net [67.195.204.72]:25* I=[203.0.113.10]:40312 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes K C="250 ok" QT=1s DT=0.4s`))
	f.Add([]byte(`2026-11-26 19:18:45 1xWezV-0002t1-28 => |/usr/bin/vacation -a erin (erin@ok.example) <erin@ok.example> R=aliases T=address_pipe`))
	f.Add([]byte("2026-11-26 19:18:45 1xWezV-0002t1-28 ** frank <frank@ok.example>: Unrouteable\r\naddress"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := New(Options{Location: time.UTC})
		p.NewFile("mainlog", time.Time{}, nil)
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
	})
}

func TestHugeLine(t *testing.T) {
	p := New(Options{})
	big := bytes.Repeat([]byte("H=x [ "), 1<<20/6)
	pre := "2026-11-26 19:18:45 1xWezV-0002t1-28 "
	for _, l := range [][]byte{
		append([]byte(pre+"=> a@b.c "), big...),
		append([]byte(pre+`=> a@b.c C="`), big...),
		append([]byte(pre+"=> "), big...),
		append([]byte(pre+"** |"), big...),
		append([]byte(pre+"** a@b.c: "), big...),
		bytes.Repeat([]byte{0xff, 0, ' ', '['}, 1<<18),
	} {
		evs, _ := p.ParseLine(l, nil)
		for _, ev := range evs {
			validEvent(t, ev)
		}
	}
}

// benchLines is a main log of bulk mail: per message an arrival, 1-5
// recipients (70% delivered, 20% deferred, 10% bounced) and Completed.
func benchLines(n int) (lines [][]byte, outcomes int) {
	doms := []string{"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "example.org", "comcast.net", "gmx.de"}
	add := func(format string, a ...any) { lines = append(lines, []byte(fmt.Sprintf(format, a...))) }
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 0; len(lines) < n; i++ {
		id := fmt.Sprintf("1xWe%c%c-000%c%c%c-%c%c", chars[i%62], chars[i/62%62], chars[i%7], chars[i%11], chars[i%13], chars[i%5], chars[i%3])
		ts := fmt.Sprintf("2026-11-26 19:%02d:%02d", i/60%60, i%60)
		add("%s %s <= bounce+%d@news.example.com H=app%d.internal [10.1.0.%d] P=esmtp S=%d id=%d@app.example.com", ts, id, i, i%40, i%250, 3000+i%9000, i)
		for k := 0; k <= i%5; k++ {
			j := i*5 + k
			d := doms[j%len(doms)]
			switch r := j % 10; {
			case r < 7:
				add(`%s %s => user%d@%s R=dnslookup T=remote_smtp H=mx%d.%s [203.0.113.%d] I=[192.0.2.%d]:4%04d X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 2.0.0 OK  1611221070 h17si%dwmq.57 - gsmtp" QT=%ds DT=0s`,
					ts, id, j, d, j%4, d, j%250, j%16, j%10000, j, j%9)
			case r < 9:
				add(`%s %s == user%d@%s R=dnslookup T=remote_smtp defer (-44) H=mx%d.%s [203.0.113.%d] I=[192.0.2.%d]:4%04d DT=1s: SMTP error from remote mail server after MAIL FROM:<bounce+%d@news.example.com> SIZE=%d: 421 4.7.0 [TSS04] Messages from 192.0.2.%d temporarily deferred due to unexpected volume or user complaints`,
					ts, id, j, d, j%4, d, j%250, j%16, j%10000, i, 3000+i%9000, j%16)
			default:
				add(`%s %s ** user%d@%s R=dnslookup T=remote_smtp H=mx%d.%s [203.0.113.%d] I=[192.0.2.%d]:4%04d: SMTP error from remote mail server after RCPT TO:<user%d@%s>: 550 5.1.1 <user%d@%s>: Recipient address rejected: User unknown DT=0s`,
					ts, id, j, d, j%4, d, j%250, j%16, j%10000, j, d, j, d)
			}
			outcomes++
		}
		add("%s %s Completed", ts, id)
	}
	return lines, outcomes
}

func BenchmarkParseExim(b *testing.B) {
	lines, outcomes := benchLines(2048)
	b.Logf("%d lines, %.0f%% outcome lines", len(lines), 100*float64(outcomes)/float64(len(lines)))
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	p := New(Options{Location: time.UTC})
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
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	reportCPU(b, n)
}

var cpuStart time.Duration

func startCPU(b *testing.B)         { cpuStart = lextest.CPUTime() }
func reportCPU(b *testing.B, n int) { lextest.ReportCPU(b, cpuStart, n) }
