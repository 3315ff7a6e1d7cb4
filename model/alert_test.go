package model

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func ruleByName(t *testing.T, rules []AlertRule, name string) AlertRule {
	t.Helper()
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %s", name)
	return AlertRule{}
}

// The §8.3 table: every default rule exists with its level, window and sample.
func TestDefaultAlertRulesAreTheTable(t *testing.T) {
	rules := DefaultAlertRules()
	want := []struct {
		name   string
		sev    Severity
		thr    float64
		win    time.Duration
		min    uint64
		forDur time.Duration
	}{
		{"complaint-crit", SevCrit, 0.003, 24 * time.Hour, 1000, 0},
		{"complaint-warn", SevWarn, 0.001, 24 * time.Hour, 1000, 0},
		{"hardbounce-crit", SevCrit, 0.05, 6 * time.Hour, 500, 0},
		{"hardbounce-warn", SevWarn, 0.02, 6 * time.Hour, 500, 0},
		{"deferral-crit", SevCrit, 0.25, time.Hour, 200, 15 * time.Minute},
		{"deferral-warn", SevWarn, 0.10, time.Hour, 200, 15 * time.Minute},
		{"new-worse", SevWarn, 0, 24 * time.Hour, 0, 0},
		{"provider-block", SevCrit, 10, 15 * time.Minute, 0, 0},
		{"blocklisted", SevCrit, 1, 0, 0, 0},
		{"auth-regression", SevCrit, 1, 0, 0, 0},
		{"volume-drop", SevWarn, 0.5, time.Hour, 1000, 0},
		{"source-stale", SevCrit, 15, 0, 0, 0},
		{"suppression-drift", SevCrit, 1, 0, 0, 0},
		{"postmaster-spam", SevCrit, 0.003, 0, 0, 0},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rules), len(want))
	}
	for i, w := range want {
		r := rules[i]
		if r.Name != w.name || r.Severity != w.sev || r.Threshold != w.thr || r.Window != w.win || r.MinSample != w.min || r.For != w.forDur {
			t.Errorf("rule %d = %+v, want %+v", i, r, w)
		}
		if r.Repeat != 4*time.Hour || r.ResolveAfter != 30*time.Minute {
			t.Errorf("%s: repeat %s resolve_after %s, want 4h and 30m", r.Name, r.Repeat, r.ResolveAfter)
		}
	}
}

