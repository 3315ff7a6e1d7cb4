package ui_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/model"
	"cutover/state/plan"
	"cutover/ui"
	"cutover/ui/uifake"
)

// fakePlan is a plan at step 2 (15 %) on day 9 with a PASS gate and its
// signoff, answering the cockpit's calls and counting them.
type fakePlan struct {
	st                  ui.PlanStatus
	gates, previews, ok int
	readOnly            bool
}

func newFakePlan(t *testing.T) *fakePlan {
	t.Helper()
	start := time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC) // uifake.Now is 8 days 6 h later
	s, err := model.NewSchedule("p", start, nil, 7, model.SparkPostSchedule(), 2)
	if err != nil {
		t.Fatal(err)
	}
	st := plan.State{Schedule: &s, Step: 2, Ratio: 15, StepSince: start.Add(7 * 24 * time.Hour),
		Gate:    &plan.GateRef{Report: "r2", Verdict: "PASS", Step: 2, At: uifake.Now.Add(-time.Minute)},
		Signoff: &plan.SignoffRef{Report: "r2", By: `"Carol" <carol@customer.example>`, DKIM: "pass d=customer.example\x1b[2J"}}
	rep := &plan.Report{Verdict: "PASS", Window: "72h0m0s", At: uifake.Now, Providers: []plan.ProviderGate{{ISP: "google", Verdict: "PASS",
		Items: []plan.Item{{Name: "worse", Verdict: "PASS", Reason: "not worse: z deferral 7.74"}}}}}
	return &fakePlan{st: ui.PlanStatus{State: st, Blockers: []string{}, Report: rep}}
}

func (f *fakePlan) Status() (ui.PlanStatus, error) { return f.st, nil }
func (f *fakePlan) Gate() (string, error)          { f.gates++; return "gate PASS\nreport abc", nil }
func (f *fakePlan) CanAdvance() bool               { return !f.readOnly }
func (f *fakePlan) Advance(apply bool) (string, error) {
	if f.readOnly {
		return "", errors.New("refused")
	}
	if !apply {
		f.previews++
		return "apply: 15% new -> 30% new\n+  \"RatioNew\": 30", nil
	}
	f.ok++
	return "#7 apply 15% new -> 30% new: ok", nil
}

func planModel(p ui.PlanOps, w, h int) tea.Model {
	o := opts(asciiRenderer())
	o.Plan = p
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	m = send(m, ui.Changed{})
	// P loads the plan (the header re-reads it on the refresh tick too).
	return press(m, "P", "esc")
}

func TestPlanHeaderAndView(t *testing.T) {
	fp := newFakePlan(t)
	out := planModel(fp, 200, 30).View()
	checkScreen(t, out, 200, 30)
	head := strings.Split(out, "\n")[0]
	// Next checkpoint: step 2 began Thu 11-26 08:00 UTC, 7 days dwell, shown in CET.
	if !strings.Contains(head, "step 2/6 15% · day 9 · gate PASS · signoff ✓ · next checkpoint Thu 09:00") {
		t.Errorf("header: %q", head)
	}
	for _, w := range []int{80, 100} {
		out := planModel(fp, w, 24).View()
		checkScreen(t, out, w, 24)
		if !strings.Contains(strings.Split(out, "\n")[0], "plan 2/6 PASS") {
			t.Errorf("%d cols: no short plan segment: %q", w, strings.Split(out, "\n")[0])
		}
	}

	m := press(planModel(fp, 120, 40), "P")
	v := m.View()
	checkScreen(t, v, 120, 40)
	for _, want := range []string{"PLAN step 2/6", "signoff ✓", "advance allowed", "gate PASS", "google PASS", "z deferral 7.74"} {
		if !strings.Contains(v, want) {
			t.Errorf("P view lacks %q:\n%s", want, v)
		}
	}
	m = press(m, "g")
	if fp.gates != 1 || !strings.Contains(m.View(), "report abc") {
		t.Errorf("g: %d gates\n%s", fp.gates, m.View())
	}
	m = press(m, "A")
	if v := m.View(); fp.previews != 1 || !strings.Contains(v, "(y/N)") || !strings.Contains(v, `"RatioNew": 30`) || fp.ok != 0 {
		t.Fatalf("A: previews %d applied %d\n%s", fp.previews, fp.ok, v)
	}
	m = press(m, "y")
	if fp.ok != 1 || !strings.Contains(m.View(), "#7 apply") {
		t.Errorf("y: applied %d\n%s", fp.ok, m.View())
	}
	if v := press(m, "esc").View(); strings.Contains(v, "PLAN step") {
		t.Errorf("esc did not leave the view")
	}

	// A read-only viewer sees the plan but cannot advance.
	ro := newFakePlan(t)
	ro.readOnly = true
	m = press(planModel(ro, 120, 40), "P", "A")
	if ro.previews != 0 || ro.ok != 0 || !strings.Contains(m.View(), "read-only") {
		t.Errorf("read-only A: %d previews\n%s", ro.previews, m.View())
	}
}
