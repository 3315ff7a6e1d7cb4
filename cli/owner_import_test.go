package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/owner"
	"cutover/owner/ownertest"
	"cutover/ui"
	"cutover/ui/attach"
)

// logLines counts the canonical log's events and their distinct
// (address, ts) keys (none when there is no log yet).
func logLines(t *testing.T, path string) (lines, distinct int) {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	key := regexp.MustCompile(`"addr":"[^"]*".*"ts":"[^"]*"`)
	for sc.Scan() {
		lines++
		seen[key.FindString(sc.Text())] = true
	}
	return lines, len(seen)
}

// stableSummary drops what differs between two runs of the same import:
// the elapsed time and the directory of the database.
func stableSummary(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "DIR")
	return regexp.MustCompile(`\([0-9.]+[mµn]?s\)`).ReplaceAllString(s, "(T)")
}

// TestSuppressImportThroughOwner: while `cutover serve` holds the
// database, `cutover suppress import` runs in the owner: the events land in
// the owner's log exactly once, the summary is a local import's, and a
// second run appends nothing.
func TestSuppressImportThroughOwner(t *testing.T) {
	exports := t.TempDir()
	file := filepath.Join(exports, "sendgrid_bounces.csv")
	want := ownertest.WriteSendGridBounces(t, file, 2000)

	e := newEnv(t, "")
	startServe(t, e)
	logPath := filepath.Join(filepath.Dir(e.db), "suppressions.jsonl")
	out := string(runCutover(t, "suppress", "import", "--db", e.db, "--provider", "sendgrid", file))
	if n, d := logLines(t, logPath); n != want || d != want {
		t.Fatalf("owner's log: %d lines, %d distinct; want %d of each\n%s", n, d, want, out)
	}
	t.Logf("through the owner:\n%s", out)
	// The owner committed the index: the totals viewers read are current.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := attach.Dial(ctx, e.sock, attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v, err := cl.SuppressionInfo()
	if err != nil || v.Stats.Events != uint64(want) || len(v.Imports) != 1 || v.Imports[0].State != ui.ImportDone || v.Imports[0].Accepted != int64(want) {
		t.Errorf("viewer after the import: %v %+v", err, v)
	}
	again := string(runCutover(t, "suppress", "import", "--db", e.db, "--provider", "sendgrid", file))
	if n, _ := logLines(t, logPath); n != want {
		t.Errorf("second import appended: %d lines, want %d", n, want)
	}
	if !strings.Contains(again, "nothing appended") || !strings.Contains(again, fmt.Sprintf("accepted 0, duplicate %d", want+2000/50-2000/100)) {
		t.Errorf("second import's summary:\n%s", again)
	}

	// The same import without an owner says the same, byte for byte.
	local := t.TempDir()
	ldb := filepath.Join(local, "db", "c.db")
	lout := string(runCutover(t, "suppress", "import", "--db", ldb, "--provider", "sendgrid", file))
	if a, b := stableSummary(out, filepath.Dir(e.db)), stableSummary(lout, filepath.Dir(ldb)); a != b {
		t.Errorf("summary through the owner:\n%s\nlocal summary:\n%s", a, b)
	}
	if !strings.Contains(out, fmt.Sprintf("accepted %d", want)) || !strings.Contains(out, "rejected 20") {
		t.Errorf("summary:\n%s", out)
	}
}

