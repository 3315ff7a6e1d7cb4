package attach

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/ui"
)

// An owner in its own process, so the test can stop and kill it as an
// operator (or the kernel) would: the test binary run again with
// CUTOVER_TEST_OWNER=<socket>.
func init() {
	path := os.Getenv("CUTOVER_TEST_OWNER")
	if path == "" {
		return
	}
	l, err := Listen(path, ListenOptions{})
	if err != nil {
		os.Exit(3)
	}
	srv := &Server{Data: &fakeData{}}
	go srv.Serve(l)
	os.Stdout.WriteString("ready\n")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	srv.Close()
	os.Exit(0)
}

func startOwnerProcess(t *testing.T, sock string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CUTOVER_TEST_OWNER="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("owner process did not start: %q %v", buf, err)
	}
	return cmd
}

// waitDown polls OwnerDown until it reports down, and returns how long that
// took from start.
func waitDown(t *testing.T, c *Client, start time.Time, want bool) time.Duration {
	t.Helper()
	for time.Since(start) < 10*time.Second {
		since, _ := c.OwnerDown()
		if !since.IsZero() == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("owner down never became %v", want)
	return 0
}

// Issue 13 point 9: a viewer whose owner is gone showed frozen numbers as
// live. A stopped owner (SIGSTOP: its socket stays open, nothing answers)
// was never noticed; a killed one only as an error in the footer. Now the
// client knows within 2 s either way, re-attaches when the owner is back,
// and the cockpit shows the banner over greyed numbers.
func TestViewerSeesOwnerGoneWithin2s(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.db.sock")
	owner := startOwnerProcess(t, sock)
	c, err := Dial(context.Background(), sock, ClientOptions{Command: "cockpit", ReadOnly: true, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.HeartbeatMS <= 0 {
		t.Fatalf("welcome without heartbeat: %+v", w)
	}
	if _, err := c.Snapshot(ui.Window1h, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // idle but attached: heartbeats keep it so
	if since, _ := c.OwnerDown(); !since.IsZero() {
		t.Fatal("an idle owner was taken for gone")
	}

	// Stopped: the socket stays open.
	start := time.Now()
	owner.Process.Signal(syscall.SIGSTOP)
	// Designed for 1.5s (3 beats of 500ms); the bound is loose because the
	// machine may be loaded: before the heartbeat it was never noticed.
	d := waitDown(t, c, start, true)
	t.Logf("stopped owner noticed after %s", d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Fatalf("stopped owner noticed after %s, want about 1.5s", d)
	}
	_, why := c.OwnerDown()
	if why == nil || !strings.Contains(why.Error(), "owner gone") {
		t.Fatalf("why: %v", why)
	}

	// The cockpit over this client: banner, age of the last data, greyed
	// numbers, the take-over key offered.
	m := ui.New(c, ui.Options{TakeOver: func() {}})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 30})
	view := mm.(ui.Model).View()
	if !strings.Contains(view, "owner gone — reconnecting") || !strings.Contains(view, "take ownership") {
		t.Fatalf("no banner:\n%s", view)
	}

	// Continued: it re-attaches by itself.
	owner.Process.Signal(syscall.SIGCONT)
	waitDown(t, c, time.Now(), false)
	if _, err := c.Snapshot(ui.Window1h, time.Now()); err != nil {
		t.Fatalf("after re-attach: %v", err)
	}

	// Killed: noticed at once; a new owner on the same socket is re-attached.
	start = time.Now()
	owner.Process.Kill()
	owner.Wait()
	d = waitDown(t, c, start, true)
	t.Logf("killed owner noticed after %s", d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Fatalf("killed owner noticed after %s", d)
	}
	startOwnerProcess(t, sock)
	waitDown(t, c, time.Now(), false)
}
