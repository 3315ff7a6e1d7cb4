package suppress

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cutover/state"
	ssup "cutover/state/suppress"
)

// genExport writes a SendGrid bounces CSV of n rows: mixed-case
// addresses, quoted reasons with commas, a junk row every 10,000 and a
// repeated address every 1,000 (same event: a duplicate).
func genExport(tb testing.TB, path string, n int) (valid, junk, dups int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("email,created,status,reason\r\n")
	for i := 0; i < n; i++ {
		switch {
		case i%10_000 == 9_999:
			fmt.Fprintf(w, "#%08d,%d,5.1.1,junk\r\n", i, i)
			junk++
		case i%1_000 == 999:
			j := i - 500
			fmt.Fprintf(w, "User.%d@Domain%d.example,%d,5.1.1,\"550 5.1.1 <user>: Recipient address rejected: User unknown, in virtual table\"\r\n", j, j%5000, 1443651154+j)
			dups++
		default:
			fmt.Fprintf(w, "User.%d@Domain%d.example,%d,5.1.1,\"550 5.1.1 <user>: Recipient address rejected: User unknown, in virtual table\"\r\n", i, i%5000, 1443651154+i)
			valid++
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return valid, junk, dups
}

// BenchmarkImport1M imports a 1,000,000-row export into an empty log and
// index (reported: ns/op for the whole file, rows/s, peak Go heap). Run on
// one core: go test -bench Import1M -benchtime 1x -cpu 1 ./ingest/suppress
func BenchmarkImport1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	src := filepath.Join(dir, "bounces.csv")
	valid, junk, dups := genExport(b, src, n)
	b.ResetTimer()
	var peak atomic.Uint64
	var cpu time.Duration
	var logB, dbB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d := filepath.Join(dir, fmt.Sprint("run", i))
		os.Mkdir(d, 0o755)
		db, err := state.Open(filepath.Join(d, "cutover.db"), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := make(chan struct{})
		go samplePeak(&peak, stop)
		cpu0 := cpuTime()
		b.StartTimer()
		sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: SendGrid, List: "bounces"}, []string{src}, nil)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		close(stop)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Accepted != int64(valid) || sum.Rejected != int64(junk) || sum.Duplicate != int64(dups) {
			b.Fatalf("accepted %d rejected %d dup %d; want %d %d %d", sum.Accepted, sum.Rejected, sum.Duplicate, valid, junk, dups)
		}
		db.Close()
		// Sizes on disk per event (every event here is one address): the
		// log line, and the database (the index is all it holds).
		if st, err := os.Stat(sum.LogPath); err == nil {
			logB = float64(st.Size()) / float64(sum.Accepted)
		}
		if st, err := os.Stat(db.Path()); err == nil {
			dbB = float64(st.Size()) / float64(sum.Accepted)
		}
		b.StartTimer()
	}
	b.StopTimer()
	el := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/el, "rows/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	// CPU time (user+system) is steadier than wall time on a shared machine.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(logB, "log-B/event")
	b.ReportMetric(dbB, "db-B/addr")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkReimport1M imports the same 1,000,000 rows a second time:
// everything is a duplicate, nothing is appended.
func BenchmarkReimport1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	src := filepath.Join(dir, "bounces.csv")
	genExport(b, src, n)
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	opts := ImportOptions{DB: db, Provider: SendGrid, List: "bounces"}
	if _, err := Import(context.Background(), opts, []string{src}, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum, err := Import(context.Background(), opts, []string{src}, nil)
		if err != nil || sum.Accepted != 0 {
			b.Fatalf("%v %d", err, sum.Accepted)
		}
	}
	b.StopTimer()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l.Close()
}
