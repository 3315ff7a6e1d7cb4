package dnsq_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model/auth"
	"cutover/state"
)

func TestRenderStripsControlSequences(t *testing.T) {
	_, c := lab(t, "evil.test. 300 IN TXT \"v=spf1 include:\\027[2Jx.test \\194\\155 -all\"\n")
	rep := auth.AnalyzeSPF(context.Background(), c, "evil.test")
	var buf bytes.Buffer
	dnsq.RenderSPF(&buf, rep)
	out := buf.String()
	if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x9b) {
		t.Fatalf("control sequence reached the output: %q", out)
	}
	if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, `\u009b`) {
		t.Fatalf("escaped forms missing: %q", out)
	}
}

func TestRenderSPFAndRunner(t *testing.T) {
	_, c, cfg := labDomain(t, true)
	rep := auth.AnalyzeSPF(context.Background(), c, "example.test")
	var buf bytes.Buffer
	dnsq.RenderSPF(&buf, rep)
	if !strings.Contains(buf.String(), "lookups: 1 (RFC), 1 (strict, as checkdmarc counts); void lookups: 0") {
		t.Fatal(buf.String())
	}
	r := &dnsq.Runner{Client: c, Config: cfg, Every: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rep, _ := r.Latest(); rep != nil {
			if rep.State == "" {
				t.Fatal("empty state")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runner produced no report")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestReportStoredAndSamples(t *testing.T) {
	_, c, cfg := labDomain(t, true)
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep, err := dnsq.LoadReport(db); rep != nil || err != nil {
		t.Fatalf("before any check: %v %v", rep, err)
	}
	cfg.DNSBLZones = []string{"bl.test"}
	r := &dnsq.Runner{Client: c, Config: cfg, Opt: dnsq.Options{DB: db}, Every: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var rep *dnsq.Report
	for deadline := time.Now().Add(10 * time.Second); rep == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rep, err = dnsq.LoadReport(db); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	if rep == nil {
		_, err := r.Latest()
		t.Fatalf("the runner stored no report: %v", err)
	}
	got := map[string]float64{}
	for _, s := range rep.Samples() {
		got[s.Name+"{"+strings.Join(s.Values, ",")+"}"] = s.Value
	}
	for k, v := range map[string]float64{"spf_lookups{example.test,rfc}": 1, "spf_lookups{example.test,strict}": 1,
		"dnsbl_listed{203.0.113.10,bl.test}": 0, "dns_check{dkim}": 0} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v; all: %v", k, g, ok, v, got)
		}
	}
}
