package model

import (
	"math"
	"testing"
)

func TestRatesDenominators(t *testing.T) {
	// 1000 attempts; 500 held must not count (no attempt was made).
	c := Tally{Delivered: 900, Deferred: 60, Held: 500, Bounced: 30, HardBounce: 20, Expired: 10, Complaints: 9}
	r := c.Rates()
	if r.Attempts != 1000 {
		t.Fatalf("attempts = %d, want 1000 (held excluded)", r.Attempts)
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"delivered", r.Delivered, 0.90},
		{"deferred", r.Deferred, 0.06},
		{"bounced", r.Bounced, 0.03},
		{"hard", r.HardBounce, 0.02},
		{"expired", r.Expired, 0.01},
		{"complaint", r.Complaint, 0.01}, // 9 / 900 delivered, not / 1000
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if z := (Tally{Held: 7}).Rates(); z.Attempts != 0 || z.Delivered != 0 || z.Complaint != 0 {
		t.Errorf("only held: %+v, want zero rates", z)
	}
}

func TestTallyAdd(t *testing.T) {
	a := Tally{1, 2, 3, 4, 5, 6, 7}
	a.Add(Tally{10, 20, 30, 40, 50, 60, 70})
	if a != (Tally{11, 22, 33, 44, 55, 66, 77}) {
		t.Fatalf("Add = %+v", a)
	}
}

func TestJudge(t *testing.T) {
	th := DefaultThresholds()
	cases := []struct {
		name string
		c    Tally
		want Verdict
	}{
		{"too little traffic", Tally{Delivered: 10, Deferred: 30}, Verdict{}},
		{"clean", Tally{Delivered: 10000, Deferred: 100, Bounced: 50, HardBounce: 10, Complaints: 2},
			Verdict{Overall: HealthOK, Deferral: HealthOK, HardBounce: HealthOK, Complaint: HealthOK}},
		// 1000 of 10000 attempts = 10.0 %: exactly warn.
		{"deferral warn at the level", Tally{Delivered: 9000, Deferred: 1000},
			Verdict{Overall: HealthWarn, Deferral: HealthWarn, HardBounce: HealthOK, Complaint: HealthOK}},
		{"deferral just below warn", Tally{Delivered: 9001, Deferred: 999},
			Verdict{Overall: HealthOK, Deferral: HealthOK, HardBounce: HealthOK, Complaint: HealthOK}},
		{"deferral crit", Tally{Delivered: 750, Deferred: 250},
			Verdict{Overall: HealthCrit, Deferral: HealthCrit, HardBounce: HealthOK, Complaint: HealthOK}},
		// 3 hard of 100 attempts = 3 %: warn; 5 of 100 = crit.
		{"hard warn", Tally{Delivered: 97, Bounced: 3, HardBounce: 3},
			Verdict{Overall: HealthWarn, Deferral: HealthOK, HardBounce: HealthWarn, Complaint: HealthOK}},
		{"hard crit", Tally{Delivered: 95, Bounced: 5, HardBounce: 5},
			Verdict{Overall: HealthCrit, Deferral: HealthOK, HardBounce: HealthCrit, Complaint: HealthOK}},
		// Soft bounces are not hard bounces.
		{"soft bounces only", Tally{Delivered: 90, Bounced: 10},
			Verdict{Overall: HealthOK, Deferral: HealthOK, HardBounce: HealthOK, Complaint: HealthOK}},
		// Complaint rate is on delivered: 4 / 2000 = 0.2 % warn; 7 / 2000 = 0.35 % crit.
		{"complaint warn", Tally{Delivered: 2000, Deferred: 100000, Complaints: 4},
			Verdict{Overall: HealthCrit, Deferral: HealthCrit, HardBounce: HealthOK, Complaint: HealthWarn}},
		{"complaint crit", Tally{Delivered: 2000, Complaints: 7},
			Verdict{Overall: HealthCrit, Deferral: HealthOK, HardBounce: HealthOK, Complaint: HealthCrit}},
		// Two complaints in 100 delivered is 2 %, but two events are an anecdote.
		{"two complaints", Tally{Delivered: 100, Complaints: 2},
			Verdict{Overall: HealthOK, Deferral: HealthOK, HardBounce: HealthOK, Complaint: HealthOK}},
		// Enough attempts but too few delivered to judge complaints.
		{"complaints unjudged", Tally{Delivered: 20, Deferred: 80, Complaints: 5},
			Verdict{Overall: HealthCrit, Deferral: HealthCrit, HardBounce: HealthOK, Complaint: HealthNone}},
	}
	for _, tc := range cases {
		if got := th.Judge(tc.c); got != tc.want {
			t.Errorf("%s: Judge(%+v) = %+v, want %+v", tc.name, tc.c, got, tc.want)
		}
	}
}

