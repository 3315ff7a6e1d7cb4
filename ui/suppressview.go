package ui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// suppressEvery is how often the cockpit rereads the suppression state for
// the header warning while the suppression view is not open (it opens the
// log's index read-only: cheap, but not worth every refresh tick).
const suppressEvery = 10 * time.Second

// suppressState is the suppression view's and the header warning's state
// inside Model.
type suppressState struct {
	p      SuppressionProvider // nil: no view, no warning
	view   *SuppressionView
	err    error     // the last SuppressionInfo error (shown, not fatal)
	at     time.Time // wall time of the last load
	lines  []string
	scroll int
}

// suppressionOf is d's SuppressionProvider: StateData's optional
// Suppression field, or d itself when it implements the interface (an
// attached viewer's attach.Client asks the owner).
func suppressionOf(d Data) SuppressionProvider {
	if sd, ok := d.(*StateData); ok {
		return sd.Suppression
	}
	p, _ := d.(SuppressionProvider)
	return p
}

// initSuppression enables the key when there is a provider.
func (m *Model) initSuppression(d Data) {
	m.supp.p = suppressionOf(d)
	m.keys.Suppression.SetEnabled(m.supp.p != nil && m.keys.Suppression.Enabled())
}

// suppressLoad is the load command's part for the suppression state: nil
// when there is nothing to load this time.
func (m *Model) suppressLoad() func() (*SuppressionView, error) {
	p := m.supp.p
	if p == nil {
		return nil
	}
	if m.view != viewSuppression && !m.supp.at.IsZero() && time.Since(m.supp.at) < suppressEvery {
		return nil
	}
	m.supp.at = time.Now()
	return p.SuppressionInfo
}

// applySuppression takes a load's result.
func (m *Model) applySuppression(v *SuppressionView, err error, loaded bool) {
	if !loaded {
		return
	}
	m.supp.err = err
	if err == nil {
		m.supp.view = v
	}
	m.relayoutSuppression()
}

// openSuppression switches to the suppression view (or back) and loads it.
func (m Model) openSuppression() (tea.Model, tea.Cmd) {
	if m.view == viewSuppression {
		m.view = viewCockpit
		return m, nil
	}
	m.view, m.supp.scroll = viewSuppression, 0
	m.relayoutSuppression()
	return m, m.requestLoad()
}

// suppressionKey handles keys while the suppression view is open.
func (m Model) suppressionKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Back) {
		m.view = viewCockpit
		return m, nil
	}
	m.supp.scroll = m.scroll(msg, m.supp.scroll, len(m.supp.lines), m.bodyHeight())
	return m, nil
}

// relayoutSuppression renders the view's lines for the current width (on
// new data or a resize, never per frame).
func (m *Model) relayoutSuppression() {
	if m.view != viewSuppression || (m.supp.view == nil && m.supp.err == nil) {
		return
	}
	var out []string
	if m.supp.err != nil {
		out = append(out, m.st.Error.Render("! "+Sanitize(m.supp.err.Error(), max(m.width-2, 1))))
	}
	if m.supp.view != nil {
		text := strings.TrimRight(RenderSuppression(m.supp.view, m.width), "\n")
		out = append(out, strings.Split(text, "\n")...)
	}
	m.supp.lines = out
	m.supp.scroll = max(min(m.supp.scroll, len(out)-m.bodyHeight()), 0)
}

// suppressWarning is the header's warning (plain text, sanitized; "" for
// none): NEW carries traffic and the suppression list is not verified on
// it, or is stale, or its state could not be read.
func (m Model) suppressWarning(ratioNew float64) string {
	if m.supp.p == nil || ratioNew <= 0 {
		return ""
	}
	if m.supp.view == nil && m.supp.err != nil {
		return "! suppression state unreadable while NEW carries traffic: " + Sanitize(m.supp.err.Error(), 80)
	}
	if w := m.supp.view.HeaderWarning(ratioNew); w != "" {
		return "! " + Sanitize(w, 200)
	}
	return ""
}
