package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/ingest/pmta"
	"cutover/model"
	"cutover/state"
)

// forkRun is what a backfill committed, for comparing two runs.
type forkRun struct {
	sum     ingest.Summary
	buckets map[string]string
	rejects []state.Reject
}

// backfillDump backfills glob with p into a new database named name in dir
// and returns what it committed, leaving out what depends on the run's
// clock or paths.
func backfillDump(t *testing.T, dir, name, kind, glob string, p ingest.Parser) forkRun {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, name+".db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: kind, Kind: kind, Side: model.SideNew, MTA: kind,
		Globs: []string{glob}, Parser: p}}, ingest.Options{CommitEvents: 7000})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := pl.Backfill(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "suppressions.jsonl"), filepath.Join(dir, name+".jsonl"))
	os.Remove(filepath.Join(dir, "suppressions.jsonl.claim"))
	out := map[string]string{}
	db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(bk []byte, b *bbolt.Bucket) error {
			switch string(bk) {
			case "sources", "cursors", "meta", "suppress_meta":
				return nil // times of the run, paths of the logs
			}
			return b.ForEach(func(k, v []byte) error {
				out[string(bk)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	rj, err := db.Rejects(kind)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rj {
		rj[i].Seen = time.Time{}
	}
	return forkRun{sum, out, rj}
}

func sameRun(t *testing.T, fork, line forkRun) {
	t.Helper()
	if !reflect.DeepEqual(fork.sum, line.sum) {
		t.Fatalf("summary %+v\nwant %+v", fork.sum, line.sum)
	}
	if len(fork.buckets) != len(line.buckets) {
		for k := range line.buckets {
			if _, ok := fork.buckets[k]; !ok {
				t.Errorf("missing %q", k)
				break
			}
		}
		for k := range fork.buckets {
			if _, ok := line.buckets[k]; !ok {
				t.Errorf("extra %q", k)
				break
			}
		}
		t.Fatalf("%d keys, want %d", len(fork.buckets), len(line.buckets))
	}
	for k, v := range line.buckets {
		if fork.buckets[k] != v {
			t.Fatalf("%q: %x, want %x", k, fork.buckets[k], v)
		}
	}
	if !reflect.DeepEqual(fork.rejects, line.rejects) {
		t.Fatalf("rejects %+v\nwant %+v", fork.rejects, line.rejects)
	}
}

// pmtaLineOnly hides the PowerMTA parser's ForkParser side, so the pipeline
// parses its chunks on the reader, line by line.
type pmtaLineOnly struct{ p *pmta.Parser }

func (l pmtaLineOnly) NewFile(path string, mt time.Time, h []byte) { l.p.NewFile(path, mt, h) }
func (l pmtaLineOnly) ParseLine(b []byte, dst []model.Event) ([]model.Event, error) {
	return l.p.ParseLine(b, dst)
}

// The fork path (chunks parsed and counted on their own goroutines, each
// with a copy of the parser in the header state the reader tracked, the
// counts merged by the writer) commits exactly what the line-by-line path
// commits: every counter, domain, via and reason bucket, the suppression
// index, the rejects with their lines, over files of several chunks whose
// header changes in mid-file (a pipe restart with other columns), with CRLF
// lines, a file starting without a header and damaged records.
func TestPipelineForkParserMatchesParseLine(t *testing.T) {
	dir := t.TempDir()
	files, _ := writeAcct(t, dir, 3, 5<<20)
	// Mid-file: a new header with rcpt and orig swapped and vmta moved
	// last, records in that order, then the old header again.
	alt := "type,timeLogged,timeQueued,rcpt,orig,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,jobId,envId,queue,vmtaPool,vmta"
	var mid bytes.Buffer
	mid.WriteString(alt + "\r\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&mid, "b,2019-02-08 23:%02d:%02d+0000,2019-02-08 21:54:05+0000,alt%d@gmx.de,bounce@bar.com,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 no such user,mx.gmx.de (10.1.2.3),bad-mailbox,smtp,client (127.0.0.1),smtp,10.0.1.%d,10.1.2.3,,,job,,gmx.de/vx%d,pool-b,vx%d\r\n",
			i/60%60, i%60, i, i%7, i%5, i%5)
		// (10,000 records of ~260 bytes: a chunk boundary falls among them)
		if i%997 == 0 {
			mid.WriteString("b,2019-02-08 23:00:00+0000,torn record\r\n")
		}
	}
	mid.WriteString(pmtaHeader + "\n")
	insertMid(t, files[1], mid.Bytes())
	// A file whose first records come before any header.
	noHdr := filepath.Join(dir, "acct-2019-02-08-0009.csv")
	if err := os.WriteFile(noHdr, []byte("d,2019-02-08 10:00:00+0000,,a@b.example\n"+pmtaHeader+"\nd,2019-02-08 10:00:01+0000,,,x@yahoo.com,,relayed,2.0.0 (success),smtp;250 ok,mx,,smtp,c,smtp,10.0.0.1,10.1.2.3,,1,v1,j,,yahoo.com/v1,p\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := pmta.Options{Location: time.UTC}
	if _, ok := ingest.Parser(pmtaLineOnly{}).(ingest.ForkParser); ok {
		t.Fatal("pmtaLineOnly must hide Fork")
	}
	glob := filepath.Join(dir, "acct-*.csv")
	fork := backfillDump(t, dir, "fork", "pmta", glob, pmta.New(opts))
	line := backfillDump(t, dir, "line", "pmta", glob, pmtaLineOnly{pmta.New(opts)})
	sameRun(t, fork, line)
	// The corpus did what it is for: alternate-header records counted
	// (gmx.de via vx* VirtualMTAs), torn records and the header-less one
	// rejected, and several chunks per file.
	if fork.sum.Rejected != 12 || fork.sum.Bytes < 15<<20 {
		t.Fatalf("corpus not exercised: %+v", fork.sum)
	}
	if !hasKeyWith(fork.buckets, "via/", "vx3") || !hasKeyWith(fork.buckets, "suppress_addr/", "alt9999@gmx.de") {
		t.Fatal("records after the mid-file header were not counted by their header")
	}
}

func hasKeyWith(m map[string]string, prefix, sub string) bool {
	for k := range m {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix && bytes.Contains([]byte(k), []byte(sub)) {
			return true
		}
	}
	return false
}

// insertMid inserts b after the line that ends nearest the middle of path.
func insertMid(t *testing.T, path string, b []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	out := append(append(append([]byte(nil), data[:i]...), b...), data[i:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// eximLineOnly hides the Exim parser's ForkParser side.
type eximLineOnly struct{ p *exim.Parser }

func (l eximLineOnly) NewFile(path string, mt time.Time, h []byte) { l.p.NewFile(path, mt, h) }
func (l eximLineOnly) ParseLine(b []byte, dst []model.Event) ([]model.Event, error) {
	return l.p.ParseLine(b, dst)
}

// Exim's chunks, parsed on their own goroutines, commit what the line by
// line path commits, over a real Exim 4.96 mainlog repeated past several
// chunks, with CRLF lines and rejected ones.
func TestPipelineForkEximMatchesParseLine(t *testing.T) {
	src, err := os.ReadFile("realmta/testdata/exim-mainlog")
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for i := 0; len(data) < 5<<20; i++ {
		for j, l := range bytes.SplitAfter(src, []byte("\n")) {
			if len(l) > 0 && (i+j)%7 == 0 {
				l = append(bytes.TrimSuffix(l, []byte("\n")), '\r', '\n')
			}
			data = append(data, l...)
		}
		data = append(data, fmt.Sprintf("2024-01-%02d 10:00:00 1rAbCd-000%d-XY ** broken%d\n", i%28+1, i%10, i)...)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "mainlog")
	if err := os.WriteFile(log, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := exim.Options{Location: time.UTC}
	fork := backfillDump(t, dir, "fork", "exim", log, exim.New(opts))
	line := backfillDump(t, dir, "line", "exim", log, eximLineOnly{exim.New(opts)})
	sameRun(t, fork, line)
	if fork.sum.Events == 0 || fork.sum.Bytes != int64(len(data)) {
		t.Fatalf("corpus not exercised: %+v", fork.sum)
	}
	t.Logf("%+v", fork.sum)
}
