//go:build realdns

// Integration tests against real DNS servers from Debian's packages: knot as
// the authoritative server and unbound as a caching resolver, both on
// 127.0.0.1 ports, started and stopped by pid here; pyspf (python3-spf) and
// python3-dkim as independent implementations. Run with
//
//	go test -tags realdns -run RealDNS ./ingest/dnsq/
//
// (scripts/ci-deps.sh installs the packages). Without them the tests skip,
// except under CI=true, where they fail.
package dnsq_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model/auth"
)

const (
	knotPort    = 22310
	unboundPort = 22311
	python      = "/usr/bin/python3" // Debian's: a pyenv python on the PATH does not see python3-spf
)

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (scripts/ci-deps.sh installs it)", b)
			}
			t.Skipf("%s is missing (scripts/ci-deps.sh installs it)", b)
		}
	}
	if err := exec.Command(python, "-c", "import spf, dkim, dns.resolver").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-spf, python3-dkim or python3-dnspython missing (scripts/ci-deps.sh installs them)")
		}
		t.Skip("python3-spf, python3-dkim or python3-dnspython missing")
	}
}

type realLab struct {
	dir, knotConf string
	knotAddr      string
	unboundAddr   string
}

func exampleZone(serial int, ttlRecord string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `$ORIGIN example.test.
$TTL 60
@ SOA ns1.example.test. hostmaster.example.test. %d 3600 600 86400 5
@ NS ns1.example.test.
ns1 A 127.0.0.1
@ TXT "v=spf1 ip4:203.0.113.10 include:esp.test -all"
nested TXT "v=spf1 include:esp.test ~all"
void TXT "v=spf1 a:nx1.example.test a:nx2.example.test a:nx3.example.test ip4:192.0.2.9 -all"
two-void TXT "v=spf1 a:nx1.example.test a:nx2.example.test ip4:192.0.2.9 -all"
badinc TXT "v=spf1 include:nothing.example.test -all"
mxs TXT "v=spf1 mx -all"
mxs MX 10 mx1.example.test.
mxs MX 20 mx2.example.test.
mx1 A 198.51.100.201
mx2 A 198.51.100.202
many TXT "v=spf1 include:i1.example.test include:i2.example.test include:i3.example.test include:i4.example.test include:i5.example.test include:i6.example.test include:i7.example.test include:i8.example.test include:i9.example.test include:i10.example.test include:i11.example.test -all"
`, serial)
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "i%d TXT \"v=spf1 ip4:198.51.100.%d -all\"\n", i, i)
	}
	b.WriteString(ttlRecord)
	return b.String()
}

const espZone = `$ORIGIN esp.test.
$TTL 60
@ SOA ns1.example.test. hostmaster.esp.test. 1 3600 600 86400 5
@ NS ns1.example.test.
@ TXT "v=spf1 ip4:198.51.100.0/25 include:e2.esp.test ~all"
e2 TXT "v=spf1 ip4:192.0.2.128/25 -all"
`

