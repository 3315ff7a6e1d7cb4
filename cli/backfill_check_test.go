package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ui/attach"
)

// Issue 13 point 14 through the real command: a directory, a binary file
// and a log of another kind exit non-zero and say what was wrong, where
// they printed "0 lines" and exited 0; a suppression import whose every
// row is rejected exits non-zero too. A rerun over a log already read
// still succeeds.
func TestBackfillWrongInputsFail(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	exim := filepath.Join(dir, "exim_mainlog")
	os.WriteFile(exim, []byte("2026-12-07 10:00:01 16VDhn-000000001bo-D342 => b@example.org R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1] C=\"250 OK\"\n"+
		"2026-12-07 10:00:01 16VDhn-000000001bo-D342 Completed\n"), 0o600)
	self, _ := os.Executable()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backfill", "--db", db, "--kind", "postfix", "--side", "old", dir}, "a directory, not a log file"},
		{[]string{"backfill", "--db", db, "--kind", "postfix", "--side", "old", self}, "a binary file"},
		{[]string{"backfill", "--db", db, "--kind", "postfix", "--side", "old", exim}, "2 lines, none of them a postfix log line"},
	} {
		out, errs := runCutoverFail(t, c.args...)
		if !strings.Contains(out+errs, c.want) {
			t.Fatalf("%v: want %q in\n%s\n%s", c.args, c.want, out, errs)
		}
	}
	// The right kind succeeds, and so does a rerun that reads nothing new.
	runCutover(t, "backfill", "--db", db, "--kind", "exim", "--side", "old", exim)
	if out := string(runCutover(t, "backfill", "--db", db, "--kind", "exim", "--side", "old", exim)); !strings.Contains(out, "0 lines") {
		t.Fatalf("rerun: %s", out)
	}

	exp := filepath.Join(dir, "sg.csv")
	os.WriteFile(exp, []byte("email,created\nnot-an-address,1\n,2\n"), 0o600)
	out, errs := runCutoverFail(t, "suppress", "import", "--db", db, "--provider", "sendgrid", "--list", "bounces", exp)
	if !strings.Contains(out+errs, "every row was rejected") {
		t.Fatalf("all-rejected import:\n%s\n%s", out, errs)
	}
}

// Issue 13 point 13 through the commands: after `backfill --db dir/d.db`
// (a hard bounce into the log) and `suppress check --db dir/s.db ADDR`, the
// check answered from d's log with s's empty index ("not in the
// suppression log", and verify-log "index matches at seq 0"). Now s has its
// own log and says whose the shared one is; naming d's log from s is
// refused; d still finds its address.
func TestTwoDatabasesOneDirectoryCommands(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "mail.log")
	os.WriteFile(logf, []byte("Jan 21 10:24:30 vps postfix/smtp[25289]: A492F101017: to=<x@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))\n"), 0o600)
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o600)
	d, s := filepath.Join(dir, "d.db"), filepath.Join(dir, "s.db")
	runCutover(t, "backfill", "--db", d, "--kind", "postfix", "--side", "old", logf)
	runCutover(t, "backfill", "--db", s, "--kind", "postfix", "--side", "old", empty)

	if out := string(runCutover(t, "suppress", "check", "--db", d, "x@example.com")); !strings.Contains(out, "hard_bounce") {
		t.Fatalf("d lost its address: %s", out)
	}
	out, errs := runCutoverFail(t, "suppress", "check", "--db", s, "x@example.com")
	if !strings.Contains(errs, "belongs to database "+d) || !strings.Contains(errs, "s.suppressions.jsonl") {
		t.Fatalf("s's check does not say whose log it is not reading:\n%s\n%s", out, errs)
	}
	_, errs = runCutoverFail(t, "suppress", "check", "--db", s, "--log", filepath.Join(dir, "suppressions.jsonl"), "x@example.com")
	if !strings.Contains(errs, "belongs to another database") {
		t.Fatalf("s reading d's log: %s", errs)
	}
	if out := string(runCutover(t, "suppress", "verify-log", "--db", s)); !strings.Contains(out, "s.suppressions.jsonl") {
		t.Fatalf("verify-log of s: %s", out)
	}
}

// Issue 13 point 2 with serve running: the import runs inside the owner, so
// an export of deeply nested objects (6 MB, a million levels) used to kill the owner
// (stack overflow after 1.6 GB), leaving .sock and .owner behind. Now the
// bad item is rejected with its line and byte, the good ones imported, and
// the owner keeps serving.
func TestHostileImportThroughServe(t *testing.T) {
	exports := t.TempDir()
	file := filepath.Join(exports, "sg_bounces.jsonl")
	// 200k levels (the unit test has the 1M case): quick under -race
	deep := strings.Repeat(`{"a":`, 200_000) + "1" + strings.Repeat("}", 200_000)
	os.WriteFile(file, []byte(`{"email":"a@example.com","created":1443651154,"reason":"x"}`+"\n"+deep+"\n"+
		`{"email":"b@example.com","created":1443651155,"reason":"y"}`+"\n"), 0o600)
	e := newEnv(t, "")
	startServe(t, e)
	out := string(runCutover(t, "suppress", "import", "--db", e.db, "--provider", "sendgrid", "--list", "bounces", file))
	if !strings.Contains(out, "accepted 2") || !strings.Contains(out, "rejected 1") || !strings.Contains(out, "nested deeper than 64 levels (line 2, byte 60)") {
		t.Fatalf("summary:\n%s", out)
	}
	// The owner is alive: a viewer attaches and reads the two addresses.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := attach.Dial(ctx, e.sock, attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatalf("owner gone after the import: %v", err)
	}
	defer cl.Close()
	if v, err := cl.SuppressionInfo(); err != nil || v.Stats.Events != 2 {
		t.Fatalf("after the import: %v %+v", err, v)
	}
}
