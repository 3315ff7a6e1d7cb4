package owner

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/model"
	"cutover/state"
	"cutover/state/plan"
	"cutover/ui"
)

// The plan in `cutover status` and /metrics (wave2 §9).

// StatusPlan is the plan in a status report.
type StatusPlan struct {
	Header    string    `json:"header"`
	Step      int       `json:"step"`
	Steps     int       `json:"steps"`
	Ratio     int       `json:"ratio"`
	Gate      string    `json:"gate,omitempty"` // PASS | HOLD | FAIL of the latest gate
	GateAt    time.Time `json:"gate_at,omitzero"`
	Report    string    `json:"report,omitempty"`
	Signoff   string    `json:"signoff"` // current | stale | none
	Hold      string    `json:"hold,omitempty"`
	Overrides int       `json:"overrides,omitempty"`
}

// planStatus adds the plan: a FAIL gate of the current step is a WARN (the
// data does not approve the step the plan is at), as is a hold.
func planStatus(db *state.DB, rep *StatusReport, now time.Time, add func(model.Health, string, ...any)) {
	st, err := plan.ReadState(db)
	if err != nil {
		add(model.HealthWarn, "plan: %v", err)
		return
	}
	if st.Schedule == nil {
		return
	}
	sp := &StatusPlan{Header: ui.PlanHeader(st, now, time.Local, true), Step: st.Step, Steps: st.Steps(), Ratio: st.Ratio,
		Signoff: st.SignoffState(), Overrides: len(st.Overrides)}
	if st.Gate != nil {
		sp.Gate, sp.GateAt, sp.Report = st.Gate.Verdict, st.Gate.At, st.Gate.Report
		if st.Gate.Verdict == "FAIL" && st.Gate.Step == st.Step {
			add(model.HealthWarn, "plan gate FAIL at step %d/%d (report %s)", st.Step, st.Steps(), plan.ShortHash(st.Gate.Report))
		}
	}
	if st.Hold != nil {
		sp.Hold = ui.Sanitize(st.Hold.Reason, 120)
		add(model.HealthWarn, "plan on hold: %s", sp.Hold)
	}
	rep.Plan = sp
}

var (
	descPlanRatio = prometheus.NewDesc("cutover_plan_step_ratio", "NEW percentage of the plan's current step (0 = baseline).", nil, nil)
	descPlanGate  = prometheus.NewDesc("cutover_plan_gate", "Latest plan gate per provider and item: 0 pass, 1 hold, 2 fail (isp \"all\" for plan-wide items).", []string{"isp", "item"}, nil)
)

func describePlan(ch chan<- *prometheus.Desc) {
	ch <- descPlanRatio
	ch <- descPlanGate
}

var gateValue = map[string]float64{"PASS": 0, "HOLD": 1, "FAIL": 2}

// collectPlan exports the plan's step and its latest gate report's items.
func collectPlan(db *state.DB, ch chan<- prometheus.Metric) {
	st, err := plan.ReadState(db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPlanRatio, err)
		return
	}
	if st.Schedule == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descPlanRatio, prometheus.GaugeValue, float64(st.Ratio))
	if st.Gate == nil {
		return
	}
	r, _, err := plan.LoadReport(db.Path(), st.Gate.Report)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPlanGate, err)
		return
	}
	seen := map[[2]string]bool{}
	emit := func(isp string, it plan.Item) {
		k := [2]string{isp, it.Name}
		if seen[k] {
			return
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(descPlanGate, prometheus.GaugeValue, gateValue[it.Verdict], isp, it.Name)
	}
	for _, it := range r.Common {
		emit("all", it)
	}
	for _, pg := range r.Providers {
		for _, it := range pg.Items {
			emit(pg.ISP, it)
		}
	}
}
