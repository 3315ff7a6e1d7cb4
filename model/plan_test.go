package model

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSteps(t *testing.T) {
	s, err := NewSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s, Steps{0, 5, 15, 30, 50, 75, 100}) {
		t.Fatalf("default steps %v", s)
	}
	for _, c := range []struct{ cur, next, prev int }{
		{0, 5, 0}, {5, 15, 0}, {30, 50, 15}, {31, 50, 30}, {100, 100, 75}, {99, 100, 75},
	} {
		if got := s.Next(c.cur); got != c.next {
			t.Errorf("Next(%d) = %d, want %d", c.cur, got, c.next)
		}
		if got := s.Prev(c.cur); got != c.prev {
			t.Errorf("Prev(%d) = %d, want %d", c.cur, got, c.prev)
		}
	}
	if s.Index(30) != 3 || s.Index(31) != -1 {
		t.Errorf("Index")
	}
	// configured steps are sorted, deduplicated and get 0 and 100
	s, err = NewSteps([]int{50, 10, 10, 20})
	if err != nil || !slices.Equal(s, Steps{0, 10, 20, 50, 100}) {
		t.Fatalf("NewSteps = %v, %v", s, err)
	}
	if _, err := NewSteps([]int{5, 101}); err == nil {
		t.Error("101% accepted")
	}
	if _, err := NewSteps([]int{-1}); err == nil {
		t.Error("-1% accepted")
	}
	if Fine(99, 5) != 100 || Fine(2, -5) != 0 || Fine(30, 1) != 31 {
		t.Error("Fine does not clamp")
	}
}

