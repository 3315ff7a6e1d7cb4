package cli

import (
	"bufio"
	"bytes"
	"context"
	"cutover/owner"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cutover/mtactl"
	"cutover/ui"
	"cutover/ui/attach"
)

// Helper processes: the test binary re-executed with CUTOVER_TEST_HELPER
// acts as a viewer (a real process on the real socket), so it can run as
// another uid or be SIGKILLed mid-stream.
func init() {
	h := os.Getenv("CUTOVER_TEST_HELPER")
	if h == "" {
		return
	}
	os.Exit(testHelper(h, os.Args[1:]))
}

func testHelper(name string, args []string) int {
	sock := args[0]
	readOnly := name == "apply-read-only"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := attach.Dial(ctx, sock, attach.ClientOptions{ReadOnly: readOnly, Command: "test-" + name})
	if err != nil {
		fmt.Println("dial error:", err)
		if errors.Is(err, os.ErrPermission) {
			return 13
		}
		return 1
	}
	defer cl.Close()
	switch name {
	case "apply", "apply-read-only":
		rem := cl.Control()
		cur, err := rem.Current()
		if err != nil {
			fmt.Println("current error:", err)
			return 1
		}
		ch, err := rem.Plan(cur.WithRatio(30, ""))
		if err != nil {
			fmt.Println("plan error:", err)
			if errors.Is(err, attach.ErrReadOnly) {
				return 14
			}
			return 1
		}
		e, err := rem.Apply(ctx, ch, mtactl.ApplyOptions{})
		if err != nil {
			fmt.Println("apply error:", err)
			return 1
		}
		json.NewEncoder(os.Stdout).Encode(e)
		return 0
	case "stream":
		// Ask as fast as the owner answers, until killed.
		for i := 0; ; i++ {
			if _, err := cl.Snapshot(ui.Window24h, time.Now()); err != nil {
				fmt.Println("snapshot error:", err)
				return 1
			}
			if _, err := cl.Detail("google", ui.Window24h, time.Now()); err != nil {
				fmt.Println("detail error:", err)
				return 1
			}
			if i == 0 {
				fmt.Println("streaming")
			}
		}
	}
	return 2
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a serve setup: a config following one Postfix log.
type env struct {
	dir, cfg, db, log, sock string
}

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, cfg: filepath.Join(dir, "c.toml"), db: filepath.Join(dir, "db", "c.db"), log: filepath.Join(dir, "mail.log")}
	e.sock = attach.SocketPath(e.db)
	cfg := fmt.Sprintf("[database]\npath = %q\n\n[[source]]\nname = \"old-postfix\"\nkind = \"postfix\"\nside = \"old\"\nglobs = [%q]\npoll = \"50ms\"\n\n%s",
		e.db, e.log, extra)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// appendDeliveries appends n Postfix lines timestamped now: delivered to
