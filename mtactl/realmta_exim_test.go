//go:build realmta

package mtactl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
	"cutover/model"
)

// Next hops of the Exim test.
const (
	exOld   = "127.0.0.40" // OLD side
	exGmail = "127.0.0.41" // NEW, remote_gmail
	exOther = "127.0.0.42" // NEW, the operator's own smarthost router (everything else)
	exYahoo = "127.0.0.43" // NEW, remote_yahoo
)

type eximInst struct {
	Dir, Log, PidFile string
	Port              int
}

func (e *eximInst) addr() string { return fmt.Sprintf("127.0.0.1:%d", e.Port) }

func (e *eximInst) pid(t *testing.T) int {
	t.Helper()
	p, err := readPID(e.PidFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lockEximConf serialises runs that share mtactlEximConf (two `go test`
// processes of this package).
func lockEximConf(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(realmtatest.Dir, "mtactl-exim.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}

// startExim writes the operator's config (the cutover blocks placed but
// empty: before cutover this Exim delivers everything itself, through its
// smarthost router) and starts the daemon.
func startExim(t *testing.T, base string, sinkPort int) *eximInst {
	t.Helper()
	return startEximACL(t, base, sinkPort, "")
}

// startEximACL is startExim with rcptACL (whole statements) first in
// acl_check_rcpt.
func startEximACL(t *testing.T, base string, sinkPort int, rcptACL string) *eximInst {
	t.Helper()
	lockEximConf(t)
	e := &eximInst{Dir: filepath.Join(base, "ex"), Port: realmtatest.FreePort(t)}
	e.Log = filepath.Join(e.Dir, "log", "mainlog")
	e.PidFile = filepath.Join(e.Dir, "exim.pid")
	for _, d := range []string{filepath.Join(e.Dir, "spool"), filepath.Dir(e.Log)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		realmtatest.Run(t, "chown", "Debian-exim:Debian-exim", d)
	}
	conf := fmt.Sprintf(`# operator's Exim config (mtactl realmta test): cutover must keep every byte outside its blocks
primary_hostname = exim.localdomain
exim_path = %[1]s
spool_directory = %[2]s/spool
log_file_path = %[2]s/log/%%slog
pid_file_path = %[3]s
daemon_smtp_ports = %[4]d
local_interfaces = 127.0.0.1
disable_ipv6 = true
tls_advertise_hosts =
keep_environment =
host_lookup =
never_users = root
domainlist local_domains =
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
log_selector = +smtp_confirmation

begin acl
acl_check_rcpt:
%[7]s  accept  hosts   = +relay_from_hosts
  deny    message = relay not permitted

begin routers
# BEGIN cutover routers
# END cutover routers
smarthost:
  driver = manualroute
  domains = ! +local_domains
  route_list = * %[5]s
  self = send
  transport = remote_smtp

begin transports
remote_smtp:
  driver = smtp
  port = %[6]d
  allow_localhost
  hosts_avoid_tls = *
# BEGIN cutover transports
# END cutover transports

begin retry
*   *   F,2m,10s
`, realmtatest.EximBin, e.Dir, e.PidFile, e.Port, exOther, sinkPort, rcptACL)
	// root-owned, not group/other-writable: or Exim ignores trusted_configs
	if err := os.WriteFile(mtactlEximConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(mtactlEximConf, 0o644)
	realmtatest.Run(t, realmtatest.EximBin, "-C", mtactlEximConf, "-bV")
	runStart(t, filepath.Join(e.Dir, "bd.out"), realmtatest.EximBin, "-C", mtactlEximConf, "-bd", "-q5s")
	t.Cleanup(func() {
		if p, err := readPID(e.PidFile); err == nil {
			syscall.Kill(p, syscall.SIGTERM)
		}
		if pl, err := os.ReadFile(filepath.Join(filepath.Dir(e.Log), "paniclog")); err == nil && len(pl) > 0 {
			t.Errorf("exim paniclog is not empty:\n%s", pl)
		}
	})
	realmtatest.WaitPort(t, e.addr(), 20*time.Second)
	return e
}

// sideOf maps every recipient that arrived to "old" or "new".
func sideOf(got map[string][]string) map[string]string {
	out := map[string]string{}
	for ip, rs := range got {
		side := "new"
		if ip == exOld {
			side = "old"
		}
		for _, r := range rs {
			out[r] = side
		}
	}
	return out
}

// TestRealExim drives one Exim through mtactl: the nhash split of real mail
// (within 4σ, sticky per recipient, monotone when the ratio grows), ratio
// changes without a reload, live throttles, faults that never go live, a
// failing reload, and a rollback to the operator's bytes.
func TestRealExim(t *testing.T) {
	requireRealMTA(t)
	t.Parallel()
	base := newBase(t, "exim")
	sk := startSink(t, exOld, exGmail, exOther, exYahoo)
	ex := startExim(t, base, sk.Port)
	smtpOpts := []string{"port = " + strconv.Itoa(sk.Port), "allow_localhost", "hosts_avoid_tls = *"}
	split := filepath.Join(base, "ex", "cutover-split")
	cfg := Config{
		Providers: map[string][]string{"gmail": {"gmail.com", "googlemail.com"}, "yahoo": {"yahoo.com"}},
		Throttle:  model.ThrottlePolicy{Warm: true},
		Exim: &EximConfig{Config: mtactlEximConf, SplitFile: split, Binary: realmtatest.EximBin, PIDFile: ex.PidFile,
			OldRoute: exOld, OldRouterOptions: []string{"self = send"}, OldTransportOptions: smtpOpts,
			Routes:        map[string]string{"gmail": exGmail, "yahoo": exYahoo},
			RouterOptions: []string{"self = send"}, TransportOptions: smtpOpts},
	}
	db := openDB(t, filepath.Join(base, "cutover.db"))
	c, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	before := fileSet(t, mtactlEximConf, split)
	starts := func() int { return countIn(t, ex.Log, " daemon started: pid=") }
	pid := ex.pid(t)

	inject(t, ex.addr(), "pre", 20)
	if got := sk.waitTotal(t, 20, time.Minute); len(got[exOther]) != 20 {
		t.Fatalf("before cutover: %v", got)
	}

	// ratio set 30: the blocks change, so Exim is reloaded (SIGHUP).
	t0 := time.Now()
	ch, err := c.Plan(model.Desired{}.WithRatio(30, ""))
	if err != nil {
		t.Fatal(err)
	}
	ent, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 30"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply (precheck, -bV, -be, -bt, SIGHUP) took %s; reloaded %v", time.Since(t0).Round(time.Millisecond), ent.Reloaded)
	if strings.Join(ent.Reloaded, ",") != "exim" || starts() != 2 || ex.pid(t) != pid {
		t.Fatalf("reload: %v, %d daemon starts, pid %d -> %d", ent.Reloaded, starts(), pid, ex.pid(t))
	}
	a, _ := outside([]byte(before[mtactlEximConf]), "", []string{"routers", "transports"})
	b, _ := outside([]byte(mustRead(t, mtactlEximConf)), "", []string{"routers", "transports"})
	if !bytes.Equal(a, b) {
		t.Fatal("the operator's lines changed")
	}
	const n = 400
	inject(t, ex.addr(), "r", n)
	got := sk.waitTotal(t, n, 2*time.Minute)
	checkShare(t, "exim nhash at 30%", len(got[exGmail])+len(got[exOther])+len(got[exYahoo]), n, 0.30)
	for _, r := range got[exOther] {
		if d := domainOf(r); d == "gmail.com" || d == "googlemail.com" || d == "yahoo.com" {
			t.Errorf("%s reached the operator's smarthost, not its provider transport", r)
		}
	}
	for _, r := range got[exGmail] {
		if d := domainOf(r); d != "gmail.com" && d != "googlemail.com" {
			t.Errorf("%s reached remote_gmail", r)
		}
	}
	for _, r := range got[exYahoo] {
		if domainOf(r) != "yahoo.com" {
			t.Errorf("%s reached remote_yahoo", r)
		}
	}
	at30 := sideOf(got)

	// Sticky: the same recipients again land on the same sides.
	inject(t, ex.addr(), "r", 100)
	for r, side := range sideOf(sk.waitTotal(t, 100, time.Minute)) {
		if at30[r] != side {
			t.Errorf("%s went %s at 30%% and now %s: the split is not sticky", r, at30[r], side)
		}
	}

	// ratio set 50 changes only the lookup file: no reload, yet live.
	ch, err = c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	ent, err = c.Apply(t0ctx(), ch, CurrentWho("ratio set 50"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ent.Reloaded) != 0 || starts() != 2 || len(ch.Files) != 2 || ch.Files[0].Changed || !ch.Files[1].Changed {
		t.Fatalf("a ratio change reloaded Exim or changed its config: %v, %d starts", ent.Reloaded, starts())
	}
	inject(t, ex.addr(), "r", 100)
	moved := 0
	for r, side := range sideOf(sk.waitTotal(t, 100, time.Minute)) {
		if at30[r] == "new" && side != "new" {
			t.Errorf("%s went back from NEW to OLD when the ratio grew", r)
		}
		if at30[r] == "old" && side == "new" {
			moved++
		}
	}
	if moved == 0 {
		t.Error("raising the ratio to 50% moved nobody to NEW")
	}

	// throttle set gmail --conn 2 (10 per connection): the transports change,
	// Exim is reloaded, and -bP shows the live values.
	ch, err = c.Plan(c.Current().WithOverride("gmail", model.Throttle{Connections: 2, PerConnection: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("throttle set gmail"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	bp := realmtatest.Run(t, realmtatest.EximBin, "-C", mtactlEximConf, "-bP", "transport", "remote_gmail")
	for _, want := range []string{"max_parallel = 2\n", "connection_max_messages = 10\n"} {
		if !strings.Contains(bp, want) {
			t.Errorf("exim -bP transport remote_gmail lacks %q:\n%s", want, bp)
		}
	}
	if starts() != 3 {
		t.Errorf("throttle change: %d daemon starts, want 3", starts())
	}

	// A fault in the template: exim -bV rejects the new file before it
	// replaces the live one; nothing is reloaded.
	pre := fileSet(t, mtactlEximConf, split)
	c.mutate = func(p string, b []byte) []byte {
		if p == mtactlEximConf {
			return bytes.Replace(b, []byte("# END cutover transports\n"), []byte("  no_such_option = 1\n# END cutover transports\n"), 1)
		}
		return b
	}
	ch, err = c.Plan(c.Current().WithOverride("gmail", model.Throttle{Connections: 3}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(t0ctx(), ch, CurrentWho("fault in the template"), ApplyOptions{})
	c.mutate = nil
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored || !strings.Contains(err.Error(), `option "no_such_option" unknown`) || !strings.Contains(err.Error(), "exim: validate failed") {
		t.Fatalf("template fault: %v", err)
	}
	t.Logf("template fault reported as:\n%s", clip(err.Error(), 600))
	sameFiles(t, "after the template fault", pre)
	if starts() != 3 {
		t.Error("a config the checker rejected was reloaded")
	}

	// A fault in the operator's part: shown as drift, rejected, never live.
	faulty := strings.Replace(pre[mtactlEximConf], "smarthost:\n  driver = manualroute\n", "smarthost:\n  driver = manualrout\n", 1)
	mustWrite(t, mtactlEximConf, faulty)
	ch, err = c.Plan(c.Current().WithOverride("gmail", model.Throttle{Connections: 3}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Drift) != 1 || ch.Drift[0].InBlock {
		t.Fatalf("drift %+v", ch.Drift)
	}
	_, err = c.Apply(t0ctx(), ch, CurrentWho("fault in the operator's part"), ApplyOptions{AcceptDrift: true})
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), `cannot find router driver "manualrout"`) {
		t.Fatalf("operator fault: %v", err)
	}
	if mustRead(t, mtactlEximConf) != faulty || starts() != 3 {
		t.Error("the operator's file is not back as it was, or it was reloaded")
	}
	mustWrite(t, mtactlEximConf, pre[mtactlEximConf])

	// A reload that fails is reverted, and the restored file is reloaded.
	fk := newFake(t)
	cfg2 := cfg.clone()
	cfg2.Exim.Reload = fk.argv("reload", "--", "kill", "-HUP", strconv.Itoa(pid))
	c2, err := New(cfg2, db)
	if err != nil {
		t.Fatal(err)
	}
	fk.failOnce(t, "reload", "kill: (4242) - No such process\n")
	ch, err = c2.Plan(c2.Current().WithOverride("gmail", model.Throttle{Connections: 4}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Apply(t0ctx(), ch, CurrentWho("reload fails"), ApplyOptions{})
	if !errors.As(err, &ae) || !ae.Restored || ae.ReloadErr != nil || strings.Join(ae.ReloadedAgain, ",") != "exim" || !strings.Contains(err.Error(), "exim: reload failed") {
		t.Fatalf("reload failure: %v", err)
	}
	sameFiles(t, "after the failed reload", pre)
	deadline := time.Now().Add(5 * time.Second)
	for starts() != 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if starts() != 4 {
		t.Errorf("the restored config was not reloaded: %d daemon starts", starts())
	}

	// rollback --to 1: the operator's bytes, the split file gone, mail as before.
	if _, err := c.Rollback(t0ctx(), "1", CurrentWho("rollback --to 1"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "after rollback", before)
	inject(t, ex.addr(), "post", 30)
	if got := sk.waitTotal(t, 30, time.Minute); len(got[exOther]) != 30 {
		t.Errorf("after rollback not as before cutover: %v", got)
	}
}
