package follow

// Why this package exists instead of github.com/hpcloud/tail (listed in the
// design card): with the real library, rename rotation loses the lines the
// writer still appends to the old file, and a stat error other than "not
// exist" (a dropped sshfs mount) calls os.Exit(1) from inside the library.
// Both run in a child process (this test binary re-executed), because the
// second one kills its process and the library's goroutines outlive Stop.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hpcloud "github.com/hpcloud/tail"
)

const childEnv = "FOLLOW_HPCLOUD_CHILD"

// rotationScenario: 10 lines, rename to .1, 5 late lines through the old
// descriptor (syslog before its HUP), then 10 lines in a new file. settle
// runs after each step until the reader has what it can get.
func rotationScenario(t testing.TB, dir string, settle func(want int)) (lines []string) {
	p := filepath.Join(dir, "mail.log")
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	put := func(w *os.File, tag string, n int) {
		for i := range n {
			l := fmt.Sprintf("%s %d", tag, i)
			lines = append(lines, l)
			w.WriteString(l + "\n")
		}
	}
	put(w, "before", 10)
	settle(10)
	mustRename(t, p, p+".1")
	put(w, "late", 5) // still the old file
	w.Close()
	nw, _ := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	put(nw, "after", 10)
	nw.Close()
	settle(25)
	return lines
}

func hpcloudTail(t testing.TB, path string) *hpcloud.Tail {
	tl, err := hpcloud.TailFile(path, hpcloud.Config{Follow: true, ReOpen: true, Poll: true, Logger: hpcloud.DiscardingLogger})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// hpcloudChild is the child process side.
func hpcloudChild(t *testing.T, mode, dir string) {
	p := filepath.Join(dir, "mail.log")
	switch mode {
	case "rename":
		tl := hpcloudTail(t, p)
		got := 0
		settle := func(want int) {
			deadline := time.After(3 * time.Second)
			for got < want {
				select {
				case l := <-tl.Lines:
					got++
					fmt.Println("LINE", l.Text)
				case <-deadline:
					return
				}
			}
			// Let the 250 ms poller go quiet before the next step, so
			// the result does not depend on timing.
			time.Sleep(700 * time.Millisecond)
		}
		rotationScenario(t, dir, settle)
		fmt.Println("RECEIVED", got)
	case "vanish":
		os.WriteFile(p, []byte("one\ntwo\nthree\n"), 0o644)
		tl := hpcloudTail(t, p)
		for range 3 {
			<-tl.Lines
		}
		time.Sleep(300 * time.Millisecond)
		// The mount point goes bad: stat now fails with ENOTDIR, which
		// is not "not exist" (like ENOTCONN or EIO on sshfs).
		if err := os.Rename(dir, dir+".away"); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dir, []byte("x"), 0o644)
		time.Sleep(3 * time.Second)
		fmt.Println("SURVIVED")
	}
	os.Exit(0)
}

func runChild(t *testing.T, mode, dir string) (string, string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHpcloudTailDefects$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "FOLLOW_HPCLOUD_DIR="+dir)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestHpcloudTailDefects(t *testing.T) {
	if mode := os.Getenv(childEnv); mode != "" {
		hpcloudChild(t, mode, os.Getenv("FOLLOW_HPCLOUD_DIR"))
		return
	}
	if testing.Short() {
		t.Skip("runs child processes for several seconds")
	}

	t.Run("rename rotation loses late lines", func(t *testing.T) {
		out, stderr, err := runChild(t, "rename", t.TempDir())
		if err != nil {
			t.Fatalf("child: %v\n%s", err, stderr)
		}
		got := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "LINE "); ok {
				got[l] = true
			}
		}
		for i := range 5 {
			if got[fmt.Sprintf("late %d", i)] {
				t.Fatalf("hpcloud/tail read late line %d; the defect is gone?\n%s", i, out)
			}
		}
		if !got["before 9"] || !got["after 9"] || len(got) != 20 {
			t.Fatalf("hpcloud/tail read %d lines, want the 20 not late:\n%s", len(got), out)
		}

		// The same scenario, live, with this package: all 25.
		dir := t.TempDir()
		s := newSink(t)
		f := New(testOpts(dir, "mail.log*"), nil)
		defer f.Close()
		w := &writer{t: t, has: map[string]bool{}}
		for _, l := range rotationScenario(t, dir, func(int) { s.run(f, time.Second) }) {
			w.record(l)
		}
		s.exactlyOnce(w)
	})

	t.Run("stat error exits the process", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "logs")
		os.Mkdir(dir, 0o755)
		out, stderr, err := runChild(t, "vanish", dir)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Contains(out, "SURVIVED") {
			t.Fatalf("want exit status 1 from hpcloud/tail's util.Fatal, got %v\n%s\n%s", err, out, stderr)
		}
		if !strings.Contains(stderr, "Failed to stat file") {
			t.Fatalf("stderr: %s", stderr)
		}

		// This package under the same fault: stale, no exit, and back
		// when the directory is.
		dir = filepath.Join(t.TempDir(), "logs")
		os.Mkdir(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "mail.log"), []byte("one\ntwo\nthree\n"), 0o644)
		s := newSink(t)
		f := New(testOpts(dir, "mail.log"), nil)
		defer f.Close()
		s.run(f, time.Second)
		mustRename(t, dir, dir+".away")
		os.WriteFile(dir, []byte("x"), 0o644)
		s.pollUntil(f, time.Second, "stale", isStale)
		if st := f.Status(); !strings.Contains(st.LastError, "not a directory") {
			t.Fatalf("%+v", st)
		}
		os.Remove(dir)
		mustRename(t, dir+".away", dir)
		s.run(f, time.Second)
		if len(s.counts) != 3 || s.counts["three"] != 1 {
			t.Fatalf("%v", s.counts)
		}
	})
}
