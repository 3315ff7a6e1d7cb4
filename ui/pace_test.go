package ui_test

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/ui"
	"cutover/ui/uifake"
)

// fakePace is a pacer with one suggestion for google and one active
// overlay for yahoo; it records what the cockpit asked.
type fakePace struct {
	v         ui.PaceView
	applied   []string
	dismissed []string
}

func (f *fakePace) Pace() (*ui.PaceView, error) { return &f.v, nil }
func (f *fakePace) Preview(id string) (string, error) {
	return "google 600/h conn 5 → 300/h conn 2\n--- a/etc/pmta/config\n+++ b/etc/pmta/config\n-    max-msg-rate 600/h\n+    max-msg-rate 300/h\n", nil
}
func (f *fakePace) Apply(id string) (string, error) {
	f.applied = append(f.applied, id)
	f.v.Rows[0].State = "active"
	return id + " active", nil
}
func (f *fakePace) Dismiss(id string) error {
	f.dismissed = append(f.dismissed, id)
	f.v.Rows[0].State = "dismissed"
	return nil
}

func newFakePace() *fakePace {
	return &fakePace{v: ui.PaceView{Mode: "suggest", Rows: []ui.PaceRow{
		{ID: "google.gmail-rate.1", Rule: "gmail-rate", ISP: "google", State: "suggested",
			Change: "would google 600/h conn 5 → 300/h conn 2", Trigger: "5 NEW match(es) in 10m",
			Sample: "421-4.7.28 rate limited \x1b[2J- gsmtp"},
		{ID: "yahoo.yahoo-tss04.2", Rule: "yahoo-tss04", ISP: "yahoo", State: "active", Change: "send yahoo to OLD (NEW ratio 0)", Next: "restored at 12:00"},
	}}}
}

func paceModel(p ui.PaceSource, w, h int) tea.Model {
	o := opts(asciiRenderer())
	o.Pace = p
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

func TestPaceMarkAndView(t *testing.T) {
	f := newFakePace()
	for _, w := range []int{80, 160} {
		out := paceModel(f, w, 40).View()
		checkScreen(t, out, w, 40)
		var google, micro string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "google") && google == "" {
				google = l
			}
			if strings.Contains(l, "microsoft") && micro == "" {
				micro = l
			}
		}
		if !strings.Contains(out, "PACE") || strings.Contains(micro, "PACE") {
			t.Errorf("%d cols: PACE mark missing or on microsoft:\n%s", w, out)
		}
	}
	m := press(paceModel(f, 100, 40), "p")
	v := m.View()
	checkScreen(t, v, 100, 40)
	for _, want := range []string{"PACING (mode suggest)", "suggested google", "gmail-rate", "would google 600/h conn 5 → 300/h conn 2", "active    yahoo", "restored at 12:00"} {
		if !strings.Contains(v, want) {
			t.Errorf("p view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b[2J") {
		t.Fatal("an escape sequence from a reply reached the screen")
	}
	// y shows the diff first; n cancels; y, y applies.
	m = press(m, "y")
	if v := m.View(); !strings.Contains(v, "apply google.gmail-rate.1? y apply") || !strings.Contains(v, "+    max-msg-rate 300/h") {
		t.Fatalf("no diff after y:\n%s", v)
	}
	m = press(m, "n")
	if len(f.applied) != 0 || !strings.Contains(m.View(), "not applied") {
		t.Fatalf("n applied: %v", f.applied)
	}
	m = press(m, "y", "y")
	if len(f.applied) != 1 || f.applied[0] != "google.gmail-rate.1" || !strings.Contains(m.View(), "google.gmail-rate.1 active") {
		t.Fatalf("y y: %v\n%s", f.applied, m.View())
	}
	// n on an active overlay is refused with a hint; on a suggestion it dismisses.
	m = press(m, "n")
	if len(f.dismissed) != 0 || !strings.Contains(m.View(), "pace clear ends it") {
		t.Fatalf("n on active: %v", f.dismissed)
	}
	g := newFakePace()
	press(paceModel(g, 100, 40), "p", "n")
	if len(g.dismissed) != 1 {
		t.Fatalf("n did not dismiss: %v", g.dismissed)
	}
	// esc goes back; without a pacer p does nothing and no mark shows.
	if v := press(paceModel(f, 100, 40), "p", "esc").View(); strings.Contains(v, "PACING (mode") {
		t.Errorf("esc did not go back")
	}
	if v := press(paceModel(nil, 100, 40), "p").View(); strings.Contains(v, "PACE") {
		t.Errorf("PACE without a pacer:\n%s", v)
	}
}
