package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// mapResolver answers from a map "name TYPE" → records; absent names are
// NXDOMAIN.
type mapResolver map[string][]string

func (m mapResolver) Lookup(_ context.Context, name string, t Type) Answer {
	recs, ok := m[Canon(name)+" "+t.String()]
	if !ok {
		for k := range m {
			if strings.HasPrefix(k, Canon(name)+" ") {
				return Answer{Rcode: NoError}
			}
		}
		return Answer{Rcode: NXDomain}
	}
	var a Answer
	for _, r := range recs {
		if r == "SERVFAIL" {
			return Answer{Rcode: ServFail}
		}
		a.RRs = append(a.RRs, RR{Name: Canon(name), Type: t, Data: r, Strings: []string{r}, TTL: 300})
	}
	return a
}

func TestParseSPFSyntax(t *testing.T) {
	for _, bad := range []string{
		"v=spf1 ip4:192.0.2.1/33", "v=spf1 include", "v=spf1 foo:bar", "v=spf1 a:example.123",
		"v=spf1 redirect=a.test redirect=b.test", "v=spf1 ip4:2001:db8::1", "v=spf1 all:x", "v=spf1 exists:%{q}.test",
	} {
		if _, err := ParseSPF(bad); err == nil {
			t.Errorf("%q parsed, want a permerror", bad)
		}
	}
	r, err := ParseSPF("v=spf1 a/24//64 mx:mx.example.test/28 ip6:2001:db8::/32 ~all exp=e.example.test unknown=x")
	if err != nil || len(r.Terms) != 6 || r.Terms[0].Mask4 != 24 || r.Terms[0].Mask6 != 64 || !r.HasAll {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestEvaluateResults(t *testing.T) {
	r := mapResolver{
		"ex.test TXT":    {"v=spf1 ip4:192.0.2.0/24 ~ip4:198.51.100.1 ?ip4:198.51.100.2 include:in.test redirect=red.test"},
		"in.test TXT":    {"v=spf1 a:host.in.test -all"},
		"host.in.test A": {"203.0.113.7"},
		"red.test TXT":   {"v=spf1 -all"},
		"tmp.test TXT":   {"SERVFAIL"},
		"dup.test TXT":   {"v=spf1 -all", "v=spf1 +all"},
	}
	ctx := context.Background()
	for ip, want := range map[string]string{
		"192.0.2.5": ResPass, "198.51.100.1": ResSoftfail, "198.51.100.2": ResNeutral,
		"203.0.113.7": ResPass, "203.0.113.8": ResFail,
	} {
		if ev := Evaluate(ctx, r, netip.MustParseAddr(ip), "ex.test", "", ""); ev.Result != want {
			t.Errorf("%s: %+v, want %s", ip, ev, want)
		}
	}
	if ev := Evaluate(ctx, r, netip.MustParseAddr("192.0.2.1"), "tmp.test", "", ""); ev.Result != ResTemperror {
		t.Errorf("SERVFAIL: %+v", ev)
	}
	if ev := Evaluate(ctx, r, netip.MustParseAddr("192.0.2.1"), "dup.test", "", ""); ev.Result != ResPermerror {
		t.Errorf("two records: %+v", ev)
	}
	if ev := Evaluate(ctx, r, netip.MustParseAddr("192.0.2.1"), "nx.test", "", ""); ev.Result != ResNone {
		t.Errorf("no record: %+v", ev)
	}
}

func TestInsertBeforeLookups(t *testing.T) {
	got := InsertBeforeLookups("v=spf1 ip4:192.0.2.1 mx include:a.test -all", []string{"ip4:203.0.113.10"})
	if got != "v=spf1 ip4:192.0.2.1 ip4:203.0.113.10 mx include:a.test -all" {
		t.Fatal(got)
	}
	if got := InsertBeforeLookups("v=spf1 -all", []string{"ip4:203.0.113.10"}); got != "v=spf1 ip4:203.0.113.10 -all" {
		t.Fatal(got)
	}
}

func TestEvalTTLChangeBeforeLowering(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 3, 9, 9, m, 0, 0, time.UTC) }
	obs := []Obs{
		{At: at(0), NS: "a", Rcode: "NOERROR", TTL: 3600, Data: "x", Serial: 1},
		{At: at(5), NS: "a", Rcode: "NOERROR", TTL: 3600, Data: "y", Serial: 2},
	}
	st := EvalTTL("n", "TXT", obs, 300*time.Second, at(5))
	if st.State != "early" || st.Severity != Warn || !st.LoweredAt.IsZero() {
		t.Fatalf("%+v", st)
	}
}

