package ui

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"
)

// View renders the current screen. It only joins precomputed strings: data
// is loaded in a tea.Cmd and laid out in Update.
func (m Model) View() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	bh := m.bodyHeight()
	lines := make([]string, 0, h)
	lines = append(lines, m.topBar())
	var body []string
	switch m.view {
	case viewCockpit:
		body = m.cockpitBody(bh)
	case viewDetail:
		body = m.scrolled(m.detailLines, m.detailScroll, bh, "loading "+Sanitize(m.detailISP, 40)+"…")
	case viewSources:
		body = m.scrolled(m.sourceLines, m.sourcesScroll, bh, "loading sources…")
	case viewBounces:
		body = m.scrolled(m.bounces.lines, m.bounces.scroll, bh, "loading bounces…")
	case viewSuppression:
		body = m.scrolled(m.supp.lines, m.supp.scroll, bh, "loading suppression state…")
	}
	if m.ctl.mode != ctlOff {
		body = m.ctlBody(bh)
	}
	if m.showHelp {
		body = nil // the overlay is modal: nothing shows around it
	}
	if len(body) > bh {
		body = body[:bh]
	}
	lines = append(lines, body...)
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	if h >= 2 {
		lines = append(lines, m.footer())
	}
	if m.showHelp {
		lines = m.overlay(lines, m.helpBox())
	}
	return strings.Join(clip(lines, w, h), "\n")
}

func (m Model) scrolled(lines []string, off, h int, empty string) []string {
	if lines == nil {
		return []string{m.st.Dim.Render("  " + empty)}
	}
	off = max(min(off, len(lines)-h), 0)
	return lines[off:min(off+h, len(lines))]
}

// clip keeps every line within the screen, so the terminal never wraps and
// a resize to any size (even 1x1) cannot scroll the alternate screen.
func clip(lines []string, w, h int) []string {
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	return lines
}

// topBar: name, plan step, ratio slider, clocks (UTC and local).
func (m Model) topBar() string {
	w := m.width
	var plan Plan
	if m.snap != nil {
		plan = m.snap.Plan
	}
	r := math.Max(0, math.Min(100, plan.RatioNew))
	step := "no plan"
	if plan.Step >= 0 && plan.Step < len(plan.Steps) {
		step = fmt.Sprintf("step %d/%d %s", plan.Step+1, len(plan.Steps), Sanitize(plan.Steps[plan.Step].Name, 16))
	}
	barW := 10
	if w >= 110 {
		barW = 20
	}
	slider := fmt.Sprintf("OLD %s %s NEW %s", fmtRatio(100-r), ratioBar(r, barW), fmtRatio(r))
	clocks := m.clocks()
	title := m.st.Title.Render(" cutover ") + m.ctlBadge()
	build := func(withSteps, withStep bool, clock string) (string, int) {
		left := title + " "
		if withStep {
			left += m.st.Label.Render(step) + "  "
		}
		left += slider
		if withSteps && len(plan.Steps) > 1 {
			left += "  " + m.st.Dim.Render(stepList(plan))
		}
		gap := w - ansi.StringWidth(left) - ansi.StringWidth(clock)
		return left + strings.Repeat(" ", max(gap, 1)) + clock, gap
	}
	// Drop detail until it fits: step list, local seconds, step name, local.
	for _, c := range []struct {
		steps, step bool
		clock       string
	}{{true, true, clocks[0]}, {false, true, clocks[0]}, {false, true, clocks[1]}, {false, false, clocks[1]}, {false, false, clocks[2]}} {
		if s, gap := build(c.steps, c.step, c.clock); gap >= 1 {
			return s
		}
	}
	s, _ := build(false, false, clocks[2])
	return s
}

// clocks are the header's clocks, widest first: UTC and the local zone, or
// UTC alone when the local zone is UTC (same name, no offset).
func (m Model) clocks() [3]string {
	utc, local := m.now.UTC(), m.now.In(m.loc)
	u := utc.Format("15:04:05")
	if name, off := local.Zone(); off == 0 && name == "UTC" {
		return [3]string{u + " UTC", u + "Z", u + "Z"}
	}
	return [3]string{u + " UTC  " + local.Format("15:04:05 MST"), u + "Z " + local.Format("15:04 MST"), u + "Z"}
}

func fmtRatio(r float64) string {
	if r == math.Trunc(r) {
		return fmt.Sprintf("%.0f%%", r)
	}
	return fmt.Sprintf("%.1f%%", r)
}

// ratioBar shows NEW's share as █ growing from the right over OLD's ░; any
// non-zero share shows at least one cell.
func ratioBar(r float64, w int) string {
	n := int(math.Round(r / 100 * float64(w)))
	if r > 0 && n == 0 {
		n = 1
	}
	if r < 100 && n == w {
		n = w - 1
	}
	return strings.Repeat("░", w-n) + strings.Repeat("█", n)
}

