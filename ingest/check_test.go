package ingest_test

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

// Lines from reference/mta-formats.md (the Postfix source's format strings,
// the Exim spec's layout, the PowerMTA manual's samples).
const (
	postfixLog = "Jan 21 10:24:29 vps postfix/smtpd[25280]: connect from unknown[10.240.35.3]\n" +
		"Jan 21 10:24:30 vps postfix/smtp[25289]: A492F101017: to=<javier@gmail.com>, relay=gmail-smtp-in.l.google.com[173.194.76.26]:25, delay=7.8, delays=0.05/0.01/0.26/7.5, dsn=2.0.0, status=sent (250 2.0.0 OK gsmtp)\n" +
		"Jan 21 10:24:30 vps postfix/qmgr[9341]: A492F101017: removed\n"
	postfixNoOutcome = "Jan 21 10:24:29 vps postfix/smtpd[25280]: connect from unknown[10.240.35.3]\n" +
		"Jan 21 10:24:31 vps postfix/smtpd[25280]: disconnect from unknown[10.240.35.3] ehlo=1 quit=1 commands=2\n"
	eximLog = "2026-12-07 10:00:00 16VDhn-000000001bo-D342 <= a@example.com H=mx [10.0.0.1] P=esmtp S=1000\n" +
		"2026-12-07 10:00:01 16VDhn-000000001bo-D342 => b@example.org R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1] C=\"250 OK\"\n" +
		"2026-12-07 10:00:01 16VDhn-000000001bo-D342 Completed\n"
	pmtaLog = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta\n" +
		"d,2019-02-08 21:54:05+0000,2019-02-08 21:54:05+0000,bounce@bar.com,D@1181.com,,relayed,2.0.0 (success),smtp;250 DATA ok,foo.int.port25.com (10.1.2.3)\n"
)

func parserOf(kind string) ingest.Parser {
	switch kind {
	case "pmta":
		return pmta.New(pmta.Options{Location: time.UTC})
	case "exim":
		return exim.New(exim.Options{Location: time.UTC})
	}
	return postfix.New(postfix.Options{Location: time.UTC})
}

// backfill runs a real pipeline over files, as `cutover backfill` does.
func backfill(t *testing.T, kind string, files ...string) ingest.Summary {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "b", Kind: kind, Side: model.SideOld, MTA: kind,
		Globs: files, Parser: parserOf(kind)}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	sum, err := pl.Backfill(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 13 point 14: backfill of a directory, a binary file or a file with
// no line of its kind ended "0 lines" (or "N lines, 0 events") with exit 0.
func TestBackfillChecks(t *testing.T) {
	dir := t.TempDir()
	if err := ingest.CheckLogFile(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: %v", err)
	}
	self, _ := os.Executable() // a real binary: the test program
	if err := ingest.CheckLogFile(self); err == nil || !strings.Contains(err.Error(), "binary file") {
		t.Fatalf("binary: %v", err)
	}
	if err := ingest.CheckLogFile("/dev/null"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("/dev/null: %v", err)
	}
	// A log whose end a crash filled with NUL bytes is still a log.
	nul := write(t, dir, "nul.log", postfixLog+strings.Repeat("\x00", 4096))
	if err := ingest.CheckLogFile(nul); err != nil {
		t.Fatal(err)
	}
	logs := map[string]string{"postfix": postfixLog, "exim": eximLog, "pmta": pmtaLog}
	for kind, body := range logs {
		p := write(t, dir, kind+".log", body)
		if err := ingest.CheckLogFile(p); err != nil {
			t.Fatal(err)
		}
		gz := filepath.Join(dir, kind+".log.1.gz")
		f, _ := os.Create(gz)
		zw := gzip.NewWriter(f)
		zw.Write([]byte(body))
		zw.Close()
		f.Close()
		if err := ingest.CheckLogFile(gz); err != nil {
			t.Fatalf("gzip: %v", err)
		}
		// The right kind counts events: no verdict.
		if sum := backfill(t, kind, p); sum.Events == 0 || ingest.BackfillVerdict(sum, kind, []string{p}) != nil {
			t.Fatalf("%s over its own log: %+v %v", kind, sum, ingest.BackfillVerdict(sum, kind, []string{p}))
		}
		// Every other kind reads the lines, counts nothing, and is told so.
		for other := range logs {
			if other == kind {
				continue
			}
			sum := backfill(t, other, p)
			err := ingest.BackfillVerdict(sum, other, []string{p})
			want := " lines, none of them a " + other + " log line"
			if sum.Lines == 0 || err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("%s log read as %s: %+v, verdict %v", kind, other, sum, err)
			}
			if _, k, _ := ingest.CountKindLines(gz, other); k != 0 {
				t.Fatalf("%s lines seen in a %s log", other, kind)
			}
		}
	}
	// Lines of the kind but no outcome (connects only): fine.
	p := write(t, dir, "connects.log", postfixNoOutcome)
	if sum := backfill(t, "postfix", p); ingest.BackfillVerdict(sum, "postfix", []string{p}) != nil || sum.Lines != 2 {
		t.Fatalf("connect-only log: %+v", sum)
	}
	// A rerun that reads nothing new is fine; every outcome rejected is not.
	if ingest.BackfillVerdict(ingest.Summary{}, "postfix", nil) != nil {
		t.Fatal("empty run judged")
	}
	if err := ingest.BackfillVerdict(ingest.Summary{Lines: 5, Rejected: 5}, "exim", nil); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("all rejected: %v", err)
	}
}
