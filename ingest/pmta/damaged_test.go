package pmta_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/pmta"
	"cutover/model"
	"cutover/state"
)

// The default accounting header (23 fields, PowerMTA User's Guide,
// "Accounting file format") and records in its layout.
const hdr = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

func rec(typ, rcpt, diag string) string {
	status := map[string]string{"d": "2.0.0 (success)", "b": "5.1.1 (bad destination mailbox address)", "t": "4.2.0 (other or undefined mail system status)"}[typ]
	dom := rcpt[strings.IndexByte(rcpt, '@')+1:]
	return fmt.Sprintf(`%s,2026-12-07 10:00:00+0000,2026-12-07 09:59:58+0000,bounce@mail.example.net,%s,,relayed,%s,"smtp;%s",mx.%s (192.0.2.7),,smtp,app1 (127.0.0.1),smtp,198.51.100.4,192.0.2.7,"PIPELINING,8BITMIME,SIZE",2048,vmta-new1,job7,,%s/vmta-new1,pool-a`,
		typ, rcpt, status, diag, dom, dom)
}

// Damaged lines are rejected wherever they stand: a torn write that ran the
// head of one record into the next (30 fields), a record a crash cut after
// nine fields, and a dsnDiag with quotes PowerMTA did not double. Their
// neighbours count; nothing of the damaged lines does.
func TestDamagedLinesRejected(t *testing.T) {
	good := rec("d", "ann@example.org", "250 2.0.0 OK")
	torn := strings.Join(strings.Split(rec("d", "bob@example.org", "250 ok"), ",")[:7], ",") + rec("b", "cy@example.org", "550 5.1.1 no such user")
	trunc := strings.Join(strings.Split(rec("d", "dee@example.org", "250 ok"), ",")[:9], ",")
	quotes := strings.Replace(rec("b", "eve@example.org", "x"), `"smtp;x"`, `"smtp;550 5.7.1 "blocked" see http://x"`, 1)

	p := pmta.New(pmta.Options{Location: time.UTC})
	p.NewFile("acct.csv", time.Time{}, nil)
	if _, err := p.ParseLine([]byte(hdr), nil); err != nil {
		t.Fatal(err)
	}
	for name, line := range map[string]string{"torn": torn, "truncated": trunc, "quoting": quotes,
		"one more": good + ",x", "one fewer": strings.TrimSuffix(good, ",pool-a"),
		"unclosed":                strings.Replace(good, `"smtp;250 2.0.0 OK"`, `"smtp;250 2.0.0 OK`, 1),
		"quote in unquoted field": strings.Replace(good, "job7", `job"7`, 1),
	} {
		evs, err := p.ParseLine([]byte(line), nil)
		var re *ingest.RejectError
		if !errors.As(err, &re) || len(evs) != 0 {
			t.Errorf("%s: want reject, got %v %+v", name, err, evs)
		}
	}
	// Doubled quotes are fine.
	ok := strings.Replace(good, `"smtp;250 2.0.0 OK"`, `"smtp;250 2.0.0 ""queued"" as 1"`, 1)
	if evs, err := p.ParseLine([]byte(ok), nil); err != nil || len(evs) != 1 || evs[0].Response != `250 2.0.0 "queued" as 1` {
		t.Fatalf("doubled quotes: %v %+v", err, evs)
	}

	// Through the pipeline: counts and `sources` (the database's rejects).
	dir := t.TempDir()
	lines := []string{hdr,
		good,
		rec("b", "fay@example.com", "550 5.1.1 <fay@example.com>: Recipient address rejected: User unknown"),
		torn, // line 4
		rec("d", "gus@example.com", "250 ok"),
		trunc, // line 6
		rec("t", "hal@example.org", "421 4.7.0 try later"),
		quotes, // line 8
		rec("d", "ivy@example.org", "250 ok"),
	}
	log := filepath.Join(dir, "acct-2026-12-07-0000.csv")
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pmta-new", Kind: "pmta", Side: model.SideNew, MTA: "pmta",
		Globs: []string{log}, Parser: pmta.New(pmta.Options{Location: time.UTC})}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := pl.Backfill(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pl.Close()
	rows, err := db.Stats(state.Query{By: "domain"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]state.Counts{}
	for _, r := range rows {
		c := got[r.Domain]
		c.Add(r.Counts)
		got[r.Domain] = c
	}
	want := map[string]state.Counts{
		"example.org": {Delivered: 2, Deferred: 1},
		"example.com": {Delivered: 1, Bounced: 1, HardBounce: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if sum.Rejected != 3 {
		t.Errorf("summary rejected %d, want 3", sum.Rejected)
	}
	srcs, err := db.Sources()
	if err != nil || len(srcs) != 1 || srcs[0].Rejected != 3 || srcs[0].Events != 5 {
		t.Fatalf("sources %+v %v", srcs, err)
	}
	rj, err := db.Rejects("pmta-new")
	if err != nil || len(rj) != 3 {
		t.Fatalf("rejects %+v %v", rj, err)
	}
	for i, wantLine := range []int64{4, 6, 8} {
		r := rj[i]
		off := int64(len(strings.Join(lines[:wantLine-1], "\r\n")) + 2)
		if r.Line != wantLine || r.Offset != off || r.Path != log || r.Text != lines[wantLine-1] {
			t.Errorf("reject %d: line %d offset %d %q, want line %d offset %d", i, r.Line, r.Offset, r.Text, wantLine, off)
		}
	}
}
