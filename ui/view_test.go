package ui_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"cutover/model"
	"cutover/ui"
	"cutover/ui/uifake"
)

var cet = time.FixedZone("CET", 3600)

func TestMain(m *testing.M) {
	// Goldens and teatest must not depend on the terminal running the tests.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func opts(r *lipgloss.Renderer) ui.Options {
	return ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Renderer: r}
}

// newModel is a cockpit of size w×h with its first data loaded.
func newModel(d ui.Data, w, h int, r *lipgloss.Renderer) tea.Model {
	var m tea.Model = ui.New(d, opts(r))
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

// send delivers msg and runs the commands it returns, synchronously (the
// loads; keys and Changed never return a tick).
func send(m tea.Model, msg tea.Msg) tea.Model {
	m, cmd := m.Update(msg)
	return run(m, cmd)
}

func run(m tea.Model, cmd tea.Cmd) tea.Model {
	if cmd == nil {
		return m
	}
	switch msg := cmd().(type) {
	case nil:
		return m
	case tea.BatchMsg:
		for _, c := range msg {
			m = run(m, c)
		}
		return m
	case tea.QuitMsg:
		return m
	default:
		return send(m, msg)
	}
}

func keys(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func press(m tea.Model, ks ...string) tea.Model {
	for _, k := range ks {
		m = send(m, keys(k))
	}
	return m
}

func TestGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		for _, v := range []struct {
			name  string
			extra int
			keys  []string
		}{
			{"cockpit", 20, nil},
			{"cockpit_scrolled", 20, []string{"G"}},
			{"detail", 0, []string{"enter"}},
			{"detail_bottom", 0, []string{"enter", "G"}},
			{"sources", 0, []string{"s"}},
			{"help", 0, []string{"?"}},
			{"window24h", 0, []string{"3"}},
		} {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, w, h), func(t *testing.T) {
				m := press(newModel(uifake.New(v.extra), w, h, asciiRenderer()), v.keys...)
				out := m.View()
				checkScreen(t, out, w, h)
				golden.RequireEqual(t, []byte(out))
			})
		}
	}
}

