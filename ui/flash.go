package ui

import (
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// flashFor is how long a flash message stays in the footer (k9s-style: long
// enough to read at 3 a.m., short enough not to hide the keys for long).
const flashFor = 3 * time.Second

// flashState is a one-line message in the footer saying why a key did
// nothing, and the quit question.
type flashState struct {
	text string
	at   time.Time // wall clock; cleared on the first tick after flashFor

	// ask is the pending "quit anyway?" question; "" = none.
	ask string
}

// flash shows text in the footer for flashFor.
func (m *Model) flash(text string) {
	m.fl.text, m.fl.at = text, time.Now()
}

// expireFlash drops a flash older than flashFor (called on every tick, so a
// flash never depends on View being called at a particular time).
func (m *Model) expireFlash(now time.Time) {
	if m.fl.text != "" && now.Sub(m.fl.at) >= flashFor {
		m.fl.text = ""
	}
}

// enabled is b whatever its enabled state, to recognise a key the cockpit
// knows but refuses here.
func enabled(b key.Binding) key.Binding {
	b.SetEnabled(true)
	return b
}

// refusal says why a known key does nothing in this cockpit ("" when the key
// is not refused): the control keys without a Control, the suppression view
// without a provider.
func (m Model) refusal(msg tea.KeyMsg) string {
	k := m.keys
	ctlKeys := []key.Binding{enabled(k.Slider), enabled(k.RatioDown), enabled(k.RatioUp), enabled(k.Rollback),
		enabled(k.Baseline), enabled(k.Audit)}
	if m.ctl.c == nil && key.Matches(msg, ctlKeys...) {
		what := msg.String() + " " + ctlKeyName(k, msg) + " refused: "
		if m.ctl.readOnly {
			return what + "read-only viewer (attached with --read-only)"
		}
		return what + "ratio not managed (no [mtactl] in the config)"
	}
	if m.supp.p == nil && key.Matches(msg, enabled(k.Suppression)) {
		return "u (suppressions) refused: no suppression list in this cockpit"
	}
	return ""
}

// ctlKeyName is what a refused control key would have done.
func ctlKeyName(k KeyMap, msg tea.KeyMsg) string {
	switch {
	case key.Matches(msg, enabled(k.Slider)):
		return "(slider)"
	case key.Matches(msg, enabled(k.RatioDown), enabled(k.RatioUp)):
		return "(ratio step)"
	case key.Matches(msg, enabled(k.Rollback)):
		return "(undo)"
	case key.Matches(msg, enabled(k.Baseline)):
		return "(0% new)"
	}
	return "(audit)"
}

// QuitCheck is asked before the cockpit quits on q or ctrl+c; a non-empty
// answer is shown as a y/N question first (the owner: "2 viewers attached").
type QuitCheck func() string

// quitQuestion is why quitting now needs a confirmation, "" when it does not.
func (m Model) quitQuestion() string {
	if m.ctl.mode == ctlApplying {
		return "an apply is running; quit anyway (the MTAs may be left half-reloaded)?"
	}
	if v := m.supp.view; v != nil {
		for _, f := range v.Imports {
			if f.State == ImportRunning {
				return "a suppression import is running; quit and stop it?"
			}
		}
	}
	if m.quitCheck != nil {
		if q := m.quitCheck(); q != "" {
			return q
		}
	}
	return ""
}

// tryQuit quits, or asks first when something would be lost.
func (m Model) tryQuit() (tea.Model, tea.Cmd) {
	if q := m.quitQuestion(); q != "" {
		m.fl.ask = q
		return m, nil
	}
	return m, tea.Quit
}

// askKey answers the quit question: y quits, anything else keeps running.
func (m Model) askKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	m.fl.ask = ""
	if s := msg.String(); s == "y" || s == "Y" {
		return m, tea.Quit
	}
	m.flash("still running")
	return m, nil
}
