package ui_test

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"cutover/ui"
	"cutover/ui/uifake"
)

// linkData is the fake data behind a link that can go down, as
// ui/attach's Client does (its real test stops a real owner process).
type linkData struct {
	*uifake.Data
	since time.Time
}

func (d *linkData) OwnerDown() (time.Time, error) {
	if d.since.IsZero() {
		return time.Time{}, nil
	}
	return d.since, errors.New("owner gone, reconnecting (EOF)")
}

var sgrSeq = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Issue 13 point 9, the cockpit's side: while the owner is gone the first
// body line says so with the age of the last data, every number below is
// one grey (no health colours: nothing looks live), and O takes ownership.
func TestOwnerGoneBanner(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256) // colours on: greying must show
	d := &linkData{Data: uifake.New(0)}
	took := false
	var m tea.Model = ui.New(d, ui.Options{Clock: func() time.Time { return uifake.Now }, Renderer: r, TakeOver: func() { took = true }})
	m = send(m, tea.WindowSizeMsg{Width: 160, Height: 30})
	m = send(m, ui.Changed{})
	live := m.View()
	if strings.Contains(live, "owner gone") {
		t.Fatal("banner while attached")
	}
	colours := func(s string) map[string]bool {
		set := map[string]bool{}
		for _, c := range sgrSeq.FindAllString(s, -1) {
			set[c] = true
		}
		return set
	}
	if len(colours(live)) < 3 {
		t.Fatalf("live view has too few colours to compare: %v", colours(live))
	}
	// The owner went away 3 s ago; the data on screen is from the last load.
	d.since = time.Now().Add(-3 * time.Second)
	d.Fail = errors.New("owner gone, reconnecting (EOF)")
	m = send(m, ui.Changed{})
	gone := m.View()
	lines := strings.Split(gone, "\n")
	if !strings.Contains(lines[1], "owner gone — reconnecting (3s)") || !strings.Contains(lines[1], "last data 0s ago") ||
		!strings.Contains(lines[1], "O take ownership") {
		t.Fatalf("banner line: %q", sgrSeq.ReplaceAllString(lines[1], ""))
	}
	body := strings.Join(lines[2:len(lines)-1], "\n")
	if cs := colours(body); len(cs) > 2 { // one grey, and the reset
		t.Fatalf("body still coloured while the owner is gone: %v", cs)
	}
	// The numbers are still there (frozen, greyed), not blanked.
	if !strings.Contains(sgrSeq.ReplaceAllString(body, ""), "gmail") && !strings.Contains(sgrSeq.ReplaceAllString(body, ""), "google") {
		t.Fatalf("body lost its numbers:\n%s", sgrSeq.ReplaceAllString(body, ""))
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("O")})
	if !took || cmd == nil {
		t.Fatal("O did not take ownership")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("taking ownership does not quit the viewer")
	}
}