// stepList prints the planned ratios with the current one in brackets.
func stepList(p Plan) string {
	parts := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		parts[i] = fmtRatio(s.RatioNew)
		if i == p.Step {
			parts[i] = "[" + parts[i] + "]"
		}
	}
	return strings.Join(parts, "→")
}

// footer: keys (or the last error) on the left, position on the right.
func (m Model) footer() string {
	w := m.width
	var pos string
	switch m.view {
	case viewCockpit:
		if n := len(m.panes); n > 0 {
			pos = fmt.Sprintf("%d/%d", m.sel+1, n)
		}
	case viewDetail:
		pos = linePos(m.detailScroll, len(m.detailLines), m.bodyHeight())
	case viewSources:
		pos = linePos(m.sourcesScroll, len(m.sourceLines), m.bodyHeight())
	case viewBounces:
		pos = linePos(m.bounces.scroll, len(m.bounces.lines), m.bodyHeight())
	case viewSuppression:
		pos = linePos(m.supp.scroll, len(m.supp.lines), m.bodyHeight())
	}
	if m.loading {
		pos = "⟳ " + pos
	}
	leftW := max(w-ansi.StringWidth(pos)-1, 0)
	var left string
	if m.err != nil {
		left = m.st.Error.Render(Sanitize("! "+m.err.Error(), max(leftW-8, 1))) + m.st.Dim.Render("  ? help")
	} else {
		hm := m.help
		hm.Width = leftW
		left = hm.ShortHelpView(m.shortHelp())
	}
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(pos)
	return left + strings.Repeat(" ", max(gap, 1)) + m.st.Dim.Render(pos)
}

func (m Model) shortHelp() []key.Binding {
	k := m.keys
	if m.ctl.mode != ctlOff {
		return m.ctlShortHelp()
	}
	switch m.view {
	case viewDetail, viewSources, viewBounces, viewSuppression:
		return []key.Binding{k.Down, k.Back, k.Window, k.Sources, k.Help, k.Quit}
	}
	return k.ShortHelp()
}

func linePos(off, n, h int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d-%d/%d", off+1, min(off+h, n), n)
}

// helpBox is the overlay: every key from the KeyMap, then what the marks and
// columns mean, with the thresholds in force.
func (m Model) helpBox() string {
	hm := m.help
	hm.ShowAll = true
	th := m.th
	legend := []string{
		"OK WARN CRIT  health against thresholds; -- too little traffic",
		fmt.Sprintf("  deferral warn %s crit %s · hard bounce %s / %s · complaint %s / %s",
			pct(th.Deferral.Warn), pct(th.Deferral.Crit), pct(th.HardBounce.Warn), pct(th.HardBounce.Crit),
			pct(th.Complaint.Warn), pct(th.Complaint.Crit)),
		fmt.Sprintf("NEW▲ / ▲  NEW worse than OLD beyond noise (z > %.2f, ≥ %d events)", th.Z, th.WorseMinEvents),
		"rates: dlv/def/bnc/hard per attempt (held excluded), cmpl per delivered",
	}
	sparks := m.st.Dim.Render("sparks: OLD ") + m.st.SparkOld.Render("⣀⣤⣶⣿") + m.st.Dim.Render(" NEW ") +
		m.st.SparkNew.Render("▂▄▆█") + m.st.Dim.Render(" oldest→newest, the step still filling left out;") + "\n" +
		m.st.Dim.Render("  volume per step, each side to its own peak; deferral on one shared scale")
	body := m.st.Label.Render("keys") + "\n" + hm.FullHelpView(m.keys.FullHelp()) + "\n\n" +
		m.st.Dim.Render(strings.Join(legend, "\n")) + "\n" + sparks
	return m.st.HelpBox.Render(body)
}

func pct(f float64) string {
	s := fmt.Sprintf("%.2f", 100*f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// overlay draws box centred on the body (the rows between the top bar and
// the footer), or on the whole screen when it is taller than the body. The
// body has been cleared: nothing of the view under it shows at its sides.
func (m Model) overlay(lines []string, box string) []string {
	fg := strings.Split(box, "\n")
	bw := 0
	for _, l := range fg {
		bw = max(bw, ansi.StringWidth(l))
	}
	x := max((m.width-bw)/2, 0)
	y := max((m.height-len(fg))/2, 0)
	if bh := m.bodyHeight(); len(fg) <= bh {
		y = 1 + (bh-len(fg))/2
	}
	pad := strings.Repeat(" ", x)
	for i, l := range fg {
		if row := y + i; row < len(lines) {
			lines[row] = pad + l
		}
	}
	return lines
}
