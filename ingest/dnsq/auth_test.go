package dnsq_test

import (
	"context"
	"crypto"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/ingest/dnsq/dnstest"
	"cutover/model/auth"
)

func loadKey(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := auth.LoadPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// txtZone quotes a long TXT text as 255-octet strings.
func txtZone(name, txt string) string {
	var parts []string
	for len(txt) > 255 {
		parts = append(parts, `"`+txt[:255]+`"`)
		txt = txt[255:]
	}
	parts = append(parts, `"`+txt+`"`)
	return name + " 300 IN TXT " + strings.Join(parts, " ") + "\n"
}

func dkimRecord(t *testing.T, k crypto.Signer) string {
	t.Helper()
	rec, err := auth.DKIMRecord(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestDKIMSelectors(t *testing.T) {
	k2048, k1024, other := loadKey(t, "rsa2048.pem"), loadKey(t, "rsa1024.pem"), loadKey(t, "rsa2048b.pem")
	pub768, err := os.ReadFile("testdata/rsa768.pub.b64")
	if err != nil {
		t.Fatal(err)
	}
	z := txtZone("s2048._domainkey.example.test.", dkimRecord(t, k2048)) +
		txtZone("s1024._domainkey.example.test.", dkimRecord(t, k1024)) +
		txtZone("s768._domainkey.example.test.", "v=DKIM1; k=rsa; p="+strings.TrimSpace(string(pub768))) +
		txtZone("two._domainkey.example.test.", dkimRecord(t, k2048)) +
		txtZone("two._domainkey.example.test.", dkimRecord(t, other)) +
		"revoked._domainkey.example.test. 300 IN TXT \"v=DKIM1; k=rsa; p=\"\n"
	_, c := lab(t, z)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

	rep := auth.CheckDKIM(ctx, c, "example.test", "s2048", k2048.Public(), true)
	if rep.Severity != auth.OK || rep.Bits != 2048 || rep.Matches == nil || !*rep.Matches {
		t.Fatalf("2048: %+v", rep)
	}
	if res, err := dnsq.TestSignature(ctx, c, "example.test", "s2048", k2048, now); res != "pass" {
		t.Fatalf("2048 test signature: %s %v, want pass", res, err)
	}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "s1024", k1024.Public(), true); rep.Severity != auth.Warn || rep.Bits != 1024 {
		t.Fatalf("1024: %v %d, want WARN: %+v", rep.Severity, rep.Bits, rep.Findings)
	}
	rep = auth.CheckDKIM(ctx, c, "example.test", "s768", nil, true)
	if rep.Severity != auth.Crit || rep.Bits != 768 {
		t.Fatalf("768: %v %d, want CRIT: %+v", rep.Severity, rep.Bits, rep.Findings)
	}
	// go-msgauth refuses the 768-bit key as well (RFC 8301), whatever signed.
	if res, _ := dnsq.TestSignature(ctx, c, "example.test", "s768", k2048, now); res == "pass" {
		t.Fatal("a signature checked against the 768-bit selector passed")
	}
	rep = auth.CheckDKIM(ctx, c, "example.test", "s2048", other.Public(), true)
	if rep.Severity != auth.Crit || rep.Matches == nil || *rep.Matches {
		t.Fatalf("mismatch: %+v", rep)
	}
	if res, _ := dnsq.TestSignature(ctx, c, "example.test", "s2048", other, now); res != "fail" {
		t.Fatalf("signature by another key: %s, want fail", res)
	}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "two", nil, true); rep.Severity != auth.Crit {
		t.Fatalf("two records: %+v", rep)
	}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "revoked", nil, true); rep.Severity != auth.Crit {
		t.Fatalf("empty p= for NEW: %+v", rep)
	}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "revoked", nil, false); rep.Severity != auth.OK {
		t.Fatalf("empty p= for a retired OLD selector: %+v", rep)
	}
	if rep := auth.CheckDKIM(ctx, c, "example.test", "absent", nil, true); rep.Severity != auth.Crit {
		t.Fatalf("missing selector: %+v", rep)
	}
}

