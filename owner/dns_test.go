package owner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"cutover/ingest/dnsq"
	"cutover/model/auth"
	"cutover/state"
)

// TestDNSMetricsAndCockpitSource: a stored check becomes the wave2 §9 gauges
// and the cockpit's report.
func TestDNSMetricsAndCockpitSource(t *testing.T) {
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if src := DNSSource(db)(); src != nil {
		t.Fatalf("before any check: %+v", src)
	}
	rep := &dnsq.Report{Version: 1, Checked: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC), State: "CRIT", Exit: 2,
		Findings: auth.Findings{{Severity: auth.Crit, Check: "spf", Name: "example.com", Message: "12 DNS lookups"},
			{Severity: auth.OK, Check: "dkim", Name: "s._domainkey.example.com", Message: "ok"}},
		SPF:   []*auth.SPFReport{{Domain: "example.com", RFC: 12, Strict: 15}},
		DNSBL: []auth.Listing{{IP: "203.0.113.10", Zone: "zen.spamhaus.org", Status: auth.Listed}, {IP: "203.0.113.10", Zone: "bl.example", Status: auth.Unchecked}}}
	if err := dnsq.SaveReport(db, rep); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(cutoverCollector{metricsSource{DB: db}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = value(m)
		}
	}
	for k, v := range map[string]float64{
		"cutover_dns_check{check=spf}": 2, "cutover_dns_check{check=dkim}": 0,
		"cutover_spf_lookups{count=rfc,name=example.com}": 12, "cutover_spf_lookups{count=strict,name=example.com}": 15,
		"cutover_dnsbl_listed{ip=203.0.113.10,zone=zen.spamhaus.org}": 1, "cutover_dnsbl_listed{ip=203.0.113.10,zone=bl.example}": -1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	src := DNSSource(db)()
	if src == nil || src.State != "CRIT" || len(src.Findings) != 2 {
		t.Fatalf("cockpit source: %+v", src)
	}
}

func value(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

var keyLine = regexp.MustCompile(`^# [a-z_]+ +=`)

// TestExampleDNSSectionParses: `cutover init` writes [dns] commented; with
// the comment marks removed it is a valid section.
func TestExampleDNSSectionParses(t *testing.T) {
	var b strings.Builder
	b.WriteString("[database]\npath = \"c.db\"\n\n")
	in := false
	for _, l := range strings.Split(string(ExampleConfig), "\n") {
		if l == "# [dns]" {
			in = true
		}
		if in && (strings.HasPrefix(l, "# [") || keyLine.MatchString(l)) {
			b.WriteString(strings.TrimPrefix(l, "# ") + "\n")
		}
	}
	if !in {
		t.Fatal("the example config has no [dns] section")
	}
	path := filepath.Join(t.TempDir(), "cutover.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	d := cfg.DNS
	if !d.Configured() || d.MailFrom.New != "bounce.example.com" || len(d.NewIPs) != 2 || d.NewSelector != "cut2026a" ||
		len(d.DNSBLZones) != 3 || d.HELO.New[0] != "mta1.example.com" {
		t.Fatalf("%+v", d)
	}
}
