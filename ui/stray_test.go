package ui_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"cutover/model"
	"cutover/ui"
	"cutover/ui/uifake"
)

// isQuit reports whether cmd (run now) asks the program to quit.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if isQuit(c) {
				return true
			}
		}
	}
	return false
}

// step sends one key and reports whether the model asked to quit.
func step(t *testing.T, m tea.Model, k string) (tea.Model, bool) {
	t.Helper()
	m, cmd := m.Update(ctlKey(k))
	if isQuit(cmd) {
		return m, true
	}
	return run(m, cmd), false
}

func footer(v string) string {
	l := strings.Split(v, "\n")
	return l[len(l)-1]
}

func modelWith(d ui.Data, o ui.Options, w, h int) tea.Model {
	var m tea.Model = ui.New(d, o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

// Point 3: a refused key says why in the footer.
func TestRefusedKeysFlash(t *testing.T) {
	for _, c := range []struct {
		name     string
		readOnly bool
		key      string
		want     string
	}{
		{"readonly_t", true, "t", "t (slider) refused: read-only viewer (attached with --read-only)"},
		{"readonly_R", true, "R", "R (undo) refused: read-only viewer"},
		{"readonly_a", true, "a", "a (audit) refused: read-only viewer"},
		{"unmanaged_t", false, "t", "t (slider) refused: ratio not managed (no [mtactl] in the config)"},
		{"unmanaged_bracket", false, "]", "] (ratio step) refused: ratio not managed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts(asciiRenderer())
			o.ReadOnly = c.readOnly
			m := modelWith(uifake.New(0), o, 80, 24)
			m, quit := step(t, m, c.key)
			v := m.View()
			checkScreen(t, v, 80, 24)
			if quit || !strings.Contains(footer(v), c.want) {
				t.Fatalf("footer should say %q:\n%s", c.want, v)
			}
			if c.name == "readonly_t" {
				golden.RequireEqual(t, []byte(v))
			}
		})
	}
	// ? inside the audit view.
	m := ctlPress(ctlModel(newFakeCtl(), 80, 24), "a", "?")
	if v := m.View(); !strings.Contains(footer(v), "no help inside the audit view") || !strings.Contains(v, "3 changes") {
		t.Fatalf("? in the audit view: %s", v)
	}
}

// Point 2: no plan provider, so the header shows NEW's measured share of the
// window's attempts and "ratio: not managed", never "OLD 100% NEW 0%", and
// the owner without mtactl is not "read-only".
func TestUnmanagedRatioHeader(t *testing.T) {
	d := uifake.New(0)
	// RatioNew is what the fixture routes to NEW; unmanaged, the header
	// must not show it as a ratio but measure the share.
	d.Plan = ui.Plan{Step: -1, Unmanaged: true, RatioNew: 10}
	m := modelWith(d, opts(asciiRenderer()), 80, 24)
	v := m.View()
	checkScreen(t, v, 80, 24)
	head := strings.SplitN(v, "\n", 2)[0]
	s, err := d.Snapshot(ui.Window1h, uifake.Now)
	if err != nil {
		t.Fatal(err)
	}
	o, n := s.Old.Counts.Attempts(), s.New.Counts.Attempts()
	want := fmt.Sprintf("NEW %.1f%%", 100*float64(n)/float64(o+n))
	for _, w := range []string{"ratio: not managed", "measured 1h", want} {
		if !strings.Contains(head, w) {
			t.Errorf("header lacks %q: %q", w, head)
		}
	}
	if o == 0 || n == 0 {
		t.Fatalf("fixture: OLD %d NEW %d attempts", o, n)
	}
	for _, bad := range []string{"read-only", "NEW 10%", "OLD 90%", "OLD 100%"} {
		if strings.Contains(head, bad) {
			t.Errorf("header says %q: %q", bad, head)
		}
	}
	golden.RequireEqual(t, []byte(v))
}

// Point 11: q and esc close every dialog and never quit the cockpit.
func TestQuitClosesDialogsOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		open []string
		gone string
	}{
		{"slider", []string{"t"}, "ratio to NEW"},
		{"slider_moved", []string{"t", "right"}, "ratio to NEW"},
		{"rollback", []string{"R"}, "roll back"},
		{"baseline", []string{"ctrl+r"}, "everything back to OLD"},
		{"audit", []string{"a"}, "changes, newest first"},
		{"result", []string{"t", "right", "y"}, "✓ #4"},
		{"help", []string{"?"}, "refresh now"},
	} {
		for _, k := range []string{"q", "esc"} {
			t.Run(c.name+"_"+k, func(t *testing.T) {
				f := newFakeCtl()
				m := ctlPress(ctlModel(f, 80, 24), c.open...)
				if !strings.Contains(m.View(), c.gone) {
					t.Fatalf("dialog did not open:\n%s", m.View())
				}
				m, quit := step(t, m, k)
				if quit {
					t.Fatalf("%s in the %s dialog quit the cockpit", k, c.name)
				}
				if v := m.View(); strings.Contains(v, c.gone) || !strings.Contains(v, "google") {
					t.Fatalf("%s should close the dialog and show the cockpit:\n%s", k, v)
				}
			})
		}
	}
	// The drift confirmation goes back to the slider.
	f := newFakeCtl()
	f.drift = true
	m := ctlPress(ctlModel(f, 80, 24), "t", "right", "y")
	m, quit := step(t, m, "q")
	if quit || !strings.Contains(m.View(), "proposed 50%") || len(f.applied) != 0 {
		t.Fatalf("q at the drift question: quit=%v\n%s", quit, m.View())
	}
}

