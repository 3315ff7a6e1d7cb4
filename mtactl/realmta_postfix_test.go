//go:build realmta

package mtactl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
	"cutover/model"
)

// Next hops of the Postfix test, one loopback address each.
const (
	pfOld   = "127.0.0.30" // the OLD side (a cloud relay or the old MTA)
	pfGmail = "127.0.0.31" // NEW, gmail transport
	pfOther = "127.0.0.32" // NEW, the delivery instance's relayhost for every other domain
	pfYahoo = "127.0.0.33" // NEW, yahoo transport
)

type pfInst struct {
	Name, Conf, Spool, Log string
	Port                   int
}

func (p *pfInst) addr() string   { return fmt.Sprintf("127.0.0.1:%d", p.Port) }
func (p *pfInst) mainCF() string { return filepath.Join(p.Conf, "main.cf") }
func (p *pfInst) master() string { return filepath.Join(p.Conf, "master.cf") }

// startPostfix starts one instance with its own config dir, queue and log,
// relaying everything to relayhost (the operator's config before cutover).
func startPostfix(t *testing.T, base, name, relayhost string) *pfInst {
	t.Helper()
	p := &pfInst{Name: name, Conf: filepath.Join(base, name, "conf"), Spool: filepath.Join(base, name, "spool"),
		Log: filepath.Join(base, name, "postfix.log"), Port: realmtatest.FreePort(t)}
	for _, d := range []string{p.Conf, p.Spool} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, p.mainCF(), `# operator's main.cf of the `+name+` instance; cutover must keep every byte of it
compatibility_level = 3.6
queue_directory = `+p.Spool+`
data_directory = `+filepath.Join(base, name, "data")+`
myhostname = `+name+`.localdomain
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = `+relayhost+`
smtp_tls_security_level = none
maillog_file = `+p.Log+`
maillog_file_prefixes = /var, /dev/stdout, `+base+`
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
`)
	mustWrite(t, p.master(), fmt.Sprintf(`# operator's master.cf
127.0.0.1:%d inet n     -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`, p.Port))
	out := filepath.Join(base, name, "cmd.out")
	runStart(t, out, "postfix", "-c", p.Conf, "check")
	runStart(t, out, "postfix", "-c", p.Conf, "start")
	t.Cleanup(func() { exec.Command("postfix", "-c", p.Conf, "stop").Run() })
	realmtatest.WaitPort(t, p.addr(), 20*time.Second)
	return p
}

func countIn(t *testing.T, path, substr string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte(substr))
}

func domainOf(rcpt string) string { _, d, _ := strings.Cut(rcpt, "@"); return d }

