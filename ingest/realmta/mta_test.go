//go:build realmta

package realmta

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
)

// Paths set up by scripts/real-mta.sh (keep in sync with it).
var (
	eximBin   = realmtatest.EximBin
	eximstats = filepath.Join(realmtatest.Dir, "exim-root/usr/sbin/eximstats")
	// eximConf is the one config path listed in /etc/exim4/trusted_configs: a
	// -C config that is not listed there makes exim drop root on re-exec.
	eximConf = filepath.Join(realmtatest.Dir, "exim.conf")
)

// requireRealMTA skips the test when the real MTAs cannot run here, except
// under CI=true (realmtatest.Require).
func requireRealMTA(t *testing.T) {
	t.Helper()
	realmtatest.Require(t, []string{"/usr/sbin/postfix", "/usr/sbin/postconf", "/usr/sbin/postmap",
		"/usr/sbin/postqueue", "/usr/sbin/pflogsumm", eximBin, eximstats}, func() error {
		if b, err := os.ReadFile("/etc/exim4/trusted_configs"); err != nil || !bytes.Contains(b, []byte(eximConf+"\n")) {
			return fmt.Errorf("%s in /etc/exim4/trusted_configs", eximConf)
		}
		return nil
	})
}

// Simulated remote sites: one loopback address each (see
// shared/reference/real-mtas.md §1.4: one sink address = one destination).
const (
	siteGmail  = "127.0.0.2" // gmail.com, googlemail.com
	siteYahoo  = "127.0.0.3" // yahoo.com
	siteDefer  = "127.0.0.4" // defer.example: 421 + close
	siteGrey   = "127.0.0.5" // grey.example: 451
	siteBounce = "127.0.0.6" // bounce.example: 550
	siteOther  = "127.0.0.7" // everything else (ok.example, sender.example, ...)
	siteDown   = "127.0.0.8" // down.example: nothing listens (connection refused)
	siteMS     = "127.0.0.9" // hotmail.com

	// Source addresses the MTAs bind to, so the sink can tell them apart
	// (Postfix smtp_bind_address per transport, Exim transport interface).
	pfSrcDefault = "127.0.0.10"
	pfSrcGmail   = "127.0.0.11"
	pfSrcYahoo   = "127.0.0.12"
	exSrcDefault = "127.0.0.20"
	exSrcGmail   = "127.0.0.21"
)

var sinkAddrs = []string{siteGmail, siteYahoo, siteDefer, siteGrey, siteBounce, siteOther, siteMS}

// Queue lifetimes: short so that deferred mail expires within the test.
const (
	pfLifetime = "2m" // maximal_queue_lifetime, bounce_queue_lifetime
	exRetry    = "F,2m,10s"
)

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------- Postfix

type postfixInst struct {
	Conf, Spool, Log string
	Port             int
}