// Point 11: quitting asks first when the owner says viewers are attached.
func TestQuitAsksWithViewers(t *testing.T) {
	o := opts(asciiRenderer())
	o.QuitCheck = func() string { return "2 viewers attached; quit and stop following?" }
	m := modelWith(uifake.New(0), o, 80, 24)
	m, quit := step(t, m, "q")
	v := m.View()
	checkScreen(t, v, 80, 24)
	if quit || !strings.Contains(footer(v), "2 viewers attached; quit and stop following? y/N") {
		t.Fatalf("q should ask first (quit=%v):\n%s", quit, v)
	}
	golden.RequireEqual(t, []byte(v))
	if m, quit = step(t, m, "n"); quit || strings.Contains(footer(m.View()), "viewers attached") {
		t.Fatalf("n should keep running:\n%s", m.View())
	}
	m, _ = step(t, m, "ctrl+c")
	if _, quit = step(t, m, "y"); !quit {
		t.Fatal("ctrl+c then y should quit")
	}
}

// Point 12: the footer lists the current view's control keys, shortened to
// fit 80 columns, rollback included.
func TestFooterShowsControlKeys(t *testing.T) {
	m := ctlModel(newFakeCtl(), 80, 24)
	for _, c := range []struct {
		keys []string
		want []string
	}{
		{nil, []string{"t slider", "R undo", "a audit", "enter detail", "? help", "q quit"}},
		{[]string{"enter"}, []string{"esc back", "t slider", "R undo", "? help", "q quit"}},
		{[]string{"esc", "s"}, []string{"esc back", "t slider", "R undo"}},
	} {
		m = ctlPress(m, c.keys...)
		v := m.View()
		checkScreen(t, v, 80, 24)
		for _, w := range c.want {
			if !strings.Contains(footer(v), w) {
				t.Errorf("after %v the footer lacks %q: %q", c.keys, w, footer(v))
			}
		}
	}
}

// Point 4: the slider at the applied ratio says what would change, or
// offers nothing.
func TestSliderSameRatio(t *testing.T) {
	f := newFakeCtl()
	m := ctlPress(ctlModel(f, 80, 24), "t")
	v := m.View()
	if !strings.Contains(v, "nothing to change at 30%") || strings.Contains(v, "(y/N)") {
		t.Fatalf("an empty change at the applied ratio should offer nothing:\n%s", v)
	}
	if m, _ = step(t, m, "y"); len(f.applied) != 0 {
		t.Fatal("y applied an empty change")
	}
	// Throttles recomputed at the same ratio: say so.
	f = newFakeCtl()
	f.recompute = true
	m = ctlPress(ctlModel(f, 80, 24), "t")
	v = m.View()
	checkScreen(t, v, 80, 24)
	if !strings.Contains(v, "throttles only, ratio unchanged") || !strings.Contains(v, "(same ratio)") {
		t.Fatalf("a throttle-only change should say so:\n%s", v)
	}
	golden.RequireEqual(t, []byte(v))
}

