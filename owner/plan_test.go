package owner

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/model"
	"cutover/state"
	"cutover/state/baseline"
	"cutover/state/plan"
)

// planDB is a database with the §6.5 PASS counts for google over the last
// two days (committed as events) and a plan at step 1 for 8 days.
func planDB(t *testing.T) (*state.DB, *Planner) {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	b := state.NewBatch()
	add := func(side model.Side, o model.Outcome, n int, resp string, class model.BounceClass) {
		for i := 0; i < n; i++ {
			b.AddEvent(&model.Event{Time: now.Add(-time.Duration(i%3000) * 30 * time.Second), Side: side, MTA: "pmta", ISP: "google",
				Domain: "gmail.com", Outcome: o, Response: resp, Class: class})
		}
	}
	add(model.SideOld, model.Delivered, 168300, "", 0)
	add(model.SideOld, model.Deferred, 1700, "421 4.7.0 try later", 0)
	add(model.SideOld, model.Complaint, 51, "abuse", 0)
	add(model.SideNew, model.Delivered, 29400, "", 0)
	add(model.SideNew, model.Deferred, 450, "421 4.7.0 try later", 0)
	add(model.SideNew, model.Bounced, 60, "550 5.1.1 user unknown", model.ClassHard)
	add(model.SideNew, model.Bounced, 90, "552 5.2.2 mailbox full", model.ClassSoft)
	add(model.SideNew, model.Complaint, 9, "abuse", 0)
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	clock := now.Add(-8 * 24 * time.Hour)
	p, err := OpenPlanner(db, &Config{}, nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.Init(PlanInit{Start: clock, DailyVolume: 100000}); err != nil {
		t.Fatal(err)
	}
	// Without a controller the plan starts at the baseline; put it at step 1.
	if _, err := p.Log.Append(plan.Event{Type: plan.EvAdvance, Step: 1, Ratio: 5}); err != nil {
		t.Fatal(err)
	}
	clock = now
	return db, p
}

func TestPlanGateReputationAndBlockOverlay(t *testing.T) {
	db, p := planDB(t)
	r, err := p.EvaluateGate(72 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "PASS" {
		t.Fatalf("base case: %s %+v %+v", r.Verdict, r.Common, r.Providers)
	}
	for _, it := range r.Common {
		if it.Name == "reputation" && it.Reason != "n/a: not imported" {
			t.Errorf("reputation before import: %+v", it)
		}
	}

	// Postmaster's spam rate upper bound at 0.40 % (the latest day): FAIL.
	if _, err := baseline.PutReputation(db, []model.ReputationRecord{
		{Kind: model.RepPostmaster, Subject: "example.com", Date: "2026-12-01", SpamRate: 0.001, HasSpam: true},
		{Kind: model.RepPostmaster, Subject: "example.com", Date: "2026-12-02", SpamRate: 0.004, HasSpam: true},
	}); err != nil {
		t.Fatal(err)
	}
	r, _ = p.EvaluateGate(72 * time.Hour)
	found := false
	for _, it := range r.Common {
		if it.Name == "reputation" {
			found = it.Verdict == "FAIL" && strings.Contains(it.Reason, "0.40 %")
		}
	}
	if !found || r.Verdict != "FAIL" {
		t.Errorf("spam upper 0.40 %%: %s %+v", r.Verdict, r.Common)
	}
	baseline.PutReputation(db, []model.ReputationRecord{{Kind: model.RepPostmaster, Subject: "example.com", Date: "2026-12-03", SpamRate: 0.001, HasSpam: true}})

	// An active pacing overlay of class block on google fails its blocks item.
	if err := db.PutOverlay(model.Overlay{ID: "o1", Rule: "gmail-block", ISP: "google", Class: "block", State: model.OverlayActive}); err != nil {
		t.Fatal(err)
	}
	r, _ = p.EvaluateGate(72 * time.Hour)
	if r.Verdict != "FAIL" || len(r.Providers) != 1 {
		t.Fatalf("block overlay: %s %+v", r.Verdict, r.Providers)
	}
	for _, it := range r.Providers[0].Items {
		if it.Name == "blocks" && (it.Verdict != "FAIL" || !strings.Contains(it.Reason, "gmail-block")) {
			t.Errorf("blocks: %+v", it)
		}
	}
}

func TestPlanStatusAndMetrics(t *testing.T) {
	db, p := planDB(t)
	// Postmaster at 0.40 %: the gate FAILs on reputation, PASSes the rest.
	baseline.PutReputation(db, []model.ReputationRecord{{Kind: model.RepPostmaster, Subject: "example.com", Date: "2026-12-02", SpamRate: 0.004, HasSpam: true}})
	if _, _, _, err := p.Gate(72*time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(planCollector{db})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName()
			for _, l := range m.GetLabel() {
				k += "," + l.GetName() + "=" + l.GetValue()
			}
			got[k] = m.GetGauge().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"cutover_plan_step_ratio":                      5,
		"cutover_plan_gate,isp=all,item=reputation":    2,
		"cutover_plan_gate,isp=google,item=worse":      0,
		"cutover_plan_gate,isp=google,item=complaints": 0,
		"cutover_plan_gate,isp=all,item=suppression":   0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	rep := &StatusReport{}
	var reasons []string
	planStatus(db, rep, time.Now(), func(h model.Health, f string, a ...any) {
		reasons = append(reasons, h.String()+" "+fmt.Sprintf(f, a...))
	})
	if rep.Plan == nil || rep.Plan.Gate != "FAIL" || rep.Plan.Step != 1 || len(reasons) != 1 || !strings.Contains(reasons[0], "WARN plan gate FAIL at step 1/6") {
		t.Errorf("status: %+v %v", rep.Plan, reasons)
	}
}

type planCollector struct{ db *state.DB }

func (c planCollector) Describe(ch chan<- *prometheus.Desc) { describePlan(ch) }
func (c planCollector) Collect(ch chan<- prometheus.Metric) { collectPlan(c.db, ch) }

// TestPlanWarmupDays: the warm-up day advances only on full days (≥ 90 %
// of min(wanted, cap)); a short day does not count (wave2 §6.4).
func TestPlanWarmupDays(t *testing.T) {
	db, err := state.Open(filepath.Join(t.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	start := today.Add(-3 * 24 * time.Hour)
	b := state.NewBatch()
	add := func(side model.Side, day, n int) {
		for i := 0; i < n; i++ {
			b.AddEvent(&model.Event{Time: start.Add(time.Duration(day)*24*time.Hour + time.Hour + time.Duration(i)*time.Second),
				Side: side, MTA: "pmta", ISP: "google", Domain: "gmail.com", Outcome: model.Delivered})
		}
	}
	add(model.SideOld, -1, 2000) // history before the start: google is the whole volume
	// 2 IPs on SparkPost: day 1 cap 400 (90 % = 360), day 2 cap 1,000.
	add(model.SideNew, 0, 380) // full: day 2 next
	add(model.SideNew, 1, 500) // short (< 900): still day 2
	add(model.SideNew, 2, 950) // full: day 3 next
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	clock := start
	p, err := OpenPlanner(db, &Config{}, nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Init(PlanInit{Start: start, DailyVolume: 100000, NewIPs: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Log.Append(plan.Event{Type: plan.EvAdvance, Step: 1, Ratio: 5}); err != nil {
		t.Fatal(err)
	}
	got, err := p.WarmupDays(today.Add(10 * time.Hour))
	if err != nil || got["google"] != 3 {
		t.Fatalf("warm-up days %v %v, want google 3", got, err)
	}
}
