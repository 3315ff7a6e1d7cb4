package ui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// AlertItem is one fired alert as the header bar and the ! view show it
// (the owner's model.Alert, flattened; text untrusted).
type AlertItem struct {
	ID       string
	Severity string // warn | crit
	Rule     string
	ISP      string
	Side     string
	State    string // firing | acked
	FiredAt  time.Time
	DueBy    time.Time
	AckedBy  string
	Summary  string
}

// AlertSource is the owner's alerts: the fired ones (firing or acked), and
// the ack the k key sends (recorded as the cockpit's user).
type AlertSource interface {
	Alerts() ([]AlertItem, error)
	Ack(id string) error
}

type alertState struct {
	src AlertSource
	sel int
}

// alertItems reads the source; errors show as no alerts plus a flash-free
// line in the view (the bar must never break the header).
func (m Model) alertItems() ([]AlertItem, error) {
	if m.alerts.src == nil {
		return nil, nil
	}
	return m.alerts.src.Alerts()
}

// alertBadge is the header's alert bar: "ALERTS 1 crit 2 warn due 14:30"
// (nothing while no alert fires). Due is the nearest unacked due time.
func (m Model) alertBadge() string {
	items, err := m.alertItems()
	if err != nil || len(items) == 0 {
		return ""
	}
	var crit, warn int
	var due time.Time
	for _, a := range items {
		if a.Severity == "crit" {
			crit++
		} else {
			warn++
		}
		if a.State == "firing" && !a.DueBy.IsZero() && (due.IsZero() || a.DueBy.Before(due)) {
			due = a.DueBy
		}
	}
	word := fmt.Sprintf("ALERTS %d crit %d warn", crit, warn)
	if !due.IsZero() {
		word += " due " + due.In(m.loc).Format("15:04")
	}
	if crit > 0 {
		return m.st.Crit.Render(word) + " "
	}
	return m.st.Warn.Render(word) + " "
}

func (m Model) openAlerts() (tea.Model, tea.Cmd) {
	m.view, m.alerts.sel = viewAlerts, 0
	return m, nil
}

// alertsKey: k acks the selected alert (in this view k is not "up": the
// arrows move), j/↓ and ↑ select, esc or ! goes back.
func (m Model) alertsKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	items, _ := m.alertItems()
	switch {
	case key.Matches(msg, m.keys.Back, m.keys.Alerts):
		m.view = viewCockpit
		return m, nil
	case key.Matches(msg, m.keys.AlertAck):
		if m.alerts.sel < len(items) {
			a := items[m.alerts.sel]
			if a.State != "firing" {
				m.flash("alert " + Sanitize(a.ID, 20) + " is already acked")
				return m, nil
			}
			if err := m.alerts.src.Ack(a.ID); err != nil {
				m.flash("ack failed: " + Sanitize(err.Error(), 120))
			} else {
				m.flash("alert " + Sanitize(a.ID, 20) + " acked")
			}
		}
		return m, nil
	case msg.String() == "up":
		m.alerts.sel = max(m.alerts.sel-1, 0)
	case key.Matches(msg, m.keys.Down):
		m.alerts.sel = min(m.alerts.sel+1, max(len(items)-1, 0))
	}
	return m, nil
}

// alertLines lists the fired alerts, the selected one marked.
func (m Model) alertLines() []string {
	items, err := m.alertItems()
	w := max(m.width-2, 20)
	out := []string{m.st.Label.Render(" ALERTS  k ack · ↑/↓ select · esc back")}
	if err != nil {
		return append(out, m.st.Error.Render(" ! "+Sanitize(err.Error(), w)))
	}
	if len(items) == 0 {
		return append(out, m.st.Dim.Render(" no alert is firing"))
	}
	now := m.now
	for i, a := range items {
		mark := "  "
		if i == m.alerts.sel {
			mark = "> "
		}
		due := ""
		switch {
		case a.State == "acked":
			due = "acked by " + Sanitize(a.AckedBy, 30)
		case !a.DueBy.IsZero() && !now.After(a.DueBy):
			due = "due in " + a.DueBy.Sub(now).Truncate(time.Minute).String()
		case !a.DueBy.IsZero():
			due = "overdue " + now.Sub(a.DueBy).Truncate(time.Minute).String()
		}
		line := fmt.Sprintf("%s#%s %-4s %-18s %-10s %s  %s", mark, Sanitize(a.ID, 10), a.Severity, Sanitize(a.Rule, 18), Sanitize(a.ISP, 10),
			a.FiredAt.In(m.loc).Format("01-02 15:04"), due)
		st := m.st.Warn
		if a.Severity == "crit" {
			st = m.st.Crit
		}
		out = append(out, st.Render(Sanitize(line, w)), m.st.Dim.Render("    "+Sanitize(a.Summary, w-4)))
	}
	return out
}
