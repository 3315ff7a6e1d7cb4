package pmta

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"cutover/ingest/lex/lextest"
	"cutover/model"
)

func validEvent(t testing.TB, ev model.Event) {
	t.Helper()
	lextest.CheckEvent(t, ev)
}

func FuzzParsePMTA(f *testing.F) {
	for _, s := range []string{
		hdrDefault + "\n" + lineD + "\n" + lineB + "\n" + lineT,
		hdrTQ + "\r\n" + lineTQ + "\r\n",
		hdrRB + "\n" + lineRB,
		hdrR + "\n" + lineR,
		hdrUnion + "\n" + lineF + "\n" + lineD,
		hdrV4 + "\n" + lineV4,
		hdrMagic + "\n" + lineM1 + "\n" + lineM2,
		hdrManual + "\nd,1178807903,orig@port25.com,user1@domain.com,10.0.0.1,\nb,1178807915,orig@port25.com,user3@domain.com,,policy-related",
		"type,rcpt,timeLogged\nd,\"a\nb@c\",1\n",
		lineD,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := New(Options{Location: time.UTC})
		p.NewFile("acct.csv", time.Time{}, nil)
		var evs []model.Event
		for _, line := range bytes.Split(data, []byte("\n")) {
			evs, _ = p.ParseLine(line, evs[:0])
			for _, ev := range evs {
				validEvent(t, ev)
			}
		}
		// The whole input as one line (embedded line breaks, garbage).
		p.NewFile("acct.csv", time.Time{}, []byte(hdrUnion))
		evs, _ = p.ParseLine(data, evs[:0])
		for _, ev := range evs {
			validEvent(t, ev)
		}
	})
}

func TestHugeLine(t *testing.T) {
	p := New(Options{})
	p.ParseLine([]byte(hdrDefault), nil)
	big := bytes.Repeat([]byte(`"x""y,`), 1<<20/6)
	for _, l := range [][]byte{
		append([]byte("d,2019-02-08 21:54:05+0000,,o,r@x.com,,,,\""), big...),
		append([]byte("d,"), big...),
		bytes.Repeat([]byte{0xff, 0, ',', '"'}, 1<<18),
		bytes.Repeat([]byte(","), 1<<20),
	} {
		evs, _ := p.ParseLine(l, nil)
		for _, ev := range evs {
			validEvent(t, ev)
		}
	}
}

// benchLines is a realistic accounting mix: mostly deliveries, then
// deferrals, bounces and a few queue-level failures, with distinct
// recipients so nothing is artificially cached; the clock ticks every 8
// records (a busy file logs thousands a second).
func benchLines(n int) [][]byte {
	doms := []string{"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "example.org", "comcast.net", "gmx.de"}
	var lines [][]byte
	for i := 0; i < n; i++ {
		d := doms[i%len(doms)]
		v := fmt.Sprintf("vmta%d", i%16)
		var l string
		switch r := i % 100; {
		case r < 70:
			l = fmt.Sprintf(`d,2019-02-08 21:54:%02d+0000,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,relayed,2.0.0 (success),smtp;250 2.0.0 OK 1549662845 x%dsi.%d - gsmtp,mx%d.%s (10.1.2.%d),,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8",%d,%s,job%d,,%s/%s,pool-a`,
				i/8%60, i, i, d, i, i, i%4, d, i%200, i%16, 4000+i%9000, v, i%50, d, v)
		case r < 90:
			l = fmt.Sprintf(`t,2019-02-08 21:54:%02d+0000,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,delayed,4.7.0 (other or undefined security status),"smtp;421 4.7.0 [TSS04] Messages from 10.0.0.%d temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",mx%d.%s (10.1.2.%d),policy-related,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,"ENHANCEDSTATUSCODES,8BITMIME",,%s,job%d,,%s/%s,pool-a`,
				i/8%60, i, i, d, i%16, i%4, d, i%200, i%16, v, i%50, d, v)
		case r < 98:
			l = fmt.Sprintf(`b,2019-02-08 21:54:%02d+0000,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 The email account that you tried to reach does not exist,mx%d.%s (10.1.2.%d),bad-mailbox,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,,,%s,job%d,,%s/%s,pool-a`,
				i/8%60, i, i, d, i%4, d, i%200, i%16, v, i%50, d, v)
		default:
			l = fmt.Sprintf(`tq,2019-02-08 21:54:%02d+0000,,,,,,4.4.1 (no answer from host),,mx.%s (87.98.150.101),,,,smtp,0.0.0.0,87.98.150.101,,,%s,,,%s/%s,`,
				i/8%60, d, v, d, v)
		}
		lines = append(lines, []byte(l))
	}
	return lines
}

func BenchmarkParsePMTA(b *testing.B) {
	lines := benchLines(1024)
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	p := New(Options{Location: time.UTC})
	p.NewFile("acct.csv", time.Time{}, nil)
	p.ParseLine([]byte(hdrDefault), nil)
	var evs []model.Event
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	startCPU(b)
	n := 0
	for i := 0; i < b.N; i++ {
		var err error
		evs, err = p.ParseLine(lines[i%len(lines)], evs[:0])
		if err != nil || len(evs) != 1 {
			b.Fatalf("%v %d", err, len(evs))
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	reportCPU(b, n)
}

var cpuStart time.Duration

func startCPU(b *testing.B)         { cpuStart = lextest.CPUTime() }
func reportCPU(b *testing.B, n int) { lextest.ReportCPU(b, cpuStart, n) }
