package model

import (
	"strings"
	"testing"
	"time"
)

func mustPacing(t *testing.T, c PacingConfig) *Pacing {
	t.Helper()
	p, err := ParsePacing(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPacingDefaults(t *testing.T) {
	p := mustPacing(t, PacingConfig{})
	if p.Mode != PaceSuggest || p.MinApplyInterval != 10*time.Minute || p.MaxPerHour != 6 || p.FloorScale != 0.1 {
		t.Fatalf("defaults: %+v", p)
	}
	// wave2 §7.2: the shipped rules and their values.
	want := map[string]string{
		"block":              "3/15m shift to OLD until cleared",
		"yahoo-tss04":        "immediate shift to OLD 2h",
		"gmail-rate":         "5/10m scale 0.5 1h30m",
		"ms-rate":            "5/10m scale 0.5 1h",
		"comcast-rl":         "2/1h scale 0.5 2h",
		"default-reputation": "immediate scale 0.1 conn ≤1 1h30m",
	}
	for name, w := range want {
		r := p.Rule(name)
		if r == nil {
			t.Fatalf("no default rule %s", name)
		}
		if got := r.TriggerText() + " " + r.Action.String() + " " + r.DurationText(); got != w {
			t.Errorf("%s: %q, want %q", name, got, w)
		}
	}
	if r := p.Rule("gmail-rate"); len(r.Steps) != 1 || r.Steps[0] != (RestoreStep{75, 30 * time.Minute}) {
		t.Errorf("gmail-rate restore %+v", r.Steps)
	}
	if r := p.Rule("block"); !r.Block() || !r.Manual || len(r.Sigs) != 7 {
		t.Errorf("block: %+v", r)
	}
	if r := p.Rule("deferral-rate"); !r.IsMetric() || r.MetricW != 15*time.Minute || r.MinAttempts != 100 || !r.RequireWorse {
		t.Errorf("deferral-rate: %+v", r)
	}
}

func TestPacingOverrideByNameAndErrors(t *testing.T) {
	p := mustPacing(t, PacingConfig{Mode: "auto", Rules: []PacingRule{
		{Name: "gmail-rate", ISP: "google", Match: []string{"sig:gmail-4.7.28-rate"}, Trigger: "3/5m", Action: PacingAction{Scale: 0.25}, Duration: "30m"},
		{Name: "ms-rate", Disabled: true},
		{Name: "custom", ISP: "gmx", Match: []string{"re:try again later"}, Trigger: "2/hr", Action: PacingAction{Scale: 0.5}, Duration: "1h"},
	}})
	if r := p.Rule("gmail-rate"); r.N != 3 || r.Within != 5*time.Minute || r.Action.Scale != 0.25 {
		t.Errorf("override: %+v", r)
	}
	if p.Rule("ms-rate") != nil {
		t.Error("disabled default still there")
	}
	if r := p.Rule("custom"); r == nil || r.N != 2 || r.Within != time.Hour || p.Rules[len(p.Rules)-1] != r {
		t.Errorf("custom rule: %+v", r)
	}
	for _, c := range []struct {
		rule PacingRule
		want string
	}{
		{PacingRule{Name: "x", Match: []string{"sig:nope"}, Action: PacingAction{Scale: .5}, Duration: "1h"}, "no such named signature"},
		{PacingRule{Name: "x", Match: []string{"gmail"}, Action: PacingAction{Scale: .5}, Duration: "1h"}, "want sig:<name> or re:<regex>"},
		{PacingRule{Name: "x", Match: []string{"re:("}, Action: PacingAction{Scale: .5}, Duration: "1h"}, "missing closing"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Trigger: "5/10s", Action: PacingAction{Scale: .5}, Duration: "1h"}, "window"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Trigger: "x/10m", Action: PacingAction{Scale: .5}, Duration: "1h"}, "count"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Action: PacingAction{Scale: 1.5}, Duration: "1h"}, "never raises"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Action: PacingAction{ShiftOld: true, Scale: .5}, Duration: "1h"}, "shift_old takes no scale"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Action: PacingAction{Scale: .5}, Duration: "forever"}, "duration"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Action: PacingAction{Scale: .5}, Duration: "1h", Restore: []string{"75/30m"}}, "P%"},
		{PacingRule{Name: "x", Match: []string{"re:a"}, Action: PacingAction{Scale: .5}, Duration: "1h", Restore: []string{"75%/30m", "50%/10m"}}, "must not go down"},
		{PacingRule{Name: "x", Metric: "bounce_rate", Value: .2, Window: "15m", Action: PacingAction{Scale: .5}, Duration: "1h"}, "want deferral_rate"},
		{PacingRule{Name: "x", Class: "block", Match: []string{"re:a"}, Action: PacingAction{ShiftOld: true}, Duration: "1h"}, "duration must be manual"},
		{PacingRule{Name: "Bad Name", Match: []string{"re:a"}, Action: PacingAction{Scale: .5}, Duration: "1h"}, "name"},
	} {
		_, err := ParsePacing(PacingConfig{Rules: []PacingRule{c.rule}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"`+c.rule.Name+`"`) {
			t.Errorf("%+v: err %v, want %q naming the rule", c.rule, err, c.want)
		}
	}
	if _, err := ParsePacing(PacingConfig{Mode: "fast"}); err == nil {
		t.Error("bad mode accepted")
	}
	if _, err := ParsePacing(PacingConfig{FloorScale: 2}); err == nil {
		t.Error("floor_scale 2 accepted")
	}
}

func TestParseTrigger(t *testing.T) {
	for in, want := range map[string][2]any{
		"immediate": {1, time.Duration(0)}, "": {1, time.Duration(0)},
		"5/10m": {5, 10 * time.Minute}, "2/1h": {2, time.Hour}, "2/hr": {2, time.Hour}, "2/h": {2, time.Hour},
		"3/15m": {3, 15 * time.Minute},
	} {
		n, w, err := ParseTrigger(in)
		if err != nil || n != want[0].(int) || w != want[1].(time.Duration) {
			t.Errorf("%q: %d %v %v", in, n, w, err)
		}
	}
	for _, bad := range []string{"5", "0/10m", "5/0m", "5/100h", "-1/1h", "5/10x"} {
		if _, _, err := ParseTrigger(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The §7.5 pace test case: a Yahoo TSS04 reply that also names the sending
// IP matches yahoo-tss04 first and KumoMTA's default reputation regex next.
func TestMatchReplyPriority(t *testing.T) {
	p := mustPacing(t, PacingConfig{})
	ms := p.MatchReply("421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "")
	if len(ms) != 2 || ms[0].Rule.Name != "yahoo-tss04" || ms[0].ISP != "yahoo" || ms[1].Rule.Name != "default-reputation" {
		t.Fatalf("matches %+v", ms)
	}
	// Gmail's real 421-4.7.28 reply (Google answer 81126).
	g := "421-4.7.28 [203.0.113.10] Our system has detected an unusual rate of\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\n421 4.7.28 users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp"
	ms = p.MatchReply(g, "google")
	if len(ms) == 0 || ms[0].Rule.Name != "gmail-rate" {
		t.Fatalf("gmail: %+v", ms)
	}
	if ms := p.MatchReply(g, "yahoo"); len(ms) != 0 {
		t.Errorf("a google rule fired for yahoo: %+v", ms)
	}
	if ms := p.MatchReply("250 2.0.0 OK", ""); len(ms) != 0 {
		t.Errorf("OK matched %+v", ms)
	}
}

func TestScaleThrottle(t *testing.T) {
	base := Throttle{PerHour: 600, Connections: 5, PerConnection: 50}
	for _, c := range []struct {
		scale float64
		cap   int
		want  Throttle
	}{
		{0.5, 0, Throttle{300, 2, 50}},  // §7.5: 600→300/h, conn 5→2
		{0.75, 0, Throttle{450, 3, 50}}, // restore step
		{0.1, 1, Throttle{60, 1, 50}},   // default-reputation
		{0.001, 0, Throttle{1, 1, 50}},  // floor 1
		{1, 0, base},
	} {
		if got := ScaleThrottle(base, c.scale, c.cap); got != c.want {
			t.Errorf("%g cap %d: %+v, want %+v", c.scale, c.cap, got, c.want)
		}
	}
	// Unlimited stays unlimited except for the connection cap; never above.
	if got := ScaleThrottle(Throttle{}, 0.5, 1); got != (Throttle{Connections: 1}) {
		t.Errorf("unlimited: %+v", got)
	}
	if got := ScaleThrottle(Throttle{Connections: 1}, 0.1, 3); got.Connections != 1 {
		t.Errorf("cap raised a limit: %+v", got)
	}
}

func TestOverlayGmailTimeline(t *testing.T) {
	p := mustPacing(t, PacingConfig{})
	r := p.Rule("gmail-rate")
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	o := NewOverlay(r, "google", t0, p.FloorScale, true)
	o.Base = Throttle{PerHour: 600, Connections: 5}
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	for _, c := range []struct{ min, pct, phase int }{
		{0, 50, 0}, {89, 50, 0}, {90, 75, 1}, {119, 75, 1}, {120, 100, 2},
	} {
		pct, ph := o.WantPct(at(c.min), p.FloorScale)
		if pct != c.pct || ph != c.phase {
			t.Errorf("+%d: %d%% phase %d, want %d%% %d", c.min, pct, ph, c.pct, c.phase)
		}
	}
	if got := o.EffectiveThrottle(50); got != (Throttle{PerHour: 300, Connections: 2}) {
		t.Errorf("50%%: %v", got)
	}
	if got := o.EffectiveThrottle(75); got != (Throttle{PerHour: 450, Connections: 3}) {
		t.Errorf("75%%: %v", got)
	}
	if got := o.ChangeText(100, 50); got != "google 600/h conn 5 → 300/h conn 2" {
		t.Errorf("change text %q", got)
	}
	// A re-trigger in the full phase extends, no new apply, no stacking.
	x := o
	if x.Retrigger(r, at(30), p.FloorScale) || !x.Expires.Equal(at(120)) || x.Action.Scale != 0.5 {
		t.Errorf("retrigger in full phase: %+v", x)
	}
	// In the restore step it restarts the full action and skips the step.
	if !o.Retrigger(r, at(100), p.FloorScale) || !o.Expires.Equal(at(190)) {
		t.Errorf("retrigger in restore: %+v", o)
	}
	if pct, _ := o.WantPct(at(100), p.FloorScale); pct != 50 {
		t.Errorf("after restart %d%%", pct)
	}
	if pct, _ := o.WantPct(at(190), p.FloorScale); pct != 75 {
		t.Errorf("+190 %d%%", pct)
	}
	if !o.RestoreAt().Equal(at(220)) {
		t.Errorf("restore at %v", o.RestoreAt())
	}
}

func TestOverlayDesired(t *testing.T) {
	p := mustPacing(t, PacingConfig{})
	t0 := time.Unix(1_800_000_000, 0)
	cur := Desired{RatioNew: 30, Overrides: map[string]Throttle{"google": {PerConnection: 20}}}
	o := NewOverlay(p.Rule("gmail-rate"), "google", t0, p.FloorScale, true)
	o.Base = Throttle{PerHour: 600, Connections: 5, PerConnection: 20}
	prev := cur.Overrides["google"]
	o.PrevOverride = &prev
	d := o.DesiredAt(cur, 50)
	if d.Overrides["google"] != (Throttle{300, 2, 20}) || cur.Overrides["google"] != prev {
		t.Errorf("scaled %+v (cur %+v)", d.Overrides, cur.Overrides)
	}
	if back := o.DesiredAt(d, 100); back.Overrides["google"] != prev {
		t.Errorf("restored %+v", back.Overrides)
	}
	// shift_old: the provider's NEW ratio goes to 0 and comes back.
	y := NewOverlay(p.Rule("yahoo-tss04"), "yahoo", t0, p.FloorScale, true)
	d = y.DesiredAt(cur, 0)
	if d.RatioFor("yahoo") != 0 || d.RatioFor("google") != 30 {
		t.Errorf("shift: %+v", d)
	}
	if back := y.DesiredAt(d, 100); back.RatioFor("yahoo") != 30 || back.PerISP != nil {
		t.Errorf("shift back: %+v", back)
	}
	// Without per-provider split the shift degrades to the floor scale.
	z := NewOverlay(p.Rule("yahoo-tss04"), "yahoo", t0, p.FloorScale, false)
	if z.Action.ShiftOld || z.Action.Scale != 0.1 || !strings.Contains(z.Warn, "postfix-front") {
		t.Errorf("degraded: %+v", z)
	}
	if pct, _ := z.WantPct(t0, p.FloorScale); pct != 10 {
		t.Errorf("degraded pct %d", pct)
	}
	// A block overlay lasts until cleared.
	b := NewOverlay(p.Rule("block"), "microsoft", t0, p.FloorScale, true)
	if pct, _ := b.WantPct(t0.Add(1000*time.Hour), p.FloorScale); pct != 0 || !b.Expires.IsZero() || b.Class != "block" {
		t.Errorf("block: %d %+v", pct, b)
	}
}

func TestPacingGuard(t *testing.T) {
	g := PacingGuard{MinInterval: 10 * time.Minute, MaxPerHour: 6}
	t0 := time.Unix(1_800_000_000, 0)
	var applies []GuardApply
	isps := []string{"google", "microsoft", "yahoo", "comcast"}
	allowed := 0
	// 20 triggers for 4 providers within 10 minutes, then keep trying for
	// an hour: at most 6 applies in any hour, one per provider per 10 min.
	for m := 0; m < 60; m++ {
		for _, isp := range isps {
			now := t0.Add(time.Duration(m) * time.Minute)
			if ok, why := g.Allow(isp, now, applies); ok {
				applies = append(applies, GuardApply{now, isp})
				allowed++
			} else if why == "" {
				t.Fatal("refusal without a reason")
			}
		}
	}
	if allowed != 6 {
		t.Errorf("%d applies in the hour, want 6", allowed)
	}
	for i, a := range applies {
		for _, b := range applies[i+1:] {
			if a.ISP == b.ISP && b.At.Sub(a.At) < 10*time.Minute {
				t.Errorf("%s applied twice within 10m: %v %v", a.ISP, a.At, b.At)
			}
		}
	}
	if ok, _ := g.Allow("google", t0.Add(61*time.Minute), applies); !ok {
		t.Error("an hour later still refused")
	}
}

func TestFiresMetric(t *testing.T) {
	p := mustPacing(t, PacingConfig{})
	r := p.Rule("deferral-rate")
	th := DefaultThresholds()
	old := Tally{Delivered: 980, Deferred: 20}
	if !r.FiresMetric(old, Tally{Delivered: 600, Deferred: 400}, th) {
		t.Error("40 % deferrals vs 2 % did not fire")
	}
	if r.FiresMetric(old, Tally{Delivered: 60, Deferred: 39}, th) {
		t.Error("fired under min_attempts")
	}
	// Provider-wide outage: OLD as bad as NEW.
	if r.FiresMetric(Tally{Delivered: 600, Deferred: 400}, Tally{Delivered: 600, Deferred: 400}, th) {
		t.Error("fired although NEW is not worse than OLD")
	}
	if !r.Fires(0) == r.IsMetric() && r.Fires(5) {
		t.Error("a metric rule fired on a match count")
	}
	if g := p.Rule("gmail-rate"); g.Fires(4) || !g.Fires(5) {
		t.Error("gmail-rate: 4 fired or 5 did not")
	}
}

// Config text never panics the rule compiler; what it accepts is within the
// documented bounds.
func FuzzCompilePacingRule(f *testing.F) {
	f.Add("gmail-rate", "sig:gmail-4.7.28-rate", "5/10m", "90m", "75%/30m", 0.5)
	f.Add("x", "re:(a+)+$", "immediate", "manual", "", 0.1)
	f.Add("x", "re:\\", "9999999999/1h", "-1h", "100%/0m", 2.0)
	f.Add("x", "sig:", "5/", "1e400h", "%/", -0.0)
	f.Fuzz(func(t *testing.T, name, match, trigger, dur, restore string, scale float64) {
		r := PacingRule{Name: name, ISP: "google", Match: []string{match}, Trigger: trigger, Duration: dur,
			Action: PacingAction{Scale: scale}}
		if restore != "" {
			r.Restore = []string{restore}
		}
		c, err := CompileRule(r)
		if err != nil {
			return
		}
		if c.Action.Scale <= 0 || c.Action.Scale > 1 || c.N < 1 || (!c.Manual && (c.For < time.Minute || c.For > 30*24*time.Hour)) {
			t.Fatalf("accepted out of bounds: %+v", c)
		}
		o := NewOverlay(c, "google", time.Unix(1_800_000_000, 0), 0.1, true)
		o.Base = Throttle{PerHour: 600, Connections: 5}
		for _, d := range []time.Duration{0, c.For, c.For + time.Hour} {
			pct, _ := o.WantPct(o.Started.Add(d), 0.1)
			if got := o.EffectiveThrottle(pct); got.PerHour > 600 || got.Connections > 5 || got.PerHour < 1 || got.Connections < 1 {
				t.Fatalf("overlay raised or zeroed a limit: %+v at %d%%", got, pct)
			}
		}
	})
}
