package ui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
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
		body = m.detailView(bh)
	case viewSources:
		body = m.scrolled(m.sourceLines, m.sourcesScroll, bh, "loading sources…")
	case viewBounces:
		body = m.scrolled(m.bounces.lines, m.bounces.scroll, bh, "loading bounces…")
	case viewSuppression:
		body = m.scrolled(m.supp.lines, m.supp.scroll, bh, "loading suppression state…")
	case viewDNS:
		body = m.scrolled(m.dnsLines(), m.dns.scroll, bh, "no dns check yet")
	case viewPace:
		body = m.scrolled(m.paceLines(), m.pace.scroll, bh, "")
	case viewPlan:
		body = m.scrolled(m.planLines(), m.plan.scroll, bh, "loading the plan…")
	case viewSourceAudit:
		body = m.scrolled(m.auditViewLines(), m.aud.scroll, bh, "computing the audit…")
	case viewAlerts:
		body = m.scrolled(m.alertLines(), 0, bh, "no alert is firing")
	}
	if m.ctl.mode != ctlOff {
		body = m.ctlBody(bh)
	}
	if m.showHelp {
		body = nil // the overlay is modal: nothing shows around it
	}
	body = m.ownerBody(body, bh)
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
	if m.ascii {
		for i, l := range lines {
			lines[i] = toASCII(l)
		}
	}
	return strings.Join(clip(lines, w, h), "\n")
}

// detailPinned is how many of the detail's first lines stay put while the
// rest scrolls: the provider's name and window, the column heads and the
// OLD and NEW rows, so a scrolled detail still says whose it is.
const detailPinned = 4

func (m Model) detailView(bh int) []string {
	if m.detailLines == nil || len(m.detailLines) <= detailPinned || bh <= detailPinned {
		return m.scrolled(m.detailLines, m.detailScroll, bh, "loading "+Sanitize(m.detailISP, 40)+"…")
	}
	body := append([]string{}, m.detailLines[:detailPinned]...)
	return append(body, m.scrolled(m.detailLines[detailPinned:], m.detailScroll, bh-detailPinned, "")...)
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
	var slider string
	if plan.Unmanaged {
		// Nobody set a ratio: show what the logs say NEW carried.
		step = "ratio: not managed"
		if sh, ok := m.measuredShare(); ok {
			slider = fmt.Sprintf("measured %s OLD %s NEW %s", m.window, ratioBar(100*sh, barW), fmtShare(sh))
		} else {
			slider = "measured " + m.window.String() + ": no attempts"
		}
	} else {
		slider = fmt.Sprintf("OLD %s %s NEW %s", fmtRatio(100-r), ratioBar(r, barW), fmtRatio(r))
	}
	clocks := m.clocks()
	title := m.st.Title.Render(" cutover ") + m.ctlBadge() + m.dnsBadge() + m.alertBadge()
	// The plan segment goes right after the badges while it fits; on a
	// narrow terminal it is dropped before the slider (the P view has it).
	plain := title
	titles := []string{plain}
	if pb := m.planBadge(); pb != "" {
		titles = []string{plain + pb, plain + m.planBadgeShort(), plain}
	}
	build := func(withSteps, withStep bool, clock string) (string, int) {
		left := title + " "
		if withStep || plan.Unmanaged { // "not managed" is never dropped
			left += m.st.Label.Render(step) + "  "
		}
		left += slider
		if withSteps && len(plan.Steps) > 1 {
			left += "  " + m.st.Dim.Render(stepList(plan))
		}
		gap := w - ansi.StringWidth(left) - ansi.StringWidth(clock)
		return left + strings.Repeat(" ", max(gap, 1)) + clock, gap
	}
	// Drop detail until it fits: step list, local seconds, step name, local;
	// then the long plan segment, then the short one.
	for _, t := range titles {
		title = t
		for _, c := range []struct {
			steps, step bool
			clock       string
		}{{true, true, clocks[0]}, {false, true, clocks[0]}, {false, true, clocks[1]}, {false, false, clocks[1]}, {false, false, clocks[2]}} {
			if s, gap := build(c.steps, c.step, c.clock); gap >= 1 {
				return s
			}
		}
	}
	s, _ := build(false, false, clocks[2])
	return s
}

// dataNote says the data is not live: "data until 11-26 19:54Z, 11d01h old".
func (m Model) dataNote() string {
	if m.snap == nil || m.snap.DataUntil.IsZero() {
		return ""
	}
	u := m.snap.DataUntil.UTC()
	return "data until " + u.Format("01-02 15:04") + "Z, " + fmtAgo(m.now.Sub(u)) + " old"
}

