package suppress

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/state"
	ssup "cutover/state/suppress"
)

const importChildEnv = "CUTOVER_SUPPRESS_IMPORT_CHILD"

// TestImportChild is the child of TestSIGKILLMidImport: it imports the
// file named in the environment and prints its progress until killed.
func TestImportChild(t *testing.T) {
	dir := os.Getenv(importChildEnv)
	if dir == "" {
		t.Skip("child of TestSIGKILLMidImport")
	}
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	opts := ImportOptions{DB: db, Provider: SendGrid, List: "bounces", BatchSize: 500, IndexBatch: 3000}
	_, err = Import(context.Background(), opts, []string{filepath.Join(dir, "bounces.csv")}, func(p Progress) {
		fmt.Println("progress", p.Rows)
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	db.Close()
	fmt.Println("done")
}

// A SIGKILL in the middle of an import leaves a log whose chain verifies;
// rerunning the import completes it without a duplicate.
func TestSIGKILLMidImport(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	valid, junk, dups := genExport(t, filepath.Join(dir, "bounces.csv"), 200_000)
	logPath := filepath.Join(dir, ssup.DefaultLogName)
	kills := 0
	var have int64 // lines in the log so far
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestImportChild$", "-test.v")
		cmd.Env = append(os.Environ(), importChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var last string
		for sc.Scan() {
			last = sc.Text()
			if strings.HasPrefix(last, "error") {
				t.Fatalf("child: %s", last)
			}
			var rows int64
			if _, err := fmt.Sscanf(last, "progress %d", &rows); err == nil && rows > have+5000 || last == "done" {
				break // past what earlier rounds logged: new lines are being written
			}
		}
		delay := time.Duration(rand.IntN(150)) * time.Millisecond
		time.Sleep(delay)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			kills++
		}
		for sc.Scan() {
			last = sc.Text()
		}
		cmd.Wait()
		rep, err := ssup.VerifyLog(logPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bad != nil {
			t.Fatalf("round %d: chain broken after SIGKILL: %s", round, rep)
		}
		t.Logf("round %d: killed %v after progress past %d rows (last output %q): %s", round, delay, have+5000, last, rep)
		have = rep.Valid
	}
	if kills == 0 {
		t.Fatal("never killed")
	}

	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opts := ImportOptions{DB: db, Provider: SendGrid, List: "bounces"}
	sum, err := Import(context.Background(), opts, []string{filepath.Join(dir, "bounces.csv")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rerun: accepted %d, duplicate %d, rejected %d; notices %q", sum.Accepted, sum.Duplicate, sum.Rejected, sum.Notices)
	if sum.Rejected != int64(junk) || sum.Accepted+sum.Duplicate != int64(valid+dups) {
		t.Fatalf("rerun summary %+v", sum)
	}
	rep, err := ssup.VerifyLog(logPath, db)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep, err)
	}
	if rep.Valid != int64(valid) || rep.TornTail != 0 {
		t.Fatalf("log has %d events, want %d: %s", rep.Valid, valid, rep)
	}
	evs := readLog(t, logPath)
	seen := map[logKey]bool{}
	for _, e := range evs {
		k := logKey{e.Addr, string(e.Type), e.Scope, e.Source, e.TS.String()}
		if seen[k] {
			t.Fatalf("duplicate %+v", k)
		}
		seen[k] = true
	}
	// the index agrees with the log
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := l.Stats()
	if err != nil || st.Events != uint64(valid) || st.Addresses != uint64(valid) {
		t.Fatalf("stats %+v %v", st, err)
	}
}
