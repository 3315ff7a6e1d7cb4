package owner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/state"
	"cutover/state/alerts"
	"cutover/state/baseline"
	"cutover/ui/report/reporttest"
)

// The owner writes the weekly report at [monitor] weekly_report (Mon 07:00
// in the zone) for the previous ISO week, indexes it, announces it once on
// the ordinary channels, and not again after a restart the same morning.
func TestWeeklyReportScheduled(t *testing.T) {
	dir := t.TempDir()
	h := newHook(t)
	esc := newHook(t)
	cfgPath := filepath.Join(dir, "cutover.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[database]
path = "cutover.db"
[monitor]
timezone = "UTC"
weekly_report = "Mon 07:00"
reports_dir = "out"
report_format = "html"
[[notify]]
kind = "webhook"
url = %q
min_severity = "crit"
[[notify]]
kind = "webhook"
url = %q
escalation = true
`, h.srv.URL, esc.srv.URL)), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Write(t, db)
	var mu sync.Mutex
	now := time.Date(2026, 1, 19, 6, 59, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	start := func() *Owner {
		own, err := Start(cfg, Options{DB: db, Specs: []ingest.SourceSpec{}, Clock: clock, NoMonitor: true})
		if err != nil {
			t.Fatal(err)
		}
		return own
	}
	own := start()
	m := own.Monitoring()
	ctx := context.Background()
	if _, err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.kinds()) != 0 {
		t.Fatalf("report before Mon 07:00: %v", h.kinds())
	}
	set(time.Date(2026, 1, 19, 7, 0, 0, 0, time.UTC))
	if _, err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	set(time.Date(2026, 1, 19, 7, 1, 0, 0, time.UTC))
	m.Evaluate(ctx)
	if got := h.kinds(); len(got) != 1 || got[0] != "report weekly-report" {
		t.Fatalf("announcements %v", got)
	}
	if len(esc.kinds()) != 0 {
		t.Errorf("escalation channel got the announcement")
	}
	path := filepath.Join(dir, "out", "weekly-2026-W03.html")
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "report 2026-W03") || !strings.Contains(h.bodies[0]["summary"].(string), path) {
		t.Fatalf("report file: %v %q", err, h.bodies[0]["summary"])
	}
	rs, _ := alerts.Reports(db)
	if len(rs) != 1 || rs[0].Period != "2026-W03" || len(rs[0].SHA256) != 64 {
		t.Errorf("index %+v", rs)
	}
	// A restart the same morning: not written or announced again.
	own.Close()
	db, err = state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	own = start()
	defer own.Close()
	set(time.Date(2026, 1, 19, 7, 5, 0, 0, time.UTC))
	own.Monitoring().Evaluate(ctx)
	if len(h.kinds()) != 1 {
		t.Errorf("announced again after restart: %v", h.kinds())
	}
}

// postmaster-spam: inactive ("not imported") until Postmaster data is
// imported; then the newest day's spam rate upper bound per domain fires
// it at 0.30 %.
func TestPostmasterSpamRule(t *testing.T) {
	db, err := state.Open(filepath.Join(t.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 19, 9, 0, 0, 0, time.UTC)
	own, err := Start(&Config{}, Options{DB: db, Specs: []ingest.SourceSpec{}, NoMonitor: true, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	m := own.Monitoring()
	snap, err := m.snapshot(now)
	if err != nil {
		t.Fatal(err)
	}
	var rule model.AlertRule
	for _, r := range m.cfg.Rules {
		if r.Name == "postmaster-spam" {
			rule = r
		}
	}
	if snap.InactiveReason(rule) != "not imported" {
		t.Fatalf("inactive reason %q", snap.InactiveReason(rule))
	}
	if _, err := baseline.PutReputation(db, []model.ReputationRecord{
		{Kind: model.RepPostmaster, Subject: "news.example.com", Date: "2026-01-17", SpamRate: 0.004, HasSpam: true, Source: "t:1"},
		{Kind: model.RepPostmaster, Subject: "news.example.com", Date: "2026-01-18", SpamRate: 0.0035, HasSpam: true, Source: "t:2"},
		{Kind: model.RepPostmaster, Subject: "mail.example.com", Date: "2026-01-18", SpamRate: 0.001, HasSpam: true, Source: "t:3"},
	}); err != nil {
		t.Fatal(err)
	}
	ns, err := m.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Alert.Rule != "postmaster-spam" || ns[0].Alert.ISP != "news.example.com" || ns[0].Alert.Value != 0.0035 {
		t.Errorf("notices %+v", ns)
	}
}
