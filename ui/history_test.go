package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"cutover/ui"
	"cutover/ui/uifake"
)

// Point 1: a backfill of logs eleven days old shows its traffic in every
// window, the windows end at the newest event, the header says how old it
// is, and "since cutover start" starts at the first NEW event.
func TestBackfilledHistory(t *testing.T) {
	now := uifake.Now
	newest := now.Add(-11*24*time.Hour - 2*time.Hour).Truncate(time.Second)
	db := fillDB(t, newest.Add(time.Minute)) // fillDB's events end a minute before its now
	sd := ui.NewStateData(db)
	if got := db.Newest(); !got.Equal(newest) {
		t.Fatalf("fixture: newest %v, want %v", got, newest)
	}
	for _, w := range []ui.Window{ui.Window15m, ui.Window1h, ui.Window24h, ui.WindowCutover} {
		s, err := sd.Snapshot(w, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Providers) != 2 || !s.DataUntil.Equal(newest) {
			t.Errorf("%v: %d providers, data until %v; want 2 and %v", w, len(s.Providers), s.DataUntil, newest)
		}
		if s.Until.Before(newest) || s.Until.Sub(newest) > time.Hour {
			t.Errorf("%v: window ends %v, want at the newest event %v", w, s.Until, newest)
		}
	}
	// fillDB's first NEW event is 8 minutes before its now (8 google
	// deliveries, one a minute); the cutover window starts at its hour.
	first := newest.Add(time.Minute - 8*time.Minute).Truncate(time.Hour)
	s, err := sd.Snapshot(ui.WindowCutover, now)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Since.Equal(first) {
		t.Errorf("cutover window starts %v, want the first NEW event's hour %v", s.Since, first)
	}
	// Live data: no note, windows end now.
	live := ui.NewStateData(fillDB(t, now))
	if s, _ := live.Snapshot(ui.Window1h, now); !s.DataUntil.IsZero() || s.Until.Before(now) {
		t.Errorf("live data: until %v, data until %v", s.Until, s.DataUntil)
	}

	m := newModel(sd, 80, 24, asciiRenderer())
	v := m.View()
	checkScreen(t, v, 80, 24)
	status := strings.Split(v, "\n")[1]
	if want := "data until " + newest.UTC().Format("01-02 15:04") + "Z, 11d02h old"; !strings.Contains(status, want) {
		t.Errorf("status lacks %q: %q", want, status)
	}
	if strings.Contains(v, "no traffic in this window") || !strings.Contains(v, "google") {
		t.Errorf("backfilled traffic not shown:\n%s", v)
	}
	// Point 5: google's 100 OLD attempts fall in the last 30 minutes of the
	// hour window: 200 per hour of data, not 100, and the status says the
	// rates cover 30m.
	if !strings.Contains(v, "    OLD     200  90.0%") || !strings.Contains(status, "(30m of data)") {
		t.Errorf("rate over partial data:\n%s", v)
	}
	for _, k := range []string{"1", "3", "4"} {
		if v := press(m, k).View(); strings.Contains(v, "no traffic in this window") {
			t.Errorf("window %s: no traffic:\n%s", k, v)
		}
	}
	golden.RequireEqual(t, []byte(v))
}

// Point 7: the suppression warning and the sources share the status line at
// 80 columns, the warning's key words first.
func TestStatusLineShares80(t *testing.T) {
	d := &suppData{Data: uifake.New(0), v: suppFixture()}
	d.v.Targets = nil
	d.Plan.RatioNew = 10
	m := newModel(d, 80, 24, asciiRenderer())
	v := m.View()
	checkScreen(t, v, 80, 24)
	l := strings.Split(v, "\n")[1]
	for _, want := range []string{"1h 13:04–14:04Z", "! NOT VERIFIED: suppression", "src 1 ok"} {
		if !strings.Contains(l, want) {
			t.Errorf("status line lacks %q: %q", want, l)
		}
	}
	golden.RequireEqual(t, []byte(v))
}
