package ui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// OwnerLink is implemented by a Data that reads from the process owning the
// database (ui/attach's Client). When that process is gone the numbers on
// screen stop moving while still looking live; the cockpit says so.
type OwnerLink interface {
	// OwnerDown reports since when the owner has been unreachable (zero
	// while attached) and why.
	OwnerDown() (since time.Time, why error)
}

// ownerState is the cockpit's view of its owner link.
type ownerState struct {
	takeOver func()           // Options.TakeOver
	lastOK   time.Time        // wall clock of the last successful load
	now      func() time.Time // wall clock (tests)
	tookOver bool
}

func (m *Model) initOwner(opt Options) {
	m.own.takeOver = opt.TakeOver
	m.own.now = time.Now
}

// ownerDown says whether the data's owner is gone, since when and why.
func (m Model) ownerDown() (bool, time.Time, error) {
	ol, ok := m.data.(OwnerLink)
	if !ok {
		return false, time.Time{}, nil
	}
	since, why := ol.OwnerDown()
	return !since.IsZero(), since, why
}

// TookOver reports whether the user asked to take ownership (the TakeOver
// key while the owner was gone); the program has quit.
func (m Model) TookOver() bool { return m.own.tookOver }

// ownerBody puts the banner over a greyed body while the owner is gone: a
// line saying so, with the age of the last data, and the body's text without
// its colours (every number on it is as of then).
func (m Model) ownerBody(body []string, h int) []string {
	down, since, why := m.ownerDown()
	if !down || h <= 0 {
		return body
	}
	now := m.own.now()
	age := "no data yet"
	if !m.own.lastOK.IsZero() {
		age = "last data " + fmtAgo(now.Sub(m.own.lastOK)) + " ago"
	}
	text := fmt.Sprintf("owner gone — reconnecting (%s); %s, numbers below are frozen", fmtAgo(now.Sub(since)), age)
	if m.own.takeOver != nil {
		text += " · " + m.keys.TakeOver.Help().Key + " take ownership"
	}
	if why != nil { // last: the footer shows it too, a narrow screen cuts it
		text += " · " + why.Error()
	}
	out := make([]string, 0, len(body)+1)
	out = append(out, m.st.Warn.Render(Sanitize("! "+text, max(m.width, 1))))
	for _, l := range body {
		out = append(out, m.st.Dim.Render(ansi.Strip(l)))
	}
	return out
}

// ownerKey handles the take-over key while the owner is gone.
func (m Model) ownerKey(msg tea.KeyMsg) (bool, tea.Model, tea.Cmd) {
	if m.own.takeOver == nil || !key.Matches(msg, m.keys.TakeOver) {
		return false, m, nil
	}
	if down, _, _ := m.ownerDown(); !down {
		return false, m, nil
	}
	m.own.tookOver = true
	m.own.takeOver()
	return true, m, tea.Quit
}
