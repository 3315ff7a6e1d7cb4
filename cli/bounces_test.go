package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/bounce"
	"cutover/model"
	"cutover/owner"
	"cutover/state"
	"cutover/state/suppress"
)

// In the re-executed cutover (CUTOVER_TEST_RUN_MAIN=1),
// CUTOVER_TEST_KILL_AT=<point>:<n> kills the process with SIGKILL the n-th
// time it reaches a crash point: sync-append (the pipeline made a batch's
// suppression events durable, its cursors are not committed), watch-append
// (the bounce watcher appended, nothing committed) or watch-commit
// (committed, messages not moved yet).
func init() {
	v := os.Getenv("CUTOVER_TEST_KILL_AT")
	if v == "" || os.Getenv("CUTOVER_TEST_RUN_MAIN") != "1" {
		return
	}
	point, nStr, _ := strings.Cut(v, ":")
	n, _ := strconv.Atoi(nStr)
	count := 0
	kill := func() {
		if count++; count == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	switch point {
	case "sync-append":
		ingest.TestHookAfterSuppressAppend = kill
	case "watch-append":
		bounce.TestHookAfterAppend = kill
	case "watch-commit":
		bounce.TestHookAfterCommit = kill
	}
}

// killedBySIGKILL reports a child that died of SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	return false
}

// readCanonical verifies the canonical log next to db and counts its
// events per address and type.
func readCanonical(t *testing.T, dbPath string) map[string]int {
	t.Helper()
	db, err := state.Open(dbPath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := suppress.Open(db, "", suppress.Options{}) // catches the index up after kills
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	path := suppress.DefaultLogPath(dbPath)
	rep, err := suppress.VerifyLog(path, db)
	if err != nil || !rep.OK() {
		t.Fatalf("log does not verify: %v %v", err, rep)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e, err := model.ParseSuppressionEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		got[string(e.Type)+" "+e.Addr]++
	}
	return got
}

func counts(t *testing.T, dbPath string) state.Counts {
	t.Helper()
	db, err := state.Open(dbPath, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return countsOf(t, db)
}

func countsOf(t *testing.T, db *state.DB) state.Counts {
	t.Helper()
	rows, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var c state.Counts
	for _, r := range rows {
		c.Add(r.Counts)
	}
	return c
}

// TestBouncesWatchCorpus runs the command over the test corpus in a
// maildir: hard bounces and complaints land in the log, nothing soft does,
// complaints are counted, every message leaves new/.
func TestBouncesWatchCorpus(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	os.MkdirAll(filepath.Join(md, "new"), 0o700)
	files, _ := filepath.Glob("../ingest/bounce/testdata/corpus/*.eml")
	bad, _ := filepath.Glob("../ingest/bounce/testdata/malformed/*.eml")
	for i, f := range append(files, bad...) {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(md, "new", fmt.Sprintf("1793600000.M%dP1.test", i)), b, 0o600)
	}
	db := filepath.Join(dir, "c.db")
	out := runCutover(t, "bounces", "watch", "--db", db, "--maildir", md, "--once", "--side", "new", "--side-map", "203.0.113.10=old")
	if !strings.Contains(string(out), fmt.Sprintf("%d messages", len(files)+len(bad))) {
		t.Errorf("output %s", out)
	}
	got := readCanonical(t, db)
	// The DSN's Final-Recipient names the failed address; the VERP return
	// path is only a fallback for a report that names nobody (issue 12).
	for _, must := range []string{"hard_bounce nobody@corp.example", "hard_bounce alice.forward@elsewhere.example", "hard_bounce gone.away@yahoo.com",
		"complaint kijitora@outlook.com", "complaint yuki@yahoo.com", "complaint tom.cat@aol.com"} {
		if got[must] != 1 {
			t.Errorf("%s: %d times in the log", must, got[must])
		}
	}
	for _, never := range []string{"buyer@shop.example", "someone@outlook.com", "hoarder@corp.example", "fan@gmail.com", "slow@corp.example", "loyal@yahoo.com", "happy@isp.example", "someone@receiver.example"} {
		for k := range got {
			if strings.HasSuffix(k, " "+never) {
				t.Errorf("%s is in the log but must not be suppressed", k)
			}
		}
	}
	if c := counts(t, db); c.Complaints != 10 {
		t.Errorf("complaints counted %d, want 10", c.Complaints)
	}
	if left, _ := os.ReadDir(filepath.Join(md, "new")); len(left) != 0 {
		t.Errorf("%d messages left in new/", len(left))
	}
}

// TestBouncesStdin: a pipe from the MTA. While another process holds the
// database the message is spooled into --maildir (exit 0); without a
// maildir the exit status is 75 so that the MTA retries.
func TestBouncesStdin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	msg, _ := os.ReadFile("../ingest/bounce/testdata/corpus/01-postfix-user-unknown.eml")
	pipe := func(args ...string) (int, string) {
		cmd := cutoverCmd(append([]string{"bounces", "watch", "--stdin", "--db", db}, args...)...)
		cmd.Stdin = bytes.NewReader(msg)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), errb.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, errb.String()
	}
	if code, out := pipe(); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if got := readCanonical(t, db); got["hard_bounce nobody@corp.example"] != 1 {
		t.Fatalf("log %v", got)
	}
	// Hold the database like a running cockpit does.
	holder, err := state.Open(db, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, out := pipe()
	if code != exTempFail {
		t.Errorf("locked, no maildir: exit %d (%s), want %d", code, out, exTempFail)
	}
	md := filepath.Join(dir, "spool")
	if code, out := pipe("--maildir", md); code != 0 || !strings.Contains(out, "spooled") {
		t.Errorf("locked, with maildir: exit %d: %s", code, out)
	}
	holder.Close()
	spooled, _ := os.ReadDir(filepath.Join(md, "new"))
	if len(spooled) != 1 {
		t.Fatalf("%d spooled messages", len(spooled))
	}
	if b, _ := os.ReadFile(filepath.Join(md, "new", spooled[0].Name())); !bytes.Equal(b, msg) {
		t.Error("spooled message differs")
	}
	// The watcher takes it from there; the log already has the event.
	runCutover(t, "bounces", "watch", "--db", db, "--maildir", md, "--once", "--quiet")
	if got := readCanonical(t, db); got["hard_bounce nobody@corp.example"] != 1 || len(got) != 1 {
		t.Errorf("log %v", got)
	}
}

