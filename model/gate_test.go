package model

import (
	"strings"
	"testing"
	"time"
)

func TestGateBlocks(t *testing.T) {
	// The names are bounce.go's; the text below is the reply Microsoft
	// documents for S3150, so the name comes from the table, not from here.
	name, ok := NamedSignature("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).")
	if !ok || !IsBlockSignature(name) {
		t.Fatalf("S3150 reply: %q %v, want a block signature", name, ok)
	}
	if it := GateBlocks(map[string]uint64{name: 9, "gmail-4.7.28-rate": 500}, ""); it.Verdict != GatePass {
		t.Errorf("9 blocks and rate deferrals: %v %s", it.Verdict, it.Reason)
	}
	it := GateBlocks(map[string]uint64{name: 6, "gmail-5.7.28-block": 4}, "")
	if it.Verdict != GateFail || !strings.Contains(it.Reason, "10 block replies") {
		t.Errorf("10 blocks: %v %s", it.Verdict, it.Reason)
	}
	if it := GateBlocks(nil, "ms-block-pause"); it.Verdict != GateFail {
		t.Errorf("active block overlay: %v", it.Verdict)
	}
	if IsBlockSignature("gmail-4.7.28-rate") {
		t.Error("a rate limit is not a block")
	}
}

func TestGateAuth(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	ok := AuthInput{Configured: true, Checked: now.Add(-10 * time.Minute), State: "OK", DKIM: "pass"}
	if it := GateAuth(ok, now); it.Verdict != GatePass {
		t.Errorf("fresh OK check: %v %s", it.Verdict, it.Reason)
	}
	for name, in := range map[string]AuthInput{
		"stale":   {Configured: true, Checked: now.Add(-61 * time.Minute), State: "OK"},
		"never":   {Configured: true},
		"crit":    {Configured: true, Checked: now, State: "CRIT"},
		"dkim":    {Configured: true, Checked: now, State: "WARN", DKIM: "fail"},
		"dmarc":   {Configured: true, Checked: now, State: "OK", Blocked: true},
		"safe_at": {Configured: true, Checked: now, State: "OK", Pending: []string{"example.com TXT"}},
	} {
		if it := GateAuth(in, now); it.Verdict != GateHold {
			t.Errorf("%s: %v %s, want HOLD", name, it.Verdict, it.Reason)
		}
	}
	if it := GateAuth(AuthInput{}, now); it.Verdict != GatePass || !strings.Contains(it.Reason, "n/a") {
		t.Errorf("no [dns]: %v %s", it.Verdict, it.Reason)
	}
}

func TestGateSuppressionReputationSources(t *testing.T) {
	if it := GateSuppression(SuppressionInput{Exists: true, OK: false, Detail: "line 3"}); it.Verdict != GateHold {
		t.Errorf("broken log: %v", it.Verdict)
	}
	if it := GateSuppression(SuppressionInput{Exists: true, OK: true, Lines: 5}); it.Verdict != GatePass {
		t.Errorf("good log: %v", it.Verdict)
	}
	if it := GateReputation(ReputationInput{}); it.Verdict != GatePass || it.Reason != "n/a: not imported" {
		t.Errorf("not imported: %v %q", it.Verdict, it.Reason)
	}
	if it := GateReputation(ReputationInput{Imported: true, SpamUpper: 0.003}); it.Verdict != GateFail {
		t.Errorf("spam upper 0.30 %%: %v", it.Verdict)
	}
	if it := GateReputation(ReputationInput{Imported: true, SpamUpper: 0.0029, DomainRep: "medium"}); it.Verdict != GatePass {
		t.Errorf("clean: %v %s", it.Verdict, it.Reason)
	}
	if it := GateReputation(ReputationInput{Imported: true, DomainRep: "bad"}); it.Verdict != GateFail {
		t.Errorf("domain BAD: %v", it.Verdict)
	}
	if it := GateSources([]SourceGap{{Source: "old", Stale: 15 * time.Minute}}); it.Verdict != GatePass {
		t.Errorf("15 min is not over 15 min: %v", it.Verdict)
	}
	if it := GateSources([]SourceGap{{Source: "new", Stale: 16 * time.Minute, Error: "ENOTCONN"}}); it.Verdict != GateHold {
		t.Errorf("16 min stale: %v", it.Verdict)
	}
	var r GateResult
	r.AddItems(GateItem{Name: "a", Verdict: GateHold}, GateItem{Name: "b"})
	if r.Verdict != GateHold || len(r.Items) != 2 {
		t.Errorf("AddItems: %+v", r)
	}
}