// measuredShare is NEW's share of the attempts in the window (false when
// there were none).
func (m Model) measuredShare() (float64, bool) {
	if m.snap == nil {
		return 0, false
	}
	o, n := m.snap.Old.Counts.Attempts(), m.snap.New.Counts.Attempts()
	if o+n == 0 {
		return 0, false
	}
	return float64(n) / float64(o+n), true
}

// newShare is the NEW share in percent the header warnings compare with: the
// plan's ratio, or the measured share when no ratio is managed.
func (m Model) newShare() float64 {
	if m.snap == nil {
		return 0
	}
	if m.snap.Plan.Unmanaged {
		sh, _ := m.measuredShare()
		return 100 * sh
	}
	return m.snap.Plan.RatioNew
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
		pos = linePos(m.detailScroll, max(len(m.detailLines)-detailPinned, 0), max(m.bodyHeight()-detailPinned, 1))
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
	switch {
	case m.filt.typing:
		left = m.st.Label.Render("/"+m.filt.text+"_") + m.st.Dim.Render("  enter keep · esc clear")
	case m.fl.ask != "":
		// The quit question takes the whole line: nothing else matters now.
		return m.st.Warn.Render(Sanitize(m.fl.ask+" y/N", max(w, 1)))
	case m.fl.text != "":
		left = m.st.Warn.Render(Sanitize(m.fl.text, max(leftW, 1)))
	case m.err != nil:
		left = m.st.Error.Render(Sanitize("! "+m.err.Error(), max(leftW-8, 1))) + m.st.Dim.Render("  ? help")
	default:
		hm := m.help
		hm.Width = 0
		if m.filt.text != "" && (m.view == viewCockpit || m.view == viewDetail) {
			left = m.st.Label.Render("/"+m.filt.text) + " "
		}
		left += hm.ShortHelpView(fitKeys(hm, m.shortHelp(), leftW-ansi.StringWidth(left)))
	}
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(pos)
	return left + strings.Repeat(" ", max(gap, 1)) + m.st.Dim.Render(pos)
}

// footKey is one footer entry: a binding with a shorter description, and
// its rank (0 goes last when the line is too narrow for every key).
type footKey struct {
	b    key.Binding
	desc string
	rank int
}

// shortHelp is the current view's keys for the footer, most useful first
// by rank; fitKeys drops the least useful until they fit.
func (m Model) shortHelp() []footKey {
	k := m.keys
	if m.showHelp {
		return []footKey{{k.Down, "scroll", 5}, {k.Back, "close", 9}}
	}
	if m.ctl.mode != ctlOff {
		var out []footKey
		for i, b := range m.ctlShortHelp() {
			out = append(out, footKey{b: b, desc: b.Help().Desc, rank: 10 - i})
		}
		return out
	}
	ctl := []footKey{{k.Slider, "slider", 8}, {k.Rollback, "undo", 8}, {k.Audit, "audit", 6}}
	tail := []footKey{{k.Help, "help", 9}, {k.Quit, "quit", 9}}
	var out []footKey
	switch m.view {
	case viewCockpit:
		out = []footKey{{k.Open, "detail", 7}, {k.Filter, "filter", 4}}
		out = append(out, ctl...)
		out = append(out, footKey{k.Window, "window", 5}, footKey{k.Order, "order", 1},
			footKey{k.Bounces, "bounces", 3}, footKey{k.Suppression, "suppr", 3}, footKey{k.Sources, "sources", 2})
	case viewDetail:
		out = []footKey{{k.Back, "back", 9}, {k.Down, "scroll", 7}, {k.Filter, "filter", 4}, {k.Window, "window", 5}}
		out = append(out, ctl...)
	default:
		out = []footKey{{k.Back, "back", 9}, {k.Down, "scroll", 7}, {k.Window, "window", 5}}
		out = append(out, ctl...)
	}
	return append(out, tail...)
}