// genReports writes n hard-bounce DSNs and n/2 ARF complaints, each for
// its own address, into dir/new.
func genReports(t *testing.T, dir string, n int) (hard, complaints []string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "new"), 0o700)
	for i := range n {
		a := fmt.Sprintf("gone%04d@corp.example", i)
		hard = append(hard, a)
		dsn := fmt.Sprintf(`From: MAILER-DAEMON@mx.corp.example
To: bounces@news.example.com
Date: Mon, 2 Nov 2026 10:%02d:%02d +0000
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b%d"

--b%d
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.corp.example

Final-Recipient: rfc822; %s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown

--b%d--
`, i/60%60, i%60, i, i, a, a, i)
		os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("1793600000.M%05dP1.dsn", i)), []byte(dsn), 0o600)
		if i%2 == 0 {
			c := fmt.Sprintf("fan%04d@isp.example", i)
			complaints = append(complaints, c)
			arf := fmt.Sprintf(`From: fbl@isp.example
To: fbl@news.example.com
Date: Mon, 2 Nov 2026 11:%02d:%02d +0000
Subject: Abuse report
Content-Type: multipart/report; report-type=feedback-report; boundary="a%d"

--a%d
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
Original-Rcpt-To: %s
Source-IP: 203.0.113.9

--a%d--
`, i/60%60, i%60, i, i, c, i)
			os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("1793600000.M%05dP2.arf", i)), []byte(arf), 0o600)
		}
	}
	return hard, complaints
}