func TestMergeAlertRules(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	yes := true
	rules, err := MergeAlertRules(DefaultAlertRules(), []AlertRuleOverride{
		{Name: "complaint-crit", Threshold: f(0.002), Repeat: "2h"},
		{Name: "volume-drop", Disabled: &yes},
		{Name: "gmail-deferral-page", Metric: MetricDeferral, Severity: "crit", Threshold: f(0.4), Window: "30m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := ruleByName(t, rules, "complaint-crit")
	if cc.Threshold != 0.002 || cc.Repeat != 2*time.Hour || cc.Window != 24*time.Hour || cc.MinSample != 1000 || cc.Clear != 0.001 {
		t.Errorf("override: %+v", cc)
	}
	if !ruleByName(t, rules, "volume-drop").Disabled {
		t.Error("volume-drop not disabled")
	}
	n := ruleByName(t, rules, "gmail-deferral-page")
	if n.Severity != SevCrit || n.Window != 30*time.Minute || n.Clear != 0.4 || n.Repeat != DefaultRepeat {
		t.Errorf("new rule: %+v", n)
	}
	bad := []struct {
		o    AlertRuleOverride
		want string
	}{
		{AlertRuleOverride{}, "name is required"},
		{AlertRuleOverride{Name: "x", Metric: "nope"}, "metric \"nope\" unknown"},
		{AlertRuleOverride{Name: "complaint-crit", Severity: "loud"}, "want warn or crit"},
		{AlertRuleOverride{Name: "complaint-crit", Repeat: "often"}, "repeat \"often\""},
		{AlertRuleOverride{Name: "new-one", Metric: MetricComplaint}, "needs metric, severity and threshold"},
		{AlertRuleOverride{Name: "complaint-crit", Threshold: f(-1)}, "threshold must be >= 0"},
	}
	for _, b := range bad {
		_, err := MergeAlertRules(DefaultAlertRules(), []AlertRuleOverride{b.o})
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "#1") {
			t.Errorf("%+v: err %v, want %q with position", b.o, err, b.want)
		}
	}
}

func snap(now time.Time, win time.Duration, tallies map[SideISP]Tally) AlertSnapshot {
	return AlertSnapshot{Now: now, Tallies: map[time.Duration]map[SideISP]Tally{win: tallies}}
}

// Complaint rates against the §8.3 levels: 3 of 1,000 (0.30 %) reaches crit,
// 2 of 1,000 is warn only, 4 of 999 is below the minimum sample.
func TestEvaluateComplaintLevels(t *testing.T) {
	rules := DefaultAlertRules()
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	g := SideISP{SideNew, "google"}
	cases := []struct {
		t          Tally
		crit, warn bool
	}{
		{Tally{Delivered: 1000, Complaints: 3}, true, true},
		{Tally{Delivered: 1000, Complaints: 2}, false, true},
		{Tally{Delivered: 1000, Complaints: 0}, false, false},
		{Tally{Delivered: 999, Complaints: 4}, false, false},
	}
	for _, c := range cases {
		obs := EvaluateAlerts(rules, snap(now, 24*time.Hour, map[SideISP]Tally{g: c.t, {SideOld, "google"}: {Delivered: 10000}}), Thresholds{})
		got := map[string]bool{}
		for _, o := range obs {
			if o.Side == SideOld {
				t.Errorf("OLD observed: %+v", o)
			}
			got[o.Rule] = o.Active
		}
		if got["complaint-crit"] != c.crit || got["complaint-warn"] != c.warn {
			t.Errorf("%+v: crit %v warn %v, want %v %v", c.t, got["complaint-crit"], got["complaint-warn"], c.crit, c.warn)
		}
	}
}

func TestEvaluateOtherMetrics(t *testing.T) {
	rules := DefaultAlertRules()
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	s := AlertSnapshot{Now: now,
		Tallies: map[time.Duration]map[SideISP]Tally{
			time.Hour: {{SideNew, "yahoo"}: {Delivered: 150, Deferred: 50}, {SideNew, "google"}: {Delivered: 400}},
		},
		Blocks:   map[time.Duration]map[string]uint64{15 * time.Minute: {"microsoft": 10, "yahoo": 9}},
		LastWeek: map[string]Tally{"google": {Delivered: 1000}},
		Stale:    map[string]time.Time{"new-pmta": now.Add(-16 * time.Minute), "old": now.Add(-time.Minute)},
	}
	active := map[string]bool{}
	for _, o := range EvaluateAlerts(rules, s, Thresholds{}) {
		active[o.Rule+"/"+o.ISP] = o.Active
	}
	want := map[string]bool{
		"deferral-crit/yahoo": true, "deferral-warn/yahoo": true, // 50/200 = 25 %
		"deferral-crit/google": false, "provider-block/microsoft": true, "provider-block/yahoo": false,
		"volume-drop/google":    true, // 400 < 50 % of 1000
		"source-stale/new-pmta": true, "source-stale/old": false,
	}
	for k, v := range want {
		if got, ok := active[k]; !ok || got != v {
			t.Errorf("%s: active %v (present %v), want %v", k, got, ok, v)
		}
	}
	// Facts not stored: those rules say so and stay out.
	if r := s.InactiveReason(ruleByName(t, rules, "postmaster-spam")); r != "not imported" {
		t.Errorf("postmaster-spam inactive reason %q", r)
	}
	for k := range active {
		if strings.HasPrefix(k, "postmaster-spam") || strings.HasPrefix(k, "auth-regression") {
			t.Errorf("%s evaluated without data", k)
		}
	}
}

// The lifecycle on the wave2 §8.2 clock (Mon–Fri 08:00–18:00 Berlin, ack SLA
// 4 h, escalate after 2 h): one firing notice, escalation at +2 h of
// operating time, a repeat at +4 h, none after the ack, one resolved notice
// after 30 min below the warn level.
func TestAlertLifecycle(t *testing.T) {
	oh := wave2Hours(t)
	loc := oh.Zone()
	pol := AlertPolicy{Hours: oh, AckSLA: 4 * time.Hour, EscalateAfter: 2 * time.Hour}
	rules := DefaultAlertRules()
	open := map[string]*Alert{}
	n := 0
	newID := func() string { n++; return fmt.Sprint(n) }
	g := SideISP{SideNew, "google"}
	bad := Tally{Delivered: 1500, Complaints: 6}
	good := Tally{Delivered: 1500}
	var log []string
	step := func(at time.Time, tl Tally) {
		_, ns := StepAlerts(open, EvaluateAlerts(rules, snap(at, 24*time.Hour, map[SideISP]Tally{g: tl}), Thresholds{}), rules, pol, at, newID)
		for _, x := range ns {
			log = append(log, fmt.Sprintf("%s %s %s", at.In(loc).Format("Mon 15:04"), x.Kind, x.Alert.Rule))
		}
	}
	t0 := at(loc, "2026-03-10 16:30") // Tue: 1.5 h of operating time left today
	for m := 0; m <= 20*60; m++ {
		step(t0.Add(time.Duration(m)*time.Minute), bad)
	}
	want := []string{
		"Tue 16:30 firing complaint-crit", "Tue 16:30 firing complaint-warn",
		"Tue 20:30 repeat complaint-crit", "Tue 20:30 repeat complaint-warn",
		"Wed 00:30 repeat complaint-crit", "Wed 00:30 repeat complaint-warn",
		"Wed 04:30 repeat complaint-crit", "Wed 04:30 repeat complaint-warn",
		"Wed 08:30 escalation complaint-crit", "Wed 08:30 repeat complaint-crit", // 1.5 h Tue + 0.5 h Wed
		"Wed 08:30 escalation complaint-warn", "Wed 08:30 repeat complaint-warn",
		"Wed 12:30 repeat complaint-crit", "Wed 12:30 repeat complaint-warn",
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notices:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	crit := open["complaint-crit|google|new"]
	if crit == nil || crit.DueBy.In(loc).Format("Mon 15:04") != "Wed 10:30" || crit.State != AlertFiring {
		t.Fatalf("crit alert %+v, want firing due Wed 10:30", crit)
	}
	ackAt := t0.Add(20*time.Hour + 5*time.Minute) // Wed 12:35
	if err := crit.Ack("alice", "looking", ackAt); err != nil {
		t.Fatal(err)
	}
	if err := crit.Ack("bob", "", ackAt); err == nil {
		t.Error("second ack accepted")
	}
	if got := crit.TimeToAck(oh); got != 1*time.Hour+30*time.Minute+4*time.Hour+35*time.Minute {
		t.Errorf("time to ack %s", got)
	}
	if met, decided := crit.SLAMet(ackAt); met || !decided {
		t.Errorf("SLA met %v decided %v: acked 2h05m after due", met, decided)
	}
	log = nil
	for m := 6; m <= 6*60; m++ { // acked: no repeat for crit; warn keeps repeating
		step(t0.Add(20*time.Hour+time.Duration(m)*time.Minute), bad)
	}
	for _, l := range log {
		if strings.HasSuffix(l, "complaint-crit") {
			t.Errorf("notice after ack: %s", l)
		}
	}
	log = nil
	tr := t0.Add(27 * time.Hour)
	for m := 0; m <= 40; m++ {
		step(tr.Add(time.Duration(m)*time.Minute), good)
	}
	if strings.Join(log, "\n") != "Wed 20:00 resolved complaint-crit\nWed 20:00 resolved complaint-warn" {
		t.Errorf("resolve notices:\n%s", strings.Join(log, "\n"))
	}
	if len(open) != 0 {
		t.Errorf("open after resolve: %v", open)
	}
}

// `for`: a deferral spike shorter than 15 minutes never fires and leaves
// nothing behind; a longer one fires at 15 minutes.
func TestAlertForDuration(t *testing.T) {
	rules := DefaultAlertRules()
	pol := AlertPolicy{}
	open := map[string]*Alert{}
	n := 0
	newID := func() string { n++; return fmt.Sprint(n) }
	y := SideISP{SideNew, "yahoo"}
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	run := func(from, to int, tl Tally) []Notice {
		var all []Notice
		for m := from; m < to; m++ {
			now := t0.Add(time.Duration(m) * time.Minute)
			_, ns := StepAlerts(open, EvaluateAlerts(rules, snap(now, time.Hour, map[SideISP]Tally{y: tl}), Thresholds{}), rules, pol, now, newID)
			all = append(all, ns...)
		}
		return all
	}
	spike, calm := Tally{Delivered: 100, Deferred: 100}, Tally{Delivered: 300}
	if ns := run(0, 14, spike); len(ns) != 0 {
		t.Errorf("fired before for: %+v", ns)
	}
	run(14, 15, calm)
	if len(open) != 0 {
		t.Errorf("pending not dropped: %+v", open)
	}
	ns := run(20, 36, spike)
	if len(ns) != 2 || ns[0].Kind != NoticeFiring || !ns[0].Alert.FiredAt.Equal(t0.Add(35*time.Minute)) {
		t.Errorf("notices %+v, want crit+warn firing at +35m", ns)
	}
}

func TestDueText(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	a := Alert{State: AlertFiring, DueBy: now.Add(80 * time.Minute)}
	if s := a.DueText(now); s != "due in 1h20m" {
		t.Errorf("%q", s)
	}
	a.DueBy = now.Add(-35 * time.Minute)
	if s := a.DueText(now); s != "overdue 35m" {
		t.Errorf("%q", s)
	}
}
