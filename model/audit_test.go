package model_test

import (
	"testing"
	"time"

	"cutover/model"
	"cutover/model/audittest"
)

func sumAtt(s []model.Tally) (n uint64) {
	for _, t := range s {
		n += t.Attempts()
	}
	return n
}

// The wave2 §4.6 figures, copied from the reference, not from a run.
func TestAuditFixtureFigures(t *testing.T) {
	fx := audittest.Hourly(1)
	g := fx["google"]
	if n := sumAtt(g); n != 2_900_000 {
		t.Fatalf("google total %d, want 2,900,000", n)
	}
	var others uint64
	for _, isp := range []string{"microsoft", "yahoo", "other"} {
		others += sumAtt(fx[isp])
	}
	if others != 7*2_880_000/10 {
		t.Fatalf("others %d, want 0.7 × 2,880,000", others)
	}
	if s := model.Share(2_900_000, 2_900_000+others); s != 0.5899 {
		t.Errorf("share %v, want 58.99 %%", s)
	}
	p := model.ProfileOf(audittest.Start, audittest.Attempts(g))
	if p.Peak != 30000 || !p.PeakAt.Equal(time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)) || model.HourOfWeekLabel(model.HourOfWeek(p.PeakAt)) != "Wed 10:00" {
		t.Errorf("peak %d at %v", p.Peak, p.PeakAt)
	}
	if p.P95 != 10000 || p.P50 != 2000 {
		t.Errorf("p95 %d p50 %d, want 10,000 and 2,000", p.P95, p.P50)
	}
	yw := model.Weekly(audittest.Start, fx["yahoo"], model.Thresholds{})
	tr := model.Trends(yw, model.Thresholds{})["deferral"]
	if tr.Flag != model.TrendRising || tr.First != 2 || tr.Last != 8 || tr.SlopePtPerWeek != 2 {
		t.Errorf("yahoo deferral trend %+v, want rising 2.0 → 8.0, +2.0 pt/week", tr)
	}
	if f := model.Trends(model.Weekly(audittest.Start, g, model.Thresholds{}), model.Thresholds{})["deferral"].Flag; f != model.TrendFlat {
		t.Errorf("google deferral %s, want flat", f)
	}
}

func TestAuditRecommendations(t *testing.T) {
	fx := audittest.Hourly(1)
	basis := map[string]int{}
	for isp, s := range fx {
		basis[isp] = int(model.ProfileOf(audittest.Start, audittest.Attempts(s)).P95)
	}
	pol := func(day int) model.ThrottlePolicy {
		return model.ThrottlePolicy{Margin: 1.2, NewIPs: 2, WarmupDay: day}
	}
	cases := []struct {
		isp       string
		day, step int
		want      int
		by        model.CappedBy
	}{
		{"google", 1, 5, 50, model.CapWarmup},     // 200 × 2 ÷ 8
		{"google", 5, 5, 600, model.CapHistory},   // ceil(10,000 × 0.05 × 1.2)
		{"google", 8, 15, 1800, model.CapHistory}, // ceil(10,000 × 0.15 × 1.2)
		{"microsoft", 5, 5, 240, model.CapHistory},
		{"yahoo", 5, 5, 120, model.CapHistory},
	}
	for _, c := range cases {
		e := pol(c.day).Explain(c.isp, basis[c.isp], c.step)
		if e.PerHour != c.want || e.PerHourBy != c.by {
			t.Errorf("%s step %d day %d: %d/h by %s, want %d by %s", c.isp, c.step, c.day, e.PerHour, e.PerHourBy, c.want, c.by)
		}
	}
	e := pol(1).Explain("google", basis["google"], 5)
	if e.Connections != 5 || e.PerConnection != 50 || e.ConnectionsBy != model.CapCeiling {
		t.Errorf("google connections %+v", e)
	}
	// step 100 %: 12,000/h once the warm-up allows it (day 9: 50,000 × 2 ÷ 8 = 12,500)
	if e := pol(9).Explain("google", basis["google"], 100); e.PerHour != 12000 || e.PerHourBy != model.CapHistory {
		t.Errorf("step 100: %+v", e)
	}
	// --basis peak: 1,250 (5,000 × 2 ÷ 8) beats ceil(30,000 × 0.05 × 1.2) = 1,800
	pk := pol(5)
	pk.Basis = model.BasisPeak
	gp := model.ProfileOf(audittest.Start, audittest.Attempts(fx["google"]))
	if e := pk.Explain("google", pk.BasisHourly(gp), 5); e.PerHour != 1250 || e.PerHourBy != model.CapWarmup {
		t.Errorf("basis peak: %+v", e)
	}
	// a configured ceiling below both, then an override above everything
	c := pol(30)
	c.Ceilings = map[string]model.Ceiling{"google": {Connections: 3, PerConnection: 10, PerHour: 400}}
	e = c.Explain("google", 10000, 5)
	if e.PerHour != 400 || e.PerHourBy != model.CapCeiling {
		t.Errorf("ceiling: %+v", e)
	}
	if o := e.WithOverride(model.Throttle{PerHour: 9999}); o.PerHour != 9999 || o.PerHourBy != model.CapOverride || o.ConnectionsBy != model.CapCeiling {
		t.Errorf("override: %+v", o)
	}
	rec := pol(5).Recommend("google", basis["google"], []int{0, 5, 15})
	if len(rec) != 2 || rec[0].Step != 5 || rec[0].PerHour != 600 || rec[1].PerHour != 1250 || rec[1].PerHourBy != model.CapWarmup || rec[0].Day != 5 {
		t.Errorf("Recommend: %+v", rec)
	}
}