func TestThresholdsOverride(t *testing.T) {
	// A config that only tightens deferrals keeps the other defaults.
	th := Thresholds{Deferral: Level{Warn: 0.05, Crit: 0.08}}.WithDefaults()
	if th.Complaint != DefaultThresholds().Complaint || th.Z != 2.33 {
		t.Fatalf("defaults not filled: %+v", th)
	}
	c := Tally{Delivered: 940, Deferred: 60} // 6 %
	if got := th.Judge(c).Deferral; got != HealthWarn {
		t.Errorf("6 %% deferral with warn 5 %% = %v, want WARN", got)
	}
	if got := DefaultThresholds().Judge(c).Deferral; got != HealthOK {
		t.Errorf("6 %% deferral with default warn 10 %% = %v, want OK", got)
	}
	// crit below warn is lifted to warn, so a typo cannot make CRIT easier than WARN.
	th = Thresholds{HardBounce: Level{Warn: 0.04, Crit: 0.01}}.WithDefaults()
	if th.HardBounce.Crit != 0.04 {
		t.Errorf("crit < warn not lifted: %+v", th.HardBounce)
	}
}

func TestHealthString(t *testing.T) {
	for h, want := range map[Health]string{HealthNone: "--", HealthOK: "OK", HealthWarn: "WARN", HealthCrit: "CRIT"} {
		if h.String() != want {
			t.Errorf("%d.String() = %q, want %q", h, h.String(), want)
		}
	}
	if Worst(HealthWarn, HealthOK) != HealthWarn || Worst(HealthNone, HealthCrit) != HealthCrit {
		t.Error("Worst")
	}
}

func TestZWorse(t *testing.T) {
	// Reference values computed independently (pooled two-proportion z).
	cases := []struct {
		xo, no, xn, nn uint64
		want           float64
	}{
		{190, 9500, 15, 500, 1.53804},
		{190, 9500, 40, 500, 8.72342},
		{8, 380, 3, 20, 3.43699},
		{50, 1000, 30, 1000, -2.28218},
		{0, 100, 0, 100, 0}, // no variance
		{5, 0, 1, 10, 0},    // no trials
	}
	for _, c := range cases {
		got := ZWorse(c.xo, c.no, c.xn, c.nn)
		if math.Abs(got-c.want) > 1e-4 {
			t.Errorf("ZWorse(%d/%d, %d/%d) = %.5f, want %.5f", c.xo, c.no, c.xn, c.nn, got, c.want)
		}
	}
}

func TestCompare(t *testing.T) {
	th := DefaultThresholds()
	old := Tally{Delivered: 9310, Deferred: 190} // 2 % of 9500 attempts
	cases := []struct {
		name string
		old  Tally
		new  Tally
		want [3]bool // deferral, hard, complaint
	}{
		// 5 % traffic: 3 % vs 2 % deferrals on 500 attempts is noise (z 1.54).
		{"noise at 5 % traffic", old, Tally{Delivered: 485, Deferred: 15}, [3]bool{}},
		// 8 % vs 2 % on 500 attempts: z 8.7, 6 points.
		{"clearly worse", old, Tally{Delivered: 460, Deferred: 40}, [3]bool{true, false, false}},
		// z 3.4 but only 3 NEW deferrals: too few events for the test.
		{"few events", Tally{Delivered: 372, Deferred: 8}, Tally{Delivered: 17, Deferred: 3}, [3]bool{}},
		// NEW better is never marked.
		{"new better", Tally{Delivered: 950, Deferred: 50}, Tally{Delivered: 970, Deferred: 30}, [3]bool{}},
		// 2.3 % vs 2.0 % on a million each: z 14.6 but 0.3 points < 2.5
		// (a quarter of the 10 % warn level).
		{"significant but tiny", Tally{Delivered: 980000, Deferred: 20000}, Tally{Delivered: 977000, Deferred: 23000}, [3]bool{}},
		// Hard bounces: 30 of 1000 vs 5 of 1000, z 4.26, 2.5 points ≥ 0.5.
		{"hard worse", Tally{Delivered: 995, Bounced: 5, HardBounce: 5}, Tally{Delivered: 970, Bounced: 30, HardBounce: 30}, [3]bool{false, true, false}},
		// Complaints on delivered: 12/2000 vs 100/50000, z 3.78.
		{"complaint worse", Tally{Delivered: 50000, Complaints: 100}, Tally{Delivered: 2000, Complaints: 12}, [3]bool{false, false, true}},
		// 4 complaints, z 4.19: below the 5-event minimum.
		{"complaint few", Tally{Delivered: 10000, Complaints: 10}, Tally{Delivered: 500, Complaints: 4}, [3]bool{}},
		{"no new traffic", old, Tally{}, [3]bool{}},
	}
	for _, tc := range cases {
		w := th.Compare(tc.old, tc.new)
		got := [3]bool{w.Deferral, w.HardBounce, w.Complaint}
		if got != tc.want {
			t.Errorf("%s: Compare = %v (z %.2f %.2f %.2f), want %v", tc.name, got, w.ZDeferral, w.ZHardBounce, w.ZComplaint, tc.want)
		}
		if w.Any() != (tc.want != [3]bool{}) {
			t.Errorf("%s: Any = %v", tc.name, w.Any())
		}
	}
}