// TestRealPostfix drives a front instance (split by randmap) and a delivery
// instance (one transport per provider) through mtactl: the split of real
// mail, live throttle parameters, faults that must never be reloaded, a
// failing reload, and a rollback to the operator's bytes.
func TestRealPostfix(t *testing.T) {
	requireRealMTA(t)
	t.Parallel()
	base := newBase(t, "postfix")
	sk := startSink(t, pfOld, pfGmail, pfOther, pfYahoo)
	hop := func(ip string) string { return fmt.Sprintf("[%s]:%d", ip, sk.Port) }
	front := startPostfix(t, base, "front", hop(pfOld))
	deliv := startPostfix(t, base, "delivery", hop(pfOther))
	cfg := Config{
		Providers: map[string][]string{"gmail": {"gmail.com", "googlemail.com"}, "yahoo": {"yahoo.com"}},
		Throttle:  model.ThrottlePolicy{Warm: true},
		Postfix: &PostfixConfig{
			Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: front.Conf, MaillogFile: front.Log},
				OldNexthop: hop(pfOld), NewNexthop: "[127.0.0.1]:" + fmt.Sprint(deliv.Port)},
			Delivery: &PostfixDelivery{PostfixInstance: PostfixInstance{ConfigDir: deliv.Conf, MaillogFile: deliv.Log},
				Nexthops: map[string]string{"gmail": hop(pfGmail), "yahoo": hop(pfYahoo)}},
		},
	}
	db := openDB(t, filepath.Join(base, "cutover.db"))
	c, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	tmap := filepath.Join(deliv.Conf, "cutover_transport")
	managed := []string{front.mainCF(), front.master(), deliv.mainCF(), deliv.master(), tmap, tmap + ".db"}
	before := fileSet(t, managed...)

	// Before cutover every message goes to OLD.
	inject(t, front.addr(), "pre", 20)
	if got := sk.waitTotal(t, 20, time.Minute); len(got[pfOld]) != 20 {
		t.Fatalf("before cutover: %v", got)
	}

	// ratio set 30
	t0 := time.Now()
	ch, err := c.Plan(model.Desired{}.WithRatio(30, ""))
	if err != nil {
		t.Fatal(err)
	}
	ent, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 30"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply (2 instances: check, postconf/postmap probes, reload) took %s; reloaded %v", time.Since(t0).Round(time.Millisecond), ent.Reloaded)
	for _, p := range []string{front.mainCF(), front.master(), deliv.mainCF(), deliv.master()} {
		a, _ := outside([]byte(before[p]), p, []string{""})
		b, _ := outside([]byte(mustRead(t, p)), p, []string{""})
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the operator's lines changed", p)
		}
	}
	const n = 400
	inject(t, front.addr(), "r30-", n)
	got := sk.waitTotal(t, n, 2*time.Minute)
	checkShare(t, "postfix randmap at 30%", len(got[pfGmail])+len(got[pfOther])+len(got[pfYahoo]), n, 0.30)
	// NEW mail took its provider's transport: the delivery instance's
	// transport_maps, not its relayhost.
	for _, r := range got[pfOther] {
		if d := domainOf(r); d == "gmail.com" || d == "googlemail.com" || d == "yahoo.com" {
			t.Errorf("%s reached the default next hop, not its provider transport", r)
		}
	}
	for ip, want := range map[string][]string{pfGmail: {"gmail.com", "googlemail.com"}, pfYahoo: {"yahoo.com"}} {
		if len(got[ip]) == 0 {
			t.Errorf("nothing reached %s", ip)
		}
		for _, r := range got[ip] {
			if d := domainOf(r); d != want[0] && (len(want) < 2 || d != want[1]) {
				t.Errorf("%s reached %s", r, ip)
			}
		}
	}
	if n := countIn(t, deliv.Log, "postfix/gmail/smtp["); n == 0 {
		t.Error("no delivery logged by the gmail transport (syslog_name postfix/gmail)")
	}

	// throttle set gmail --rate 1200/h --conn 2 (+ 10 per connection)
	reloads := countIn(t, deliv.Log, "reload -- version")
	ch, err = c.Plan(c.Current().WithOverride("gmail", model.Throttle{PerHour: 1200, Connections: 2, PerConnection: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("throttle set gmail"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for param, want := range map[string]string{
		"gmail_destination_concurrency_limit":               "2",
		"gmail_destination_rate_delay":                      "3s",
		"gmail_destination_concurrency_failed_cohort_limit": "10",
		"yahoo_destination_concurrency_limit":               "10", // the default ceiling for Yahoo
	} {
		if v := strings.TrimSpace(realmtatest.Run(t, "postconf", "-c", deliv.Conf, "-h", param)); v != want {
			t.Errorf("postconf -h %s = %q, want %q", param, v, want)
		}
	}
	if v := strings.TrimSpace(realmtatest.Run(t, "postconf", "-c", deliv.Conf, "-P", "gmail/unix/smtp_connection_reuse_count_limit")); v != "gmail/unix/smtp_connection_reuse_count_limit = 10" {
		t.Errorf("postconf -P: %q", v)
	}
	if countIn(t, deliv.Log, "reload -- version") <= reloads {
		t.Error("the delivery instance was not reloaded")
	}

	// A fault in the template: postfix check rejects it, it is never
	// reloaded, the previous files are back, the error quotes the checker.
	pre := fileSet(t, managed...)
	frontReloads, delivReloads := countIn(t, front.Log, "reload -- version"), countIn(t, deliv.Log, "reload -- version")
	c.mutate = func(p string, b []byte) []byte {
		if p == deliv.master() {
			return bytes.Replace(b, []byte("# END cutover\n"), []byte("gmail2 unix - - n\n# END cutover\n"), 1)
		}
		return b
	}
	ch, err = c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(t0ctx(), ch, CurrentWho("fault in the template"), ApplyOptions{})
	c.mutate = nil
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored || !strings.Contains(err.Error(), "bad field count") || !strings.Contains(err.Error(), "postfix-delivery: validate failed") {
		t.Fatalf("template fault: %v", err)
	}
	t.Logf("template fault reported as:\n%v", err)
	sameFiles(t, "after the template fault", pre)
	if countIn(t, front.Log, "reload -- version") != frontReloads || countIn(t, deliv.Log, "reload -- version") != delivReloads {
		t.Error("a config the checker rejected was reloaded")
	}

	// A fault in the operator's part of a file the change touches (the
	// front's master.cf): the same, and it is shown as drift first.
	faulty := pre[front.master()] + "bogus unix - - n\n"
	mustWrite(t, front.master(), faulty)
	ch, err = c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Drift) != 1 || ch.Drift[0].InBlock || !strings.Contains(ch.Drift[0].Diff, "+bogus unix - - n") {
		t.Fatalf("operator edit not shown as drift: %+v", ch.Drift)
	}
	_, err = c.Apply(t0ctx(), ch, CurrentWho("fault in the operator's part"), ApplyOptions{AcceptDrift: true})
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "bad field count") || !strings.Contains(err.Error(), "postfix-front: validate failed") {
		t.Fatalf("operator fault: %v", err)
	}
	if mustRead(t, front.master()) != faulty {
		t.Error("the previous (operator's) master.cf is not back")
	}
	if countIn(t, front.Log, "reload -- version") != frontReloads || countIn(t, deliv.Log, "reload -- version") != delivReloads {
		t.Error("a config the checker rejected was reloaded")
	}
	mustWrite(t, front.master(), pre[front.master()])

	// A reload that fails is reverted: the delivery reload fails once; the
	// restored files are reloaded for real (front and delivery).
	fk := newFake(t)
	cfg2 := cfg.clone()
	d2 := *cfg2.Postfix.Delivery
	d2.Reload = fk.argv("reload", "--", "postfix", "-c", deliv.Conf, "reload")
	cfg2.Postfix.Delivery = &d2
	c2, err := New(cfg2, db)
	if err != nil {
		t.Fatal(err)
	}
	fk.failOnce(t, "reload", "postfix/postfix-script: fatal: the Postfix mail system is not running\n")
	// ratio and throttle: both instances change; the front reloads fine
	ch, err = c2.Plan(c2.Current().WithRatio(50, "").WithOverride("gmail", model.Throttle{PerHour: 2400}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Apply(t0ctx(), ch, CurrentWho("reload fails"), ApplyOptions{})
	if !errors.As(err, &ae) || !ae.Restored || ae.ReloadErr != nil || strings.Join(ae.ReloadedAgain, ",") != "postfix-front,postfix-delivery" ||
		!strings.Contains(err.Error(), "postfix-delivery: reload failed") || !strings.Contains(err.Error(), "mail system is not running") {
		t.Fatalf("reload failure: %v", err)
	}
	sameFiles(t, "after the failed reload", pre)
	if countIn(t, front.Log, "reload -- version") != frontReloads+2 || countIn(t, deliv.Log, "reload -- version") != delivReloads+1 {
		t.Errorf("reloads after the failed one: front %d->%d, delivery %d->%d", frontReloads, countIn(t, front.Log, "reload -- version"),
			delivReloads, countIn(t, deliv.Log, "reload -- version"))
	}

	// rollback --to 1: the operator's bytes, and mail flows as before.
	if _, err := c.Rollback(t0ctx(), "1", CurrentWho("rollback --to 1"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "after rollback", before)
	inject(t, front.addr(), "post", 30)
	if got := sk.waitTotal(t, 30, time.Minute); len(got[pfOld]) != 30 {
		t.Errorf("after rollback, not everything goes to OLD: %d of 30", len(got[pfOld]))
	}
	hist, _ := c.History()
	var results []string
	for _, h := range hist {
		results = append(results, h.ID+":"+h.Action+":"+h.Result)
	}
	t.Logf("history: %s", strings.Join(results, " "))
}