func startLab(t *testing.T, extra string) *realLab {
	t.Helper()
	need(t, "knotd", "knotc", "unbound")
	dir, err := os.MkdirTemp("", "h16-realdns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l := &realLab{dir: dir, knotAddr: fmt.Sprintf("127.0.0.1:%d", knotPort), unboundAddr: fmt.Sprintf("127.0.0.1:%d", unboundPort)}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("example.test.zone", exampleZone(1, extra))
	write("esp.test.zone", espZone)
	l.knotConf = filepath.Join(dir, "knot.conf") // absolute: knotc reload needs it
	write("knot.conf", fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]d
control:
    listen: "%[1]s/knot.sock"
database:
    storage: "%[1]s/db"
template:
  - id: default
    storage: "%[1]s"
    file: "%%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: example.test
  - domain: esp.test
`, dir, knotPort))
	write("unbound.conf", fmt.Sprintf(`server:
    interface: 127.0.0.1@%[2]d
    port: %[2]d
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "%[1]s"
    pidfile: "%[1]s/unbound.pid"
    use-syslog: no
    logfile: "%[1]s/unbound.log"
    do-ip6: no
    do-not-query-localhost: no
    local-zone: "test." nodefault
    domain-insecure: "test."
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    prefetch: no
stub-zone:
    name: "example.test."
    stub-addr: 127.0.0.1@%[3]d
stub-zone:
    name: "esp.test."
    stub-addr: 127.0.0.1@%[3]d
`, dir, unboundPort, knotPort))
	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt) // by pid, never by name
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("%s (pid %d) output:\n%s", name, pid, out.String())
			}
		})
	}
	start("knotd", "-c", l.knotConf)
	start("unbound", "-d", "-c", filepath.Join(dir, "unbound.conf"))
	// Wait until both answer.
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{l.knotAddr, l.unboundAddr} {
		c := &dnsq.Client{Server: addr, Timeout: 500 * time.Millisecond, Retries: 1}
		for {
			a := c.Lookup(context.Background(), "example.test", auth.TypeSOA)
			if a.Rcode == auth.NoError && len(a.RRs) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer: %s", addr, a.Describe())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return l
}

func (l *realLab) reload(t *testing.T, serial int, extra string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(l.dir, "example.test.zone"), []byte(exampleZone(serial, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("knotc", "-c", l.knotConf, "zone-reload", "example.test").CombinedOutput(); err != nil {
		t.Fatalf("knotc zone-reload: %v: %s", err, out)
	}
}

// TestRealDNSSafeAt: a record cached by unbound is served with its old data
// until the old TTL runs out; cutover's safe_at (lowered_at + TTL_old, from
// observations of the authoritative server) predicts when unbound first
// serves the new data, within ±1 s.
func TestRealDNSSafeAt(t *testing.T) {
	const oldTTL = 6
	rec := func(ttl int, data string) string { return fmt.Sprintf("ttl %d TXT \"%s\"\n", ttl, data) }
	l := startLab(t, rec(oldTTL, "before"))
	ctx := context.Background()
	knot := &dnsq.Client{Server: l.knotAddr, Timeout: time.Second}
	resolver := &dnsq.Client{Server: l.unboundAddr, Timeout: time.Second}
	var obs []auth.Obs
	observe := func() auth.TTLStatus {
		o, err := knot.Observe(ctx, "ttl.example.test", auth.TypeTXT, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		obs = append(obs, o...)
		return auth.EvalTTL("ttl.example.test", "TXT", obs, time.Second, time.Now())
	}
	observe()
	// A receiver's resolver caches the record just before the TTL is lowered.
	// unbound counts TTLs in whole seconds (measured: it serves the old data
	// until the second boundary after the TTL ran out, and first serves the
	// new data at x.00x s), so the query is made half-way into a second:
	// that boundary then falls 0.5 s after cache time + TTL, not up to 1 s.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1500 * time.Millisecond)))
	if a := resolver.Lookup(ctx, "ttl.example.test", auth.TypeTXT); len(a.RRs) != 1 || a.RRs[0].Data != "before" {
		t.Fatalf("unbound: %+v", a)
	}
	l.reload(t, 2, rec(1, "before"))
	var st auth.TTLStatus
	for i := 0; ; i++ {
		if st = observe(); !st.LoweredAt.IsZero() {
			break
		}
		if i > 50 {
			t.Fatalf("knot never served the lowered TTL: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.TTLOld != oldTTL {
		t.Fatalf("TTL_old %d, want %d", st.TTLOld, oldTTL)
	}
	l.reload(t, 3, rec(1, "after"))
	var first time.Time
	for deadline := time.Now().Add(3 * oldTTL * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a := resolver.Lookup(ctx, "ttl.example.test", auth.TypeTXT)
		if len(a.RRs) == 1 && a.RRs[0].Data == "after" {
			first = time.Now()
			break
		}
	}
	if first.IsZero() {
		t.Fatal("unbound never served the new data")
	}
	diff := first.Sub(st.SafeAt)
	t.Logf("lowered_at %s safe_at %s, unbound first served the new data at %s (%+.3fs)",
		st.LoweredAt.Format("15:04:05.000"), st.SafeAt.Format("15:04:05.000"), first.Format("15:04:05.000"), diff.Seconds())
	if diff < -time.Second || diff > time.Second {
		t.Fatalf("safe_at is %v off the moment unbound served the new data (want within ±1 s)", diff)
	}
	st = auth.EvalTTL("ttl.example.test", "TXT", append(obs, mustObserve(t, knot)...), time.Second, time.Now())
	if st.ChangedAt.IsZero() {
		t.Fatalf("the change was not observed: %+v", st)
	}
}

func mustObserve(t *testing.T, c *dnsq.Client) []auth.Obs {
	o, err := c.Observe(context.Background(), "ttl.example.test", auth.TypeTXT, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRealDNSSPFAgainstPyspf: cutover's per-IP results and lookups used equal
// pyspf's, through the same unbound.
func TestRealDNSSPFAgainstPyspf(t *testing.T) {
	l := startLab(t, "")
	cases := [][2]string{
		{"203.0.113.10", "example.test"}, // own ip4 first: pass, 0 lookups
		{"198.51.100.7", "example.test"}, // in the first include
		{"192.0.2.200", "example.test"},  // in the nested include
		{"10.9.9.9", "example.test"},     // stranger: fail
		{"192.0.2.200", "nested.example.test"},
		{"10.9.9.9", "nested.example.test"}, // softfail
		{"192.0.2.9", "void.example.test"},  // 3 void lookups: permerror
		{"192.0.2.9", "two-void.example.test"},
		{"192.0.2.9", "badinc.example.test"}, // include without a record: permerror
		{"198.51.100.202", "mxs.example.test"},
		{"198.51.100.1", "many.example.test"}, // first of 11 includes: pass
		{"10.9.9.9", "many.example.test"},     // 11th lookup: permerror
		{"10.9.9.9", "none.example.test"},     // no record at all
	}
	var in strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&in, "%s %s\n", c[0], c[1])
	}
	script := fmt.Sprintf(`
import sys, spf, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = %d
dns.resolver.default_resolver = r
for line in sys.stdin:
    ip, dom = line.split()
    q = spf.query(ip, 'postmaster@' + dom, 'helo.test')
    res, code, expl = q.check()
    print(res, q.lookups)
`, unboundPort)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pyspf: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("pyspf printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	c := &dnsq.Client{Server: l.unboundAddr, Timeout: time.Second}
	perm := 0
	for i, cs := range cases {
		ev := auth.Evaluate(context.Background(), c, netip.MustParseAddr(cs[0]), cs[1], "postmaster@"+cs[1], "helo.test")
		var res string
		var lookups int
		fmt.Sscanf(lines[i], "%s %d", &res, &lookups)
		t.Logf("%-15s %-22s cutover %-9s %2d | pyspf %-9s %2d", cs[0], cs[1], ev.Result, ev.Lookups, res, lookups)
		if ev.Result != res {
			t.Errorf("%s for %s: cutover %s (%s), pyspf %s", cs[0], cs[1], ev.Result, ev.Reason, res)
		}
		if ev.Lookups != lookups {
			t.Errorf("%s for %s: cutover used %d lookups, pyspf %d", cs[0], cs[1], ev.Lookups, lookups)
		}
		if res == "permerror" {
			perm++
		}
	}
	if perm < 2 {
		t.Fatalf("only %d permerror cases", perm)
	}
}

// TestRealDNSDKIM: a signature made by cutover verifies with python3-dkim
// against the lab zone (through unbound), and python3-dkim's verifies with
// cutover.
func TestRealDNSDKIM(t *testing.T) {
	key := loadKey(t, "rsa2048.pem")
	rec, err := auth.DKIMRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for s := rec; s != ""; {
		n := min(len(s), 200)
		parts = append(parts, `"`+s[:n]+`"`)
		s = s[n:]
	}
	l := startLab(t, "cut2026a._domainkey TXT "+strings.Join(parts, " ")+"\n")
	ctx := context.Background()
	c := &dnsq.Client{Server: l.unboundAddr, Timeout: time.Second}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "cut2026a", key.Public(), true); rep.Severity != auth.OK {
		t.Fatalf("selector check: %+v", rep)
	}
	signed, err := dnsq.Sign(dnsq.TestMessage("example.test", time.Now()), "example.test", "cut2026a", key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "signed.eml")
	if err := os.WriteFile(msgPath, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	resolverPy := fmt.Sprintf(`
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = %d
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes): name = name.decode()
    return b''.join(r.resolve(name, 'TXT')[0].strings)
`, unboundPort)
	out, err := exec.Command(python, "-c", resolverPy+`
print(dkim.verify(open(sys.argv[1], 'rb').read(), dnsfunc=dnsfunc))
`, msgPath).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("python3-dkim verify of cutover's signature: %v %s", err, out)
	}
	// And the other way round.
	keyPath, _ := filepath.Abs("testdata/rsa2048.pem")
	plain := filepath.Join(dir, "plain.eml")
	if err := os.WriteFile(plain, dnsq.TestMessage("example.test", time.Now()), 0o600); err != nil {
		t.Fatal(err)
	}
	pysigned, err := exec.Command(python, "-c", resolverPy+`
m = open(sys.argv[1], 'rb').read()
sig = dkim.sign(m, b'cut2026a', b'example.test', open(sys.argv[2], 'rb').read(), include_headers=[b'from', b'to', b'subject'])
sys.stdout.buffer.write(sig + m)
`, plain, keyPath).Output()
	if err != nil {
		t.Fatalf("python3-dkim sign: %v", err)
	}
	vs, err := dnsq.Verify(ctx, c, pysigned)
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("cutover verify of python3-dkim's signature: %v %+v", err, vs)
	}
}
