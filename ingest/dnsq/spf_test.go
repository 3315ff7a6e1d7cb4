package dnsq_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"blitiri.com.ar/go/spf"

	"cutover/model/auth"
)

func oracle(t *testing.T, addr, ip, domain string) (spf.Result, error) {
	t.Helper()
	return spf.CheckHostWithSender(net.ParseIP(ip), "helo.test", "postmaster@"+domain,
		spf.WithResolver(goResolver(addr)), spf.WithContext(context.Background()))
}

func hasFinding(rep *auth.SPFReport, sev auth.Severity, sub string) bool {
	for _, f := range rep.Findings {
		if f.Severity == sev && strings.Contains(f.Message, sub) {
			return true
		}
	}
	return false
}

func TestSPFElevenIncludesCrit(t *testing.T) {
	z := "eleven.test. 300 IN TXT \"v=spf1"
	for i := 1; i <= 11; i++ {
		z += fmt.Sprintf(" include:i%d.test", i)
	}
	z += " -all\"\n"
	for i := 1; i <= 11; i++ {
		z += fmt.Sprintf("i%d.test. 300 IN TXT \"v=spf1 ip4:198.51.100.%d -all\"\n", i, i)
	}
	s, c := lab(t, z)
	ctx := context.Background()
	rep := auth.AnalyzeSPF(ctx, c, "eleven.test")
	if rep.RFC != 11 || rep.Severity != auth.Crit {
		t.Fatalf("RFC count %d severity %v, want 11 CRIT: %+v", rep.RFC, rep.Severity, rep.Findings)
	}
	assertRD0(t, s) // before the oracle, whose Go resolver asks with RD=1
	// A stranger walks all 11 includes: the 11th lookup is a permerror for both.
	res, err := oracle(t, s.Addr, "192.0.2.99", "eleven.test")
	ev := auth.Evaluate(ctx, c, netip.MustParseAddr("192.0.2.99"), "eleven.test", "", "")
	if res != spf.PermError || ev.Result != auth.ResPermerror {
		t.Fatalf("blitiri %v (%v), cutover %+v; want permerror from both", res, err, ev)
	}
	// An IP in the first include passes for both, using 1 lookup.
	res, _ = oracle(t, s.Addr, "198.51.100.1", "eleven.test")
	ev = auth.Evaluate(ctx, c, netip.MustParseAddr("198.51.100.1"), "eleven.test", "", "")
	if res != spf.Pass || ev.Result != auth.ResPass || ev.Lookups != 1 {
		t.Fatalf("blitiri %v, cutover %+v; want pass, 1 lookup", res, ev)
	}
}

func TestSPFVoidLookups(t *testing.T) {
	s, c := lab(t, `three.test. 300 IN TXT "v=spf1 a:nx1.test a:nx2.test a:nx3.test ip4:192.0.2.9 -all"
two.test. 300 IN TXT "v=spf1 a:nx1.test a:nx2.test ip4:192.0.2.9 -all"
`)
	ctx := context.Background()
	rep := auth.AnalyzeSPF(ctx, c, "three.test")
	if rep.Void != 3 || rep.Severity != auth.Crit || !hasFinding(rep, auth.Crit, "3 void lookups") {
		t.Fatalf("void %d severity %v, want 3 CRIT: %+v", rep.Void, rep.Severity, rep.Findings)
	}
	res, err := oracle(t, s.Addr, "192.0.2.9", "three.test")
	if res != spf.PermError || err == nil || !strings.Contains(err.Error(), "void lookup limit reached") {
		t.Fatalf("blitiri %v %v, want permerror (void lookup limit reached)", res, err)
	}
	if ev := auth.Evaluate(ctx, c, netip.MustParseAddr("192.0.2.9"), "three.test", "", ""); ev.Result != auth.ResPermerror {
		t.Fatalf("cutover evaluation %+v, want permerror", ev)
	}
	rep = auth.AnalyzeSPF(ctx, c, "two.test")
	if rep.Void != 2 || rep.Severity != auth.Warn {
		t.Fatalf("void %d severity %v, want 2 WARN: %+v", rep.Void, rep.Severity, rep.Findings)
	}
	ev := auth.Evaluate(ctx, c, netip.MustParseAddr("192.0.2.9"), "two.test", "", "")
	res, _ = oracle(t, s.Addr, "192.0.2.9", "two.test")
	if ev.Result != auth.ResPass || res != spf.Pass {
		t.Fatalf("cutover %+v blitiri %v, want pass", ev, res)
	}
}