func TestMacroExpansion(t *testing.T) {
	got := expandMacros("%{ir}.%{v}._spf.%{d2}", netip.MustParseAddr("192.0.2.3"), "mail.example.com", "u@example.com", "h")
	if got != "3.2.0.192.in-addr._spf.example.com" {
		t.Fatal(got) // RFC 7208 §7.4 example
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{"v=spf1 a/24//64 -all", "v=DMARC1; p=reject; pct=25", "v=DKIM1; k=rsa; p=MIIB", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSPF(s)
		_, _, _ = ParseDMARC(s)
		_, _ = ParseDKIMKey(s)
		_ = SplitInsideToken([]string{s, s})
		_ = expandMacros(s, netip.MustParseAddr("2001:db8::1"), "d.test", "l@d.test", "h")
	})
}

func TestFlatten(t *testing.T) {
	r := mapResolver{
		"ex.test TXT":     {"v=spf1 ip4:192.0.2.1 ~include:esp.test include:keep.test -all"},
		"esp.test TXT":    {"v=spf1 ip4:198.51.100.0/25 a:h.esp.test include:e2.esp.test ~all"},
		"h.esp.test A":    {"203.0.113.5"},
		"e2.esp.test TXT": {"v=spf1 ip6:2001:db8::/32 -all"},
		"keep.test TXT":   {"v=spf1 ip4:192.0.2.200 -all"},
		"exc.test TXT":    {"v=spf1 -ip4:198.51.100.7 ip4:198.51.100.0/24 -all"},
		"exrec.test TXT":  {"v=spf1 include:exc.test -all"},
	}
	ctx := context.Background()
	got, fl, err := Flatten(ctx, r, "ex.test", r["ex.test TXT"][0], []string{"esp.test"})
	if err != nil {
		t.Fatal(err)
	}
	want := "v=spf1 ip4:192.0.2.1 ~ip4:198.51.100.0/25 ~ip4:203.0.113.5 ~ip6:2001:db8::/32 include:keep.test -all"
	if got != want || len(fl) != 1 || fl[0].Saved != 2 || fl[0].Hash == "" || !strings.Contains(fl[0].Cost, "no longer followed") {
		t.Fatalf("got %q %+v\nwant %q", got, fl, want)
	}
	// Every IP evaluates the same before and after (qualifiers preserved).
	for _, ip := range []string{"192.0.2.1", "198.51.100.9", "203.0.113.5", "2001:db8::1", "192.0.2.200", "10.0.0.1"} {
		a := Evaluate(ctx, r, netip.MustParseAddr(ip), "ex.test", "", "")
		b := Evaluate(ctx, WithRecord(r, "ex.test", got), netip.MustParseAddr(ip), "ex.test", "", "")
		if a.Result != b.Result {
			t.Errorf("%s: %s before, %s flattened", ip, a.Result, b.Result)
		}
	}
	// An exception inside the include cannot be flattened.
	if _, _, err := Flatten(ctx, r, "exrec.test", r["exrec.test TXT"][0], []string{"exc.test"}); err == nil || !strings.Contains(err.Error(), "exception") {
		t.Fatalf("exception flattened: %v", err)
	}
	if _, _, err := Flatten(ctx, r, "ex.test", r["ex.test TXT"][0], []string{"nope.test"}); err == nil {
		t.Fatal("flattening a name the record does not include")
	}
}

func TestFlattenChainsLongRecords(t *testing.T) {
	var ips []string
	for i := 0; i < 60; i++ {
		ips = append(ips, fmt.Sprintf("ip4:198.51.%d.0/24", i))
	}
	r := mapResolver{"big.test TXT": {"v=spf1 " + strings.Join(ips, " ") + " -all"}}
	got, fl, err := Flatten(context.Background(), r, "ex.test", "v=spf1 include:big.test -all", []string{"big.test"})
	if err != nil {
		t.Fatal(err)
	}
	chain := fl[0].Chain
	if len(chain) < 2 || !strings.HasPrefix(got, "v=spf1 include:_spf1.ex.test include:_spf2.ex.test") {
		t.Fatalf("%q %d chained", got, len(chain))
	}
	n := 0
	for _, c := range chain {
		if len(c.Data) > 255 {
			t.Fatalf("chained record of %d octets", len(c.Data))
		}
		n += strings.Count(c.Data, "ip4:")
	}
	if n != 60 {
		t.Fatalf("%d terms in the chain, want 60", n)
	}
}