func TestDMARCParseAndGate(t *testing.T) {
	rec, notes, err := auth.ParseDMARC("v=DMARC1; p=reject; pct=25; t=y; np=reject")
	if err != nil {
		t.Fatal(err)
	}
	if rec.P != "reject" || rec.T != "y" || rec.NP != "reject" {
		t.Fatalf("parsed %+v", rec)
	}
	var pct, testing bool
	for _, n := range notes {
		pct = pct || strings.Contains(n.Message, "pct=25 is removed in RFC 9989")
		testing = testing || strings.Contains(n.Message, "t=y")
	}
	if !pct || !testing {
		t.Fatalf("notes %+v: want pct flagged and t=y reported", notes)
	}
	blocked, f, step := auth.DMARCGate(&rec, false, false)
	if !blocked || f.Severity != auth.Crit || step != "" {
		t.Fatalf("p=reject with NEW DKIM failing: blocked %v %+v %q", blocked, f, step)
	}
	if _, _, step := auth.DMARCGate(&rec, false, true); step != "v=DMARC1; p=quarantine; pct=25; t=y; np=reject" {
		t.Fatalf("step-down with the flag: %q", step)
	}
	if blocked, _, _ := auth.DMARCGate(&rec, true, false); blocked {
		t.Fatal("aligned NEW DKIM must not block")
	}
	// Alignment with the real Public Suffix List.
	if !auth.Aligned("bounce.example.co.uk", "news.example.co.uk", false, dnsq.OrgDomain) {
		t.Fatal("relaxed: bounce.example.co.uk must align with news.example.co.uk")
	}
	if auth.Aligned("bounce.example.co.uk", "news.example.co.uk", true, dnsq.OrgDomain) {
		t.Fatal("strict: different names must not align")
	}
	if auth.Aligned("example.co.uk", "other.co.uk", false, dnsq.OrgDomain) {
		t.Fatal("co.uk is a public suffix: no alignment across registrations")
	}
}

func TestDMARCDiscovery(t *testing.T) {
	_, c := lab(t, `_dmarc.example.test. 300 IN TXT "v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@example.test"
_dmarc.two.test. 300 IN TXT "v=DMARC1; p=none"
_dmarc.two.test. 300 IN TXT "v=DMARC1; p=reject"
`)
	ctx := context.Background()
	rep := auth.CheckDMARC(ctx, c, "news.example.test", nil)
	if rep.Record == nil || rep.Name != "_dmarc.example.test" || rep.OrgTree != "example.test" || rep.Severity != auth.OK {
		t.Fatalf("tree walk: %+v", rep)
	}
	if rep := auth.CheckDMARC(ctx, c, "two.test", nil); rep.Severity != auth.Crit {
		t.Fatalf("two records: %+v", rep)
	}
	if rep := auth.CheckDMARC(ctx, c, "none.test", nil); rep.Severity != auth.Crit {
		t.Fatalf("no record: %+v", rep)
	}
}

func TestPTRAndHELO(t *testing.T) {
	_, c := lab(t, `in-addr.arpa. 3600 IN SOA ns1.test. hm.test. 1 3600 600 86400 60
10.113.0.203.in-addr.arpa. 300 IN PTR mta1.example.test.
11.113.0.203.in-addr.arpa. 300 IN PTR mta2.example.test.
mta1.example.test. 300 IN A 203.0.113.10
mta2.example.test. 300 IN A 198.51.100.77
`)
	ctx := context.Background()
	fs := auth.CheckPTR(ctx, c, netip.MustParseAddr("203.0.113.10"), []string{"mta1.example.test"})
	if fs.Worst() != auth.OK {
		t.Fatalf("FCrDNS ok case: %+v", fs)
	}
	fs = auth.CheckPTR(ctx, c, netip.MustParseAddr("203.0.113.11"), []string{"mta2.example.test"})
	if fs.Worst() != auth.Crit {
		t.Fatalf("PTR to a name resolving elsewhere: %+v", fs)
	}
	if f := auth.CheckHELO(ctx, c, "mta1.example.test", []netip.Addr{netip.MustParseAddr("203.0.113.10")}); f.Severity != auth.OK {
		t.Fatalf("HELO: %+v", f)
	}
	if f := auth.CheckHELO(ctx, c, "mta2.example.test", []netip.Addr{netip.MustParseAddr("203.0.113.10")}); f.Severity != auth.Crit {
		t.Fatalf("HELO elsewhere: %+v", f)
	}
}