// TestBouncesWatchSIGKILL kills "bounces watch" with SIGKILL right after a
// log append, right after a commit (before the moves), and at random
// times, restarting it each time: in the end every bounce and complaint is
// in the log exactly once and every complaint is counted once.
func TestBouncesWatchSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	db := filepath.Join(dir, "c.db")
	hard, complaints := genReports(t, md, 240)
	args := []string{"bounces", "watch", "--db", db, "--maildir", md, "--side", "new", "--batch", "16", "--quiet"}
	kills := 0
	for run := 0; run < 60; run++ {
		var cmd *exec.Cmd
		switch run % 3 {
		case 0, 1: // deterministic crash points, on the 2nd batch of the run
			cmd = cutoverCmd(append(args, "--once")...)
			point := "watch-append:2"
			if run%3 == 1 {
				point = "watch-commit:2"
			}
			cmd.Env = append(cmd.Env, "CUTOVER_TEST_KILL_AT="+point)
			err := cmd.Run()
			if err == nil {
				run = 1000 // done: nothing left for a second batch
				break
			}
			if !killedBySIGKILL(err) {
				t.Fatalf("run %d: %v", run, err)
			}
			kills++
		case 2: // a long-running watcher killed at a random moment
			cmd = cutoverCmd(append(args, "--poll", "10ms")...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(5+r.Intn(60)) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			kills++
		}
	}
	runCutover(t, append(args, "--once")...)
	got := readCanonical(t, db)
	for _, a := range hard {
		if got["hard_bounce "+a] != 1 {
			t.Errorf("%s: %d hard_bounce lines", a, got["hard_bounce "+a])
		}
	}
	for _, a := range complaints {
		if got["complaint "+a] != 1 {
			t.Errorf("%s: %d complaint lines", a, got["complaint "+a])
		}
	}
	if len(got) != len(hard)+len(complaints) {
		t.Errorf("%d distinct events, want %d", len(got), len(hard)+len(complaints))
	}
	if c := counts(t, db); c.Complaints != uint64(len(complaints)) {
		t.Errorf("complaints counted %d, want %d", c.Complaints, len(complaints))
	}
	if left, _ := os.ReadDir(filepath.Join(md, "new")); len(left) != 0 {
		t.Errorf("%d messages left in new/", len(left))
	}
	t.Logf("%d kills", kills)
}

