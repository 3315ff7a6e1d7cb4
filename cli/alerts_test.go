package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/model"
	"cutover/owner"
	"cutover/state"
	"cutover/state/alerts"
)

// seedAlerts stores a firing complaint-crit (fired Tue 2026-03-10 10:30
// Berlin) and a resolved warn, as the owner's evaluator would.
func seedAlerts(t *testing.T, dbPath string, oh *model.OperatingHours) {
	t.Helper()
	d, err := state.Open(dbPath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rules := model.DefaultAlertRules()
	pol := model.AlertPolicy{Hours: oh, AckSLA: 4 * time.Hour}
	fired := time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC) // 10:30 CET
	g := model.SideISP{Side: model.SideNew, ISP: "google"}
	y := model.SideISP{Side: model.SideNew, ISP: "yahoo"}
	step := func(at time.Time, tl map[model.SideISP]model.Tally) {
		snap := model.AlertSnapshot{Now: at, Tallies: map[time.Duration]map[model.SideISP]model.Tally{24 * time.Hour: tl, 6 * time.Hour: tl, time.Hour: tl}}
		obs := model.EvaluateAlerts(rules, snap, model.Thresholds{})
		var keep []model.Observation
		for _, o := range obs {
			if o.Rule == "complaint-crit" || o.Rule == "hardbounce-warn" {
				keep = append(keep, o)
			}
		}
		if _, err := alerts.Step(d, func(open map[string]*model.Alert, newID func() string) ([]*model.Alert, []model.Notice) {
			return model.StepAlerts(open, keep, rules, pol, at, newID)
		}); err != nil {
			t.Fatal(err)
		}
	}
	step(fired, map[model.SideISP]model.Tally{g: {Delivered: 2000, Complaints: 8}, y: {Delivered: 970, Bounced: 30, HardBounce: 30}})
	step(fired.Add(time.Hour), map[model.SideISP]model.Tally{g: {Delivered: 2000, Complaints: 8}})
	step(fired.Add(2*time.Hour), map[model.SideISP]model.Tally{g: {Delivered: 2000, Complaints: 8}})
}

func writeMonitorConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "cutover.toml")
	cfg := `[database]
path = "cutover.db"
[monitor]
start = "2026-03-09"
timezone = "Europe/Berlin"
operating_hours = "Mon-Fri 08:00-18:00"
ack_sla = "4h"
weekly_report = "Mon 07:00"
` + extra
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlertsListAckMonitorShow(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeMonitorConfig(t, dir, "")
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cfg.Monitor()
	seedAlerts(t, filepath.Join(dir, "cutover.db"), m.Hours)

	code, out, errs := runIn(t, "", "alerts", "list", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("list: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "complaint-crit") || !strings.Contains(lines[1], "Tue 03-10 10:30") {
		t.Fatalf("list:\n%s", out)
	}
	// The hard-bounce warn resolved (it disappeared from the snapshot 1 h
	// later, 30 min clear): --all shows it.
	_, out, _ = runIn(t, "", "alerts", "list", "--config", cfgPath, "--all", "--json")
	var all []model.Alert
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all) != 2 {
		t.Fatalf("--all --json: %v\n%s", err, out)
	}
	var id string
	for _, a := range all {
		if a.Rule == "complaint-crit" {
			id = a.ID
			if a.DueBy.In(m.Zone).Format("Mon 15:04") != "Tue 14:30" {
				t.Errorf("due %s", a.DueBy)
			}
		} else if a.State != model.AlertResolved {
			t.Errorf("warn alert %+v", a)
		}
	}
	if code, _, errs := runIn(t, "", "alerts", "ack", "--config", cfgPath, id); code != 2 || !strings.Contains(errs, "--by") {
		t.Errorf("ack without --by: %d %q", code, errs)
	}
	code, out, errs = runIn(t, "", "alerts", "ack", "--config", cfgPath, id, "--by", "alice", "--note", "throttled")
	if code != 0 || !strings.Contains(out, "acked by alice") {
		t.Fatalf("ack: %d %q %q", code, out, errs)
	}
	if code, _, errs := runIn(t, "", "alerts", "ack", "--config", cfgPath, id, "--by", "bob"); code != 1 || !strings.Contains(errs, "already acked by alice") {
		t.Errorf("second ack: %d %q", code, errs)
	}
	if code, _, errs := runIn(t, "", "alerts", "ack", "--config", cfgPath, "999", "--by", "bob"); code != 1 || !strings.Contains(errs, "no such alert") {
		t.Errorf("unknown id: %d %q", code, errs)
	}
	// Monday 2026-03-16 12:00 Berlin: day 8 of 30; one fired and acked
	// (wall clock, so after its due time: missed); next report next Monday.
	code, out, errs = runIn(t, "", "monitor", "show", "--config", cfgPath, "--now", "2026-03-16T11:00:00Z")
	if code != 0 {
		t.Fatalf("monitor show: %d %s", code, errs)
	}
	for _, want := range []string{"monitoring: day 8 of 30 (since 2026-03-09, Europe/Berlin)",
		"operating hours: Mon-Fri 08:00-18:00; ack SLA 4h",
		"alerts in the window: 2 fired, 1 acked, SLA met 1, missed 1, still open 1",
		"next weekly report: Mon 2026-03-23 07:00 CET"} {
		if !strings.Contains(out, want) {
			t.Errorf("monitor show lacks %q:\n%s", want, out)
		}
	}
}

// With an owner holding the database, list and ack go through its socket.
func TestAlertsThroughOwner(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeMonitorConfig(t, dir, "")
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cfg.Monitor()
	seedAlerts(t, filepath.Join(dir, "cutover.db"), m.Hours)
	own, err := owner.Start(cfg, owner.Options{Command: "test", NoMonitor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	code, out, errs := runIn(t, "", "alerts", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "complaint-crit") {
		t.Fatalf("list via owner: %d %q %q", code, out, errs)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out, errs = runIn(t, "", "alerts", "ack", "--config", cfgPath, id, "--by", "carol")
	if code != 0 || !strings.Contains(out, "acked by carol") {
		t.Fatalf("ack via owner: %d %q %q", code, out, errs)
	}
	open, _ := alerts.Open(own.DB)
	if len(open) != 1 || open[0].AckedBy != "carol" {
		t.Errorf("stored %+v", open)
	}
}

func TestAlertsTestSendsEveryChannel(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfgPath := writeMonitorConfig(t, dir, fmt.Sprintf(`[[notify]]
kind = "webhook"
url = %q
min_severity = "crit"
[[notify]]
kind = "webhook"
url = %q
escalation = true
[[notify]]
kind = "webhook"
url = "http://127.0.0.1:1/nothing-listens"
`, srv.URL, srv.URL))
	code, out, errs := runIn(t, "", "alerts", "test", "--config", cfgPath, "--rule", "complaint-crit")
	if code != 1 || !strings.Contains(out, "webhook#1: sent") || !strings.Contains(out, "webhook#2: sent") ||
		!strings.Contains(out, "webhook#3: FAILED") || !strings.Contains(errs, "1 of 3 channels failed") {
		t.Errorf("test: %d\n%s\n%s", code, out, errs)
	}
	if len(got) != 2 || got[0]["kind"] != "test" || got[0]["rule"] != "complaint-crit" {
		t.Errorf("posts %v", got)
	}
}