func TestGatedProviders(t *testing.T) {
	// 1 % of 10,000 is 100: exactly 1 % is gated, 99 is not.
	gated, rest := GatedProviders(map[string]uint64{"google": 6000, "microsoft": 3801, "apple": 100, "gmx": 99})
	if strings.Join(gated, ",") != "google,microsoft,apple" || strings.Join(rest, ",") != "gmx" {
		t.Errorf("gated %v rest %v", gated, rest)
	}
}

func TestWarmupDay(t *testing.T) {
	ws := SparkPostSchedule() // day 1 200, day 2 500 per IP
	d0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	day := func(i int, dlv uint64) WarmupDayLog {
		return WarmupDayLog{Day: d0.AddDate(0, 0, i), Delivered: dlv, Wanted: 10000}
	}
	// 2 IPs: day 1 target min(10000, 400) = 400; 90 % is 360.
	if got := WarmupDay([]WarmupDayLog{day(0, 360)}, ws, 2); got != 2 {
		t.Errorf("360 of 400 delivered: warm-up day %d, want 2", got)
	}
	if got := WarmupDay([]WarmupDayLog{day(0, 359)}, ws, 2); got != 1 {
		t.Errorf("359 of 400 (a weekend day): warm-up day %d, want 1", got)
	}
	// day 2 target 1000: a short day in between does not count.
	if got := WarmupDay([]WarmupDayLog{day(0, 400), day(1, 100), day(2, 950)}, ws, 2); got != 3 {
		t.Errorf("full, short, full: %d, want 3", got)
	}
	// 31 days of silence restart the schedule.
	if got := WarmupDay([]WarmupDayLog{day(0, 400), day(1, 1000), day(33, 10)}, ws, 2); got != 1 {
		t.Errorf("after a 32-day gap: %d, want 1", got)
	}
}

func TestKumoSchedules(t *testing.T) {
	// End points and lengths from wave2.md §1.3 (KumoMTA warmup.toml).
	for name, w := range map[string][3]int{
		"kumo-conservative":  {30, 50, 175000},
		"kumo-aggressive":    {14, 200, 300000},
		"kumo-transactional": {21, 100, 300000},
	} {
		ws, err := WarmupScheduleByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws.Daily) != w[0] || ws.PerIPDaily(1) != w[1] || ws.PerIPDaily(w[0]) != w[2] || ws.PerIPDaily(w[0]+1) != 0 {
			t.Errorf("%s: %d days, day 1 %d, last %d", name, len(ws.Daily), ws.PerIPDaily(1), ws.PerIPDaily(w[0]))
		}
		for i := 1; i < len(ws.Daily); i++ {
			if ws.Daily[i] <= ws.Daily[i-1] {
				t.Errorf("%s: day %d does not grow", name, i+1)
			}
		}
	}
	if _, err := WarmupScheduleByName("mailgun"); err == nil || !strings.Contains(err.Error(), "kumo-aggressive") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestParseWarmupSchedule(t *testing.T) {
	ws, err := ParseWarmupSchedule("my.txt", []byte("# per IP\n100\n\n1,000 # day 2\n5000\n"))
	if err != nil || len(ws.Daily) != 3 || ws.PerIPDaily(2) != 1000 {
		t.Fatalf("text: %+v %v", ws, err)
	}
	if _, err := ParseWarmupSchedule("bad.txt", []byte("100\n200\nabc\n")); err == nil || !strings.Contains(err.Error(), "bad.txt line 3") {
		t.Errorf("bad line: %v", err)
	}
	ws, err = ParseWarmupSchedule("h.json", []byte(`{"name":"mine","hourly":[10,20],"sending_hours":10}`))
	if err != nil || ws.PerIPDaily(2) != 200 {
		t.Errorf("json hourly: %+v %v", ws, err)
	}
	if _, err := ParseWarmupSchedule("x.json", []byte(`{"daily":[1],"hourly":[1]}`)); err == nil {
		t.Error("both tables accepted")
	}
	if _, err := ParseWarmupSchedule("x.json", []byte(`{"daily":[1], "bogus": 2}`)); err == nil {
		t.Error("unknown field accepted")
	}
}
