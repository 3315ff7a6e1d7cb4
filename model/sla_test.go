package model

import (
	"strings"
	"testing"
	"time"

	// Embedded zone data, test binary only: a fresh CI container may have no
	// /usr/share/zoneinfo; Go still prefers the system copy when present.
	_ "time/tzdata"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	return loc
}

// wave2 §8.2 config: operating_hours and holidays as written there.
func wave2Hours(t *testing.T) *OperatingHours {
	t.Helper()
	oh, err := ParseOperatingHours("Mon-Fri 08:00-18:00", berlin(t), []string{"2026-04-03", "2026-04-06"})
	if err != nil {
		t.Fatal(err)
	}
	return oh
}

func at(loc *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

// Every row of the wave2 §8.3 SLA table (Mon–Fri 08:00–18:00, SLA 4 h). The
// table gives weekdays only; the dates are the week of Mon 2026-03-09 (no DST
// change nearby) except the holiday row, whose dates the table states.
func TestDueByWave2Table(t *testing.T) {
	loc := berlin(t)
	oh := wave2Hours(t)
	rows := []struct {
		name        string
		fired, due  string
		firedWd, wd time.Weekday
	}{
		{"Tue 10:30 -> Tue 14:30", "2026-03-10 10:30", "2026-03-10 14:30", time.Tuesday, time.Tuesday},
		{"Tue 16:00 -> Wed 10:00", "2026-03-10 16:00", "2026-03-11 10:00", time.Tuesday, time.Wednesday},
		{"Fri 17:00 -> Mon 11:00", "2026-03-13 17:00", "2026-03-16 11:00", time.Friday, time.Monday},
		{"Sat 03:00 -> Mon 12:00", "2026-03-14 03:00", "2026-03-16 12:00", time.Saturday, time.Monday},
		{"Thu 04-02 17:00, Fri+Mon holidays -> Tue 04-07 11:00", "2026-04-02 17:00", "2026-04-07 11:00", time.Thursday, time.Tuesday},
	}
	for _, r := range rows {
		fired, want := at(loc, r.fired), at(loc, r.due)
		if fired.Weekday() != r.firedWd || want.Weekday() != r.wd {
			t.Fatalf("%s: test dates on the wrong weekdays", r.name)
		}
		got := oh.DueBy(fired, 4*time.Hour)
		if !got.Equal(want) {
			t.Errorf("%s: DueBy = %s, want %s", r.name, got, want)
		}
		// Shown in the configured zone: the wall clock reads as the table.
		if got.Location().String() != "Europe/Berlin" || got.Format("2006-01-02 15:04") != r.due {
			t.Errorf("%s: result %s in %v, want %s in the configured zone", r.name, got, got.Location(), r.due)
		}
		if pkg := DueBy(fired, oh, 4*time.Hour); !pkg.Equal(want) {
			t.Errorf("%s: model.DueBy = %s, want %s", r.name, pkg, want)
		}
		// Time-to-ack runs on the same clock: acking exactly at due is 4 h.
		if d := oh.OperatingBetween(fired, want); d != 4*time.Hour {
			t.Errorf("%s: OperatingBetween = %s, want 4h", r.name, d)
		}
	}
}

// §8.3 escalate_after = "2h" of operating time, and the `due in`/`overdue`
// figures come from OperatingBetween.
func TestEscalateAndOverdue(t *testing.T) {
	loc := berlin(t)
	oh := wave2Hours(t)
	fired := at(loc, "2026-03-13 17:00") // Fri
	if got, want := oh.DueBy(fired, 2*time.Hour), at(loc, "2026-03-16 09:00"); !got.Equal(want) {
		t.Errorf("escalate at %s, want %s", got, want)
	}
	// Mon 11:35: 35 min past due 11:00 in operating time.
	if d := oh.OperatingBetween(fired, at(loc, "2026-03-16 11:35")) - 4*time.Hour; d != 35*time.Minute {
		t.Errorf("overdue %s, want 35m", d)
	}
	// Sat and Sun count nothing: still 1 h used of 4 on Sunday night.
	if d := oh.OperatingBetween(fired, at(loc, "2026-03-15 23:59")); d != time.Hour {
		t.Errorf("weekend counted: %s, want 1h", d)
	}
	if d := oh.OperatingBetween(at(loc, "2026-03-16 11:00"), fired); d != 0 {
		t.Errorf("reversed interval = %s, want 0", d)
	}
	if got := oh.DueBy(fired, 0); !got.Equal(fired) {
		t.Errorf("zero SLA = %s", got)
	}
}

// DST week, Europe/Berlin: CET→CEST on Sun 2026-03-29 02:00, CEST→CET on
// Sun 2026-10-25 03:00. Opening hours are wall-clock, so the Monday after
// still opens at 08:00 local, i.e. a different UTC instant than the Friday
// before; expected instants are also written in UTC to pin the offset.
func TestDueByDSTBerlin(t *testing.T) {
	loc := berlin(t)
	oh := wave2Hours(t)
	utc := func(s string) time.Time { return at(time.UTC, s) }
	cases := []struct {
		name    string
		fired   time.Time
		want    time.Time // UTC instant
		elapsed time.Duration
	}{
		// Fri 17:00 CET = 16:00Z; Mon 11:00 CEST = 09:00Z (a fixed +01:00 would give 10:00Z).
		{"spring", at(loc, "2026-03-27 17:00"), utc("2026-03-30 09:00"), 65 * time.Hour},
		// Fri 17:00 CEST = 15:00Z; Mon 11:00 CET = 10:00Z (a fixed +02:00 would give 09:00Z).
		{"autumn", at(loc, "2026-10-23 17:00"), utc("2026-10-26 10:00"), 67 * time.Hour},
	}
	for _, c := range cases {
		got := oh.DueBy(c.fired, 4*time.Hour)
		if !got.Equal(c.want) {
			t.Errorf("%s: DueBy = %s (%s), want %s", c.name, got, got.UTC(), c.want)
		}
		if h, m, _ := got.Clock(); h != 11 || m != 0 {
			t.Errorf("%s: due at %02d:%02d local, want 11:00", c.name, h, m)
		}
		if e := got.Sub(c.fired); e != c.elapsed {
			t.Errorf("%s: real elapsed %s, want %s", c.name, e, c.elapsed)
		}
		if d := oh.OperatingBetween(c.fired, c.want); d != 4*time.Hour {
			t.Errorf("%s: OperatingBetween = %s, want 4h", c.name, d)
		}
	}
	// Each DST week still has 5 × 10 h of operating time.
	for _, wk := range [][2]string{{"2026-03-23 00:00", "2026-03-30 00:00"}, {"2026-10-19 00:00", "2026-10-26 00:00"}} {
		if d := oh.OperatingBetween(at(loc, wk[0]), at(loc, wk[1])); d != 50*time.Hour {
			t.Errorf("week %s: %s, want 50h", wk[0], d)
		}
	}
}

// Operating hours that contain the switch itself: the day is as long as the
// wall clock says in real time (23 h / 25 h; 00:00-06:00 lasts 5 h / 7 h).
func TestOperatingAcrossTransitionHour(t *testing.T) {
	loc := berlin(t)
	always, err := ParseOperatingHours("Mon-Sun 00:00-24:00", loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	night, err := ParseOperatingHours("Sun 00:00-06:00", loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		day        string
		full, ngt  time.Duration
		nightStart string
	}{
		{"2026-03-29", 23 * time.Hour, 5 * time.Hour, "2026-03-28 23:00"},
		{"2026-10-25", 25 * time.Hour, 7 * time.Hour, "2026-10-24 22:00"},
	} {
		d0 := at(loc, c.day+" 00:00")
		d1 := d0.AddDate(0, 0, 1)
		if !d0.UTC().Equal(at(time.UTC, c.nightStart)) {
			t.Fatalf("%s midnight = %s", c.day, d0.UTC())
		}
		if got := always.OperatingBetween(d0, d1); got != c.full {
			t.Errorf("%s 24/7: %s, want %s", c.day, got, c.full)
		}
		if got := night.OperatingBetween(d0.AddDate(0, 0, -3), d1); got != c.ngt {
			t.Errorf("%s 00-06: %s, want %s", c.day, got, c.ngt)
		}
	}
	// Sat 12:00 CET (11:00Z) + 24 h of a 24/7 clock = Sun 11:00Z = 13:00 CEST.
	if got, want := always.DueBy(at(loc, "2026-03-28 12:00"), 24*time.Hour), at(time.UTC, "2026-03-29 11:00"); !got.Equal(want) {
		t.Errorf("24/7 over spring: %s, want %s", got, want)
	}
	// Sun 00:00 CEST (22:00Z Sat) + 6 h inside 00:00-06:00 = 04:00Z = 05:00 CET.
	if got, want := night.DueBy(at(loc, "2026-10-25 00:00"), 6*time.Hour), at(time.UTC, "2026-10-25 04:00"); !got.Equal(want) {
		t.Errorf("night over autumn: %s, want %s", got, want)
	}
	// 5 h fill the spring night to its 06:00 CEST end (04:00Z).
	if got, want := night.DueBy(at(loc, "2026-03-29 00:00"), 5*time.Hour), at(time.UTC, "2026-03-29 04:00"); !got.Equal(want) {
		t.Errorf("night over spring: %s, want %s", got, want)
	}
}

func TestParseOperatingHoursForms(t *testing.T) {
	// Split day, several groups, a day list and a wrapping day range.
	oh, err := ParseOperatingHours("mon,Wed 09:00-12:00,13:00-17:00; Sat 10:00-14:00", nil, []string{" 2026-12-25 "})
	if err != nil {
		t.Fatal(err)
	}
	mon := at(time.UTC, "2026-03-09 00:00")
	if d := oh.OperatingBetween(mon, mon.AddDate(0, 0, 7)); d != 7*time.Hour+7*time.Hour+4*time.Hour {
		t.Errorf("week = %s, want 18h", d)
	}
	// Mon 11:00 + 2 h: 1 h to noon, lunch, 13:00 + 1 h.
	if got, want := oh.DueBy(at(time.UTC, "2026-03-09 11:00"), 2*time.Hour), at(time.UTC, "2026-03-09 14:00"); !got.Equal(want) {
		t.Errorf("lunch gap: %s, want %s", got, want)
	}
	if !oh.IsHoliday(at(time.UTC, "2026-12-25 10:00")) || oh.IsHoliday(at(time.UTC, "2026-12-24 10:00")) {
		t.Error("holiday lookup")
	}
	// Christmas 2026 is a Friday; a Fri-Mon wrap range with the holiday.
	wrap, err := ParseOperatingHours("Fri-Mon 08:00-10:00", nil, []string{"2026-12-25"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := wrap.DueBy(at(time.UTC, "2026-12-24 12:00"), 3*time.Hour), at(time.UTC, "2026-12-27 09:00"); !got.Equal(want) {
		t.Errorf("wrap+holiday: %s, want %s", got, want)
	}
	// Overnight range: Fri 22:00-06:00 runs into Saturday.
	night, err := ParseOperatingHours("Fri 22:00-06:00", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := night.DueBy(at(time.UTC, "2026-03-13 23:00"), 4*time.Hour), at(time.UTC, "2026-03-14 03:00"); !got.Equal(want) {
		t.Errorf("overnight: %s, want %s", got, want)
	}
	if got, want := night.DueBy(at(time.UTC, "2026-03-14 05:00"), 2*time.Hour), at(time.UTC, "2026-03-20 23:00"); !got.Equal(want) {
		t.Errorf("overnight next week: %s, want %s", got, want)
	}
	// Overlapping ranges merge instead of double counting.
	ov, err := ParseOperatingHours("Mon 08:00-12:00; Mon 10:00-14:00", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := ov.OperatingBetween(mon, mon.AddDate(0, 0, 1)); d != 6*time.Hour {
		t.Errorf("overlap = %s, want 6h", d)
	}
	// The zero value counts plain elapsed time.
	var zero OperatingHours
	f := at(time.UTC, "2026-03-14 03:00")
	if got := zero.DueBy(f, 4*time.Hour); !got.Equal(f.Add(4 * time.Hour)) {
		t.Errorf("zero value DueBy = %s", got)
	}
	if got := DueBy(f, nil, time.Hour); !got.Equal(f.Add(time.Hour)) {
		t.Errorf("nil hours DueBy = %s", got)
	}
}

func TestParseOperatingHoursErrors(t *testing.T) {
	bad := []struct{ spec, hol, want string }{
		{"", "", "empty"},
		{"Mon-Fri", "", "want \"DAYS HH:MM-HH:MM\""},
		{"Mon-Fri 08:00-18:00 extra", "", "group 1"},
		{"Mon-Fri 08:00-18:00; Funday 08:00-09:00", "", "group 2"},
		{"Mon-Xyz 08:00-18:00", "", "unknown day \"Xyz\""},
		{"Mon 8:00-18:00", "", "want HH:MM"},
		{"Mon 08:00-25:00", "", "between 00:00 and 24:00"},
		{"Mon 08:60-18:00", "", "between 00:00 and 24:00"},
		{"Mon 24:00-06:00", "", "24:00 only as an end"},
		{"Mon 08:00-08:00", "", "empty"},
		{"Mon 08:00", "", "want HH:MM-HH:MM"},
		{"Mon 08:00-18:00", "2026-02-30", "holidays[0]"},
		{"Mon 08:00-18:00", "25.12.2026", "want YYYY-MM-DD"},
		{strings.Repeat("x", 100000) + " 08:00-18:00", "", "unknown day"},
	}
	for _, b := range bad {
		var hol []string
		if b.hol != "" {
			hol = []string{b.hol}
		}
		_, err := ParseOperatingHours(b.spec, time.UTC, hol)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%.40q: err %v, want it to mention %q", b.spec, err, b.want)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("%.40q: error message %d bytes long", b.spec, len(err.Error()))
		}
	}
}