// TestSuppressImportOwnerCancel: an attached viewer sees the running
// import's per-file progress; a read-only session and a second import are
// refused while it runs; SIGINT to the CLI stops the owner's import with
// part of the file appended, and the rerun completes it exactly.
func TestSuppressImportOwnerCancel(t *testing.T) {
	exports := t.TempDir()
	small := filepath.Join(exports, "small.csv")
	ownertest.WriteSendGridBounces(t, small, 10)
	big := filepath.Join(exports, "big_bounces.csv")
	want := ownertest.WriteSendGridBounces(t, big, 150_000)

	e := newEnv(t, "")
	startServe(t, e)
	logPath := filepath.Join(filepath.Dir(e.db), "suppressions.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ro, err := attach.Dial(ctx, e.sock, attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	req := owner.ImportRequest{Provider: "sendgrid", Files: []string{small}}
	if err := ro.Call(ctx, attach.OpSuppressImport, req, nil); !errors.Is(err, attach.ErrReadOnly) {
		t.Fatalf("read-only session: %v, want ErrReadOnly", err)
	}
	if _, err := os.Stat(logPath); err == nil {
		if n, _ := logLines(t, logPath); n != 0 {
			t.Fatalf("a refused import appended %d events", n)
		}
	}

	cmd := cutoverCmd("suppress", "import", "--db", e.db, "--provider", "sendgrid", big)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// The read-only viewer sees the file's progress through suppress.info.
	var running ui.ImportFile
	for running.Rows == 0 {
		v, err := ro.SuppressionInfo()
		if err == nil && len(v.Imports) > 0 && v.Imports[0].State == ui.ImportRunning {
			running = v.Imports[0]
		}
		select {
		case err := <-done:
			t.Fatalf("import finished before it was seen running (%v): make the file bigger\n%s", err, stdout.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if running.File != big || running.Size == 0 || running.Bytes == 0 || running.Files != 1 || running.Rate <= 0 {
		t.Errorf("viewer's progress: %+v", running)
	}
	rw, err := attach.Dial(ctx, e.sock, attach.ClientOptions{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if err := rw.Call(ctx, attach.OpSuppressImport, req, nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second import while one runs: %v", err)
	}

	cmd.Process.Signal(syscall.SIGINT)
	if err := <-done; err == nil {
		t.Fatalf("interrupted import exited 0\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: %s", stderr.String())
	}
	n, d := logLines(t, logPath)
	if n == 0 || n >= want || d != n {
		t.Errorf("after the interrupt: %d events (%d distinct), want some of %d", n, d, want)
	}
	v, err := ro.SuppressionInfo()
	if err != nil || len(v.Imports) == 0 || v.Imports[0].State != ui.ImportCanceled {
		t.Errorf("viewer after the interrupt: %+v %v", v, err)
	}

	t.Logf("interrupted after %d of %d events; stderr %q", n, want, stderr.String())
	start := time.Now()
	out := string(runCutover(t, "suppress", "import", "--db", e.db, "--provider", "sendgrid", big))
	t.Logf("rerun in %s", time.Since(start))
	if n2, d2 := logLines(t, logPath); n2 != want || d2 != want {
		t.Errorf("after the rerun: %d events (%d distinct), want %d\n%s", n2, d2, want, out)
	}
	if !strings.Contains(out, fmt.Sprintf("accepted %d", want-n)) {
		t.Errorf("rerun summary (%d appended before):\n%s", n, out)
	}
}

// TestSuppressImportOwnerRefusesOtherUser: a user of the [control] group
// may attach and apply, but an import through the owner would read files
// and write rejects as the owner's user: the owner refuses it, the CLI
// says why and exits non-zero, and nothing is appended.
func TestSuppressImportOwnerRefusesOtherUser(t *testing.T) {
	v, ok := otherUser(t)
	if !ok {
		t.Skip("needs root to run a process as uid 65534")
	}
	e := newEnv(t, "[control]\ngroup = \""+groupName(t, 65534)+"\"\n")
	openDirs(t, e)
	startServe(t, e)
	exports := t.TempDir()
	os.Chmod(exports, 0o755)
	file := filepath.Join(exports, "sendgrid_bounces.csv")
	ownertest.WriteSendGridBounces(t, file, 20)

	cmd := v.command([]string{"CUTOVER_TEST_RUN_MAIN=1"}, "suppress", "import", "--db", e.db, "--provider", "sendgrid", file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "may not ask for one") {
		t.Fatalf("import as uid 65534: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if n, _ := logLines(t, filepath.Join(filepath.Dir(e.db), "suppressions.jsonl")); n != 0 {
		t.Errorf("a refused import appended %d events", n)
	}
}