// gmail.com, and every deferEvery-th one deferred (0: none).
func (e *env) appendDeliveries(t *testing.T, n, deferEvery int, seq int) {
	t.Helper()
	f, err := os.OpenFile(e.log, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := time.Now().Format(time.Stamp)
	var b strings.Builder
	for i := 0; i < n; i++ {
		qid := fmt.Sprintf("%04X%06X", seq, i)
		if deferEvery > 0 && i%deferEvery == 0 {
			fmt.Fprintf(&b, "%s mx1 postfix/smtp[20]: %s: to=<u%d@gmail.com>, relay=mx.gmail.com[203.0.113.5]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status=deferred (host mx.gmail.com[203.0.113.5] said: 421 4.7.28 rate limited (in reply to end of DATA command))\n", ts, qid, i)
			continue
		}
		fmt.Fprintf(&b, "%s mx1 postfix/smtp[20]: %s: to=<u%d@gmail.com>, relay=mx.gmail.com[203.0.113.5]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)\n", ts, qid, i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

type serveProc struct {
	cmd     *exec.Cmd
	stderr  *lockedBuffer
	metrics string // host:port
	done    chan error
}

// startServe runs `cutover serve` and waits until it listens.
func startServe(t *testing.T, e *env, args ...string) *serveProc {
	t.Helper()
	cmd := cutoverCmd(append([]string{"serve", "--config", e.cfg, "--log-format", "json"}, args...)...)
	p := &serveProc{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, l := range p.logLines() {
			if l["msg"] == "metrics listening" {
				p.metrics, _ = l["addr"].(string)
			}
			if l["msg"] == "serving" {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited: %v\n%s", err, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serveProc) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// stop sends SIGTERM and returns the exit error.
func (p *serveProc) stop(t *testing.T) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", p.stderr)
	}
	return nil
}

func (p *serveProc) alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// statusJSON runs `cutover status --json` and returns the report and the
// exit code.
func statusJSON(t *testing.T, args ...string) (*owner.StatusReport, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cutoverCmd(append([]string{"status", "--json"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep owner.StatusReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("status exit %d: %v\nstdout:\n%s\nstderr:\n%s", code, err, out.String(), errb.String())
	}
	return &rep, code
}

func delivered(rep *owner.StatusReport) uint64 {
	return rep.Old.Counts.Delivered + rep.New.Counts.Delivered
}

// waitDelivered polls status until the owner committed want deliveries.
func waitDelivered(t *testing.T, e *env, want uint64) *owner.StatusReport {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, _ := statusJSON(t, "--config", e.cfg)
		if delivered(rep) == want {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, want %d", delivered(rep), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeTwoViewersSameCounts(t *testing.T) {
	e := newEnv(t, "")
	p := startServe(t, e)
	fi, err := os.Stat(e.sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	e.appendDeliveries(t, 400, 10, 1)
	waitDelivered(t, e, 360)

	// Two viewer processes at once, and a third in this process through
	// the same ui.Data the attached cockpit uses.
	type res struct {
		rep  *owner.StatusReport
		code int
	}
	results := make(chan res, 2)
	for i := 0; i < 2; i++ {
		go func() {
			rep, code := statusJSON(t, "--config", e.cfg)
			results <- res{rep, code}
		}()
	}
	a, b := <-results, <-results
	if !a.rep.Attached || !b.rep.Attached || a.rep.Owner.Command != "serve" || a.rep.Owner.PID != p.cmd.Process.Pid {
		t.Fatalf("not attached to the serve process: %+v", a.rep.Owner)
	}
	if a.rep.Old.Counts != b.rep.Old.Counts || a.rep.Old.Counts.Delivered != 360 || a.rep.Old.Counts.Deferred != 40 {
		t.Fatalf("viewers differ: %+v vs %+v", a.rep.Old.Counts, b.rep.Old.Counts)
	}
	cl, err := attach.Dial(context.Background(), e.sock, attach.ClientOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	snap, err := cl.Snapshot(ui.Window1h, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Old.Counts.Delivered != 360 || len(snap.Providers) != 1 || snap.Providers[0].ISP != "google" {
		t.Fatalf("cockpit data: %+v", snap.Old.Counts)
	}
	if len(snap.Sources) != 1 || snap.Sources[0].State == ui.SourceUnknown {
		t.Fatalf("sources: %+v", snap.Sources)
	}
	// Deferral 10 % of attempts: the WARN level.
	if a.code != owner.StatusExitWarn || a.rep.Providers[0].Old.Health != "WARN" {
		t.Fatalf("exit %d, health %s, reasons %v", a.code, a.rep.Providers[0].Old.Health, a.rep.Reasons)
	}

	// New lines: the owner pushes "changed" to attached viewers.
	changed := make(chan struct{}, 1)
	cl2, err := attach.Dial(context.Background(), e.sock, attach.ClientOptions{OnChange: func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	e.appendDeliveries(t, 10, 0, 2)
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no changed push after a commit")
	}

	if err := p.stop(t); err != nil {
		t.Fatalf("serve on SIGTERM: %v\n%s", err, p.stderr)
	}
	if _, err := os.Stat(e.sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after a clean stop: %v", err)
	}
	last := p.logLines()[len(p.logLines())-1]
	if last["msg"] != "stopped" {
		t.Fatalf("last log line %v", last)
	}
	// Committed before exit: the direct (read-only) status sees all 410.
	rep, _ := statusJSON(t, "--config", e.cfg)
	if rep.Attached || delivered(rep) != 370 || rep.Followed {
		t.Fatalf("after stop: attached %v delivered %d", rep.Attached, delivered(rep))
	}
}
