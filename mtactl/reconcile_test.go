package mtactl

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
)

// crashApply runs a second cutover process that applies ratio on dbPath
// and is SIGKILLed once its reload started (the fake reload sleeps): the
// files hold the new bytes, the audit entry stays pending. The caller's
// database must be closed (one process per database).
func crashApply(t *testing.T, cfg Config, fk *fake, dbPath string, ratio int) {
	t.Helper()
	fk.sleepOn(t, "reload", time.Minute)
	defer fk.clear(t, "reload")
	os.Remove(filepath.Join(fk.dir, "calls"))
	cj, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "MTACTL_TEST_ROLE=apply", "MTACTL_HELPER_CONFIG="+string(cj),
		"MTACTL_HELPER_DB="+dbPath, "MTACTL_HELPER_RATIO="+strconv.Itoa(ratio))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(strings.Join(fk.calls(t), "|"), "reload") {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			t.Fatalf("the apply never reached its reload: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// the whole group: the helper and its sleeping fake reload
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
}

func blocksOf(t *testing.T, b string) map[string]*string {
	t.Helper()
	r, err := blockContents([]byte(b), "f", []string{"split", "throttles"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Issue 13 point 4: ratio set 30; ratio set 75 killed after its write and
// before its reload; on the next start the pending change is settled (the
// crashed bytes give way to the last confirmed ones); ratio set 50; rollback
// restores the 30 % files, not the crashed 75 % write. Point 6: a read-only
// open in between reports the pending change instead of failing.
func TestCrashedApplyIsSettledAndRollbackRestoresConfirmed(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	after30 := mustRead(t, e.conf)
	demo30 := mustRead(t, e.demo)
	e.db.Close()

	crashApply(t, e.cfg, e.fake, e.dbp, 75)
	crashed := mustRead(t, e.conf)
	if crashed == after30 || !strings.Contains(crashed, "7500/day") {
		t.Fatalf("the killed apply did not write its files:\n%s", crashed)
	}

	// status with no owner: read-only, nothing settled, the pending change shown
	ro, err := state.Open(e.dbp, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := New(e.cfg, ro)
	if err != nil {
		ro.Close()
		t.Fatalf("mtactl on a read-only database: %v", err)
	}
	hist, err := rc.History()
	if err != nil || len(hist) != 2 || hist[1].Result != ResultPending || rc.Current().RatioNew != 30 {
		t.Fatalf("read-only view: %v %+v, current %v", err, hist, rc.Current())
	}
	if mustRead(t, e.conf) != crashed {
		t.Fatal("a read-only open changed the files")
	}
	ro.Close()

	// the next start settles it
	db, err := state.Open(e.dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := New(e.cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Notices(); len(n) != 1 || !strings.HasPrefix(n[0], "change #2 (75% new") || !strings.Contains(n[0], "settled: ") {
		t.Fatalf("notices %q", n)
	}
	if mustRead(t, e.conf) != after30 || mustRead(t, e.demo) != demo30 {
		t.Fatalf("the crashed bytes are still in place:\n%s", mustRead(t, e.conf))
	}
	if calls := strings.Join(e.fake.calls(t), "|"); calls != "test config|reload|reload" {
		t.Fatalf("calls %q: want the crashed apply's check and reload, then the reload of the restored files", calls)
	}
	ent, err := c.Entry("2")
	if err != nil || ent.Result != ResultFailed || ent.Step != "interrupted" || ent.Restored != "yes" ||
		len(ent.Notes) == 0 || !strings.Contains(ent.Notes[len(ent.Notes)-1], "2 of 2 files held this change's bytes") {
		t.Fatalf("settled entry %+v %v", ent, err)
	}
	if c.Current().RatioNew != 30 {
		t.Fatalf("Current %v", c.Current())
	}

	ch, err := c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Drift) != 0 {
		t.Fatalf("drift after settling: %+v", ch.Drift)
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 50"), ApplyOptions{AcceptDrift: true}); err != nil {
		t.Fatal(err)
	}
	rb, err := c.Rollback(t0ctx(), "", CurrentWho("rollback"), ApplyOptions{AcceptDrift: true})
	if err != nil {
		t.Fatal(err)
	}
	if rb.From.RatioNew != 50 || rb.To.RatioNew != 30 || mustRead(t, e.conf) != after30 || mustRead(t, e.demo) != demo30 {
		t.Fatalf("rollback %s: files\n%s", rb.Summary(), mustRead(t, e.conf))
	}
	ctl, err := ReadDemoControl(e.demo)
	if err != nil || ctl.RatioNew != 30 {
		t.Fatalf("demo control after rollback %+v %v", ctl, err)
	}
}

// When the crashed files cannot be taken back (someone edited one since),
// they stay as found, and a rollback over a later change still restores
// cutover's last confirmed blocks, not the crashed ones, keeping the edit.
func TestRollbackAfterUnsettledCrashRestoresConfirmed(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	after30 := mustRead(t, e.conf)
	e.db.Close()
	crashApply(t, e.cfg, e.fake, e.dbp, 75)
	edited := mustRead(t, e.conf) + "# operator: looking into the stuck reload\n"
	mustWrite(t, e.conf, edited)

	db, err := state.Open(e.dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := New(e.cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if mustRead(t, e.conf) != edited {
		t.Fatal("settling overwrote a file edited after the crash")
	}
	ent, _ := c.Entry("2")
	if ent.Result != ResultFailed || !strings.Contains(ent.Restored, "not restored") ||
		!strings.Contains(ent.Restored, "+# operator: looking into the stuck reload") || !strings.Contains(ent.Restored, "pmta not reloaded") {
		t.Fatalf("settled entry %+v", ent)
	}
	for _, call := range e.fake.calls(t)[2:] {
		if strings.HasPrefix(call, "reload") {
			t.Fatal("the conflicted driver was reloaded")
		}
	}

	ch, err := c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Drift) == 0 {
		t.Fatal("the crashed bytes are not shown as drift")
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 50"), ApplyOptions{AcceptDrift: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rollback(t0ctx(), "", CurrentWho("rollback"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, e.conf)
	if !sameRegions(blocksOf(t, got), blocksOf(t, after30)) {
		t.Fatalf("rollback restored unconfirmed blocks:\n%s", got)
	}
	if outsideOf(t, got) != outsideOf(t, edited) {
		t.Fatalf("rollback lost the operator's line:\n%s", got)
	}
	if c.Current().RatioNew != 30 {
		t.Fatal("Current")
	}
}

// Issue 13 point 5: the operator edits the file while a reload stalls;
// the reload then fails. The restore must not put the snapshot over the
// edit: the file is left, the conflict reported with a diff, and that MTA
// not reloaded again. Other drivers' files are restored as before.
func TestFailedApplyKeepsEditMadeAfterWrite(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	demo30 := mustRead(t, e.demo)
	os.Remove(filepath.Join(e.fake.dir, "calls"))
	e.fake.sleepOn(t, "reload", 1500*time.Millisecond)
	e.fake.failOn(t, "reload", "pmta: reload timed out\n")
	ch, err := e.c.Plan(e.c.Current().WithRatio(60, ""))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Apply(t0ctx(), ch, CurrentWho("ratio set 60"), ApplyOptions{})
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(strings.Join(e.fake.calls(t), "|"), "reload") {
		if time.Now().After(deadline) {
			t.Fatal("no reload")
		}
		time.Sleep(10 * time.Millisecond)
	}
	written := mustRead(t, e.conf)
	edited := strings.Replace(written, "postmaster ops@example.com\n", "postmaster oncall@example.com\n", 1)
	mustWrite(t, e.conf, edited)
	err = <-done
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Restored || len(ae.Conflicts) != 1 || ae.Conflicts[0].Path != e.conf || !errors.Is(ae.RestoreErr, ErrConflict) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"NOT RESTORED", "-postmaster ops@example.com", "+postmaster oncall@example.com", "pmta not reloaded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if mustRead(t, e.conf) != edited {
		t.Fatal("the operator's edit was overwritten by the restore")
	}
	if mustRead(t, e.demo) != demo30 {
		t.Fatal("the unconflicted demo file was not restored")
	}
	if calls := strings.Join(e.fake.calls(t), "|"); calls != "test config|reload" {
		t.Fatalf("calls %q: the conflicted MTA must stay on its current config", calls)
	}
	ent, _ := e.c.Entry("2")
	if ent.Result != ResultFailed || !strings.Contains(ent.Restored, "+postmaster oncall@example.com") {
		t.Fatalf("audit %+v", ent)
	}
}

// An apply still running in this process is never settled by a second
// Controller on the same database; a dead apply is settled even when its
// pid is ours (a container's next run gets the same pid).
func TestSettleOnlyDeadApplies(t *testing.T) {
	e := newPMTAEnv(t)
	e.fake.sleepOn(t, "reload", 2*time.Second)
	ch, _ := e.c.Plan(model.Desired{}.WithRatio(30, ""))
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Apply(t0ctx(), ch, CurrentWho("first"), ApplyOptions{})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(e.fake.calls(t), "|"), "reload") {
		if time.Now().After(deadline) {
			t.Fatal("no reload")
		}
		time.Sleep(10 * time.Millisecond)
	}
	written := mustRead(t, e.conf)
	c2, err := New(e.cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if ent, _ := c2.Entry("1"); ent.Result != ResultPending || mustRead(t, e.conf) != written {
		t.Fatalf("a running apply was settled: %+v", ent)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.fake.clear(t, "reload")
	after30 := mustRead(t, e.conf)

	// a dead apply with our pid
	e.db.Close()
	crashApply(t, e.cfg, e.fake, e.dbp, 75)
	db, err := state.Open(e.dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := store{db}
	ent, err := st.entry("2")
	if err != nil || ent.Result != ResultPending {
		t.Fatalf("%+v %v", ent, err)
	}
	ent.Who.PID = os.Getpid()
	if err := st.finish(&ent, nil); err != nil {
		t.Fatal(err)
	}
	c3, err := New(e.cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if ent, _ := c3.Entry("2"); ent.Result != ResultFailed || mustRead(t, e.conf) != after30 {
		t.Fatalf("a dead apply with our pid was not settled: %+v", ent)
	}
}
