package dnsq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/ingest/dnsq/dnstest"
	"cutover/model"
	"cutover/model/auth"
	"cutover/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// labDomain is the lab of the plan golden file: example.test sends through an
// ESP today (include:esp.test, OLD selector s1), NEW is 203.0.113.10 with
// selector cut2026a.
func labDomain(t *testing.T, withSelector bool) (*dnstest.Server, *dnsq.Client, dnsq.Config) {
	t.Helper()
	key := loadKey(t, "rsa2048.pem")
	z := `example.test. 3600 IN TXT "v=spf1 include:esp.test ~all"
esp.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.example.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
in-addr.arpa. 3600 IN SOA ns1.test. hm.test. 1 3600 600 86400 60
10.113.0.203.in-addr.arpa. 300 IN PTR mta1.example.test.
mta1.example.test. 300 IN A 203.0.113.10
`
	z += txtZone("s1._domainkey.example.test.", dkimRecord(t, loadKey(t, "rsa2048b.pem")))
	if withSelector {
		z += txtZone("cut2026a._domainkey.example.test.", dkimRecord(t, key))
	}
	s, c := lab(t, z)
	keyPath, _ := filepath.Abs("testdata/rsa2048.pem")
	cfg := dnsq.Config{
		Domains: []string{"example.test"}, MailFrom: dnsq.MailFromPair{Old: "example.test"},
		HELO: dnsq.HELONames{New: []string{"mta1.example.test"}}, NewIPs: []string{"203.0.113.10"},
		OldSPF: []string{"include:esp.test"}, NewSelector: "cut2026a", NewDKIMKey: keyPath,
		OldSelectors: []string{"s1"}, TTLLow: "300s",
	}
	return s, c, cfg
}