// teatest flows for points 3, 4, 11 and 12 on the real program loop.
func TestStrayKeysTeatest(t *testing.T) {
	f := newFakeCtl()
	f.recompute = true
	o := ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Refresh: 50 * time.Millisecond, Control: f,
		QuitCheck: func() string { return "1 viewer attached; quit and stop following?" }}
	tm := teatest.NewTestModel(t, ui.New(uifake.New(0), o), teatest.WithInitialTermSize(80, 24))
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("R undo") // 12: rollback discoverable in the footer
	tm.Type("t")
	wait("throttles only, ratio unchanged") // 4
	tm.Type("q")                            // 11: closes the slider only
	wait("enter detail")
	tm.Type("a")
	wait("changes, newest first")
	tm.Type("?") // 3: refused in the audit view, says why
	wait("no help inside the audit view")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Type("q") // 11: asks first
	wait("quit and stop following? y/N")
	tm.Type("y")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	if len(f.applied) != 0 {
		t.Fatalf("nothing should have been applied: %d", len(f.applied))
	}
}

// Point 3 in the real loop: the flash goes away after 3 s.
func TestFlashExpiresTeatest(t *testing.T) {
	o := ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Refresh: 100 * time.Millisecond, ReadOnly: true}
	tm := teatest.NewTestModel(t, ui.New(uifake.New(0), o), teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("google")) },
		teatest.WithDuration(5*time.Second))
	start := time.Now()
	tm.Type("t")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("read-only viewer")) },
		teatest.WithDuration(5*time.Second))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("enter detail")) },
		teatest.WithDuration(6*time.Second), teatest.WithCheckInterval(50*time.Millisecond))
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("flash gone after %v, want 3 s", d)
	}
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}

var _ = model.SideOld

// Point 6: the help overlay with every control key fits 80 columns and
// scrolls when taller than the screen.
func TestHelpFits80(t *testing.T) {
	m := ctlPress(ctlModel(newFakeCtl(), 80, 24), "?")
	v := m.View()
	checkScreen(t, v, 80, 24)
	for _, want := range []string{"╮", "╯", "slider", "cancel", "undo", "lines 1-"} {
		if !strings.Contains(v, want) {
			t.Errorf("help at 80x24 lacks %q:\n%s", want, v)
		}
	}
	golden.RequireEqual(t, []byte(v))
	for i, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "│") && !strings.HasSuffix(strings.TrimRight(l, " "), "│") {
			t.Errorf("line %d has no right border: %q", i, l)
		}
	}
	m = ctlPress(m, "G")
	v = m.View()
	checkScreen(t, v, 80, 24)
	if !strings.Contains(v, "deferral on one shared scale") || !strings.Contains(v, "0% new") || strings.Contains(v, "pgup/b") {
		t.Fatalf("G should scroll the help to its end:\n%s", v)
	}
	t.Run("bottom", func(t *testing.T) { golden.RequireEqual(t, []byte(v)) })
}

// Point 14: a non-UTF-8 session gets ASCII sparks, bars, borders and marks,
// nothing outside ASCII.
func TestASCIIMode(t *testing.T) {
	o := opts(asciiRenderer())
	o.ASCII, o.Control = true, newFakeCtl()
	for _, c := range []struct {
		name string
		keys []string
	}{{"cockpit", nil}, {"help", []string{"?"}}, {"detail", []string{"enter"}}, {"slider", []string{"t", "right"}}} {
		t.Run(c.name, func(t *testing.T) {
			m := ctlPress(modelWith(uifake.New(0), o, 80, 24), c.keys...)
			v := m.View()
			checkScreen(t, v, 80, 24)
			for i, r := range v {
				if r > 0x7e || (r < 0x20 && r != '\n') {
					t.Fatalf("non-ASCII %q at byte %d:\n%s", r, i, v)
				}
			}
			golden.RequireEqual(t, []byte(v))
		})
	}
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"LANG": "C"}, true},
		{map[string]string{"LANG": "en_US.UTF-8"}, false},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_ALL": "C"}, true},
		{map[string]string{"LANG": "C", "LC_CTYPE": "C.utf8"}, false},
		{map[string]string{}, true},
	} {
		for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
			t.Setenv(k, c.env[k])
		}
		if got := ui.ASCIILocale(); got != c.want {
			t.Errorf("ASCIILocale() with %v = %v, want %v", c.env, got, c.want)
		}
	}
}

