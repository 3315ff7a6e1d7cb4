package mtactl

import (
	"bytes"
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

// operatorPMTA is an operator's PowerMTA config with the two blocks placed.
const operatorPMTA = `# operator's PowerMTA config: cutover must not touch a byte of this
postmaster ops@example.com
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<virtual-mta vmta-old>
    smtp-source-host 192.0.2.10 old.example.com
    # BEGIN cutover split
    # END cutover split
</virtual-mta>
<virtual-mta vmta-new>
    smtp-source-host 198.51.100.20 new.example.com
    # BEGIN cutover throttles
    # END cutover throttles
</virtual-mta>
<domain *>
    max-smtp-out 20
</domain>
`

type pmtaEnv struct {
	cfg   Config
	fake  *fake
	conf  string
	demo  string
	dbp   string
	db    *state.DB
	c     *Controller
	dir   string
	start string // the config before any apply
}

func newPMTAEnv(t *testing.T) *pmtaEnv {
	t.Helper()
	e := &pmtaEnv{dir: t.TempDir(), fake: newFake(t)}
	e.conf = filepath.Join(e.dir, "pmta", "config")
	e.demo = filepath.Join(e.dir, "demo", "control.json")
	mustWrite(t, e.conf, operatorPMTA)
	os.MkdirAll(filepath.Dir(e.demo), 0o755)
	e.start = operatorPMTA
	e.cfg = Config{
		Providers: map[string][]string{"google": {"gmail.com", "googlemail.com"}, "yahoo": {"yahoo.com"}},
		Throttle:  model.ThrottlePolicy{Warm: true},
		PMTA: &PMTAConfig{Config: e.conf, ColdVMTA: "vmta-new",
			DailyVolume: map[string]int{"gmail.com": 10000, "googlemail.com": 100, "yahoo.com": 5000},
			Test:        e.fake.argv("test", "config"), Reload: e.fake.argv("reload")},
		Demo: &DemoConfig{File: e.demo},
	}
	e.dbp = filepath.Join(e.dir, "cutover.db")
	e.db = openDB(t, e.dbp)
	c, err := New(e.cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func (e *pmtaEnv) apply(t *testing.T, d model.Desired) AuditEntry {
	t.Helper()
	ch, err := e.c.Plan(d)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := e.c.Apply(t0ctx(), ch, CurrentWho("test"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ent
}

func outsideOf(t *testing.T, b string) string {
	t.Helper()
	o, err := outside([]byte(b), "f", []string{"split", "throttles"})
	if err != nil {
		t.Fatal(err)
	}
	return string(o)
}

func TestApplyAndRollbackRoundTrip(t *testing.T) {
	t.Setenv("SSH_CLIENT", "192.0.2.7 51234 22")
	e := newPMTAEnv(t)
	d := model.Desired{}.WithRatio(30, "").WithOverride("google", model.Throttle{PerHour: 500, Connections: 3, PerConnection: 40})
	ch, err := e.c.Plan(d)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Empty() || len(ch.Drift) != 0 || !strings.Contains(ch.Diff(), "+        max-cold-virtual-mta-msg 3000/day") {
		t.Fatalf("plan:\n%s", ch.Diff())
	}
	if mustRead(t, e.conf) != e.start {
		t.Fatal("Plan wrote a file")
	}
	ent, err := e.c.Apply(t0ctx(), ch, CurrentWho("ratio set 30"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ent.Result != ResultOK || ent.ID != "1" || ent.Snapshot != "1" || ent.Who.SSHClient != "192.0.2.7 51234 22" || ent.Who.Command != "ratio set 30" {
		t.Fatalf("entry %+v", ent)
	}
	if ent.To.RatioNew != 30 || ent.To.Throttles["google"].PerHour != 500 || ent.From.RatioNew != 0 {
		t.Fatalf("from/to %+v -> %+v", ent.From, ent.To)
	}
	after1 := mustRead(t, e.conf)
	for _, want := range []string{
		"    cold-virtual-mta vmta-new\n",
		"    <domain gmail.com>\n        max-cold-virtual-mta-msg 3000/day\n    </domain>\n",
		"    <domain googlemail.com>\n        max-cold-virtual-mta-msg 30/day\n",
		"    <domain yahoo.com>\n        max-cold-virtual-mta-msg 1500/day\n",
		"    <domain gmail.com>\n        max-msg-rate 500/h\n        max-smtp-out 3\n        max-msg-per-connection 40\n    </domain>\n",
	} {
		if !strings.Contains(after1, want) {
			t.Errorf("config lacks %q:\n%s", want, after1)
		}
	}
	if outsideOf(t, after1) != outsideOf(t, e.start) {
		t.Fatal("apply changed the operator's lines")
	}
	if calls := e.fake.calls(t); strings.Join(calls, "|") != "test config|reload" {
		t.Fatalf("calls %q", calls)
	}
	if got := e.c.Current(); got.RatioNew != 30 || got.Overrides["google"].PerHour != 500 {
		t.Fatalf("Current %+v", got)
	}
	ctl, err := ReadDemoControl(e.demo)
	if err != nil || ctl.RatioNew != 30 || ctl.MaxPerHour["google"] != 500 {
		t.Fatalf("demo control %+v %v", ctl, err)
	}

	e.apply(t, e.c.Current().WithRatio(50, ""))
	after2 := mustRead(t, e.conf)
	if !strings.Contains(after2, "max-cold-virtual-mta-msg 5000/day") {
		t.Fatal("second apply")
	}

	// R: undo the last change
	ent, err = e.c.Rollback(t0ctx(), "", CurrentWho("R"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ent.Action != "rollback" || ent.RollbackOf != "2" || mustRead(t, e.conf) != after1 || e.c.Current().RatioNew != 30 {
		t.Fatalf("rollback to before 2: %+v", ent)
	}
	// back to before the first change: byte-identical, created files gone
	if _, err := e.c.Rollback(t0ctx(), "1", CurrentWho("rollback --to 1"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if mustRead(t, e.conf) != e.start {
		t.Fatalf("not byte-identical after rollback:\n%s", mustRead(t, e.conf))
	}
	if _, err := os.Stat(e.demo); !os.IsNotExist(err) {
		t.Fatal("demo file created by cutover survives the rollback to before it existed")
	}
	if !e.c.Current().Equal(model.Desired{}) {
		t.Fatalf("Current after full rollback %+v", e.c.Current())
	}
	hist, err := e.c.History()
	if err != nil || len(hist) != 4 {
		t.Fatalf("history %d %v", len(hist), err)
	}
	for i, h := range hist {
		if h.ID != strconv.Itoa(i+1) || h.Result != ResultOK || h.Duration == "" {
			t.Errorf("history[%d] %+v", i, h)
		}
	}
	// The snapshot of change 1 is the operator's file, exactly.
	snap, err := e.c.Snapshot("1")
	if err != nil || len(snap.Files) != 2 || string(snap.Files[0].Data) != e.start || snap.Files[1].Exists {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
}

func TestValidateFailureRestoresWithoutReload(t *testing.T) {
	e := newPMTAEnv(t)
	e.fake.failOn(t, "test", "Error in line 14 of /etc/pmta/config: unknown directive \"max-cold-virtual-mta-msg\"\n")
	ch, err := e.c.Plan(model.Desired{}.WithRatio(15, ""))
	if err != nil {
		t.Fatal(err)
	}
	ent, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored || len(ae.ReloadedAgain) != 0 {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"pmta: validate failed", "Error in line 14 of /etc/pmta/config", "nothing was reloaded", "change 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if mustRead(t, e.conf) != e.start {
		t.Fatal("config not restored")
	}
	if _, err := os.Stat(e.demo); !os.IsNotExist(err) {
		t.Fatal("created file not removed")
	}
	for _, c := range e.fake.calls(t) {
		if strings.Contains(c, "reload") {
			t.Fatal("a config the checker rejected was reloaded")
		}
	}
	if ent.Result != ResultFailed || ent.Step != "pmta validate" || !strings.Contains(ent.Output, "Error in line 14") || ent.Restored != "yes" {
		t.Fatalf("audit %+v", ent)
	}
	if got, _ := e.c.Entry("1"); got.Result != ResultFailed {
		t.Fatalf("stored entry %+v", got)
	}
	if e.c.Current().RatioNew != 0 {
		t.Fatal("Current moved after a failed apply")
	}
}

func TestReloadFailureRestoresAndReloadsAgain(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(5, ""))
	before := mustRead(t, e.conf)
	os.Remove(filepath.Join(e.fake.dir, "calls"))
	e.fake.failOnce(t, "reload", "pmta: cannot connect to the PowerMTA service\n")
	ch, _ := e.c.Plan(e.c.Current().WithRatio(15, ""))
	_, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored || strings.Join(ae.ReloadedAgain, ",") != "pmta" {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "pmta: reload failed") || !strings.Contains(err.Error(), "cannot connect to the PowerMTA service") {
		t.Fatalf("error does not name the step and output: %v", err)
	}
	if mustRead(t, e.conf) != before {
		t.Fatal("not restored")
	}
	if calls := e.fake.calls(t); strings.Join(calls, "|") != "test config|reload|reload" {
		t.Fatalf("calls %q (want check, failed reload, reload of the restored file)", calls)
	}
}

func TestDriftIsShownAndNeedsConsent(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	applied := mustRead(t, e.conf)
	// an operator edits a line outside the blocks: drift, but not in a block
	edited := strings.Replace(applied, "max-smtp-out 20", "max-smtp-out 25", 1)
	mustWrite(t, e.conf, edited)
	ch, err := e.c.Plan(e.c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Drift) != 1 || ch.Drift[0].InBlock || !strings.Contains(ch.Drift[0].Diff, "+    max-smtp-out 25") {
		t.Fatalf("drift %+v", ch.Drift)
	}
	if _, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{}); !errors.Is(err, ErrDrift) {
		t.Fatalf("apply without consent: %v", err)
	}
	if mustRead(t, e.conf) != edited {
		t.Fatal("refused apply wrote")
	}
	if _, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{AcceptDrift: true}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, e.conf); !strings.Contains(got, "max-smtp-out 25") || !strings.Contains(got, "5000/day") {
		t.Fatal("the operator's edit outside the block did not survive")
	}
	// an edit inside a block is drift that the next apply overwrites
	mustWrite(t, e.conf, strings.Replace(mustRead(t, e.conf), "5000/day", "9999/day", 1))
	ch, _ = e.c.Plan(e.c.Current())
	if len(ch.Drift) != 1 || !ch.Drift[0].InBlock || !strings.Contains(ch.Drift[0].Diff, "9999/day") {
		t.Fatalf("in-block drift %+v", ch.Drift)
	}
	ent, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{AcceptDrift: true})
	if err != nil || len(ent.Drift) != 1 {
		t.Fatalf("%v %+v", err, ent)
	}
	if strings.Contains(mustRead(t, e.conf), "9999") {
		t.Fatal("in-block edit survived")
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	e := newPMTAEnv(t)
	ch, _ := e.c.Plan(model.Desired{}.WithRatio(30, ""))
	mustWrite(t, e.conf, e.start+"# edited after the preview\n")
	if _, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{AcceptDrift: true}); !errors.Is(err, ErrStale) {
		t.Fatalf("got %v", err)
	}
	if len(e.fake.calls(t)) != 0 {
		t.Fatal("commands ran")
	}
}

func TestRollbackKeepsLaterOperatorEdits(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	edited := strings.Replace(mustRead(t, e.conf), "postmaster ops@example.com", "postmaster noc@example.com", 1)
	mustWrite(t, e.conf, edited)
	ch, err := e.c.PlanRollback("1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Notes) == 0 || !strings.Contains(strings.Join(ch.Notes, "\n"), "operator's lines changed") {
		t.Fatalf("notes %q", ch.Notes)
	}
	if _, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{AcceptDrift: true}); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(e.start, "postmaster ops@example.com", "postmaster noc@example.com", 1)
	if got := mustRead(t, e.conf); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestModeOwnerAndSymlinkKept(t *testing.T) {
	e := newPMTAEnv(t)
	real := filepath.Join(e.dir, "real-config")
	mustWrite(t, real, e.start)
	os.Remove(e.conf)
	if err := os.Symlink(real, e.conf); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o640); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 65534, 65534
		if err := os.Chown(real, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	if fi, err := os.Lstat(e.conf); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Fatalf("mode %v owner %d:%d, want 0640 %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
	}
	if !strings.Contains(mustRead(t, real), "3000/day") {
		t.Fatal("target not written")
	}
	// no temp files left behind
	ents, _ := os.ReadDir(e.dir)
	for _, de := range ents {
		if strings.Contains(de.Name(), ".cutover-") {
			t.Fatalf("temp file left: %s", de.Name())
		}
	}
}

func TestPlanRefusesUnknownProviderAndPostfixPerISP(t *testing.T) {
	e := newPMTAEnv(t)
	if _, err := e.c.Plan(model.Desired{}.WithRatio(30, "nosuch")); err == nil || !strings.Contains(err.Error(), "not a configured provider") {
		t.Fatalf("got %v", err)
	}
	if _, err := e.c.PlanRollback("7"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := e.c.PlanRollback(""); err == nil {
		t.Fatal("rollback with nothing applied")
	}
}

func TestEmptyChangeRecordsWithoutCommands(t *testing.T) {
	e := newPMTAEnv(t)
	e.apply(t, model.Desired{}.WithRatio(30, ""))
	n := len(e.fake.calls(t))
	ch, _ := e.c.Plan(e.c.Current())
	if !ch.Empty() {
		t.Fatalf("same desired, diff:\n%s", ch.Diff())
	}
	ent, err := e.c.Apply(t0ctx(), ch, Who{User: "op"}, ApplyOptions{})
	if err != nil || ent.Result != ResultOK || len(e.fake.calls(t)) != n {
		t.Fatalf("%v %+v", err, ent)
	}
}

// A second cutover process with its own database but the same MTA files is
// refused by the lock file, which names the holder.
func TestLockFileRefusesSecondProcess(t *testing.T) {
	e := newPMTAEnv(t)
	e.fake.sleepOn(t, "reload", 3*time.Second)
	ch, _ := e.c.Plan(model.Desired{}.WithRatio(30, ""))
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Apply(t0ctx(), ch, CurrentWho("first"), ApplyOptions{})
		done <- err
	}()
	lock := filepath.Join(filepath.Dir(e.conf), LockFileName)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lock file never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := runHelper(t, e.cfg, filepath.Join(e.dir, "other.db"))
	me := CurrentWho("")
	for _, want := range []string{"ERROR:", LockFileName, "pid " + strconv.Itoa(os.Getpid()), "user " + me.User, "since 20"} {
		if !strings.Contains(out, want) {
			t.Errorf("second process output lacks %q:\n%s", want, out)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatal("lock file left after apply")
	}
	// and once the first is done, the second one can apply
	e.fake.clear(t, "reload")
	if out := runHelper(t, e.cfg, filepath.Join(e.dir, "other.db")); !strings.Contains(out, "OK") {
		t.Fatalf("second process after release: %s", out)
	}
}

// Two processes on the same database: the second cannot even open it, and
// is told which process holds it (state's bbolt lock and owner file).
func TestSameDatabaseSecondProcessRefused(t *testing.T) {
	e := newPMTAEnv(t)
	out := runHelper(t, e.cfg, e.dbp)
	if !strings.Contains(out, "ERROR:") || !strings.Contains(out, "locked by pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(out, "since ") {
		t.Fatalf("second process: %s", out)
	}
}

func TestStaleLockFromDeadProcessIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, LockFileName)
	who := CurrentWho("")
	dead := exec.Command("true")
	dead.Run()
	b, _ := json.Marshal(LockOwner{PID: dead.Process.Pid, User: "ghost", Host: who.Host, Since: time.Now()})
	mustWrite(t, p, string(b))
	release, err := acquireLock(p, who)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	release()
	// a lock from another host is never guessed stale
	b, _ = json.Marshal(LockOwner{PID: dead.Process.Pid, User: "ghost", Host: "elsewhere", Since: time.Now()})
	mustWrite(t, p, string(b))
	if _, err := acquireLock(p, who); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "user ghost on elsewhere") {
		t.Fatalf("got %v", err)
	}
}

func runHelper(t *testing.T, cfg Config, dbPath string) string {
	t.Helper()
	cj, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "MTACTL_TEST_ROLE=apply", "MTACTL_HELPER_CONFIG="+string(cj), "MTACTL_HELPER_DB="+dbPath)
	out, _ := cmd.CombinedOutput()
	return string(bytes.TrimSpace(out))
}

// Default throttles with basis "peak" come from the OLD side's busiest hour
// in the database (the behaviour before the audit; TestSuggestBasisP95 has
// the default basis).
func TestSuggestFromHistory(t *testing.T) {
	e := newPMTAEnv(t)
	e.cfg.Throttle.Basis = model.BasisPeak
	if c, err := New(e.cfg, e.db); err != nil {
		t.Fatal(err)
	} else {
		e.c = c
	}
	b := state.NewBatch()
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	add := func(side model.Side, isp, dom string, at time.Time, n int, o model.Outcome) {
		for i := 0; i < n; i++ {
			b.AddEvent(&model.Event{Time: at.Add(time.Duration(i) * time.Second), Side: side, MTA: "m", ISP: isp, Domain: dom, Outcome: o})
		}
	}
	add(model.SideOld, "google", "gmail.com", base, 120, model.Delivered)
	add(model.SideOld, "google", "gmail.com", base.Add(time.Hour), 250, model.Delivered)
	add(model.SideOld, "google", "gmail.com", base.Add(time.Hour+30*time.Minute), 50, model.Deferred) // attempts count
	add(model.SideNew, "google", "gmail.com", base.Add(2*time.Hour), 900, model.Delivered)            // NEW is not history
	add(model.SideOld, "yahoo", "yahoo.com", base, 70, model.Bounced)
	if err := e.db.Commit(b); err != nil {
		t.Fatal(err)
	}
	d, err := e.c.Suggest(model.Desired{}.WithRatio(30, "").WithOverride("yahoo", model.Throttle{Connections: 1}))
	if err != nil {
		t.Fatal(err)
	}
	// peak 300/h x 30 % x 1.2 = 108; yahoo 70 x 0.3 x 1.2 = 25.2 -> 26
	if got := d.Throttles["google"]; got != (model.Throttle{PerHour: 108, Connections: 5, PerConnection: 50}) {
		t.Errorf("google %+v", got)
	}
	if got := d.Throttles["yahoo"]; got != (model.Throttle{PerHour: 26, Connections: 1, PerConnection: 20}) {
		t.Errorf("yahoo %+v", got)
	}
	// Plan renders them
	ch, err := e.c.Plan(model.Desired{}.WithRatio(30, ""))
	if err != nil || !strings.Contains(ch.Diff(), "+        max-msg-rate 108/h") {
		t.Fatalf("%v\n%s", err, ch.Diff())
	}
	// expected daily volume from history (config overrides win): without
	// the override gmail.com would be (120+250+900)/7 rounded up = 182
	e.cfg.PMTA.DailyVolume = nil
	c2, err := New(e.cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	daily, err := c2.dailyVolume()
	if err != nil || daily["gmail.com"] != 182 || daily["yahoo.com"] != 10 {
		t.Fatalf("daily %v %v", daily, err)
	}
}

// The default basis is the 95th percentile hour over every hour of the
// history window, zero hours included (wave2 §4.5): one blast hour does not
// set NEW's ceiling.
func TestSuggestBasisP95(t *testing.T) {
	e := newPMTAEnv(t)
	b := state.NewBatch()
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	// 14 days = 336 hours; p95 is the 320th smallest: with 304 empty hours,
	// 30 hours of 100 and one of 3,000 that is the 16th busy hour, 100.
	for h := 0; h < 30; h++ {
		for i := 0; i < 100; i++ {
			b.AddEvent(&model.Event{Time: base.Add(time.Duration(-h)*time.Hour + time.Duration(i)*time.Second), Side: model.SideOld, MTA: "m", ISP: "google", Domain: "gmail.com", Outcome: model.Delivered})
		}
	}
	for i := 0; i < 3000; i++ {
		b.AddEvent(&model.Event{Time: base.Add(time.Hour + time.Duration(i)*time.Second/2), Side: model.SideOld, MTA: "m", ISP: "google", Domain: "gmail.com", Outcome: model.Delivered})
	}
	if err := e.db.Commit(b); err != nil {
		t.Fatal(err)
	}
	ex, err := e.c.Explain(model.Desired{}.WithRatio(30, ""))
	if err != nil {
		t.Fatal(err)
	}
	// ceil(100 × 30 % × 1.2) = 36, decided by the history
	if g := ex["google"]; g.PerHour != 36 || g.PerHourBy != model.CapHistory {
		t.Errorf("p95: %+v", g)
	}
	e.cfg.Throttle.Basis = model.BasisPeak
	c, err := New(e.cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Suggest(model.Desired{}.WithRatio(30, ""))
	if err != nil || d.Throttles["google"].PerHour != 1080 { // ceil(3,000 × 0.3 × 1.2)
		t.Errorf("peak: %+v %v", d.Throttles["google"], err)
	}
}

func TestAuditSummary(t *testing.T) {
	e := AuditEntry{ID: "3", Time: time.Date(2026, 3, 2, 10, 4, 5, 0, time.UTC), Who: Who{User: "root", SudoUser: "alice", SSHClient: "192.0.2.7 5 22"},
		Action: "apply", From: model.Desired{RatioNew: 30}, To: model.Desired{RatioNew: 50, PerISP: map[string]int{"google": 20}},
		Result: ResultOK, Reloaded: []string{"exim"}, Duration: "1.2s"}
	want := "#3 2026-03-02 10:04:05Z alice (as root) from 192.0.2.7 apply 30% new -> 50% new google 20%: ok (reloaded exim) 1.2s"
	if got := e.Summary(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