// fitKeys keeps the footer keys that fit in w cells, dropping the lowest
// ranks first and keeping the order.
func fitKeys(hm help.Model, keys []footKey, w int) []key.Binding {
	var on []footKey
	for _, f := range keys {
		if f.b.Enabled() {
			on = append(on, f)
		}
	}
	render := func(fs []footKey) []key.Binding {
		out := make([]key.Binding, len(fs))
		for i, f := range fs {
			out[i] = key.NewBinding(key.WithKeys(f.b.Keys()...), key.WithHelp(f.b.Help().Key, f.desc))
		}
		return out
	}
	// Width as ShortHelpView lays it out ("key desc" joined by its
	// separator), counted without rendering: the footer is drawn per frame.
	sepW := ansi.StringWidth(hm.ShortSeparator)
	width := func(fs []footKey) int {
		n := 0
		for i, f := range fs {
			if i > 0 {
				n += sepW
			}
			n += ansi.StringWidth(f.b.Help().Key) + 1 + ansi.StringWidth(f.desc)
		}
		return n
	}
	for len(on) > 0 && width(on) > w {
		low := 0
		for i, f := range on {
			if f.rank <= on[low].rank {
				low = i
			}
		}
		on = append(on[:low], on[low+1:]...)
	}
	return render(on)
}

func linePos(off, n, h int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d-%d/%d", off+1, min(off+h, n), n)
}

// helpBox is the overlay: every key from the KeyMap (bubbles help's full
// form, its groups wrapped into as many rows as the width needs), then what
// the marks and columns mean, with the thresholds in force. Taller than the
// screen, it scrolls (m.helpScroll) and says so in its last line.
func (m Model) helpBox() string {
	cw := max(min(m.width-4, 100), 10) // inside the border and padding
	lines := m.helpLines(cw)
	// One width whatever part shows, so the box does not jump on scroll.
	bw := 0
	for _, l := range lines {
		bw = max(bw, ansi.StringWidth(l))
	}
	avail := max(m.height-2, 3) - 2 // rows inside the border
	if len(lines) > avail {
		vis := max(avail-1, 1)
		off := max(min(m.helpScroll, len(lines)-vis), 0)
		more := fmt.Sprintf("↑/↓ scroll · lines %d-%d of %d · esc close", off+1, off+vis, len(lines))
		lines = append(append([]string{}, lines[off:off+vis]...), m.st.Dim.Render(Sanitize(more, cw)))
	}
	for i, l := range lines {
		lines[i] = l + strings.Repeat(" ", max(bw-ansi.StringWidth(l), 0))
	}
	return m.st.HelpBox.Render(strings.Join(lines, "\n"))
}

// helpLines is the overlay's content, each line at most cw cells.
func (m Model) helpLines(cw int) []string {
	hm := m.help
	hm.ShowAll = true
	var out []string
	var row [][]key.Binding
	flush := func() {
		if len(row) > 0 {
			out = append(out, strings.Split(hm.FullHelpView(row), "\n")...)
			row = nil
		}
	}
	for _, g := range m.keys.FullHelp() {
		try := append(slices.Clone(row), g)
		if len(row) > 0 && lipgloss.Width(hm.FullHelpView(try)) > cw {
			flush()
			out = append(out, "")
			try = [][]key.Binding{g}
		}
		row = try
	}
	flush()
	th := m.th
	legend := []string{
		"OK WARN CRIT  health against thresholds; -- too little traffic",
		fmt.Sprintf("  deferral warn %s crit %s · hard bounce %s / %s · complaint %s / %s",
			pct(th.Deferral.Warn), pct(th.Deferral.Crit), pct(th.HardBounce.Warn), pct(th.HardBounce.Crit),
			pct(th.Complaint.Warn), pct(th.Complaint.Crit)),
		fmt.Sprintf("NEW▲ / ▲  NEW worse than OLD beyond noise (z > %.2f, ≥ %d events)", th.Z, th.WorseMinEvents),
		"rcpt/h  recipients attempted per hour, averaged over the window's data",
		"rates: dlv/def/bnc/hard % of attempts (held excluded), cmpl % of delivered",
	}
	wrap := func(style func(...string) string, s string) {
		for _, l := range strings.Split(ansi.Wrap(s, cw, " "), "\n") {
			out = append(out, style(l))
		}
	}
	out = append([]string{m.st.Label.Render("keys")}, out...)
	out = append(out, "")
	for _, l := range legend {
		wrap(m.st.Dim.Render, l)
	}
	wrap(m.st.Dim.Render, "sparks: OLD "+m.st.SparkOld.Render("⣀⣤⣶⣿")+" NEW "+m.st.SparkNew.Render("▂▄▆█")+
		" oldest→newest, the step still filling left out; volume per step, each side to its own peak; deferral on one shared scale")
	return out
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
