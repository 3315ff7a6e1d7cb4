package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/mtactl"
	"cutover/owner"
	"cutover/ui/attach"
)

// viewer describes who a helper process runs as.
type viewer struct {
	cred *syscall.Credential // nil: this process's user
	user string
	bin  string // binary to run (a copy others can execute)
}

// otherUser returns uid/gid 65534 (nobody/nogroup) when running as root,
// with a copy of the test binary it may execute; ok is false elsewhere.
func otherUser(t *testing.T) (viewer, bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		return viewer{}, false
	}
	u, err := user.LookupId("65534")
	if err != nil {
		return viewer{}, false
	}
	// go test's build directory is private: copy the binary somewhere a
	// second user can execute it.
	dir, err := os.MkdirTemp("", "cutover-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "cutover.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	return viewer{cred: &syscall.Credential{Uid: 65534, Gid: 65534}, user: u.Username, bin: bin}, true
}

// openDirs lets another user reach the socket: only the socket's own mode
// then decides.
func openDirs(t *testing.T, e *env) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.db), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(e.dir), e.dir, filepath.Dir(e.db)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func (v viewer) command(env []string, args ...string) *exec.Cmd {
	bin := v.bin
	if bin == "" {
		bin = os.Args[0]
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if v.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: v.cred}
		cmd.Dir = "/"
	}
	return cmd
}

// helper runs a viewer helper process and returns its output and exit code.
func (v viewer) helper(t *testing.T, name, sock string, env ...string) (string, int, int) {
	t.Helper()
	cmd := v.command(append(env, "CUTOVER_TEST_HELPER="+name), sock)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code, cmd.Process.Pid
}

