package mtactl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/state"
)

// The test binary doubles as a fake `pmta` (and as a second cutover process
// for the lock tests): no shell, no build step.
func TestMain(m *testing.M) {
	switch os.Getenv("MTACTL_TEST_ROLE") {
	case "fake":
		os.Exit(fakeCommand(os.Args[1:]))
	case "apply":
		os.Exit(helperApply())
	}
	os.Exit(m.Run())
}

// fakeCommand records its argv in $MTACTL_FAKE_DIR/calls and, for a verb
// (the first argument), prints fail-<verb>'s content and exits 1 when that
// file exists, or sleeps as long as sleep-<verb> says.
func fakeCommand(args []string) int {
	dir := os.Getenv("MTACTL_FAKE_DIR")
	f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Fprintln(f, strings.Join(args, " "))
	f.Close()
	verb := ""
	if len(args) > 0 {
		verb = args[0]
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sleep-"+verb)); err == nil {
		d, _ := time.ParseDuration(strings.TrimSpace(string(b)))
		time.Sleep(d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "fail-"+verb)); err == nil {
		os.Stderr.Write(b)
		return 1
	}
	if b, err := os.ReadFile(filepath.Join(dir, "failonce-"+verb)); err == nil {
		os.Remove(filepath.Join(dir, "failonce-"+verb))
		os.Stderr.Write(b)
		return 1
	}
	// "fake VERB -- CMD ARGS": after the fault checks, run the real command.
	if i := slices.Index(args, "--"); i >= 0 && i+1 < len(args) {
		cmd := exec.Command(args[i+1], args[i+2:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			fmt.Fprintln(os.Stderr, err)
			return 127
		}
		return 0
	}
	if verb == "test" {
		// With MTACTL_FAKE_CONFIG the fake reads the config's pattern
		// lists as PowerMTA does (pacing_test.go).
		if rc := fakePMTATestConfig(); rc != 0 {
			return rc
		}
		fmt.Println("configuration OK")
	}
	return 0
}

// fake is a fake MTA command directory.
type fake struct{ dir string }

func newFake(t *testing.T) *fake {
	t.Helper()
	return &fake{dir: t.TempDir()}
}

// argv runs the test binary as the fake with verb args.
func (f *fake) argv(args ...string) []string {
	// GORACE: a -race binary otherwise sleeps 1 s at exit.
	return append([]string{"env", "GORACE=atexit_sleep_ms=0", "MTACTL_TEST_ROLE=fake", "MTACTL_FAKE_DIR=" + f.dir, os.Args[0]}, args...)
}

func (f *fake) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (f *fake) failOn(t *testing.T, verb, msg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "fail-"+verb), []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fake) failOnce(t *testing.T, verb, msg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "failonce-"+verb), []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fake) clear(t *testing.T, verb string) {
	os.Remove(filepath.Join(f.dir, "fail-"+verb))
	os.Remove(filepath.Join(f.dir, "sleep-"+verb))
}

func (f *fake) sleepOn(t *testing.T, verb string, d time.Duration) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "sleep-"+verb), []byte(d.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func openDB(t *testing.T, path string) *state.DB {
	t.Helper()
	db, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// helperApply is a second cutover process: it opens the database and
// config named in its environment and applies a ratio, printing the error.
func helperApply() int {
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv("MTACTL_HELPER_CONFIG")), &cfg); err != nil {
		fmt.Println("config:", err)
		return 2
	}
	db, err := state.Open(os.Getenv("MTACTL_HELPER_DB"), state.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("ERROR:", err)
		return 1
	}
	defer db.Close()
	c, err := New(cfg, db)
	if err != nil {
		fmt.Println("ERROR:", err)
		return 1
	}
	ratio := 50
	if r := os.Getenv("MTACTL_HELPER_RATIO"); r != "" {
		fmt.Sscan(r, &ratio)
	}
	ch, err := c.Plan(c.Current().WithRatio(ratio, ""))
	if err == nil {
		_, err = c.Apply(t0ctx(), ch, CurrentWho("helper"), ApplyOptions{AcceptDrift: true})
	}
	if err != nil {
		fmt.Println("ERROR:", err)
		return 1
	}
	fmt.Println("OK")
	return 0
}

func t0ctx() context.Context { return context.Background() }
