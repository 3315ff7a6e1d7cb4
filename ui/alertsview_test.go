package ui_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/ui"
	"cutover/ui/uifake"
)

type fakeAlerts struct {
	mu    sync.Mutex
	items []ui.AlertItem
	acked []string
}

func (f *fakeAlerts) Alerts() ([]ui.AlertItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ui.AlertItem(nil), f.items...), nil
}

func (f *fakeAlerts) Ack(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = append(f.acked, id)
	for i := range f.items {
		if f.items[i].ID == id {
			f.items[i].State, f.items[i].AckedBy = "acked", "tester"
		}
	}
	return nil
}

func alertModel(src ui.AlertSource, w, h int) tea.Model {
	o := opts(asciiRenderer())
	if src != nil {
		o.Alerts = src
	}
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

// The header's alert bar counts fired alerts by severity with the nearest
// due time; ! lists them; k acks the selected one (↓ moves), esc goes back.
func TestAlertBarListAndAck(t *testing.T) {
	due := time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)
	src := &fakeAlerts{items: []ui.AlertItem{
		{ID: "7", Severity: "crit", Rule: "complaint-crit", ISP: "google", Side: "new", State: "firing", FiredAt: due.Add(-4 * time.Hour), DueBy: due,
			Summary: "google NEW complaint 0.41 % \x1b[2J"},
		{ID: "8", Severity: "warn", Rule: "deferral-warn", ISP: "yahoo", Side: "new", State: "firing", FiredAt: due.Add(-time.Hour), DueBy: due.Add(3 * time.Hour)},
	}}
	for _, w := range []int{80, 160} {
		out := alertModel(src, w, 24).View()
		checkScreen(t, out, w, 24)
		head := strings.Split(out, "\n")[0]
		if !strings.Contains(head, "ALERTS 1 crit 1 warn due") {
			t.Errorf("%d cols: no alert bar: %q", w, head)
		}
	}
	v := press(alertModel(src, 100, 30), "!").View()
	checkScreen(t, v, 100, 30)
	for _, want := range []string{"ALERTS  k ack", "> #7 crit complaint-crit", "#8 warn deferral-warn", "google NEW complaint 0.41 %"} {
		if !strings.Contains(v, want) {
			t.Errorf("! view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b[2J") {
		t.Fatal("an escape sequence from an alert summary reached the screen")
	}
	press(alertModel(src, 100, 30), "!", "j", "k")
	if len(src.acked) != 1 || src.acked[0] != "8" {
		t.Fatalf("acked %v, want the selected #8", src.acked)
	}
	v = press(alertModel(src, 100, 30), "!").View()
	if !strings.Contains(v, "acked by tester") {
		t.Errorf("ack not shown:\n%s", v)
	}
	if back := press(alertModel(src, 100, 30), "!", "esc").View(); strings.Contains(back, "ALERTS  k ack") {
		t.Errorf("esc did not go back:\n%s", back)
	}
	// Outside the ! view k is still "up", never an ack.
	press(alertModel(src, 100, 30), "k")
	if len(src.acked) != 1 {
		t.Errorf("k acked outside the alert view: %v", src.acked)
	}
	// No source: no bar, ! opens nothing.
	if v := press(alertModel(nil, 100, 30), "!").View(); strings.Contains(v, "ALERTS") {
		t.Errorf("alerts shown without a source:\n%s", v)
	}
}
