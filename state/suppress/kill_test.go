package suppress

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const killChildEnv = "CUTOVER_SUPPRESS_KILL_CHILD"

const killTotal = 30000

// TestKillChild is the child of TestSIGKILLMidAppend: it appends killTotal
// events in batches of 100 and prints a line after each, until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("child of TestSIGKILLMidAppend")
	}
	db := openDB(t, dir)
	l := openLog(t, db, Options{IndexBatch: 700})
	for from := 0; from < killTotal; from += 100 {
		if _, err := l.Append(genEvents(100, from)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("batch", from/100)
	}
	l.Close()
	db.Close()
	fmt.Println("done")
}

// A SIGKILL in the middle of appends leaves a log whose chain verifies (a
// torn last line at most, cut on open); rerunning the same appends
// completes the log without a duplicate.
func TestSIGKILLMidAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	killed := 0
	// Kill a random moment after a given batch, so the kill can land
	// anywhere: inside a write, between the log fsync and the index commit.
	for round, after := range []int{3, 57, 140, 233} {
		delay := time.Duration(rand.IntN(1500)) * time.Microsecond
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
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
			if last == fmt.Sprint("batch ", after) {
				break
			}
		}
		time.Sleep(delay)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			killed++
		}
		for sc.Scan() {
			last = sc.Text()
		}
		cmd.Wait()

		path := filepath.Join(dir, DefaultLogName)
		rep, err := VerifyLog(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bad != nil {
			t.Fatalf("round %d: chain broken after SIGKILL: %s", round, rep)
		}
		t.Logf("round %d: killed %v after batch %d (last output %q): %s", round, delay, after, last, rep)
	}
	if killed == 0 {
		t.Fatal("child never killed")
	}

	// Rerun everything to completion in this process.
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})
	t.Logf("notices: %q", l.Notices())
	before := l.LastSeq()
	added := 0
	for from := 0; from < killTotal; from += 1000 {
		added += mustAppend(t, l, genEvents(1000, from)...)
	}
	if int(before)+added != killTotal {
		t.Fatalf("had %d, added %d, want %d in all", before, added, killTotal)
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != killTotal || st.Addresses != killTotal {
		t.Fatalf("stats %+v", st)
	}
	l.Close()
	rep := verifyOK(t, filepath.Join(dir, DefaultLogName), db)
	if rep.Valid != killTotal {
		t.Fatalf("%s", rep)
	}
	// every address exactly once in the log
	seen := map[string]bool{}
	for _, line := range logLines(t, filepath.Join(dir, DefaultLogName)) {
		i := strings.Index(line, `"addr":"`)
		a := line[i+8:]
		a = a[:strings.IndexByte(a, '"')]
		if seen[a] {
			t.Fatalf("duplicate %s", a)
		}
		seen[a] = true
	}
}