func TestDNSBL(t *testing.T) {
	s, c := lab(t, `10.113.0.203.bl.test. 300 IN A 127.0.0.2
11.113.0.203.bl.test. 300 IN A 127.255.255.254
13.113.0.203.bl.test. 300 IN A 127.0.0.2
`)
	s.Set("13.113.0.203.bl.test", dnstest.Drop)
	ctx := context.Background()
	for ip, want := range map[string]string{
		"203.0.113.10": auth.Listed, "203.0.113.11": auth.Unchecked,
		"203.0.113.12": auth.Clean, "203.0.113.13": auth.Unchecked,
	} {
		l := auth.CheckDNSBL(ctx, c, netip.MustParseAddr(ip), "bl.test")
		if l.Status != want {
			t.Errorf("%s: %+v, want %s", ip, l, want)
		}
	}
}

// TestTTLPreStaging: two authoritative servers found through the parent's
// delegation, ns2 behind; the fake clock drives the rounds.
func TestTTLPreStaging(t *testing.T) {
	zone := func(serial, ttl int, spf string) string {
		return fmt.Sprintf(`example.test. 3600 IN SOA ns1.example.test. hm.example.test. %d 3600 600 86400 60
example.test. 3600 IN NS ns1.example.test.
example.test. 3600 IN NS ns2.example.test.
example.test. %d IN TXT "%s"
`, serial, ttl, spf)
	}
	ns1 := dnstest.Start(t, zone(1, 3600, "v=spf1 include:old.test -all"))
	ns2 := dnstest.Start(t, zone(1, 3600, "v=spf1 include:old.test -all"))
	parent := dnstest.Start(t, soa+`example.test. 3600 IN NS ns1.example.test.
example.test. 3600 IN NS ns2.example.test.
ns1.example.test. 3600 IN A 127.0.0.11
ns2.example.test. 3600 IN A 127.0.0.12
`)
	c := &dnsq.Client{Roots: []string{parent.Addr}, Timeout: 300 * time.Millisecond, Retries: 1,
		AddrMap: map[string]string{"127.0.0.11": ns1.Addr, "127.0.0.12": ns2.Addr}}
	ctx := context.Background()
	day := func(h, m int) time.Time { return time.Date(2026, 3, 9, h, m, 0, 0, time.UTC) }
	var obs []auth.Obs
	observe := func(at time.Time) auth.TTLStatus {
		o, err := c.Observe(ctx, "example.test", auth.TypeTXT, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(o) != 2 {
			t.Fatalf("observed %d servers, want 2: %+v", len(o), o)
		}
		obs = append(obs, o...)
		return auth.EvalTTL("example.test", "TXT", obs, 300*time.Second, at)
	}
	observe(day(8, 55))
	if err := ns1.SetZone(zone(2, 300, "v=spf1 include:old.test -all")); err != nil {
		t.Fatal(err)
	}
	st := observe(day(9, 0))
	if st.InSync || !st.LoweredAt.IsZero() || st.Severity != auth.Warn {
		t.Fatalf("09:00 ns2 behind: %+v", st)
	}
	if err := ns2.SetZone(zone(2, 300, "v=spf1 include:old.test -all")); err != nil {
		t.Fatal(err)
	}
	st = observe(day(9, 2))
	if !st.LoweredAt.Equal(day(9, 2)) || !st.SafeAt.Equal(day(10, 2)) || st.TTLOld != 3600 {
		t.Fatalf("09:02: lowered_at %v safe_at %v ttl_old %d, want 09:02, 10:02, 3600", st.LoweredAt, st.SafeAt, st.TTLOld)
	}
	for _, ns := range []*dnstest.Server{ns1, ns2} {
		if err := ns.SetZone(zone(3, 300, "v=spf1 ip4:203.0.113.10 include:old.test -all")); err != nil {
			t.Fatal(err)
		}
	}
	st = observe(day(9, 30))
	found := false
	for _, f := range st.Findings {
		found = found || strings.Contains(f.Message, "HOLD: changed 32 min before safe_at")
	}
	if st.State != "early" || !found {
		t.Fatalf("09:30 change: %+v", st)
	}
	for _, s := range []*dnstest.Server{parent, ns1, ns2} {
		assertRD0(t, s)
	}
}

func TestSPFTreeAndDualPlan(t *testing.T) {
	z := `example.test. 300 IN TXT "v=spf1 include:_spf.google.test include:esp.test ip4:192.0.2.0/28 -all"
_spf.google.test. 300 IN TXT "v=spf1 include:_netblocks.google.test include:_netblocks2.google.test include:_netblocks3.google.test ~all"
_netblocks.google.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/26 ~all"
_netblocks2.google.test. 300 IN TXT "v=spf1 ip4:198.51.100.64/26 ~all"
_netblocks3.google.test. 300 IN TXT "v=spf1 ip4:198.51.100.128/26 ~all"
esp.test. 300 IN TXT "v=spf1 include:e1.esp.test -all"
e1.esp.test. 300 IN TXT "v=spf1 include:e2.esp.test -all"
e2.esp.test. 300 IN TXT "v=spf1 include:e3.esp.test -all"
e3.esp.test. 300 IN TXT "v=spf1 include:e4.esp.test -all"
e4.esp.test. 300 IN TXT "v=spf1 include:e5.esp.test -all"
e5.esp.test. 300 IN TXT "v=spf1 ip4:192.0.2.128/25 -all"
`
	s, c := lab(t, z)
	ctx := context.Background()
	rep := auth.AnalyzeSPF(ctx, c, "example.test")
	if rep.RFC != 10 || rep.Severity != auth.Warn {
		t.Fatalf("tree: RFC %d %v, want 10 WARN: %+v", rep.RFC, rep.Severity, rep.Findings)
	}
	newIP := netip.MustParseAddr("203.0.113.10")
	p := auth.ProposeDualSPF(ctx, c, "example.test", "", []netip.Addr{newIP})
	want := "v=spf1 ip4:203.0.113.10 include:_spf.google.test include:esp.test ip4:192.0.2.0/28 -all"
	if p.Proposed != want || p.Lookups != 10 || p.Severity != auth.Warn {
		t.Fatalf("proposal %q (%d, %v), want %q (10, WARN)", p.Proposed, p.Lookups, p.Severity, want)
	}
	if p.NewLookups != 0 || p.AppendedLookups != 10 {
		t.Fatalf("NEW IP lookups: first %d appended %d, want 0 and 10", p.NewLookups, p.AppendedLookups)
	}
	if len(p.Alternatives) == 0 || p.Alternatives[0].Name != "bounce.example.test" ||
		p.Alternatives[0].Record != "v=spf1 ip4:203.0.113.10 -all" || p.Alternatives[0].Lookups != 0 {
		t.Fatalf("first alternative: %+v", p.Alternatives)
	}
	// One more include upstream: NEW placed first still passes with 0
	// lookups; appended at the end it would permerror.
	z2 := strings.Replace(z, `e5.esp.test. 300 IN TXT "v=spf1 ip4:192.0.2.128/25 -all"`,
		"e5.esp.test. 300 IN TXT \"v=spf1 include:e6.esp.test -all\"\ne6.esp.test. 300 IN TXT \"v=spf1 ip4:192.0.2.128/25 -all\"", 1)
	if err := s.SetZone(soa + z2); err != nil {
		t.Fatal(err)
	}
	first := auth.Evaluate(ctx, auth.WithRecord(c, "example.test", want), newIP, "example.test", "", "")
	last := auth.Evaluate(ctx, auth.WithRecord(c, "example.test",
		"v=spf1 include:_spf.google.test include:esp.test ip4:192.0.2.0/28 ip4:203.0.113.10 -all"), newIP, "example.test", "", "")
	if first.Result != auth.ResPass || first.Lookups != 0 || last.Result != auth.ResPermerror {
		t.Fatalf("after upstream growth: first %+v, appended %+v", first, last)
	}
	// Separate MAIL FROM domain: own record, org record untouched.
	p = auth.ProposeDualSPF(ctx, c, "example.test", "bounce.example.test", []netip.Addr{newIP})
	if p.Name != "bounce.example.test" || p.Proposed != "v=spf1 ip4:203.0.113.10 -all" || p.NewLookups != 0 {
		t.Fatalf("separate MAIL FROM: %+v", p)
	}
}