// checkScreen holds every frame to the screen size and to safe text.
func checkScreen(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if out != "" && len(lines) > h {
		t.Fatalf("%d lines for height %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("line %d is %d cells wide (width %d): %q", i, lw, w, l)
		}
	}
	plain := sgr.ReplaceAllString(out, "")
	for _, r := range plain {
		if r == '\n' {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("control or format character %U in the frame: %q", r, plain)
		}
	}
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestHostileTextRendersHarmless(t *testing.T) {
	// uifake puts an OSC title, a clear-screen CSI, CR, a raw 0x9b, U+009B,
	// bidi overrides and zero-width characters into responses and rejects.
	for _, colour := range []bool{false, true} {
		r := asciiRenderer()
		if colour {
			r = lipgloss.NewRenderer(io.Discard)
			r.SetColorProfile(termenv.ANSI256)
		}
		for _, isp := range []string{"google", "microsoft"} {
			d := uifake.New(0)
			m := newModel(d, 200, 60, r)
			for _, p := range []string{"google", "microsoft", "yahoo"} {
				if p == isp {
					break
				}
				m = press(m, "down")
			}
			for name, frame := range map[string]string{
				"cockpit": m.View(),
				"detail":  press(m, "enter").View(),
				"sources": press(m, "s").View(),
			} {
				t.Run(fmt.Sprintf("%s/%s/colour=%v", isp, name, colour), func(t *testing.T) {
					checkScreen(t, frame, 200, 60)
					if rest := sgr.ReplaceAllString(frame, ""); strings.ContainsRune(rest, 0x1b) {
						t.Fatalf("an escape sequence other than SGR reached the frame: %q", rest)
					}
					if !colour && strings.ContainsRune(frame, 0x1b) {
						t.Fatalf("ASCII profile frame has ESC")
					}
				})
			}
			det := press(m, "enter").View()
			switch isp {
			case "google":
				// The OSC title and the clear screen are gone, the text around stays.
				if !strings.Contains(det, "15] Our system has detected an unusual rate") || strings.Contains(det, "pwned") {
					t.Errorf("google sample: OSC payload shown or text lost:\n%s", det)
				}
			case "microsoft":
				for _, want := range []string{"␍", `\u202e`, `\u200b`, `\u2066`} {
					if !strings.Contains(det, want) {
						t.Errorf("microsoft detail lacks the visible escape %q", want)
					}
				}
			}
		}
	}
}

func TestNoColor(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("CLICOLOR_FORCE", "")
	frames := func() string {
		// A renderer that believes it writes to a colour terminal, as in production.
		r := lipgloss.NewRenderer(io.Discard, termenv.WithTTY(true))
		m := newModel(uifake.New(0), 120, 40, r)
		return m.View() + press(m, "enter").View() + press(m, "?").View() + press(m, "s").View()
	}
	t.Setenv("NO_COLOR", "")
	if out := frames(); !strings.Contains(out, "\x1b[") {
		t.Fatal("control: without NO_COLOR the frames should carry SGR, the test proves nothing")
	}
	t.Setenv("NO_COLOR", "1")
	out := frames()
	if strings.Contains(out, "\x1b[") {
		t.Fatalf("NO_COLOR=1 but the frames contain SGR: %q", out[:min(len(out), 400)])
	}
	// Marks must still be readable without colour.
	for _, want := range []string{"▸", "NEW▲", "OK", "WARN"} {
		if !strings.Contains(out, want) {
			t.Errorf("NO_COLOR frames lack %q", want)
		}
	}
}

func TestResizeNeverPanics(t *testing.T) {
	sizes := [][2]int{{0, 0}, {1, 1}, {10, 3}, {3, 10}, {20, 2}, {40, 5}, {79, 23}, {80, 24}, {109, 30}, {110, 30}, {300, 4}, {160, 48}}
	for _, k := range [][]string{nil, {"enter"}, {"s"}, {"?"}, {"G", "enter", "G"}} {
		m := newModel(uifake.New(8), 80, 24, asciiRenderer())
		m = press(m, k...)
		for _, s := range sizes {
			m = send(m, tea.WindowSizeMsg{Width: s[0], Height: s[1]})
			out := m.View()
			if s[0] == 0 || s[1] == 0 {
				if out != "" {
					t.Errorf("%v at %dx%d: want an empty frame", k, s[0], s[1])
				}
				continue
			}
			checkScreen(t, out, s[0], s[1])
			m = press(m, "down", "G", "g")
		}
	}
	// Keys before the first size and the first data must not panic either.
	m := tea.Model(ui.New(uifake.New(0), opts(asciiRenderer())))
	for _, k := range []string{"down", "enter", "G", "s", "?", "esc", "esc", "w"} {
		m, _ = m.Update(keys(k))
		_ = m.View()
	}
}

func TestNavigation(t *testing.T) {
	m := newModel(uifake.New(0), 80, 24, asciiRenderer())
	if v := m.View(); !strings.Contains(v, "▸ google") || !strings.Contains(v, "1h 13:04–14:04Z") {
		t.Fatalf("initial frame: want google selected and the 1h window:\n%s", v)
	}
	m = press(m, "down")
	if !strings.Contains(m.View(), "▸ microsoft") {
		t.Fatalf("down should select microsoft:\n%s", m.View())
	}
	m = press(m, "enter")
	if v := m.View(); !strings.Contains(v, " microsoft   window 1h") || !strings.Contains(v, "top responses") {
		t.Fatalf("enter should open microsoft's detail:\n%s", v)
	}
	m = press(m, "w")
	if v := m.View(); !strings.Contains(v, "window 24h") {
		t.Fatalf("w in the detail should switch to 24h:\n%s", v)
	}
	m = press(m, "esc")
	if v := m.View(); !strings.Contains(v, "▸ microsoft") || !strings.Contains(v, "24h 11-26 14:00–11-27 14:00Z") && !strings.Contains(v, "24h ") {
		t.Fatalf("esc back to the cockpit keeps selection and window:\n%s", v)
	}
	m = press(m, "G")
	if !strings.Contains(m.View(), "▸ other") {
		t.Fatalf("other is last:\n%s", m.View())
	}
	m = press(m, "1")
	if !strings.Contains(m.View(), "15m 13:49–14:04Z") {
		t.Fatalf("1 selects 15m:\n%s", m.View())
	}
}

func TestOtherLastBusiestFirst(t *testing.T) {
	d := uifake.New(0)
	// "other" is busier than comcast and apple but stays last.
	m := newModel(d, 80, 100, asciiRenderer())
	v := m.View()
	order := []string{"google", "microsoft", "yahoo", "apple", "comcast", "other"}
	last := -1
	for _, isp := range order {
		i := strings.Index(v, "  "+isp+"  ")
		if j := strings.Index(v, "▸ "+isp+"  "); j >= 0 {
			i = j
		}
		if i < 0 || i < last {
			t.Fatalf("%s out of order in:\n%s", isp, v)
		}
		last = i
	}
}

func TestErrorShownAndRecovered(t *testing.T) {
	d := uifake.New(0)
	m := newModel(d, 80, 24, asciiRenderer())
	d.Fail = fmt.Errorf("database read: \x1b[2Jboom")
	m = send(m, ui.Changed{})
	v := m.View()
	if !strings.Contains(v, "! database read: boom") || !strings.Contains(v, "google") {
		t.Fatalf("error in the footer, last data kept:\n%s", v)
	}
	d.Fail = nil
	if v := send(m, ui.Changed{}).View(); strings.Contains(v, "boom") {
		t.Fatalf("error should clear after a good load:\n%s", v)
	}
}

type panicData struct{ ui.Data }

func (panicData) Snapshot(ui.Window, time.Time) (*ui.Snapshot, error) { panic("bad query") }

func TestPanickingDataDoesNotCrash(t *testing.T) {
	m := newModel(panicData{uifake.New(0)}, 80, 24, asciiRenderer())
	if v := m.View(); !strings.Contains(v, "panic in data load: bad query") {
		t.Fatalf("a panicking Data should show as an error:\n%s", v)
	}
}

func TestTeatestFlow(t *testing.T) {
	m := ui.New(uifake.New(0), ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Refresh: 50 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("google")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	wait("top responses")
	tm.Type("?")
	wait("NEW worse than OLD")
	tm.Type("?")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Type("3")
	wait("24h")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	v := tm.FinalModel(t).View()
	if !strings.Contains(v, "24h") || !strings.Contains(v, "▸ google") {
		t.Fatalf("final frame: want the cockpit on 24h:\n%s", v)
	}
}

// fixed is a Data whose snapshot is built once, so a benchmark measures the
// UI, not the fixture.
type fixed struct {
	ui.Data
	snap *ui.Snapshot
}

func (f fixed) Snapshot(ui.Window, time.Time) (*ui.Snapshot, error) { return f.snap, nil }

func bigSnapshot(b *testing.B) ui.Data {
	d := uifake.New(44) // 50 providers
	s, err := d.Snapshot(ui.Window24h, uifake.Now)
	if err != nil {
		b.Fatal(err)
	}
	if len(s.Providers) != 50 || len(s.Providers[0].Old.Series) != 1440 {
		b.Fatalf("want 50 providers × 1440 minute points, got %d × %d", len(s.Providers), len(s.Providers[0].Old.Series))
	}
	return fixed{d, s}
}

// BenchmarkCockpitView is one frame of the cockpit with 50 providers and a
// day of minute points (the target is < 5 ms).
func BenchmarkCockpitView(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {160, 48}, {240, 70}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			m := newModel(bigSnapshot(b), size[0], size[1], asciiRenderer())
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
	b.Run("160x48/colour", func(b *testing.B) {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(termenv.ANSI256)
		m := newModel(bigSnapshot(b), 160, 48, r)
		b.ResetTimer()
		for b.Loop() {
			_ = m.View()
		}
	})
}

// BenchmarkCockpitRefresh is a data refresh: sort, health verdicts, z-tests
// and resampling 50×2×1440 points into sparks, then one frame.
func BenchmarkCockpitRefresh(b *testing.B) {
	m := newModel(bigSnapshot(b), 160, 48, asciiRenderer())
	b.ResetTimer()
	for b.Loop() {
		m = send(m, ui.Changed{})
		_ = m.View()
	}
}

var _ = model.HealthOK

func TestHeaderClock(t *testing.T) {
	for _, c := range []struct {
		loc  *time.Location
		want string
		not  string
	}{
		{time.UTC, "14:03:22 UTC", "UTC  14:03:22"},
		{time.FixedZone("UTC", 0), "14:03:22 UTC", "UTC  14:03:22"},
		{time.FixedZone("GMT", 0), "14:03:22 UTC  14:03:22 GMT", ""},
		{cet, "14:03:22 UTC  15:03:22 CET", ""},
	} {
		o := opts(asciiRenderer())
		o.Location = c.loc
		var m tea.Model = ui.New(uifake.New(0), o)
		m = send(send(m, tea.WindowSizeMsg{Width: 160, Height: 10}), ui.Changed{})
		top := strings.SplitN(m.View(), "\n", 2)[0]
		if !strings.HasSuffix(top, c.want) || c.not != "" && strings.Contains(top, c.not) {
			t.Errorf("%s: header %q, want it to end in %q", c.loc, top, c.want)
		}
	}
}

// TestHelpOverlayModal: nothing of the view under the help box shows beside
// it (at 80 columns the box leaves one column on each side).
func TestHelpOverlayModal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {160, 48}} {
		w, h := size[0], size[1]
		m := press(newModel(uifake.New(20), w, h, asciiRenderer()), "?")
		lines := strings.Split(m.View(), "\n")
		boxed := 0
		for i, l := range lines[1 : len(lines)-1] {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			boxed++
			if first, _ := utf8.DecodeRuneInString(l); !strings.ContainsRune("╭│╰", first) {
				t.Fatalf("%dx%d: row %d shows text outside the help box: %q", w, h, i+1, l)
			}
			if last, _ := utf8.DecodeLastRuneInString(l); !strings.ContainsRune("╮│╯", last) {
				t.Fatalf("%dx%d: row %d shows text after the help box: %q", w, h, i+1, l)
			}
		}
		if boxed < 10 {
			t.Fatalf("%dx%d: no help box:\n%s", w, h, m.View())
		}
	}
}