// Point 8: enter in the audit view opens the whole entry, wrapped; esc goes
// back to the list.
func TestAuditFullEntry(t *testing.T) {
	f := newFakeCtl()
	long := "a very long note that goes on past the eighty columns of the terminal so that the list cuts it, ending in THE-END"
	f.hist[2].Notes = []string{long}
	f.hist[2].Who.Command = "cutover ratio set --reason 'ramp after the morning review with the postmaster team' 30"
	m := ctlPress(ctlModel(f, 80, 24), "a")
	if v := m.View(); strings.Contains(v, "THE-END") {
		t.Fatalf("fixture: the note should be cut in the list:\n%s", v)
	}
	m = ctlPress(m, "enter")
	v := m.View()
	checkScreen(t, v, 80, 24)
	for _, want := range []string{"audit entry #3", "from 192.0.2.7 apply 15% new -> 30% new: ok", "postmaster team", "THE-END"} {
		if !strings.Contains(strings.Join(strings.Fields(v), " "), want) {
			t.Errorf("full entry lacks %q:\n%s", want, v)
		}
	}
	golden.RequireEqual(t, []byte(v))
	m, quit := step(t, m, "esc")
	if v := m.View(); quit || !strings.Contains(v, "3 changes, newest first") {
		t.Fatalf("esc should go back to the list:\n%s", v)
	}
}

// Point 9: provider names are not cut (a name column as wide as the longest
// name, up to 20 cells, at least 9), and the detail keeps the provider's
// name and the OLD/NEW rows pinned while its body scrolls.
func TestNamesNotCut(t *testing.T) {
	d := uifake.New(0)
	d.Providers = append(d.Providers, "orange-wanadoo-fr")
	for _, size := range [][2]int{{80, 60}, {160, 48}} {
		m := modelWith(d, opts(asciiRenderer()), size[0], size[1])
		v := m.View()
		checkScreen(t, v, size[0], size[1])
		for _, name := range []string{"microsoft", "orange-wanadoo-fr"} {
			if !strings.Contains(v, name+" ") {
				t.Errorf("%dx%d: %q cut:\n%s", size[0], size[1], name, v)
			}
		}
	}
	m := modelWith(d, opts(asciiRenderer()), 80, 24)
	m = ctlPress(m, "enter", "G")
	v := m.View()
	checkScreen(t, v, 80, 24)
	lines := strings.Split(v, "\n")
	if !strings.HasPrefix(lines[1], " google ") || !strings.Contains(lines[3], "OLD") || !strings.Contains(lines[4], "NEW") {
		t.Errorf("detail scrolled to its end lost its pinned head:\n%s", v)
	}
	if !strings.Contains(v, "by") || strings.Contains(v, "recipients per") {
		t.Errorf("G should scroll the body to the breakdown:\n%s", v)
	}
	golden.RequireEqual(t, []byte(v))
}

