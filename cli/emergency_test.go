package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/mtactl"
)

// runAs runs the real binary with extra environment and returns stdout,
// stderr and the exit code.
func runAs(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cutoverCmd(args...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

const mtactlDemo = "[mtactl]\nsteps = [0, 5, 15, 30, 50, 75, 100]\n\n[mtactl.providers]\ngoogle = [\"gmail.com\"]\nyahoo = [\"yahoo.com\"]\n\n[mtactl.demo]\nfile = %q\n"

// Issue 13 point 8: while `cutover serve` owns the database, the emergency
// commands work by attaching to it, with the flags, output and exit codes
// they have without an owner; control actions are audited with the
// caller's user and SSH client (not the owner's). Before, each one failed
// with "database ... is locked by pid ...".
func TestEmergencyCommandsWhileServeRuns(t *testing.T) {
	dir := t.TempDir()
	ctlFile := filepath.Join(dir, "mta", "control.json")
	os.MkdirAll(filepath.Dir(ctlFile), 0o755)
	e := newEnv(t, fmt.Sprintf(mtactlDemo, ctlFile))
	e.appendDeliveries(t, 50, 10, 1)
	srv := startServe(t, e)
	waitDelivered(t, e, 45)
	ssh := []string{"SSH_CLIENT=192.0.2.7 51234 22"}
	me, _ := user.Current()

	// the control path: ratio set, throttle set, rollback
	out, errOut, code := runAs(t, ssh, "ratio", "set", "30", "--yes", "--config", e.cfg)
	if code != 0 || !strings.Contains(out, "apply: 0% new") || !regexpMatch(`#1 .* apply 0% new.* -> 30% new.*: ok`, out) {
		t.Fatalf("ratio set through the owner: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(ctlFile); !strings.Contains(string(b), `"RatioNew": 30,`) {
		t.Fatalf("the demo control file does not say 30%%: %s", b)
	}
	// without --yes and without a terminal: refused, exit 1, like locally
	out, errOut, code = runAs(t, ssh, "ratio", "set", "50", "--config", e.cfg)
	if code != 1 || !strings.Contains(errOut, "refusing to ratio set 50 without --yes") {
		t.Fatalf("ratio set without --yes: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = runAs(t, ssh, "throttle", "set", "google", "--rate", "500/h", "--conn", "3", "--yes", "--config", e.cfg); code != 0 {
		t.Fatalf("throttle set: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = runAs(t, ssh, "ratio", "set", "75", "--yes", "--config", e.cfg); code != 0 {
		t.Fatalf("ratio set 75: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runAs(t, ssh, "rollback", "--yes", "--config", e.cfg)
	if code != 0 || !regexpMatch(`#4 .* rollback 75% new.* -> 30% new.*: ok \(restored the files from before #3\)`, out) {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runAs(t, nil, "ratio", "show", "--config", e.cfg)
	if code != 0 || !strings.Contains(out, "ratio: 30% new\n") || !strings.Contains(out, "google: 500/h") || !strings.Contains(out, "drivers: demo\n") {
		t.Fatalf("ratio show: exit %d\n%s", code, out)
	}
	hjson, _, code := runAs(t, nil, "history", "--json", "--config", e.cfg)
	var hist []mtactl.AuditEntry
	if err := json.Unmarshal([]byte(hjson), &hist); err != nil || code != 0 || len(hist) != 4 {
		t.Fatalf("history --json: exit %d %v\n%s", code, err, hjson)
	}
	servePID := srv.cmd.Process.Pid
	for _, h := range hist {
		if h.Who.User != me.Username || h.Who.SSHClient != "192.0.2.7 51234 22" || h.Who.PID == servePID || h.Who.PID == 0 ||
			!strings.HasPrefix(h.Who.Command, "attached ") || h.Result != mtactl.ResultOK {
			t.Errorf("audit of #%s: %+v (want the caller, from 192.0.2.7, not serve pid %d)", h.ID, h.Who, servePID)
		}
	}
	htext, _, _ := runAs(t, nil, "history", "--config", e.cfg)

	// the read-only commands
	stats, _, code := runAs(t, nil, "stats", "--db", e.db, "--json")
	if code != 0 || !strings.Contains(stats, `"delivered": 45`) {
		t.Fatalf("stats: exit %d\n%s", code, stats)
	}
	statsText, _, _ := runAs(t, nil, "stats", "--db", e.db, "--by", "domain")
	srcs, errOut, code := runAs(t, nil, "sources", "--db", e.db)
	if code != 0 || !strings.Contains(srcs, "old-postfix") || !strings.Contains(srcs, e.log) {
		t.Fatalf("sources: exit %d\n%s%s", code, srcs, errOut)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("gone@example.com\n"), 0o644)
	if out, errOut, code := runAs(t, nil, "suppress", "import", "--db", e.db, "--provider", "list", "--type", "unsubscribe", list); code != 0 {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	supStats, errOut, code := runAs(t, nil, "suppress", "stats", "--db", e.db)
	if code != 0 || !strings.Contains(supStats, "1 distinct addresses, 1 suppressed") {
		t.Fatalf("suppress stats: exit %d\n%s%s", code, supStats, errOut)
	}
	check, _, code := runAs(t, nil, "suppress", "check", "--db", e.db, "Gone@Example.com")
	if code != 0 || !strings.Contains(check, "gone@example.com: 1 events") {
		t.Fatalf("suppress check: exit %d\n%s", code, check)
	}
	miss, _, code := runAs(t, nil, "suppress", "check", "--db", e.db, "other@example.com")
	if code != 1 || miss != "other@example.com: not in the suppression log\n" {
		t.Fatalf("suppress check of another address: exit %d %q", code, miss)
	}
	if _, errOut, code := runAs(t, nil, "suppress", "stats", "--db", e.db, "--log", filepath.Join(dir, "list.txt")); code != 1 || !strings.Contains(errOut, "reads no other") {
		t.Fatalf("suppress stats --log of another file: exit %d %s", code, errOut)
	}
	if !srv.alive() {
		t.Fatal("serve died")
	}

	// the same commands without an owner print the same
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want string
		args []string
	}{
		{"history --json", hjson, []string{"history", "--json", "--config", e.cfg}},
		{"history", htext, []string{"history", "--config", e.cfg}},
		{"stats --json", stats, []string{"stats", "--db", e.db, "--json"}},
		{"stats --by domain", statsText, []string{"stats", "--db", e.db, "--by", "domain"}},
		{"suppress stats", supStats, []string{"suppress", "stats", "--db", e.db}},
		{"suppress check", check, []string{"suppress", "check", "--db", e.db, "Gone@Example.com"}},
	} {
		if got, _, _ := runAs(t, nil, c.args...); got != c.want {
			t.Errorf("%s without an owner:\n%s\nthrough the owner:\n%s", c.name, got, c.want)
		}
	}
	if _, _, code := runAs(t, nil, "suppress", "check", "--db", e.db, "other@example.com"); code != 1 {
		t.Errorf("suppress check without an owner: exit %d", code)
	}
}

func regexpMatch(re, s string) bool {
	ok, _ := regexp.MatchString(re, s)
	return ok
}

// Issue 13 point 6: `status --config` with no owner and an apply that
// died midway (history: pending) reports the pending change, WARN, exit 1,
// not "ratio unknown (no [mtactl] configured)" with exit 0.
func TestStatusReportsPendingApplyWithoutOwner(t *testing.T) {
	dir := t.TempDir()
	ctlFile := filepath.Join(dir, "mta", "control.json")
	os.MkdirAll(filepath.Dir(ctlFile), 0o755)
	started := filepath.Join(dir, "reload-started")
	// the reload marks that it started, then hangs until killed
	e := newEnv(t, fmt.Sprintf(mtactlDemo, ctlFile)+fmt.Sprintf("reload = [\"sh\", \"-c\", \"touch %s; sleep 60\"]\n", started))
	cmd := cutoverCmd("ratio", "set", "30", "--yes", "--config", e.cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			t.Fatal("the reload never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()

	rep, code := statusJSON(t, "--config", e.cfg)
	if code != 1 || rep.Last == nil || rep.Last.Result != mtactl.ResultPending || rep.RatioNew == nil || *rep.RatioNew != 0 ||
		!strings.Contains(strings.Join(rep.Reasons, "\n"), "last change #1 is pending") {
		t.Fatalf("status: exit %d %+v", code, rep)
	}
	var out bytes.Buffer
	c := cutoverCmd("status", "--config", e.cfg)
	c.Stdout = &out
	c.Run()
	if strings.Contains(out.String(), "ratio unknown") || !strings.Contains(out.String(), "last change #1") {
		t.Fatalf("status text:\n%s", out.String())
	}
}