// TestFollowSuppressionsSIGKILL follows a growing PowerMTA accounting file
// with hard bounces, soft bounces, policy blocks, deferrals and feedback
// records, killing "backfill --follow" right after a suppression append
// and at random times: every hard bounce and complaint ends up in the log
// exactly once, nothing soft does, and the counters match the file.
func TestFollowSuppressionsSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	acct := filepath.Join(dir, "acct-2026-11-02-0000.csv")
	db := filepath.Join(dir, "c.db")
	start := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	const n = 3000
	var lines []string
	want := map[string]bool{}
	var nHard, nComplaints int
	for i := range n {
		ts := start.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05-0700")
		switch i % 10 {
		case 0:
			a := fmt.Sprintf("dead%05d@corp.example", i)
			want["hard_bounce "+a] = true
			nHard++
			lines = append(lines, fmt.Sprintf("b,%s,news@s.example,%s,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 <%s>: user unknown,bad-mailbox,vmta-new,,", ts, a, a))
		case 1:
			lines = append(lines, fmt.Sprintf("b,%s,news@s.example,block%05d@outlook.com,failed,5.7.1,\"smtp;550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. (S3150)\",policy-related,vmta-new,,", ts, i))
		case 2:
			lines = append(lines, fmt.Sprintf("b,%s,news@s.example,full%05d@corp.example,failed,5.2.2,smtp;552 5.2.2 mailbox full,quota-issues,vmta-new,,", ts, i))
		case 3:
			lines = append(lines, fmt.Sprintf("t,%s,news@s.example,slow%05d@gmail.com,delayed,4.7.28,smtp;421-4.7.28 unusual rate - gsmtp,policy-related,vmta-new,,", ts, i))
		case 4:
			a := fmt.Sprintf("fan%05d@yahoo.com", i)
			want["complaint "+a] = true
			nComplaints++
			lines = append(lines, fmt.Sprintf("f,%s,,%s,,,,,,abuse,203.0.113.9", ts, a))
		default:
			lines = append(lines, fmt.Sprintf("d,%s,news@s.example,ok%05d@gmail.com,relayed,2.0.0,smtp;250 ok,,vmta-new,,", ts, i))
		}
	}
	hdr := "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,bounceCat,vmta,feedbackType,repSourceIp\n"
	if err := os.WriteFile(acct, []byte(hdr), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, _ := os.OpenFile(acct, os.O_WRONLY|os.O_APPEND, 0o644)
		defer f.Close()
		for i, l := range lines {
			f.WriteString(l + "\n")
			if i%40 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	args := []string{"backfill", "--follow", "--poll", "10ms", "--quiet", "--db", db, "--kind", "pmta", "--side", "new", acct}
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		cmd := cutoverCmd(args...)
		if kills%2 == 0 {
			cmd.Env = append(cmd.Env, "CUTOVER_TEST_KILL_AT=sync-append:"+strconv.Itoa(1+r.Intn(3)))
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(time.Duration(20+r.Intn(150))*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		if err != nil && !killedBySIGKILL(err) {
			t.Fatalf("backfill: %v\n%s", err, errb.String())
		}
		kills++
	}
	runCutover(t, "backfill", "--quiet", "--db", db, "--kind", "pmta", "--side", "new", acct)
	got := readCanonical(t, db)
	for k := range want {
		if got[k] != 1 {
			t.Errorf("%s: %d lines in the log", k, got[k])
		}
	}
	for k, c := range got {
		if !want[k] {
			t.Errorf("%s: %d lines in the log, must not be suppressed", k, c)
		}
	}
	c := counts(t, db)
	if c.HardBounce != uint64(nHard) || c.Complaints != uint64(nComplaints) || c.Bounced != uint64(3*n/10) {
		t.Errorf("counts %+v, want hard %d complaints %d bounced %d", c, nHard, nComplaints, 3*n/10)
	}
	t.Logf("%d kills", kills)
}

// TestOwnerBounces runs the follower pipeline and the bounce watcher in
// one process, as serve and the cockpit would: they share the canonical
// log and the database.
func TestOwnerBounces(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acct := filepath.Join(dir, "acct.csv")
	os.WriteFile(acct, []byte("type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,bounceCat,vmta\n"+
		"b,2026-11-02 10:00:00+0000,n@s.example,synced@corp.example,failed,5.1.1,smtp;550 5.1.1 user unknown,bad-mailbox,v\n"), 0o644)
	parser, _ := owner.NewParser("pmta", time.UTC)
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "acct", Kind: "pmta", Side: model.SideNew, MTA: "pmta", Globs: []string{acct}, Parser: parser}}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "Maildir")
	genReports(t, md, 6)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- pl.Run(ctx, 10*time.Millisecond) }()
	go func() {
		done <- owner.RunBounces(ctx, db, pl, owner.BouncesConfig{Maildir: md, Side: "new", Poll: "10ms"}, nil, func(string, ...any) {})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ := os.ReadDir(filepath.Join(md, "new"))
		if len(left) == 0 && countsOf(t, db).HardBounce == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	pl.Close()
	db.Close()
	got := readCanonical(t, filepath.Join(dir, "c.db"))
	if got["hard_bounce synced@corp.example"] != 1 || got["hard_bounce gone0005@corp.example"] != 1 || got["complaint fan0004@isp.example"] != 1 || len(got) != 1+6+3 {
		t.Errorf("log %v", got)
	}
}
