package ingest_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

func postfixPipeline(t *testing.T, db *state.DB, globs ...string) *ingest.Pipeline {
	t.Helper()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
		Globs: globs, Parser: postfix.New(postfix.Options{Location: time.UTC})}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// Issue 13.10: a backfill of a file it cannot open fails at once, naming
// the path and the error, instead of waiting for it to become readable.
func TestBackfillUnreadableFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	if os.Geteuid() == 0 {
		// root reads any file: a socket cannot be opened either (ENXIO).
		ln, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	} else {
		os.WriteFile(p, []byte("x\n"), 0o644)
		os.Chmod(p, 0)
	}
	db, err := state.Open(filepath.Join(dir, "d.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl := postfixPipeline(t, db, p)
	defer pl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err = pl.Backfill(ctx, nil)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), p) || time.Since(t0) > 2*time.Second {
		t.Fatalf("after %v: %v (ctx %v)", time.Since(t0), err, ctx.Err())
	}
}

// Issue 13.10: a glob that matches nothing is kept as the source's warning
// in the database (for `sources` and `status` without an owner), and
// cleared when files appear; LAST LINE is the log's clock, kept when later
// lines carry no time (rejected).
func TestSourceWarningAndLogClock(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "d.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	glob := filepath.Join(dir, "mail.log*")
	backfill := func() {
		t.Helper()
		pl := postfixPipeline(t, db, glob)
		defer pl.Close()
		if _, err := pl.Backfill(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	backfill()
	srcs, err := db.Sources()
	if err != nil || len(srcs) != 1 || srcs[0].LastError != "warning: no file matches "+glob {
		t.Fatalf("sources %+v %v", srcs, err)
	}
	line := "Nov 27 03:00:01 mx postfix/smtp[9]: ABC001: to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)\n"
	p := filepath.Join(dir, "mail.log")
	os.WriteFile(p, []byte(line), 0o644)
	backfill()
	srcs, _ = db.Sources()
	if len(srcs) != 1 || srcs[0].LastError != "" {
		t.Fatalf("warning not cleared: %+v", srcs)
	}
	want := time.Date(time.Now().Year(), 11, 27, 3, 0, 1, 0, time.UTC)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage without a time\n")
	f.Close()
	backfill()
	curs, err := db.Cursors("pf")
	if err != nil || len(curs) != 1 {
		t.Fatalf("cursors %+v %v", curs, err)
	}
	if got := curs[0].LastLine; got.Year() != want.Year() && got.Year() != want.Year()-1 || got.Month() != 11 || got.Day() != 27 || got.Hour() != 3 {
		t.Fatalf("LAST LINE %v, want the log's %v", got, want)
	}
}
