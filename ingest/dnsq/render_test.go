package dnsq_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model/auth"
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
