package ui

import tea "github.com/charmbracelet/bubbletea"

// cockpitTop is the screen row of the first provider pane: the top bar, the
// status line, the column heads and the two ALL rows come first.
const cockpitTop = 5

// mouse handles bubbletea's mouse events (when the program enables them: off
// with --no-mouse): the wheel scrolls like ↑/↓ in every view, dialog and the
// help; a left click on a provider pane opens its detail.
func (m Model) mouse(msg tea.MouseMsg) (tea.Model, tea.Cmd) {
	if m.fl.ask != "" || m.filt.typing {
		return m, nil // a question or a filter being typed wants the keyboard
	}
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		return m.key(tea.KeyMsg{Type: tea.KeyUp})
	case tea.MouseButtonWheelDown:
		return m.key(tea.KeyMsg{Type: tea.KeyDown})
	case tea.MouseButtonLeft:
		if msg.Action != tea.MouseActionPress || m.view != viewCockpit || m.ctl.mode != ctlOff || m.showHelp ||
			m.snap == nil || m.lay.paneH <= 0 || msg.Y < cockpitTop {
			return m, nil
		}
		i := m.top + (msg.Y-cockpitTop)/m.lay.paneH
		if i >= len(m.panes) || i >= m.top+m.visiblePanes() {
			return m, nil
		}
		m.sel, m.selID = i, m.panes[i].isp
		return m.key(tea.KeyMsg{Type: tea.KeyEnter})
	}
	return m, nil
}