// Point 15: the wheel scrolls, a click on a pane opens its detail.
func TestMouse(t *testing.T) {
	m := modelWith(uifake.New(20), opts(asciiRenderer()), 80, 24)
	wheel := func(m tea.Model, b tea.MouseButton) tea.Model {
		return send(m, tea.MouseMsg{X: 10, Y: 10, Button: b, Action: tea.MouseActionPress})
	}
	m = wheel(m, tea.MouseButtonWheelDown)
	m = wheel(m, tea.MouseButtonWheelDown)
	if f := footer(m.View()); !strings.HasSuffix(f, "3/26") {
		t.Fatalf("two wheel steps down should select the third pane: %q", f)
	}
	m = wheel(m, tea.MouseButtonWheelUp)
	if f := footer(m.View()); !strings.HasSuffix(f, "2/26") {
		t.Fatalf("wheel up: %q", f)
	}
	// Rows 5-7 are the first pane (google), 8-10 the second (microsoft).
	v := m.View()
	if l := strings.Split(v, "\n")[8]; !strings.Contains(l, "microsoft") {
		t.Fatalf("fixture: row 8 is %q", l)
	}
	m = send(m, tea.MouseMsg{X: 20, Y: 9, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if l := strings.Split(m.View(), "\n")[1]; !strings.HasPrefix(l, " microsoft ") {
		t.Fatalf("a click on microsoft's pane should open its detail: %q", l)
	}
	m = wheel(m, tea.MouseButtonWheelDown)
	if f := footer(m.View()); !strings.Contains(f, "2-") {
		t.Fatalf("the wheel should scroll the detail: %q", f)
	}
	// A click on the status line does nothing.
	m = press(m, "esc")
	m = send(m, tea.MouseMsg{X: 5, Y: 1, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if strings.Contains(m.View(), "top responses") {
		t.Fatal("a click outside the panes opened a detail")
	}
}

// seqData serves one snapshot after the other, one per load.
type seqData struct {
	ui.Data
	snaps []*ui.Snapshot
	i     int
}

func (d *seqData) Snapshot(ui.Window, time.Time) (*ui.Snapshot, error) {
	s := d.snaps[min(d.i, len(d.snaps)-1)]
	d.i++
	return s, nil
}

func volSnap(vols map[string]uint64) *ui.Snapshot {
	s := &ui.Snapshot{Since: uifake.Now.Add(-time.Hour), Until: uifake.Now, Step: time.Minute, Plan: ui.Plan{Step: -1}}
	for isp, v := range vols {
		s.Providers = append(s.Providers, ui.ProviderStats{ISP: isp, Old: ui.SideStats{Counts: model.Tally{Delivered: v}}})
	}
	return s
}

// paneOrder is the provider names in screen order.
func paneOrder(v string, names ...string) string {
	type at struct {
		i    int
		name string
	}
	var found []at
	for _, n := range names {
		if i := strings.Index(v, "  "+n+"  "); i >= 0 {
			found = append(found, at{i, n})
		} else if i := strings.Index(v, "▸ "+n+"  "); i >= 0 {
			found = append(found, at{i, n})
		}
	}
	for a := range found {
		for b := a + 1; b < len(found); b++ {
			if found[b].i < found[a].i {
				found[a], found[b] = found[b], found[a]
			}
		}
	}
	var out []string
	for _, f := range found {
		out = append(out, f.name)
	}
	return strings.Join(out, ",")
}

// Point 10: close counts do not swap panes on every refresh; a clear lead
// (over 10 %) or 30 s does.
func TestOrderHysteresis(t *testing.T) {
	now := uifake.Now
	d := &seqData{Data: uifake.New(0), snaps: []*ui.Snapshot{
		volSnap(map[string]uint64{"gmx": 1000, "orange": 1050}),
		volSnap(map[string]uint64{"gmx": 1080, "orange": 1000}), // +8 %: stays
		volSnap(map[string]uint64{"gmx": 1080, "orange": 1000}), // 31 s later: re-sorted
		volSnap(map[string]uint64{"gmx": 1000, "orange": 1200}), // +20 %: moves at once
	}}
	o := opts(asciiRenderer())
	o.Clock = func() time.Time { return now }
	m := modelWith(d, o, 80, 24)
	want := []string{"orange,gmx", "orange,gmx", "gmx,orange", "orange,gmx"}
	for i, w := range want {
		if i > 0 {
			if i == 2 {
				now = now.Add(31 * time.Second)
			}
			m = send(m, ui.Changed{})
		}
		if got := paneOrder(m.View(), "gmx", "orange"); got != w {
			t.Fatalf("refresh %d: order %s, want %s:\n%s", i, got, w, m.View())
		}
	}
}

// Point 10: o cycles volume, health, name.
func TestOrderKey(t *testing.T) {
	m := modelWith(uifake.New(0), opts(asciiRenderer()), 80, 60)
	names := []string{"google", "microsoft", "yahoo", "apple", "comcast", "other"}
	if got := paneOrder(m.View(), names...); !strings.HasPrefix(got, "google,microsoft") || !strings.HasSuffix(got, "other") {
		t.Fatalf("volume order: %s", got)
	}
	m = press(m, "o")
	v := m.View()
	if !strings.Contains(footer(v), "order: health") {
		t.Fatalf("o should say the order: %q", footer(v))
	}
	got := paneOrder(v, names...)
	// yahoo is the one WARN provider of the fixture; the NEW▲ ones follow.
	if !strings.HasPrefix(got, "yahoo,") || !strings.HasSuffix(got, "other") {
		t.Fatalf("health order: %s\n%s", got, v)
	}
	m = press(m, "o")
	if got := paneOrder(m.View(), names...); got != "apple,comcast,google,microsoft,yahoo,other" {
		t.Fatalf("name order: %s", got)
	}
	m = press(m, "o")
	if got := paneOrder(m.View(), names...); !strings.HasPrefix(got, "google,microsoft") {
		t.Fatalf("back to volume: %s", got)
	}
}

// Point 13: / filters the providers by name and the detail's responses by
// text; esc clears.
func TestFilter(t *testing.T) {
	m := modelWith(uifake.New(0), opts(asciiRenderer()), 80, 24)
	m = press(m, "/", "m", "i", "c")
	v := m.View()
	checkScreen(t, v, 80, 24)
	if !strings.Contains(footer(v), "/mic_") || strings.Contains(v, "google") || !strings.Contains(v, "microsoft") {
		t.Fatalf("typing /mic:\n%s", v)
	}
	golden.RequireEqual(t, []byte(v))
	m = press(m, "enter")
	if f := footer(m.View()); !strings.HasPrefix(f, "/mic ") {
		t.Fatalf("enter keeps the filter: %q", f)
	}
	m = press(m, "esc")
	if v := m.View(); !strings.Contains(v, "google") {
		t.Fatalf("esc should clear the filter:\n%s", v)
	}
	// In the detail: the responses by text.
	m = press(m, "enter", "/", "u", "n", "k", "n", "o", "w", "n", "enter")
	v = m.View()
	if !strings.Contains(v, "user unknown") || strings.Contains(v, "4.7.28") {
		t.Fatalf("detail filter /unknown:\n%s", v)
	}
}

// Point 14: on a light background, warnings and secondary text take darker
// shades (adaptive colours); on a dark one the palette's ANSI colours.
func TestAdaptiveColours(t *testing.T) {
	render := func(dark bool) string {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(termenv.ANSI256)
		r.SetHasDarkBackground(dark)
		o := opts(r)
		return modelWith(uifake.New(0), o, 80, 24).View()
	}
	light, dark := render(false), render(true)
	// Grey 240 (SGR 38;5;240) for dim text on light, bright black (90) on
	// dark; yahoo's WARN in 130 (dark orange) on light, yellow (33) on dark.
	for _, c := range []struct {
		screen, want, not string
	}{
		{light, "\x1b[38;5;240m", "\x1b[90m"},
		{dark, "\x1b[90m", "\x1b[38;5;240m"},
		{light, "38;5;130m", "\x1b[1;33m"},
		{dark, "\x1b[1;33m", "38;5;130m"},
	} {
		if !strings.Contains(c.screen, c.want) || strings.Contains(c.screen, c.not) {
			t.Errorf("want %q and not %q in:\n%q", c.want, c.not, c.screen)
		}
	}
}

// detSeq serves one detail after the other, one per load.
type detSeq struct {
	ui.Data
	ips [][2]uint64 // attempts of 192.0.2.1 and 192.0.2.2 per load
	i   int
}

func (d *detSeq) Detail(isp string, w ui.Window, now time.Time) (*ui.Detail, error) {
	det, err := d.Data.Detail(isp, w, now)
	if err != nil {
		return nil, err
	}
	c := d.ips[min(d.i, len(d.ips)-1)]
	d.i++
	det.Breakdown = []ui.BreakdownRow{
		{Dim: "ip", Value: "192.0.2.1", Side: model.SideNew, Counts: model.Tally{Delivered: c[0]}},
		{Dim: "ip", Value: "192.0.2.2", Side: model.SideNew, Counts: model.Tally{Delivered: c[1]}},
	}
	return det, nil
}

// Point 10: per-IP rows of the detail keep their places on close counts.
func TestBreakdownHysteresis(t *testing.T) {
	now := uifake.Now
	o := opts(asciiRenderer())
	o.Clock = func() time.Time { return now }
	d := &detSeq{Data: uifake.New(0), ips: [][2]uint64{{1050, 1000}, {1000, 1080}, {1000, 1200}, {1090, 1000}}}
	m := press(modelWith(d, o, 80, 60), "enter")
	order := func() string {
		v := m.View()
		a, b := strings.Index(v, "192.0.2.1"), strings.Index(v, "192.0.2.2")
		if a < 0 || b < 0 {
			t.Fatalf("rows missing:\n%s", v)
		}
		if a < b {
			return "1,2"
		}
		return "2,1"
	}
	// Loads: the first on enter; then refreshes. .2 leads by 8 %: stays;
	// by 20 %: moves at once; .1 leads by 9 % but 31 s later: re-sorted.
	for i, w := range []string{"1,2", "1,2", "2,1", "1,2"} {
		if i > 0 {
			if i == 3 {
				now = now.Add(31 * time.Second)
			}
			m = send(m, ui.Changed{})
		}
		if got := order(); got != w {
			t.Fatalf("load %d: order %s, want %s", i, got, w)
		}
	}
}
