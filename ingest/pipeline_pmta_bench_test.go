package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex/lextest"
	"cutover/ingest/pmta"
	"cutover/model"
	"cutover/state"
)

const pmtaHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

// writeAcct writes PowerMTA accounting files (the v5 default record-fields,
// a header on top) of about size bytes each: 70 % deliveries, 20 %
// deferrals, 8 % bounces, 2 % tq, distinct recipients over 8 providers and
// 16 VirtualMTAs, the clock ticking every 8 records. It returns the files
// and their total lines.
func writeAcct(tb testing.TB, dir string, files int, size int64) ([]string, int64) {
	doms := []string{"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "example.org", "comcast.net", "gmx.de"}
	var paths []string
	var lines int64
	i := 0
	for f := 0; f < files; f++ {
		p := filepath.Join(dir, fmt.Sprintf("acct-2019-02-08-%04d.csv", f))
		fh, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		var n int64
		k, _ := fmt.Fprintln(w, pmtaHeader)
		n += int64(k)
		lines++
		for ; n < size; i++ {
			d := doms[i%len(doms)]
			v := fmt.Sprintf("vmta%d", i%16)
			ts := fmt.Sprintf("2019-02-08 %02d:%02d:%02d+0000", i/8/3600%24, i/8/60%60, i/8%60)
			switch r := i % 100; {
			case r < 70:
				k, _ = fmt.Fprintf(w, "d,%s,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,relayed,2.0.0 (success),smtp;250 2.0.0 OK 1549662845 x%dsi.%d - gsmtp,mx%d.%s (10.1.2.%d),,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,\"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8\",%d,%s,job%d,,%s/%s,pool-a\n",
					ts, i, i, d, i, i, i%4, d, i%200, i%16, 4000+i%9000, v, i%50, d, v)
			case r < 90:
				k, _ = fmt.Fprintf(w, "t,%s,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,delayed,4.7.0 (other or undefined security status),\"smtp;421 4.7.0 [TSS04] Messages from 10.0.0.%d temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes\",mx%d.%s (10.1.2.%d),policy-related,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,\"ENHANCEDSTATUSCODES,8BITMIME\",,%s,job%d,,%s/%s,pool-a\n",
					ts, i, i, d, i%16, i%4, d, i%200, i%16, v, i%50, d, v)
			case r < 98:
				k, _ = fmt.Fprintf(w, "b,%s,2019-02-08 21:54:05+0000,bounce-%d@bounce.bar.com,user%d@%s,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 The email account that you tried to reach does not exist,mx%d.%s (10.1.2.%d),bad-mailbox,smtp,client.bar.com (127.0.0.1),smtp,10.0.0.%d,10.1.2.3,,,%s,job%d,,%s/%s,pool-a\n",
					ts, i, i, d, i%4, d, i%200, i%16, v, i%50, d, v)
			default:
				k, _ = fmt.Fprintf(w, "tq,%s,,,,,,4.4.1 (no answer from host),,mx.%s (87.98.150.101),,,,smtp,0.0.0.0,87.98.150.101,,,%s,,,%s/%s,\n",
					ts, d, v, d, v)
			}
			n += int64(k)
			lines++
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		fh.Close()
		paths = append(paths, p)
	}
	return paths, lines
}

// BenchmarkBackfillPMTA measures the whole PowerMTA path — follow, parse,
// classify, aggregate, suppression log, commit to bbolt — over 4 accounting
// files of 64 MB, against `cat` of the same files to /dev/null in the same
// benchmark (alternating, so both see the same machine): MB/s is cutover's,
// cat-MB/s cat's, x-cat their ratio. peak-heap-MB shows memory stays flat
// (it does not grow with the input).
//
//	go test -run XXX -bench BackfillPMTA -benchtime 3x ./ingest
func BenchmarkBackfillPMTA(b *testing.B) {
	dir := b.TempDir()
	files, lines := writeAcct(b, dir, 4, 64<<20)
	benchPMTA(b, dir, files, lines, func() ingest.Parser { return pmta.New(pmta.Options{Location: time.UTC}) })
}

// benchPMTA runs the backfill once per iteration. Parsing chunks ahead on
// scan goroutines (ingest.LinesParser) was tried for PowerMTA and measured
// with it: it moved the per-line accounting onto the writer, which became
// the slower stage. PowerMTA is a ForkParser instead: each chunk is parsed,
// accounted and counted on its own goroutine with a copy of the parser, and
// the writer only merges counts and commits (see ingest.ForkParser).
func benchPMTA(b *testing.B, dir string, files []string, lines int64, newParser func() ingest.Parser) {
	var total int64
	for _, f := range files {
		st, _ := os.Stat(f)
		total += st.Size()
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	catPath, err := exec.LookPath("cat")
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	go samplePeak(&peak, stop)
	defer close(stop)
	b.SetBytes(total)
	b.ResetTimer()
	cpu := lextest.CPUTime()
	var catTime, cutTime time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cat := exec.Command(catPath, files...)
		cat.Stdout = null
		t0 := time.Now()
		if err := cat.Run(); err != nil {
			b.Fatal(err)
		}
		catTime += time.Since(t0)
		db, err := state.Open(filepath.Join(dir, fmt.Sprintf("b%d.db", i)), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 = time.Now()
		pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pmta", Kind: "pmta", Side: model.SideNew, MTA: "pmta",
			Globs: []string{filepath.Join(dir, "acct-*.csv")}, Parser: newParser()}},
			ingest.Options{CommitEvery: time.Second, CommitEvents: 50000})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := pl.Backfill(context.Background(), nil)
		if err != nil || sum.Lines != lines || sum.Rejected != 0 {
			b.Fatalf("lines %d want %d, rejected %d, err %v", sum.Lines, lines, sum.Rejected, err)
		}
		pl.Close()
		db.Close()
		cutTime += time.Since(t0)
		b.StopTimer()
		os.Remove(db.Path())
		os.Remove(filepath.Join(dir, "suppressions.jsonl"))
		b.StartTimer()
	}
	b.StopTimer()
	mb := float64(total) * float64(b.N) / 1e6
	b.ReportMetric(mb/catTime.Seconds(), "cat-MB/s")
	b.ReportMetric(catTime.Seconds()/cutTime.Seconds(), "x-cat")
	b.ReportMetric(float64(lines)*float64(b.N)/cutTime.Seconds(), "lines/s")
	b.ReportMetric(float64((lextest.CPUTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
}

// samplePeak records the largest Go heap in use until stop is closed.
func samplePeak(peak *atomic.Uint64, stop chan struct{}) {
	var ms runtime.MemStats
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		if v := ms.HeapInuse + ms.StackInuse; v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
