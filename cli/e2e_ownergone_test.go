package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/state"
)

// Issue 13 point 9 in a real terminal: a second cockpit attached to a
// running owner (the demo) showed the owner's last numbers as live for as
// long as it ran once the owner stopped. Now, with the owner stopped
// (SIGSTOP, its socket still open) the viewer shows the banner within about
// 1.5s; with the owner killed, O takes ownership and the viewer becomes the
// cockpit that owns the database.
func TestE2EViewerOwnerGone(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed; CI must install it (bash scripts/ci-deps.sh)")
		}
		t.Skip("tmux is not installed (apt-get install tmux, or bash scripts/ci-deps.sh)")
	}
	bin := buildCutover(t)
	dir, err := os.MkdirTemp("", "cutover-e2e-gone-")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "tmux.conf")
	os.WriteFile(conf, []byte("set -g status off\n"), 0o644)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TMUX", "TMUX_PANE", "NO_COLOR", "LC_ALL", "LANG", "LC_CTYPE", "TERM", "COLORTERM", "CI":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C.UTF-8", "TERM=xterm-256color", "TZ=UTC")
	demoDir := filepath.Join(dir, "demo")
	db := filepath.Join(demoDir, "cutover.db")
	cfg := filepath.Join(dir, "cutover.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[database]\npath = %q\n", db)), 0o600)

	owner := &tmuxTerm{t: t, sock: []string{"-S", filepath.Join(dir, "o.sock")}, env: env}
	viewer := &tmuxTerm{t: t, sock: []string{"-S", filepath.Join(dir, "v.sock")}, env: env}
	if len(owner.sock[1]) > 100 {
		owner.sock = []string{"-L", fmt.Sprintf("cutover-gone-o-%d", os.Getpid())}
		viewer.sock = []string{"-L", fmt.Sprintf("cutover-gone-v-%d", os.Getpid())}
	}
	var ownerPID int
	t.Cleanup(func() {
		if ownerPID > 0 {
			syscall.Kill(ownerPID, syscall.SIGCONT)
			syscall.Kill(ownerPID, syscall.SIGKILL)
		}
		viewer.cmd("kill-server")
		owner.cmd("kill-server")
		time.Sleep(300 * time.Millisecond)
		os.RemoveAll(dir)
	})
	owner.must("-f", conf, "new-session", "-d", "-x", "100", "-y", "30",
		fmt.Sprintf("'%s' demo --seed 1 --speed 600 --dir '%s' 2>'%s/owner.err'; sleep 60", bin, demoDir, dir))
	owner.waitFor("the demo cockpit", 60*time.Second, func(s string) bool { return strings.Contains(s, "rcpt/h") })
	o, err := state.ReadOwner(db)
	if err != nil || o == nil {
		t.Fatalf("owner file: %v", err)
	}
	ownerPID = o.PID

	viewer.must("-f", conf, "new-session", "-d", "-x", "100", "-y", "30",
		fmt.Sprintf("'%s' ui --config '%s' 2>'%s/viewer.err'; echo VIEWER-EXIT=$?; sleep 60", bin, cfg, dir))
	// The database is locked by the demo: the cockpit can only attach.
	viewer.waitFor("the attached viewer", 30*time.Second, func(s string) bool { return strings.Contains(s, "rcpt/h") })

	// 1. The owner stops: its socket stays open, nothing answers.
	start := time.Now()
	syscall.Kill(ownerPID, syscall.SIGSTOP)
	scr := viewer.waitFor("the owner-gone banner", 20*time.Second, func(s string) bool { return strings.Contains(s, "owner gone — reconnecting") })
	t.Logf("banner %s after SIGSTOP", time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(scr, "last data") || !strings.Contains(scr, "O take ownership") {
		t.Fatalf("banner lacks the data's age or the offer:\n%s", scr)
	}
	// 2. It comes back: the viewer re-attaches and the banner goes.
	syscall.Kill(ownerPID, syscall.SIGCONT)
	viewer.waitFor("the banner to go", 30*time.Second, func(s string) bool { return !strings.Contains(s, "owner gone") && strings.Contains(s, "rcpt/h") })
	// 3. It dies for good: O takes ownership.
	syscall.Kill(ownerPID, syscall.SIGKILL)
	ownerPID = 0
	viewer.waitFor("the owner-gone banner", 20*time.Second, func(s string) bool { return strings.Contains(s, "owner gone — reconnecting") })
	viewer.must("send-keys", "O")
	viewer.waitFor("the viewer to own the database", 30*time.Second, func(s string) bool {
		if strings.Contains(s, "owner gone") || !strings.Contains(s, "rcpt/h") {
			return false
		}
		n, err := state.ReadOwner(db)
		return err == nil && n != nil && n.PID != o.PID && strings.Contains(n.Command, "ui")
	})
	viewer.must("send-keys", "q")
	viewer.waitFor("the viewer to exit", 30*time.Second, func(s string) bool { return strings.Contains(s, "VIEWER-EXIT=") })
	if s := viewer.screen(false); !strings.Contains(s, "VIEWER-EXIT=0") {
		b, _ := os.ReadFile(filepath.Join(dir, "viewer.err"))
		t.Fatalf("viewer exit:\n%s\nstderr:\n%s", s, b)
	}
}