func history(t *testing.T, sock string) []mtactl.AuditEntry {
	t.Helper()
	cl, err := attach.Dial(context.Background(), sock, attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	h, err := cl.Control().History()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestViewerControlAppliedOnceAndAudited: a viewer process (another uid
// where the machine allows, in the configured group) moves the ratio
// through the owner; the owner applies it once with mtactl and the audit
// entry names the viewer's user (from the kernel) and SSH client (from its
// environment). A read-only viewer is refused.
func TestViewerControlAppliedOnceAndAudited(t *testing.T) {
	demoDir := t.TempDir()
	demoFile := filepath.Join(demoDir, "demo-control.json")
	v, other := otherUser(t)
	extra := "[mtactl.demo]\nfile = \"" + demoFile + "\"\n"
	wantUser := owner.CurrentUser()
	if other {
		extra = "[control]\ngroup = \"" + groupName(t, 65534) + "\"\n\n" + extra
		wantUser = v.user
	}
	e := newEnv(t, extra)
	if other {
		openDirs(t, e)
	}
	p := startServe(t, e)
	if other {
		fi, err := os.Stat(e.sock)
		if err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != 65534 {
			t.Fatalf("group socket: %v %v", fi.Mode(), err)
		}
	}

	out, code, pid := v.helper(t, "apply", e.sock, "SSH_CONNECTION=192.0.2.7 50122 198.51.100.1 22", "SSH_CLIENT=")
	if code != 0 {
		t.Fatalf("viewer apply: exit %d\n%s\nserve:\n%s", code, out, p.stderr)
	}
	var entry mtactl.AuditEntry
	if err := json.Unmarshal([]byte(out), &entry); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dc, err := mtactl.ReadDemoControl(demoFile)
	if err != nil || dc.RatioNew != 30 {
		t.Fatalf("demo control file: %+v %v", dc, err)
	}
	h := history(t, e.sock)
	if len(h) != 1 {
		t.Fatalf("%d audit entries, want 1: %+v", len(h), h)
	}
	who := h[0].Who
	if h[0].Result != "ok" || h[0].To.RatioNew != 30 || who.User != wantUser || who.SSHClient != "192.0.2.7 50122 22" ||
		who.PID != pid || !strings.Contains(who.Command, "attached test-apply") {
		t.Fatalf("audit entry %+v, want user %s pid %d", h[0], wantUser, pid)
	}
	if entry.ID != h[0].ID {
		t.Fatalf("viewer got entry %s, history has %s", entry.ID, h[0].ID)
	}

	out, code, _ = v.helper(t, "apply-read-only", e.sock)
	if code != 14 {
		t.Fatalf("read-only viewer: exit %d, want refusal\n%s", code, out)
	}
	if h := history(t, e.sock); len(h) != 1 {
		t.Fatalf("read-only viewer changed the audit log: %+v", h)
	}
	var applied, refused bool
	for _, l := range p.logLines() {
		switch l["msg"] {
		case "control applied":
			applied = l["user"] == wantUser && l["ssh_client"] == "192.0.2.7 50122 22"
		case "control refused":
			refused = true
		}
	}
	if !applied || !refused {
		t.Fatalf("serve log lacks the applied/refused control lines:\n%s", p.stderr)
	}
	// The status report shows the new ratio and who set it.
	rep, _ := statusJSON(t, "--config", e.cfg)
	if rep.RatioNew == nil || *rep.RatioNew != 30 || rep.Last == nil || !strings.HasPrefix(rep.Last.Who, wantUser) {
		t.Fatalf("status ratio/last change: %+v %+v", rep.RatioNew, rep.Last)
	}
}

func groupName(t *testing.T, gid int) string {
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Skipf("no group %d: %v", gid, err)
	}
	return g.Name
}

// TestSocketRefusesOtherUsers: without a group, another uid cannot use the
// socket (the file mode refuses it), and `cutover status` says so with
// exit 3 instead of a health mark.
func TestSocketRefusesOtherUsers(t *testing.T) {
	v, ok := otherUser(t)
	if !ok {
		t.Skip("needs root to run a process as uid 65534")
	}
	e := newEnv(t, "")
	openDirs(t, e)
	startServe(t, e)
	out, code, _ := v.helper(t, "dial", e.sock)
	if code != 13 {
		t.Fatalf("uid 65534 dialing a 0600 socket: exit %d, want permission denied\n%s", code, out)
	}
	cmd := v.command([]string{"CUTOVER_TEST_RUN_MAIN=1"}, "status", "--db", e.db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != owner.StatusExitUnknown || !strings.Contains(stderr.String(), "permission denied") {
		t.Fatalf("status as uid 65534: %v\n%s", err, stderr.String())
	}
}

// TestOwnerSurvivesKilledViewers: viewers SIGKILLed while streaming, and
// raw connections cut mid-frame, leave the owner serving and ingesting.
func TestOwnerSurvivesKilledViewers(t *testing.T) {
	e := newEnv(t, "")
	p := startServe(t, e)
	e.appendDeliveries(t, 200, 0, 1)
	waitDelivered(t, e, 200)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5; i++ {
		cmd := viewer{}.command([]string{"CUTOVER_TEST_HELPER=stream"}, e.sock)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "streaming\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("viewer: %q", line)
		}
		time.Sleep(time.Duration(r.Intn(30)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	for _, junk := range []string{`{"id":1,"op":"hello","body":{"version":1}}` + "\n" + `{"id":2,"op":"snapsh`, `{"id":1,"o`} {
		c, err := net.Dial("unix", e.sock)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(junk))
		c.Close()
	}
	if !p.alive() {
		t.Fatalf("owner died:\n%s", p.stderr)
	}
	e.appendDeliveries(t, 50, 0, 2)
	waitDelivered(t, e, 250) // a new viewer, and ingest went on
	if strings.Contains(p.stderr.String(), "panic") {
		t.Fatalf("owner log:\n%s", p.stderr)
	}
}

// TestViewerReconnectsAfterOwnerRestart: the owner is SIGKILLed (leaving
// its socket file behind) and started again; the viewer says the owner is
// gone meanwhile and then reattaches by itself.
func TestViewerReconnectsAfterOwnerRestart(t *testing.T) {
	e := newEnv(t, "")
	p := startServe(t, e)
	changes := make(chan struct{}, 100)
	cl, err := attach.Dial(context.Background(), e.sock, attach.ClientOptions{ReadOnly: true, MaxBackoff: 200 * time.Millisecond,
		OnChange: func() {
			select {
			case changes <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := cl.Welcome().Owner.PID
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil
	deadline := time.Now().Add(5 * time.Second)
	for ok, _ := cl.Connected(); ok; ok, _ = cl.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("viewer did not notice the owner died")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := cl.Sources(time.Now()); !errors.Is(err, attach.ErrOwnerGone) || !strings.Contains(err.Error(), "owner gone, reconnecting") {
		t.Fatalf("while the owner is gone: %v", err)
	}
	if _, err := os.Stat(e.sock); err != nil {
		t.Fatalf("a SIGKILLed owner leaves its socket: %v", err)
	}
	p2 := startServe(t, e) // replaces the dead socket
	deadline = time.Now().Add(10 * time.Second)
	for ok, _ := cl.Connected(); !ok; ok, _ = cl.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("viewer did not reattach")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid := cl.Welcome().Owner.PID; pid == first || pid != p2.cmd.Process.Pid {
		t.Fatalf("reattached to pid %d (first %d, new %d)", pid, first, p2.cmd.Process.Pid)
	}
	if _, err := cl.Sources(time.Now()); err != nil {
		t.Fatal(err)
	}
}
