package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"cutover/ingest"
	"cutover/ingest/lex/lextest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

// BenchmarkBackfillPostfix measures the whole backfill path — follow, parse,
// classify, aggregate, commit to bbolt — over real Postfix lines (the log
// produced by the real-MTA test, repeated to ~290,000 lines / 41 MB, the size
// pflogsumm is timed on in issue 2).
func BenchmarkBackfillPostfix(b *testing.B) {
	src, err := os.ReadFile("realmta/testdata/postfix.log")
	if err != nil {
		b.Skip(err)
	}
	data := bytes.Repeat(src, 170)
	lines := bytes.Count(data, []byte{'\n'})
	dir := b.TempDir()
	log := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(log, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := lextest.CPUTime()
	for i := 0; i < b.N; i++ {
		db, err := state.Open(filepath.Join(dir, "b"+string(rune('a'+i%26))+".db"), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
			Globs: []string{log}, Parser: postfix.New(postfix.Options{})}}, ingest.Options{CommitEvents: 50000})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := pl.Backfill(context.Background(), nil)
		if err != nil || sum.Lines != int64(lines) {
			b.Fatalf("lines %d want %d, err %v", sum.Lines, lines, err)
		}
		pl.Close()
		db.Close()
		b.StopTimer()
		os.Remove(db.Path())
		b.StartTimer()
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	// CPU time (all goroutines, setup between runs included) tells a
	// change's cost apart from the load of a shared machine.
	b.ReportMetric(float64((lextest.CPUTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
}
