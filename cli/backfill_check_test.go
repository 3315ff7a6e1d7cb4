package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
