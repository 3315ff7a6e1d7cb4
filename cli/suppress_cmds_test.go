package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCutoverFail runs the real binary and expects a non-zero exit.
func runCutoverFail(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cutoverCmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err == nil {
		t.Fatalf("cutover %v succeeded, want a failure\nstdout:\n%s", args, out.String())
	} else if !strings.Contains(err.Error(), "exit status") && !errorsAs(err, &ee) {
		t.Fatalf("cutover %v: %v", args, err)
	}
	return out.String(), errb.String()
}

func errorsAs(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*ee = e
	}
	return ok
}

func writeT(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSuppressCLI drives `cutover suppress` through the real binary: two
// providers with a shared address, a junk row, a re-import that appends
// nothing, stats, check, exports, verify-log on a good and an edited log,
// rebuild-index.
func TestSuppressCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cutover.db")
	sg := filepath.Join(dir, "global_unsubscribes.csv")
	writeT(t, sg, "\ufeffemail,created\r\nAlice@Example.com,1420074061\r\nbob@example.org,1420074062\r\ngmail.com,1420074063\r\n")
	list := filepath.Join(dir, "legacy-access")
	writeT(t, list, "# legacy postfix access map\nalice@example.com REJECT\ncarol@example.net REJECT gone\n")

	out := string(runCutover(t, "suppress", "import", "--db", db, "--provider", "sendgrid", sg))
	if !strings.Contains(out, "gmail.com") && !strings.Contains(strings.ToLower(out), "reject") {
		t.Errorf("summary does not report the junk row:\n%s", out)
	}
	runCutover(t, "suppress", "import", "--db", db, "--provider", "list", "--type", "hard_bounce", "--list", "legacy", list)
	again := string(runCutover(t, "suppress", "import", "--db", db, "--provider", "sendgrid", sg))
	if !strings.Contains(again, "duplicate") && !strings.Contains(again, "Duplicate") {
		t.Logf("re-import summary:\n%s", again)
	}

	var st struct {
		Addresses uint64 `json:"addresses"`
		Events    uint64 `json:"events"`
		ByType    map[string]struct {
			Addresses uint64 `json:"addresses"`
		} `json:"by_type"`
		BySource map[string]struct {
			Addresses uint64 `json:"addresses"`
		} `json:"by_source"`
	}
	if err := json.Unmarshal(runCutover(t, "suppress", "stats", "--db", db, "--json"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Addresses != 3 || st.Events != 4 {
		t.Errorf("stats: %d addresses, %d events; want 3 and 4 (re-import appended nothing)", st.Addresses, st.Events)
	}
	if st.ByType["unsubscribe"].Addresses != 2 || st.ByType["hard_bounce"].Addresses != 2 {
		t.Errorf("by type: %+v", st.ByType)
	}
	if len(st.BySource) != 2 {
		t.Errorf("by source: %+v", st.BySource)
	}

	chk := string(runCutover(t, "suppress", "check", "--db", db, "ALICE@example.com"))
	if !strings.Contains(chk, "2 events") || !strings.Contains(chk, "unsubscribe") || !strings.Contains(chk, "hard_bounce") {
		t.Errorf("check:\n%s", chk)
	}
	if o, _ := runCutoverFail(t, "suppress", "check", "--db", db, "dave@example.com"); !strings.Contains(o, "not in the suppression log") {
		t.Errorf("check of an unknown address: %q", o)
	}

	pf := string(runCutover(t, "suppress", "export", "--format", "postfix", "--db", db))
	for _, a := range []string{"alice@example.com", "bob@example.org", "carol@example.net"} {
		if !strings.Contains(pf, a+" REJECT") {
			t.Errorf("postfix export lacks %s:\n%s", a, pf)
		}
	}
	exim := filepath.Join(dir, "exim-suppressed")
	runCutover(t, "suppress", "export", "--format", "exim", "--db", db, "--out", exim)
	if b, _ := os.ReadFile(exim); !strings.Contains(string(b), "carol@example.net") {
		t.Errorf("exim export:\n%s", b)
	}

	runCutover(t, "suppress", "verify-log", "--db", db)
	// edit a line in the middle: the chain breaks at the next line
	logPath := filepath.Join(dir, "suppressions.jsonl")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte("bob@example.org"), []byte("bob@example.com"), 1)
	writeT(t, logPath, string(edited))
	_, errOut := runCutoverFail(t, "suppress", "verify-log", "--db", db)
	if !strings.Contains(errOut, "line ") {
		t.Errorf("verify-log does not name the bad line: %s", errOut)
	}
	// restore, then a rebuild from the log alone gives the same stats
	writeT(t, logPath, string(b))
	runCutover(t, "suppress", "verify-log", "--db", db)
	if o := string(runCutover(t, "suppress", "rebuild-index", "--db", db)); !strings.Contains(o, "4 events") {
		t.Errorf("rebuild-index: %s", o)
	}
}

// TestSuppressExportVerifyDemo installs the export into the demo target
// through mtactl (audit entry) and verifies it; removing one address from
// the installed file by hand makes verify fail naming it.
func TestSuppressExportVerifyDemo(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cutover.db")
	cfg := filepath.Join(dir, "cutover.toml")
	writeT(t, cfg, "[database]\npath = \"cutover.db\"\n\n[mtactl.demo]\nfile = \""+filepath.Join(dir, "demo-control.json")+"\"\n")
	list := filepath.Join(dir, "list.txt")
	writeT(t, list, "a@example.com\nb@example.com\nc@example.org\n")
	runCutover(t, "suppress", "import", "--db", db, "--provider", "list", "--type", "unsubscribe", list)

	runCutoverFail(t, "suppress", "export", "--config", cfg) // no --yes, stdin not a terminal
	out := string(runCutover(t, "suppress", "export", "--config", cfg, "--yes"))
	if !strings.Contains(out, "installed 3 addresses") {
		t.Fatalf("export: %s", out)
	}
	installed := filepath.Join(dir, "cutover-suppressed.txt")
	if b, _ := os.ReadFile(installed); string(b) != "a@example.com\nb@example.com\nc@example.org\n" {
		t.Errorf("installed file: %q", b)
	}
	if o := string(runCutover(t, "suppress", "export", "--config", cfg, "--yes")); !strings.Contains(o, "nothing to install") {
		t.Errorf("second export: %s", o)
	}
	hist := string(runCutover(t, "history", "--config", cfg))
	if !strings.Contains(hist, "suppress-export") {
		t.Errorf("history lacks the export:\n%s", hist)
	}
	if o := string(runCutover(t, "suppress", "verify", "--config", cfg)); !strings.Contains(o, "VERIFIED") {
		t.Errorf("verify: %s", o)
	}
	writeT(t, installed, "a@example.com\nc@example.org\n")
	o, e := runCutoverFail(t, "suppress", "verify", "--config", cfg)
	if !strings.Contains(o, "- b@example.com") || !strings.Contains(e, "b@example.com") {
		t.Errorf("verify after a removal:\nstdout %s\nstderr %s", o, e)
	}
	var st struct {
		Verifications []struct {
			Target       string `json:"target"`
			OK           bool   `json:"ok"`
			MissingCount int    `json:"missing_count"`
		} `json:"verifications"`
	}
	if err := json.Unmarshal(runCutover(t, "suppress", "stats", "--db", db, "--json"), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Verifications) != 1 || st.Verifications[0].OK || st.Verifications[0].MissingCount != 1 {
		t.Errorf("recorded verification: %+v", st.Verifications)
	}
}
