package ingest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
)

const acctHeader = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,bounceCat,vmta,feedbackType,repSourceIp"

// syncLogs writes one log of each kind with hard bounces, complaints and
// everything that must NOT suppress (soft bounces, deferrals, 5.7.x blocks,
// expiries, not-spam reports), and returns the addresses that must end up
// in the log with their type.
func syncLogs(t testing.TB, dir string) (specs []ingest.SourceSpec, want map[string]model.SuppressionType) {
	t.Helper()
	want = map[string]model.SuppressionType{}
	acct := []string{acctHeader,
		"d,2026-11-02 10:00:00+0000,news@s.example,ok1@gmail.com,relayed,2.0.0 (success),smtp;250 ok,,vmta-new,,",
		"b,2026-11-02 10:00:01+0000,news@s.example,Dead.User@Gmail.com,failed,5.1.1 (bad destination mailbox address),smtp;550-5.1.1 The email account that you tried to reach does not exist. - gsmtp,bad-mailbox,vmta-new,,",
		"b,2026-11-02 10:00:02+0000,news@s.example,blocked@outlook.com,failed,5.7.1 (delivery not authorized),smtp;550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. (S3150).,policy-related,vmta-new,,",
		"b,2026-11-02 10:00:03+0000,news@s.example,full@yahoo.com,failed,5.2.2 (mailbox full),smtp;552 5.2.2 Mailbox full,quota-issues,vmta-new,,",
		"t,2026-11-02 10:00:04+0000,news@s.example,slow@gmail.com,delayed,4.7.28 (x),smtp;421-4.7.28 unusual rate - gsmtp,policy-related,vmta-new,,",
		"b,2026-11-02 10:00:05+0000,news@s.example,expired@aol.com,failed,4.4.7 (delivery time expired),smtp;421 try later,message-expired,vmta-new,,",
		"rb,2026-11-02 10:00:06+0000,news@s.example,gone@aol.com,failed,5.0.0,smtp;554 delivery error: dd This user doesn't have a aol.com account,bad-mailbox,,,",
		"b,2026-11-02 10:00:07+0000,news@s.example,unknown@x.example,failed,5.7.1 (delivery not authorized),smtp;550 5.7.1 <unknown@x.example>: Recipient address rejected: Access denied,bad-mailbox,vmta-new,,",
		"f,2026-11-02 10:00:08+0000,,complainer@yahoo.com,,,,,,abuse,203.0.113.9",
		"f,2026-11-02 10:00:09+0000,,happy@yahoo.com,,,,,,not-spam,203.0.113.9",
		"f,2026-11-02 10:00:10+0000,,,,,,,,abuse,203.0.113.9",                     // no address: counted, names nobody
		"f,2026-11-02 10:00:11+0000,,xxxxxxxx@comcast.net,,,,,,abuse,203.0.113.9", // redacted: the same
	}
	want["dead.user@gmail.com"] = model.SuppHardBounce
	want["gone@aol.com"] = model.SuppHardBounce
	want["complainer@yahoo.com"] = model.SuppComplaint
	pf := []string{
		"Nov  2 10:00:00 mx postfix/smtp[1]: AAA111: to=<pfdead@corp.example>, relay=mx.corp.example[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.spamfilter.example[198.51.100.1] said: 550 5.1.1 <pfdead@corp.example>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
		"Nov  2 10:00:01 mx postfix/smtp[1]: AAA112: to=<pfblock@corp.example>, relay=mx.corp.example[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=5.7.1, status=bounced (host mx.corp.example[198.51.100.1] said: 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org (in reply to RCPT TO command))",
		"Nov  2 10:00:02 mx postfix/smtp[1]: AAA113: to=<pfsoft@corp.example>, relay=mx.corp.example[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.corp.example[198.51.100.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))",
	}
	want["pfdead@corp.example"] = model.SuppHardBounce
	ex := []string{
		"2026-11-02 10:00:00 1xWezV-0002t1-2A ** exdead@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.1.26]: SMTP error from remote mail server after RCPT TO:<exdead@gmail.com>: 550-5.1.1 The email account that you tried to reach does not exist. - gsmtp",
		"2026-11-02 10:00:01 1xWezV-0002t1-2B ** exnodomain@nowhere.example: Unrouteable address",
		"2026-11-02 10:00:02 1xWezV-0002t1-2C == exdefer@gmail.com R=dnslookup T=remote_smtp defer (-44) H=gmail-smtp-in.l.google.com [142.250.1.26]: SMTP error from remote mail server after RCPT TO:<exdefer@gmail.com>: 421-4.7.28 unusual rate - gsmtp",
		"2026-11-02 10:00:03 1xWezV-0002t1-2D ** exexpired@defer.example: retry timeout exceeded",
		"2026-11-02 10:00:04 1xWezV-0002t1-2E ** expolicy@outlook.com R=dnslookup T=remote_smtp H=outlook-com.olc.protection.outlook.com [52.101.1.1]: SMTP error from remote mail server after end of data: 550 5.7.606 Access denied, banned sending IP [203.0.113.9].",
	}
	want["exdead@gmail.com"] = model.SuppHardBounce
	want["exnodomain@nowhere.example"] = model.SuppHardBounce
	write := func(name string, lines []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	specs = []ingest.SourceSpec{
		{Name: "new-acct", Kind: "pmta", Side: model.SideNew, MTA: "pmta", Globs: []string{write("acct.csv", acct)}, Parser: pmta.New(pmta.Options{})},
		{Name: "old-pf", Kind: "postfix", Side: model.SideOld, MTA: "pf", Globs: []string{write("mail.log", pf)}, Parser: postfix.New(postfix.Options{})},
		{Name: "old-exim", Kind: "exim", Side: model.SideOld, MTA: "exim", Globs: []string{write("main.log", ex)}, Parser: exim.New(exim.Options{})},
	}
	return specs, want
}

// readLog returns every event of the canonical log (verified first).
func readLog(t testing.TB, db *state.DB) []model.SuppressionEvent {
	t.Helper()
	path := suppress.DefaultLogPath(db.Path())
	rep, err := suppress.VerifyLog(path, db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("log does not verify: %s", rep)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.SuppressionEvent
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" {
			continue
		}
		e, err := model.ParseSuppressionEvent([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestSyncSuppressions(t *testing.T) {
	dir := t.TempDir()
	specs, want := syncLogs(t, dir)
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for run := 0; run < 2; run++ { // the second run reads nothing new
		pl, err := ingest.NewPipeline(db, specs, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pl.Backfill(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if err := pl.Close(); err != nil {
			t.Fatal(err)
		}
		specs, _ = syncLogs(t, dir) // fresh parsers, same files
	}
	evs := readLog(t, db)
	got := map[string]model.SuppressionType{}
	for _, e := range evs {
		if _, dup := got[e.Addr]; dup {
			t.Errorf("%s logged twice", e.Addr)
		}
		got[e.Addr] = e.Type
		if e.Scope != "account" || !strings.Contains(e.Origin, ":") || e.TS.IsZero() {
			t.Errorf("event %+v", e)
		}
	}
	for a, typ := range want {
		if got[a] != typ {
			t.Errorf("%s: got %q, want %q", a, got[a], typ)
		}
	}
	for a, typ := range got {
		if want[a] != typ {
			t.Errorf("%s logged as %q but must not be suppressed", a, typ)
		}
	}
	// Origin points at the line.
	for _, e := range evs {
		if e.Addr == "dead.user@gmail.com" {
			if e.Orig != "Dead.User@Gmail.com" || e.Source != "pmta:new-acct" || !strings.HasSuffix(e.Origin, filepath.Join(dir, "acct.csv")+":"+fmt.Sprint(len(acctHeader)+1+len("d,2026-11-02 10:00:00+0000,news@s.example,ok1@gmail.com,relayed,2.0.0 (success),smtp;250 ok,,vmta-new,,")+1)) {
				t.Errorf("event %+v", e)
			}
		}
	}
	// Counters agree: hard only for mailbox-invalid, complaints counted
	// even when redacted.
	rows, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var tot state.Counts
	for _, r := range rows {
		tot.Add(r.Counts)
	}
	if tot.HardBounce != uint64(len(want)-1) || tot.Complaints != 4 {
		t.Errorf("counts %+v, want %d hard, 4 complaints", tot, len(want)-1)
	}
}

// TestSyncSuppressionsSIGKILL kills a child process right after it made a
// batch's suppression events durable and before the batch (with its
// cursors) committed, again and again until the child gets through: every
// address is in the log exactly once, and the counters count it once.
func TestSyncSuppressionsSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	dir := t.TempDir()
	_, want := syncLogs(t, dir)
	// More volume: distinct hard bounces in many files (a file is read as
	// one chunk here, and a chunk is what a commit covers).
	for f := range 30 {
		more := []string{acctHeader}
		for j := range 4 {
			i := f*4 + j
			more = append(more, fmt.Sprintf("b,2026-11-02 11:%02d:%02d+0000,news@s.example,dead%03d@corp.example,failed,5.1.1,smtp;550 5.1.1 user unknown,bad-mailbox,vmta-new,,", i/60, i%60, i))
			more = append(more, fmt.Sprintf("d,2026-11-02 11:%02d:%02d+0000,news@s.example,live%03d@corp.example,relayed,2.0.0,smtp;250 ok,,vmta-new,,", i/60, i%60, i))
			want[fmt.Sprintf("dead%03d@corp.example", i)] = model.SuppHardBounce
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("more-%02d.csv", f)), []byte(strings.Join(more, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runs, killed := 0, 0
	for ; runs < 200; runs++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSyncSuppressionsChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CUTOVER_SYNC_CHILD="+dir)
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed++
				continue
			}
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	if killed < 3 {
		t.Fatalf("only %d kills in %d runs: the test did not exercise the crash window", killed, runs)
	}
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := suppress.Open(db, "", suppress.Options{}) // catches the index up
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	got := map[string]int{}
	for _, e := range readLog(t, db) {
		got[e.Addr]++
		if want[e.Addr] != e.Type {
			t.Errorf("%s logged as %s", e.Addr, e.Type)
		}
	}
	for a := range want {
		if got[a] != 1 {
			t.Errorf("%s logged %d times", a, got[a])
		}
	}
	rows, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var tot state.Counts
	for _, r := range rows {
		tot.Add(r.Counts)
	}
	if tot.HardBounce != uint64(len(want)-1) || tot.Delivered != 121 {
		t.Errorf("counts %+v after %d kills: want %d hard, 121 delivered", tot, killed, len(want)-1)
	}
	t.Logf("%d runs, %d killed between log append and commit", runs+1, killed)
}

// TestSyncSuppressionsChild is the child of the SIGKILL test: it backfills
// with small batches and kills itself after the second durable append.
func TestSyncSuppressionsChild(t *testing.T) {
	dir := os.Getenv("CUTOVER_SYNC_CHILD")
	if dir == "" {
		t.Skip("child of TestSyncSuppressionsSIGKILL")
	}
	specs, _ := syncLogs(t, dir)
	specs[0].Globs = append(specs[0].Globs, filepath.Join(dir, "more-*.csv"))
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ingest.TestHookAfterSuppressAppend = func() {
		if n++; n == 2 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{CommitEvents: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	pl.Close()
	db.Close()
}

// A reader of the log (the cockpit's suppression view and header warning,
// status) sees the pipeline's own hard bounces and complaints as soon as
// their batch commits, while the pipeline still holds the log open: the
// index is flushed with each batch, not only every 125k events.
func TestSyncSuppressionsVisibleToReaders(t *testing.T) {
	dir := t.TempDir()
	specs, want := syncLogs(t, dir)
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	r, err := suppress.Open(db, "", suppress.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Suppressed != uint64(len(want)) || st.LastSeq != uint64(len(want)) {
		t.Fatalf("a reader sees %d suppressed (seq %d), want %d", st.Suppressed, st.LastSeq, len(want))
	}
}
