package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Pacing in the cockpit (wave2 §7.3): a PACE mark on a provider's pane
// while a pacing overlay is live or suggested for it; p lists suggestions
// and overlays; y shows the mtactl diff of the selected suggestion and a
// second y applies it; n dismisses a suggestion for its rule's duration.

// PaceRow is one overlay as the cockpit shows it (texts untrusted: the
// reply sample comes from a remote server).
type PaceRow struct {
	ID, Rule, ISP, State, Class string
	Change, Next, Waiting       string
	Warn, Trigger, Sample       string
}

// PaceView is the pacer's list.
type PaceView struct {
	Mode string
	Rows []PaceRow
}

// PaceSource is the owner's pacer (or, for a viewer, the owner's over its
// socket). Pace is called while rendering: implementations cache it.
type PaceSource interface {
	Pace() (*PaceView, error)
	Preview(id string) (string, error)
	Apply(id string) (string, error)
	Dismiss(id string) error
}

type paceState struct {
	src     PaceSource
	sel     int
	scroll  int
	diff    string // preview of the selected suggestion, awaiting y
	diffID  string
	busy    bool
	message string
}

type paceDoneMsg struct {
	msg string
	err error
}

// paceMark is "PACE" for a provider with a live or suggested overlay.
func (m Model) paceMark(isp string) bool {
	if m.pace.src == nil || isp == "" {
		return false
	}
	v, err := m.pace.src.Pace()
	if err != nil || v == nil {
		return false
	}
	for _, r := range v.Rows {
		if r.ISP == isp && (r.State == "active" || r.State == "queued" || r.State == "suggested") {
			return true
		}
	}
	return false
}

func (m Model) paceRows() []PaceRow {
	if m.pace.src == nil {
		return nil
	}
	v, err := m.pace.src.Pace()
	if err != nil || v == nil {
		return nil
	}
	var out []PaceRow
	for _, r := range v.Rows {
		if r.State != "ended" {
			out = append(out, r)
		}
	}
	return out
}

func (m Model) openPace() (tea.Model, tea.Cmd) {
	m.view, m.pace.sel, m.pace.scroll, m.pace.diff, m.pace.diffID, m.pace.message = viewPace, 0, 0, "", "", ""
	return m, nil
}

func (m Model) paceKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	rows := m.paceRows()
	if m.pace.busy {
		return m, nil
	}
	if m.pace.diff != "" {
		switch msg.String() {
		case "y", "Y":
			id := m.pace.diffID
			m.pace.diff, m.pace.diffID, m.pace.busy, m.pace.message = "", "", true, "applying "+id+"…"
			src := m.pace.src
			return m, func() tea.Msg {
				s, err := src.Apply(id)
				return paceDoneMsg{msg: s, err: err}
			}
		case "n", "N", "esc":
			m.pace.diff, m.pace.diffID, m.pace.message = "", "", "not applied"
		default:
			m.pace.scroll = m.scroll(msg, m.pace.scroll, len(m.paceLines()), m.bodyHeight())
		}
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.Back, m.keys.Pace):
		m.view = viewCockpit
		return m, nil
	case key.Matches(msg, m.keys.Up):
		m.pace.sel = max(m.pace.sel-1, 0)
		return m, nil
	case key.Matches(msg, m.keys.Down):
		m.pace.sel = min(m.pace.sel+1, max(len(rows)-1, 0))
		return m, nil
	}
	if m.pace.sel >= len(rows) {
		return m, nil
	}
	r := rows[m.pace.sel]
	switch msg.String() {
	case "y", "Y":
		if r.State != "suggested" && r.State != "queued" {
			m.pace.message = r.ID + " is " + r.State + ": nothing to apply"
			return m, nil
		}
		if m.ctl.readOnly {
			m.pace.message = "y refused: read-only viewer"
			return m, nil
		}
		d, err := m.pace.src.Preview(r.ID)
		if err != nil {
			m.pace.message = "preview failed: " + err.Error()
			return m, nil
		}
		m.pace.diff, m.pace.diffID, m.pace.scroll = d, r.ID, 0
	case "n", "N":
		if r.State != "suggested" {
			m.pace.message = "n dismisses a suggestion; " + r.ID + " is " + r.State + " (cutover pace clear ends it)"
			return m, nil
		}
		if err := m.pace.src.Dismiss(r.ID); err != nil {
			m.pace.message = "dismiss failed: " + err.Error()
		} else {
			m.pace.message = "dismissed " + r.ID + " for the rule's duration"
		}
	}
	return m, nil
}

// paceLines is the p view: the list, or the diff awaiting y.
func (m Model) paceLines() []string {
	w := max(m.width-2, 20)
	var out []string
	if m.pace.message != "" {
		out = append(out, m.st.Warn.Render(" "+Sanitize(m.pace.message, w)))
	}
	if m.pace.diff != "" {
		out = append(out, m.st.Label.Render(" apply "+Sanitize(m.pace.diffID, 60)+"? y apply · n cancel"))
		for _, l := range strings.Split(strings.TrimRight(m.pace.diff, "\n"), "\n") {
			line := " " + Sanitize(l, w)
			switch {
			case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
				line = m.st.OK.Render(line)
			case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
				line = m.st.Crit.Render(line)
			}
			out = append(out, line)
		}
		return out
	}
	mode := "?"
	if v, err := m.pace.src.Pace(); err == nil && v != nil {
		mode = v.Mode
	} else if err != nil {
		out = append(out, m.st.Error.Render(" ! "+Sanitize(err.Error(), w)))
	}
	out = append(out, m.st.Label.Render(fmt.Sprintf(" PACING (mode %s)  ↑↓ select · y apply (diff first) · n dismiss · esc back", mode)))
	rows := m.paceRows()
	if len(rows) == 0 {
		return append(out, m.st.Dim.Render(" no overlays or suggestions: no provider pushes back on NEW"))
	}
	for i, r := range rows {
		cur := "  "
		if i == m.pace.sel {
			cur = "▸ "
		}
		head := fmt.Sprintf("%s%-9s %-10s %-18s %s", cur, Sanitize(r.State, 9), Sanitize(r.ISP, 10), Sanitize(r.Rule, 18), Sanitize(r.Change, w))
		st := m.st.Warn
		if r.Class == "block" {
			st = m.st.Crit
		}
		if i == m.pace.sel {
			head = m.st.Selected.Render(Sanitize(head, w))
		} else {
			head = st.Render(Sanitize(head, w))
		}
		out = append(out, head)
		for _, d := range []struct{ k, v string }{{"next", r.Next}, {"waiting", r.Waiting}, {"trigger", r.Trigger}, {"reply", r.Sample}, {"id", r.ID}} {
			if d.v != "" {
				out = append(out, m.st.Dim.Render("    "+d.k+": "+Sanitize(d.v, w-len(d.k)-6)))
			}
		}
		if r.Warn != "" {
			out = append(out, m.st.Warn.Render("    WARN "+Sanitize(r.Warn, w-9)))
		}
	}
	return out
}