func TestSPFMXHosts(t *testing.T) {
	z := `many.test. 300 IN TXT "v=spf1 mx -all"
few.test. 300 IN TXT "v=spf1 mx -all"
`
	for i := 1; i <= 11; i++ {
		z += fmt.Sprintf("many.test. 300 IN MX %d mx%d.many.test.\nmx%d.many.test. 300 IN A 198.51.100.%d\n", i, i, i, i)
	}
	for i := 1; i <= 3; i++ {
		z += fmt.Sprintf("few.test. 300 IN MX %d mx%d.few.test.\nmx%d.few.test. 300 IN A 198.51.100.%d\n", i, i, i, 20+i)
	}
	s, c := lab(t, z)
	ctx := context.Background()
	rep := auth.AnalyzeSPF(ctx, c, "many.test")
	if rep.Severity != auth.Crit || !hasFinding(rep, auth.Crit, "11 MX hosts") {
		t.Fatalf("11 MX hosts: severity %v, want CRIT: %+v", rep.Severity, rep.Findings)
	}
	rep = auth.AnalyzeSPF(ctx, c, "few.test")
	if rep.RFC != 1 || rep.Strict != 4 || rep.Severity != auth.OK {
		t.Fatalf("3 MX hosts: RFC %d strict %d %v, want 1, 4, OK", rep.RFC, rep.Strict, rep.Severity)
	}
	for _, ip := range []string{"198.51.100.22", "198.51.100.5"} {
		ev := auth.Evaluate(ctx, c, netip.MustParseAddr(ip), "few.test", "", "")
		res, _ := oracle(t, s.Addr, ip, "few.test")
		if ev.Result != string(res) {
			t.Fatalf("%s: cutover %+v, blitiri %v", ip, ev, res)
		}
	}
	ev := auth.Evaluate(ctx, c, netip.MustParseAddr("198.51.100.5"), "many.test", "", "")
	res, _ := oracle(t, s.Addr, "198.51.100.5", "many.test")
	if ev.Result != auth.ResPermerror || res != spf.PermError {
		t.Fatalf("many MX: cutover %+v, blitiri %v; want permerror", ev, res)
	}
}

func TestSPFRedirectIgnoredWithAll(t *testing.T) {
	_, c := lab(t, `r.test. 300 IN TXT "v=spf1 ip4:192.0.2.1 redirect=other.test -all"
other.test. 300 IN TXT "v=spf1 ip4:192.0.2.2 -all"
`)
	rep := auth.AnalyzeSPF(context.Background(), c, "r.test")
	if rep.RFC != 0 || rep.Severity != auth.Warn || !hasFinding(rep, auth.Warn, "is ignored because the record has an all mechanism") {
		t.Fatalf("RFC %d severity %v, want 0 WARN: %+v", rep.RFC, rep.Severity, rep.Findings)
	}
}

func TestSPFSplitInsideToken(t *testing.T) {
	_, c := lab(t, `split.test. 300 IN TXT "v=spf1 include:a.test" "include:b.test -all"
a.test. 300 IN TXT "v=spf1 -all"
b.test. 300 IN TXT "v=spf1 -all"
`)
	rep := auth.AnalyzeSPF(context.Background(), c, "split.test")
	if !strings.Contains(rep.Record, "a.testinclude:b.test") {
		t.Fatalf("record %q: strings must be joined without a separator", rep.Record)
	}
	if !hasFinding(rep, auth.Warn, "joined inside a token at octet 21") {
		t.Fatalf("split not reported: %+v", rep.Findings)
	}
}

// The TC=1 answer over UDP must be retried over TCP.
func TestTruncationFallsBackToTCP(t *testing.T) {
	long := strings.Repeat("x", 200)
	s, c := lab(t, fmt.Sprintf("big.test. 300 IN TXT \"v=spf1 -all\"\nbig.test. 300 IN TXT \"%s\" \"%s\" \"%s\"\n", long, long, long))
	s.TruncateUDP(true)
	a := c.Lookup(context.Background(), "big.test", auth.TypeTXT)
	if a.Rcode != auth.NoError || len(a.RRs) != 2 {
		t.Fatalf("answer %+v, want the 2 TXT records via TCP", a)
	}
	tcp := false
	for _, q := range s.Queries() {
		if q.Name == "big.test." && q.Net == "tcp" {
			tcp = true
		}
	}
	if !tcp {
		t.Fatal("no TCP retry after TC=1")
	}
}