func TestDesiredRatioAndOverrides(t *testing.T) {
	var d Desired
	d = d.WithRatio(30, "")
	d = d.WithRatio(50, "google")
	if d.RatioFor("google") != 50 || d.RatioFor("yahoo") != 30 {
		t.Fatalf("RatioFor: %+v", d)
	}
	// setting the global ratio to a provider's value folds the provider in
	d2 := d.WithRatio(50, "")
	if d2.PerISP != nil || d2.RatioNew != 50 {
		t.Fatalf("fold: %+v", d2)
	}
	// the original is untouched (copies, not aliases)
	if d.PerISP["google"] != 50 {
		t.Fatal("WithRatio changed its receiver")
	}
	// a provider set back to the global value loses its entry
	if d3 := d.WithRatio(30, "google"); d3.PerISP != nil {
		t.Fatalf("provider at global ratio kept: %+v", d3)
	}

	d = d.WithOverride("google", Throttle{PerHour: 500})
	d = d.WithOverride("google", Throttle{Connections: 3})
	if got := d.Overrides["google"]; got != (Throttle{PerHour: 500, Connections: 3}) {
		t.Fatalf("override merge: %+v", got)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Desired{RatioNew: 101, PerISP: map[string]int{"x": -1}, Overrides: map[string]Throttle{"y": {PerHour: -5}}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad desired accepted")
	}
	for _, want := range []string{"ratio 101%", "ratio -1% for x", "throttle for y"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	b := Baseline(d)
	if b.RatioNew != 0 || b.PerISP != nil || b.Overrides["google"].PerHour != 500 {
		t.Fatalf("Baseline: %+v", b)
	}
	if !d.Equal(d.Clone()) || d.Equal(b) {
		t.Fatal("Equal")
	}
	if (Desired{PerISP: map[string]int{}}).Equal(Desired{}) != true {
		t.Fatal("nil and empty maps differ")
	}
	if s := d.String(); !strings.Contains(s, "30% new (google 50%)") {
		t.Errorf("String = %q", s)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int{"500/h": 500, "10/m": 600, "2/s": 7200, "100/d": 5, "24/day": 1, "300": 300, " 7 / H ": 7} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x/h", "5/w", "-3/h"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestWarmupHourly(t *testing.T) {
	if got := WarmupHourly(1, 1); got != 25 {
		t.Errorf("day 1: %d, want 200/8 = 25", got)
	}
	if got := WarmupHourly(0, 0); got != 25 {
		t.Errorf("day 0 counts as day 1: %d", got)
	}
	if got := WarmupHourly(3, 4); got != 500 {
		t.Errorf("day 3 x 4 IPs: %d, want 1000*4/8", got)
	}
	if got := WarmupHourly(30, 1); got != 0 {
		t.Errorf("day 30: %d, want no cap", got)
	}
	// the schedule only grows
	for d := 2; d <= len(WarmupDaily); d++ {
		if WarmupHourly(d, 1) < WarmupHourly(d-1, 1) {
			t.Fatalf("warm-up cap shrinks on day %d", d)
		}
	}
}

func TestDefaultThrottle(t *testing.T) {
	p := ThrottlePolicy{Margin: 1.2, WarmupDay: 10, NewIPs: 2}
	// day 10: 75,000/day/IP x 2 / 8 = 18,750/h
	c := p.CeilingFor("google")
	if c.PerHour != 18750 || c.Connections != 5 || c.PerConnection != 50 {
		t.Fatalf("ceiling google: %+v", c)
	}
	if p.CeilingFor("gmail") != c {
		t.Fatal("alias gmail -> google")
	}
	if p.CeilingFor("unknown-isp").Connections != 10 {
		t.Fatal("unknown provider gets the default ceiling")
	}
	// peak 10,000/h on OLD, 30 % to NEW, margin 1.2 -> 3,600/h
	if got := p.DefaultThrottle("google", 10000, 30); got != (Throttle{PerHour: 3600, Connections: 5, PerConnection: 50}) {
		t.Errorf("default: %+v", got)
	}
	// capped by the warm-up ceiling
	if got := p.DefaultThrottle("google", 100000, 50); got.PerHour != 18750 {
		t.Errorf("cap: %+v", got)
	}
	// no history or 0 %: the ceiling, never unlimited
	if got := p.DefaultThrottle("yahoo", 0, 30); got.PerHour != 18750 || got.PerConnection != 20 {
		t.Errorf("no history: %+v", got)
	}
	if got := p.DefaultThrottle("yahoo", 5000, 0); got.PerHour != 18750 {
		t.Errorf("0%%: %+v", got)
	}
	// warm IPs: no hourly cap; without history that means no rate limit
	w := ThrottlePolicy{Warm: true}
	if got := w.DefaultThrottle("google", 1000000, 100); got.PerHour != 1200000 {
		t.Errorf("warm: %+v", got)
	}
	if got := w.DefaultThrottle("google", 0, 100); got.PerHour != 0 {
		t.Errorf("warm, no history: %+v", got)
	}
	// configured ceilings replace the defaults
	o := ThrottlePolicy{Warm: true, Ceilings: map[string]Ceiling{"google": {Connections: 2, PerConnection: 7, PerHour: 100}}}
	if got := o.DefaultThrottle("gmail", 1000, 100); got != (Throttle{PerHour: 100, Connections: 2, PerConnection: 7}) {
		t.Errorf("configured ceiling via alias: %+v", got)
	}
}

func TestResolveThrottles(t *testing.T) {
	p := ThrottlePolicy{Margin: 1.5, Warm: true}
	d := Desired{RatioNew: 20, PerISP: map[string]int{"yahoo": 50}}
	d = d.WithOverride("google", Throttle{PerHour: 99999}) // above any ceiling: the operator wins
	d = d.WithOverride("apple", Throttle{Connections: 1})
	got := ResolveThrottles(d, []string{"google", "yahoo"}, map[string]int{"google": 1000, "yahoo": 1000}, p)
	if got.Throttles["google"] != (Throttle{PerHour: 99999, Connections: 5, PerConnection: 50}) {
		t.Errorf("google: %+v", got.Throttles["google"])
	}
	if got.Throttles["yahoo"] != (Throttle{PerHour: 750, Connections: 10, PerConnection: 20}) {
		t.Errorf("yahoo (50%% x 1000 x 1.5): %+v", got.Throttles["yahoo"])
	}
	if got.Throttles["apple"] != (Throttle{Connections: 1, PerConnection: 5}) {
		t.Errorf("apple (override only): %+v", got.Throttles["apple"])
	}
	if d.Throttles != nil {
		t.Error("ResolveThrottles changed its argument")
	}
}

func TestExpectedDailyAndRateDelay(t *testing.T) {
	if ExpectedDaily(30, 1000) != 300 || ExpectedDaily(1, 10) != 1 || ExpectedDaily(0, 1000) != 0 || ExpectedDaily(50, 0) != 0 {
		t.Error("ExpectedDaily")
	}
	for _, c := range []struct {
		perHour int
		delay   time.Duration
		eff     int
	}{{0, 0, 0}, {3600, time.Second, 3600}, {1200, 3 * time.Second, 1200}, {1000, 4 * time.Second, 900}, {100000, time.Second, 3600}} {
		d, e := RateDelay(c.perHour)
		if d != c.delay || e != c.eff {
			t.Errorf("RateDelay(%d) = %v, %d; want %v, %d", c.perHour, d, e, c.delay, c.eff)
		}
	}
	// rounding never loosens the limit (below 3600/h, where 1 s is the floor)
	for ph := 1; ph <= 3600; ph++ {
		if _, e := RateDelay(ph); e > ph {
			t.Fatalf("RateDelay(%d) allows %d/h", ph, e)
		}
	}
}