func startPostfix(t *testing.T, base string, sinkPort int) *postfixInst {
	t.Helper()
	p := &postfixInst{
		Conf:  filepath.Join(base, "pf/conf"),
		Spool: filepath.Join(base, "pf/spool"),
		Log:   filepath.Join(base, "pf/log/postfix.log"),
		Port:  realmtatest.FreePort(t),
	}
	// data_directory is created by `postfix check` with the right owner
	for _, d := range []string{p.Conf, p.Spool, filepath.Dir(p.Log)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sp := strconv.Itoa(sinkPort)
	mustWrite(t, filepath.Join(p.Conf, "main.cf"), `compatibility_level = 3.6
queue_directory = `+p.Spool+`
data_directory = `+filepath.Join(base, "pf/data")+`
myhostname = old-mta.localdomain
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access inline:{ { blocked.example = REJECT 5.7.1 blocked by test policy } }, permit_mynetworks, reject_unauth_destination
relayhost = [`+siteOther+`]:`+sp+`
transport_maps = hash:`+filepath.Join(p.Conf, "transport")+`
smtp_tls_security_level = none
smtp_bind_address = `+pfSrcDefault+`
maillog_file = `+p.Log+`
maillog_file_prefixes = /var, /dev/stdout, `+base+`
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
maximal_queue_lifetime = `+pfLifetime+`
bounce_queue_lifetime = `+pfLifetime+`
gmail_destination_concurrency_limit = 2
gmail_destination_recipient_limit = 5
smtp-yahoo_destination_concurrency_limit = 3
`)
	mustWrite(t, filepath.Join(p.Conf, "master.cf"), fmt.Sprintf(`127.0.0.1:%d inet n     -       n       -       -       smtpd
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
        -o syslog_name=postfix/$service_name
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
gmail     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/gmail
        -o smtp_bind_address=%s
smtp-yahoo unix -       -       n       -       -       smtp
        -o syslog_name=postfix/smtp-yahoo
        -o smtp_bind_address=%s
`, p.Port, pfSrcGmail, pfSrcYahoo))
	mustWrite(t, filepath.Join(p.Conf, "transport"), fmt.Sprintf(`gmail.com        gmail:[%[1]s]:%[8]s
googlemail.com   gmail:[%[1]s]:%[8]s
yahoo.com        smtp-yahoo:[%[2]s]:%[8]s
defer.example    smtp:[%[3]s]:%[8]s
grey.example     smtp:[%[4]s]:%[8]s
bounce.example   smtp:[%[5]s]:%[8]s
down.example     smtp:[%[6]s]:%[8]s
hotmail.com      smtp:[%[7]s]:%[8]s
`, siteGmail, siteYahoo, siteDefer, siteGrey, siteBounce, siteDown, siteMS, sp))
	realmtatest.Run(t, "postmap", "-c", p.Conf, "hash:"+filepath.Join(p.Conf, "transport"))
	// postfix(1) reports to stderr only on a tty; on failure show the log.
	for _, args := range [][]string{{"-c", p.Conf, "check"}, {"-c", p.Conf, "start"}} {
		if err := realmtatest.RunStart(t, filepath.Join(base, "pf/postfix-cmd.out"), "postfix", args...); err != nil {
			log, _ := os.ReadFile(p.Log)
			t.Fatalf("%v\nlog:\n%s", err, log)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("postfix", "-c", p.Conf, "stop").CombinedOutput(); err != nil {
			t.Logf("postfix stop: %v %s", err, out)
		}
	})
	realmtatest.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", p.Port), 20*time.Second)
	return p
}

// QueueEmpty reports whether the instance's queue holds no message.
func (p *postfixInst) QueueEmpty(t *testing.T) bool {
	out, err := exec.Command("postqueue", "-c", p.Conf, "-j").Output()
	if err != nil {
		t.Logf("postqueue -j: %v", err)
		return false
	}
	return len(bytes.TrimSpace(out)) == 0
}

// ---------------------------------------------------------------- Exim

type eximInst struct {
	Dir, Spool, Log, PidFile string
	Port                     int
	unlock                   func()
}

// lockEximConf serialises test runs that share the trusted config path.
func lockEximConf(t *testing.T) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(realmtatest.Dir, "exim.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}

func startExim(t *testing.T, base string, sinkPort int) *eximInst {
	t.Helper()
	e := &eximInst{
		Dir:   filepath.Join(base, "ex"),
		Spool: filepath.Join(base, "ex/spool"),
		Log:   filepath.Join(base, "ex/log/mainlog"),
		Port:  realmtatest.FreePort(t),
	}
	e.PidFile = filepath.Join(e.Dir, "exim.pid")
	for _, d := range []string{e.Spool, filepath.Dir(e.Log)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		realmtatest.Run(t, "chown", "Debian-exim:Debian-exim", d)
	}
	e.unlock = lockEximConf(t)
	t.Cleanup(e.unlock)
	conf := fmt.Sprintf(`# written by cutover ingest/realmta tests for %[1]s
primary_hostname = new-mta.localdomain
exim_path = %[2]s
spool_directory = %[3]s
log_file_path = %[4]s/%%slog
pid_file_path = %[5]s
daemon_smtp_ports = %[6]d
local_interfaces = 127.0.0.1
disable_ipv6 = true
tls_advertise_hosts =
keep_environment =
host_lookup =
never_users = root
domainlist local_domains =
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
log_selector = +smtp_confirmation +queue_time +deliver_time +received_recipients +incoming_interface +outgoing_interface +outgoing_port
ignore_bounce_errors_after = 2m
timeout_frozen_after = 3m

begin acl
acl_check_rcpt:
  deny    domains = blocked.example
          message = blocked by test policy
  accept  hosts   = +relay_from_hosts
  deny    message = relay not permitted

begin routers
gmail:
  driver = manualroute
  domains = gmail.com : googlemail.com
  route_list = * %[7]s
  self = send
  transport = remote_smtp_gmail
  no_more
smarthost:
  driver = manualroute
  domains = ! +local_domains
  route_list = yahoo.com %[8]s ; defer.example %[9]s ; grey.example %[10]s ; bounce.example %[11]s ; down.example %[12]s ; hotmail.com %[13]s ; * %[14]s
  self = send
  transport = remote_smtp

begin transports
remote_smtp:
  driver = smtp
  port = %[15]d
  interface = %[16]s
  allow_localhost
  hosts_avoid_tls = *
remote_smtp_gmail:
  driver = smtp
  port = %[15]d
  interface = %[17]s
  allow_localhost
  hosts_avoid_tls = *
  max_rcpt = 5

begin retry
*   *   %[18]s
`, base, eximBin, e.Spool, filepath.Dir(e.Log), e.PidFile, e.Port,
		siteGmail, siteYahoo, siteDefer, siteGrey, siteBounce, siteDown, siteMS, siteOther,
		sinkPort, exSrcDefault, exSrcGmail, exRetry)
	// root-owned and not group/other-writable, or exim ignores trusted_configs
	if err := os.WriteFile(eximConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(eximConf, 0o644)
	os.WriteFile(filepath.Join(e.Dir, "exim.conf"), []byte(conf), 0o644) // a copy kept with the logs
	realmtatest.Run(t, eximBin, "-C", eximConf, "-bV")
	realmtatest.Run(t, eximBin, "-C", eximConf, "-bt", "alice@gmail.com", "erin@defer.example", "x@ok.example")
	if err := realmtatest.RunStart(t, filepath.Join(e.Dir, "exim-bd.out"), eximBin, "-C", eximConf, "-bd", "-q5s"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b, err := os.ReadFile(e.PidFile)
		if err != nil {
			t.Logf("exim pid file: %v", err)
			return
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid > 1 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		// panic log must stay empty: every line there is a setup error
		if pl, err := os.ReadFile(filepath.Join(filepath.Dir(e.Log), "paniclog")); err == nil && len(pl) > 0 {
			t.Errorf("exim paniclog is not empty:\n%s", pl)
		}
	})
	realmtatest.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", e.Port), 20*time.Second)
	return e
}

// QueueCount is exim -bpc.
func (e *eximInst) QueueCount(t *testing.T) int {
	out, err := exec.Command(eximBin, "-C", eximConf, "-bpc").Output()
	if err != nil {
		t.Logf("exim -bpc: %v", err)
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return -1
	}
	return n
}

// ---------------------------------------------------------------- traffic

// traffic is what the injector got accepted: messages and recipients per
// recipient domain (ground truth for the checks).
type traffic struct {
	Messages int
	Rcpts    map[string]int // accepted recipients by domain
	Rejected int            // recipients rejected at RCPT by the MTA
	// Expected final outcome of each accepted recipient, by domain: the
	// sink's verdict, and expiry for 4xx and for the dead site.
	Deliver, Bounce, Expire map[string]int
	ExpireMsgs              int // messages with at least one expiring recipient
}

// expectedOutcome is what must finally happen to a recipient.
func expectedOutcome(rcpt string) string {
	if strings.HasSuffix(rcpt, "@down.example") {
		return "expire"
	}
	reply, _ := sinkVerdict(rcpt)
	switch reply[0] {
	case '2':
		return "deliver"
	case '4':
		return "expire"
	}
	return "bounce"
}

// rcptsFor returns the recipients of message i: mostly deliverable mail to
// several providers, plus hard bounces, 421/451 deferrals, a dead site and a
// policy reject, with a few multi-recipient messages.
func rcptsFor(i int) []string {
	u := fmt.Sprintf("u%03d", i)
	switch i % 20 {
	case 0, 13, 18:
		return []string{u + "@gmail.com"}
	case 1, 17:
		return []string{u + "@googlemail.com"}
	case 2, 14, 19:
		return []string{u + "@yahoo.com"}
	case 3, 15:
		return []string{u + "@ok.example"}
	case 4, 16:
		return []string{u + "@hotmail.com"}
	case 5:
		return []string{"nouser" + u + "@gmail.com"}
	case 6:
		return []string{u + "@bounce.example"}
	case 7:
		return []string{u + "@defer.example"}
	case 8:
		return []string{u + "@grey.example"}
	case 9:
		return []string{u + "@down.example"}
	case 10:
		return []string{"a" + u + "@gmail.com", "b" + u + "@gmail.com", "c" + u + "@yahoo.com", "d" + u + "@ok.example"}
	case 11:
		return []string{"a" + u + "@ok.example", "nouser" + u + "@yahoo.com", "x" + u + "@defer.example"}
	default: // 12
		return []string{"blocked" + u + "@blocked.example", u + "@hotmail.com"}
	}
}

// inject sends n messages over SMTP, 10 per connection.
func inject(t *testing.T, addr string, n int, from, tag string) traffic {
	t.Helper()
	tr := traffic{Rcpts: map[string]int{}, Deliver: map[string]int{}, Bounce: map[string]int{}, Expire: map[string]int{}}
	var c *smtp.Client
	for i := 0; i < n; i++ {
		if c == nil {
			var err error
			if c, err = smtp.Dial(addr); err != nil {
				t.Fatalf("inject: %v", err)
			}
			if err := c.Hello("client.test"); err != nil {
				t.Fatalf("inject: %v", err)
			}
		}
		if err := c.Mail(from); err != nil {
			t.Fatalf("inject MAIL: %v", err)
		}
		var ok []string
		for _, r := range rcptsFor(i) {
			if err := c.Rcpt(r); err != nil {
				var te *textproto.Error
				if !errors.As(err, &te) || te.Code/100 != 5 || !strings.HasSuffix(r, "@blocked.example") {
					t.Fatalf("inject RCPT %s: %v", r, err)
				}
				tr.Rejected++
				continue
			}
			ok = append(ok, r)
		}
		if len(ok) == 0 {
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("inject DATA: %v", err)
		}
		fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s test %d\r\nMessage-ID: <%s.%d@client.test>\r\n\r\nmessage %d\r\n",
			from, strings.Join(ok, ", "), tag, i, tag, i, i)
		if err := w.Close(); err != nil {
			t.Fatalf("inject end of DATA: %v", err)
		}
		tr.Messages++
		expires := false
		for _, r := range ok {
			_, dom, _ := strings.Cut(r, "@")
			tr.Rcpts[dom]++
			switch expectedOutcome(r) {
			case "deliver":
				tr.Deliver[dom]++
			case "bounce":
				tr.Bounce[dom]++
			default:
				tr.Expire[dom]++
				expires = true
			}
		}
		if expires {
			tr.ExpireMsgs++
		}
		if i%10 == 9 {
			c.Quit()
			c = nil
		}
	}
	if c != nil {
		c.Quit()
	}
	return tr
}

// ---------------------------------------------------------------- settling

var (
	pfActiveRe  = regexp.MustCompile(`postfix/qmgr\[\d+\]: ([0-9A-F]+): from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)`)
	pfRemovedRe = regexp.MustCompile(`postfix/qmgr\[\d+\]: ([0-9A-F]+): removed$`)
	pfClientRe  = regexp.MustCompile(`postfix/smtpd\[\d+\]: [0-9A-F]+: client=`)
	exArriveRe  = regexp.MustCompile(`^\S+ \S+ (\S+) <= `)
	exDoneRe    = regexp.MustCompile(`^\S+ \S+ (\S+) Completed`)
)

// logSettled reports whether every message that entered the queue has
// left it, and how many arrived by SMTP (Postfix client= / Exim P=esmtp).
func logSettled(path string, arrive, done *regexp.Regexp, smtpIn func(string) bool) (settled bool, inSMTP, open int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0, 0, err
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if smtpIn(line) {
			inSMTP++
		}
		if m := arrive.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
		} else if m := done.FindStringSubmatch(line); m != nil {
			delete(seen, m[1])
		}
	}
	return len(seen) == 0, inSMTP, len(seen), sc.Err()
}

// waitSettled polls until cond returns true or the timeout passes.
func waitFor(t *testing.T, what string, timeout, every time.Duration, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for {
		ok, status := cond()
		if ok {
			t.Logf("%s after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if status != last {
			t.Logf("waiting for %s: %s (%s)", what, status, time.Since(start).Round(time.Second))
			last = status
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout after %s waiting for %s: %s", timeout, what, status)
		}
		time.Sleep(every)
	}
}

func countLines(t *testing.T, path, substr string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte(substr))
}