// TestSparksUnderHeadings: each spark field starts in its heading's column
// and is as wide as the bars in it, at every width.
func TestSparksUnderHeadings(t *testing.T) {
	for _, w := range []int{80, 100, 109, 110, 120, 140, 160, 240} {
		for _, win := range []string{"1", "2", "3", "4"} {
			m := press(newModel(uifake.New(0), w, 30, asciiRenderer()), win)
			lines := strings.Split(m.View(), "\n")
			head := []rune(lines[2])
			vol := strings.Index(string(head), "volume")
			def := strings.Index(string(head), "deferral")
			if vol < 0 || def < 0 {
				t.Fatalf("%d cols, window %s: no spark headings: %q", w, win, lines[2])
			}
			vol, def = utf8.RuneCountInString(string(head)[:vol]), utf8.RuneCountInString(string(head)[:def])
			row := []rune(lines[3]) // ALL OLD
			isSpark := func(r rune) bool { return r >= 0x2800 && r <= 0x28ff || r >= '▁' && r <= '█' }
			if !isSpark(row[vol]) || isSpark(row[vol-1]) || !isSpark(row[def]) || isSpark(row[def-1]) {
				t.Errorf("%d cols, window %s: sparks not under their headings:\n%s\n%s", w, win, lines[2], lines[3])
			}
		}
	}
}