// At 1/100 the same shares and trend flags; p50/p95/peak at 1/100 exactly.
func TestAuditFixtureHundredth(t *testing.T) {
	fx := audittest.Hourly(100)
	g := model.ProfileOf(audittest.Start, audittest.Attempts(fx["google"]))
	if g.P50 != 20 || g.P95 != 100 || g.Peak != 300 {
		t.Errorf("google at 1/100: %+v", g)
	}
	var tot uint64
	for _, s := range fx {
		tot += sumAtt(s)
	}
	if s := model.Share(sumAtt(fx["google"]), tot); s != 0.5899 {
		t.Errorf("share %v", s)
	}
	tr := model.Trends(model.Weekly(audittest.Start, fx["yahoo"], model.Thresholds{}), model.Thresholds{})["deferral"]
	// weekly deferrals round(1,440 × p %) = 29, 58, 86, 115 of 1,440
	if tr.Flag != model.TrendRising || tr.First != 2.0139 || tr.Last != 7.9861 {
		t.Errorf("trend %+v", tr)
	}
}

func TestNearestRank(t *testing.T) {
	v := []uint64{15, 20, 35, 40, 50} // the Wikipedia example: p30 = 20, p40 = 20, p50 = 35, p100 = 50
	for p, want := range map[float64]uint64{5: 15, 30: 20, 40: 20, 50: 35, 100: 50} {
		if got := model.NearestRank(v, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if model.NearestRank(nil, 95) != 0 {
		t.Error("empty")
	}
}

func TestTrendFlags(t *testing.T) {
	for _, c := range []struct {
		rates []float64
		warn  float64
		flag  string
	}{
		{[]float64{0.02, 0.04, 0.06, 0.08}, 0.10, model.TrendRising},
		{[]float64{0.08, 0.06, 0.04, 0.02}, 0.10, model.TrendFalling},
		{[]float64{0.01, 0.02, 0.03}, 0.10, model.TrendFlat},       // last 3 % < half the warn level
		{[]float64{0.05, 0.06, 0.07}, 0.10, model.TrendFlat},       // last < 1.5 × first
		{[]float64{0.02, 0.08}, 0.10, model.TrendNone},             // two weeks
		{[]float64{0.08, 0.02, 0.02, 0.08}, 0.10, model.TrendFlat}, // slope 0
	} {
		if got := model.TrendOf(c.rates, c.warn); got.Flag != c.flag {
			t.Errorf("%v: %+v, want %s", c.rates, got, c.flag)
		}
	}
}

func TestHourOfWeekAndPools(t *testing.T) {
	hw := model.HourOfWeekTable(audittest.Start, audittest.Attempts(audittest.Hourly(1)["google"]))
	var sum uint64
	for _, v := range hw {
		sum += v
	}
	if sum != 2_900_000 || hw[58] != 3*10000+30000 || hw[0] != 4*1000 {
		t.Errorf("table: sum %d, Wed 10:00 %d, Mon 00:00 %d", sum, hw[58], hw[0])
	}
	d := model.Deciles(hw)
	if d[58] != 9 || d[0] != 0 {
		t.Errorf("deciles %d %d", d[58], d[0])
	}
	ps := model.Pools(map[[2]string]model.Tally{
		{"ip", "192.0.2.1"}: {Delivered: 950, Deferred: 50},
		{"ip", "192.0.2.2"}: {Delivered: 800, Deferred: 200},
	}, 0.1) // provider overall 10 %: 20 % is 2×
	if len(ps) != 2 || !ps[1].Flagged || ps[0].Flagged || ps[0].Share != 0.5 {
		t.Errorf("pools %+v", ps)
	}
}