func TestPlanGolden(t *testing.T) {
	_, c, cfg := labDomain(t, false)
	p, err := dnsq.Plan(context.Background(), c, cfg, dnsq.PlanOptions{Phase: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Blocked {
		t.Fatal("p=reject and no NEW selector yet: the plan must block ratio > 0")
	}
	for _, format := range []string{"text", "zone", "nsupdate"} {
		var buf bytes.Buffer
		if err := p.Render(&buf, format); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "plan."+format+".golden")
		if *update {
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from %s (go test -run TestPlanGolden -update):\n%s", format, golden, buf.String())
		}
	}
	if _, err := dnsq.Plan(context.Background(), c, cfg, dnsq.PlanOptions{Phase: "later"}); err == nil {
		t.Fatal("unknown phase accepted")
	}
	// --flatten NAME replaces that include only, and says what it costs.
	p, err = dnsq.Plan(context.Background(), c, cfg, dnsq.PlanOptions{Phase: "dual", Flatten: []string{"esp.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Proposed != "v=spf1 ip4:203.0.113.10 ip4:198.51.100.0/24 ~all" || !strings.Contains(it.Note, "no longer followed") {
		t.Fatalf("flattened: %+v", it)
	}
	if _, err := dnsq.Plan(context.Background(), c, cfg, dnsq.PlanOptions{Flatten: []string{"other.test"}}); err == nil {
		t.Fatal("--flatten of a name the record does not include was accepted")
	}
	// With the step-down flag, p=reject → p=quarantine is proposed.
	p, _ = dnsq.Plan(context.Background(), c, cfg, dnsq.PlanOptions{Phase: "dual", AllowStepdown: true})
	found := false
	for _, it := range p.Items {
		found = found || it.Proposed == "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"
	}
	if !found {
		t.Fatalf("no step-down item: %+v", p.Items)
	}
}

func TestCheckExitCodesAndStore(t *testing.T) {
	ctx := context.Background()
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)
	opt := dnsq.Options{DB: db, Now: func() time.Time { return now }}

	// Before the change: NEW not in SPF, selector missing → CRIT, exit 2.
	s, c, cfg := labDomain(t, false)
	rep, err := dnsq.Check(ctx, c, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exit != 2 || rep.State != "CRIT" || !rep.Blocked {
		t.Fatalf("before: exit %d %s blocked %v", rep.Exit, rep.State, rep.Blocked)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"version":1`, `"state":"CRIT"`, `"exit":2`, `"findings":[`, `"spf":[`, `"dkim":[`, `"dmarc":[`, `"ttl":[`, `"ratio_blocked":true`, `"lookups_rfc":1`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s (docs/dns-check.md documents it)", k)
		}
	}
	// A DNS failure on every query → could not tell, exit 3.
	dead := &dnsq.Client{Server: "127.0.0.1:9", Timeout: 100 * time.Millisecond, Retries: 1}
	rep, err = dnsq.Check(ctx, dead, cfg, dnsq.Options{Only: []string{"spf"}})
	if err != nil || rep.Exit != 3 {
		t.Fatalf("no server: %v exit %d %+v", err, rep.Exit, rep.Findings)
	}
	if _, err := dnsq.Check(ctx, c, cfg, dnsq.Options{Only: []string{"spam"}}); err == nil {
		t.Fatal("--only spam accepted")
	}

	// After publishing: NEW first in SPF, selector published; DNSBL clean.
	key := loadKey(t, "rsa2048.pem")
	cfg.DNSBLZones = []string{"bl.test"}
	if err := s.SetZone(soa + `example.test. 300 IN TXT "v=spf1 ip4:203.0.113.10 include:esp.test ~all"
esp.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.example.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
in-addr.arpa. 3600 IN SOA ns1.test. hm.test. 1 3600 600 86400 60
10.113.0.203.in-addr.arpa. 300 IN PTR mta1.example.test.
mta1.example.test. 300 IN A 203.0.113.10
` + txtZone("cut2026a._domainkey.example.test.", dkimRecord(t, key)) +
		txtZone("s1._domainkey.example.test.", dkimRecord(t, loadKey(t, "rsa2048b.pem")))); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	rep, err = dnsq.Check(ctx, c, cfg, dnsq.Options{DB: db, Now: func() time.Time { return now }, Only: []string{"spf", "dkim", "dmarc", "ptr", "dnsbl"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blocked || rep.Exit > 1 {
		for _, f := range rep.Findings {
			if f.Severity >= auth.Warn {
				t.Logf("%v %s %s", f.Severity, f.Name, f.Message)
			}
		}
		t.Fatalf("after: exit %d blocked %v", rep.Exit, rep.Blocked)
	}
	// The TTL observations of the first run are in the database.
	st, err := dnsq.ObserveTTL(ctx, c, db, "example.test", auth.TypeTXT, 300*time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTLOld != 3600 || !st.LoweredAt.Equal(now) || st.ChangedAt.IsZero() {
		t.Fatalf("stored observations: %+v", st)
	}
	if !strings.Contains(st.Findings[len(st.Findings)-1].Message, "before its TTL was lowered") && st.State != "early" {
		t.Fatalf("the change made before lowering must be early: %+v", st)
	}
}

// TestCheckEvaluatesOldIPsFromLogs: the OLD side's source IPs in the
// database are evaluated against OLD's MAIL FROM domain.
func TestCheckEvaluatesOldIPsFromLogs(t *testing.T) {
	_, c, cfg := labDomain(t, true)
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	b := state.NewBatch()
	for i, ip := range []string{"198.51.100.7", "198.51.100.7", "192.0.2.99"} {
		b.AddEvent(&model.Event{Time: now.Add(-time.Duration(i+1) * time.Hour), Side: model.SideOld, MTA: "old", ISP: "google",
			Domain: "gmail.com", SourceIP: ip, Outcome: model.Delivered})
	}
	b.AddEvent(&model.Event{Time: now.Add(-time.Hour), Side: model.SideNew, MTA: "new", ISP: "google", Domain: "gmail.com",
		SourceIP: "10.9.9.9", Outcome: model.Delivered})
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	rep, err := dnsq.Check(context.Background(), c, cfg, dnsq.Options{DB: db, Only: []string{"spf"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var pass, fail, newSide bool
	for _, f := range rep.Findings {
		pass = pass || f.Severity == auth.OK && strings.Contains(f.Message, "OLD IP 198.51.100.7 (from the logs): pass using 1 lookup(s)")
		fail = fail || f.Severity == auth.Warn && strings.Contains(f.Message, "OLD IP 192.0.2.99 (from the logs): softfail")
		newSide = newSide || strings.Contains(f.Message, "10.9.9.9")
	}
	if !pass || !fail || newSide {
		t.Fatalf("pass %v fail %v new-side IP evaluated %v: %+v", pass, fail, newSide, rep.Findings)
	}
}

// TestFlattenDriftWarns: dns check warns once a flattened include's answers
// change upstream.
func TestFlattenDriftWarns(t *testing.T) {
	s, c, cfg := labDomain(t, true)
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	p, err := dnsq.Plan(ctx, c, cfg, dnsq.PlanOptions{Phase: "dual", Flatten: []string{"esp.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dnsq.RecordFlattened(db, p); err != nil {
		t.Fatal(err)
	}
	find := func() (ok, changed bool) {
		rep, err := dnsq.Check(ctx, c, cfg, dnsq.Options{DB: db, Only: []string{"spf"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			ok = ok || f.Severity == auth.OK && f.Message == "flattened include unchanged upstream"
			changed = changed || f.Severity == auth.Warn && strings.Contains(f.Message, "flattened include changed upstream")
		}
		return
	}
	if ok, changed := find(); !ok || changed {
		t.Fatalf("right after the plan: unchanged %v changed %v", ok, changed)
	}
	key := loadKey(t, "rsa2048.pem")
	if err := s.SetZone(soa + `example.test. 3600 IN TXT "v=spf1 include:esp.test ~all"
esp.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.200 -all"
` + txtZone("cut2026a._domainkey.example.test.", dkimRecord(t, key))); err != nil {
		t.Fatal(err)
	}
	if _, changed := find(); !changed {
		t.Fatal("no warning after the ESP added an address")
	}
}
