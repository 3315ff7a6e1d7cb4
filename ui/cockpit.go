package ui

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"cutover/model"
)

// pane is one provider (or the ALL totals) with everything View needs,
// computed when data or the size changes so that View only joins strings.
type pane struct {
	name     string // sanitized display name
	isp      string // raw provider name, for Detail
	old, new SideStats
	oldV     model.Verdict
	newV     model.Verdict
	worse    model.Worse
	health   model.Health
	share    float64 // NEW share of attempts, NaN without traffic
	volume   uint64

	drawn          bool   // sparks and rows below match lay
	lay            layout // layout they were drawn for
	oldVol, newVol string
	oldDef, newDef string
	oldRow, newRow string // sideRow output: a frame only adds the titles
}

// layout is the column geometry for the current width and series length.
type layout struct {
	wide   bool // ≥ 110 columns: name column and a response per row
	pre    int  // cells before the side label
	sparkW int  // columns of each spark field (volume, deferral); 0: none
	chart  chartPlan
	points int // complete buckets the sparks draw
	sigW   int // wide: response text column
	paneH  int // lines per provider
}

// numW is the width of the numeric columns: rcpt/h(7) dlv(6) def(6+▲)
// bnc(6) hard(6+▲) cmpl(6+▲), each after one space.
const numW = 8 + 7 + 8 + 7 + 8 + 8

const (
	sparkMin = 8  // a spark field holds at least its heading, "deferral"
	sparkMax = 20 // sparks grow no wider: the response column gets the rest
	sigWant  = 48 // wide: the response column gets this before sparks pass sparkMin
)

// computeLayout: nameW is the longest provider name; the wide layout's name
// column is at least 9 cells ("microsoft") and grows to 20 to show it whole.
func computeLayout(w, points, nameW int) layout {
	// Fixed cells after the prefix: side label, numbers (the last ends in a
	// ▲ slot), a space before the sparks and one between, a space and a
	// 4-cell mark.
	const fixed = 3 + numW + 2 + 5
	if w >= 110 {
		l := layout{wide: true, pre: 3 + min(max(nameW, 9), 20), paneH: 2, points: points}
		rest := w - (l.pre + fixed)
		l.setSparks(min(max((rest-1-sigWant)/2, sparkMin), sparkMax))
		l.sigW = max(rest-2*l.sparkW-1, 0)
		return l
	}
	l := layout{pre: 4, paneH: 3, points: points}
	if room := (w - (l.pre + fixed)) / 2; room >= sparkMin {
		l.setSparks(min(room, sparkMax))
	}
	return l
}

// setSparks plans the sparks in at most w columns: one column per bar, the
// field as wide as the bars (headings and bars start in the same column).
func (l *layout) setSparks(w int) {
	l.chart = planChart(l.points, w, 1, false)
	l.sparkW = max(l.chart.width(), sparkMin)
}

func (m *Model) newPane(name, isp string, o, n SideStats) *pane {
	p := &pane{name: name, isp: isp, old: o, new: n}
	p.oldV = m.th.Judge(o.Counts)
	p.newV = m.th.Judge(n.Counts)
	p.worse = m.th.Compare(o.Counts, n.Counts)
	p.health = model.Worst(p.oldV.Overall, p.newV.Overall)
	ao, an := o.Counts.Attempts(), n.Counts.Attempts()
	p.share = math.NaN()
	if ao+an > 0 {
		p.share = float64(an) / float64(ao+an)
	}
	p.volume = ao + an + o.Counts.Held + n.Counts.Held
	return p
}

// buildPanes derives the panes from a new snapshot, filtered and ordered
// (sortPanes), the selection kept on the same provider.
func (m *Model) buildPanes() {
	s := m.snap
	o, n := s.Old, s.New
	if o.Series == nil && n.Series == nil {
		o.Series, n.Series = sumSeries(s.Providers)
	}
	m.total = m.newPane("ALL", "", o, n)
	m.rateSince = dataStart(s.Since, s.Until, s.Step, o.Series, n.Series)
	panes := make([]*pane, 0, len(s.Providers))
	for _, p := range s.Providers {
		if !m.filt.matches(p.ISP) {
			continue
		}
		panes = append(panes, m.newPane(Sanitize(p.ISP, 40), p.ISP, p.Old, p.New))
	}
	m.sortPanes(panes)
	m.panes = panes
	m.sel = 0
	for i, p := range panes {
		if p.isp == m.selID {
			m.sel = i
			break
		}
	}
	if len(panes) > 0 {
		m.selID = panes[m.sel].isp
	}
}

// sumSeries adds the providers' series point by point (for the totals when
// the Data did not fill them).
func sumSeries(ps []ProviderStats) (o, n []model.Tally) {
	add := func(dst []model.Tally, src []model.Tally) []model.Tally {
		for len(dst) < len(src) {
			dst = append(dst, model.Tally{})
		}
		for i, t := range src {
			dst[i].Add(t)
		}
		return dst
	}
	for _, p := range ps {
		o = add(o, p.Old.Series)
		n = add(n, p.New.Series)
	}
	return o, n
}

// sparkPoints is how many complete buckets of the snapshot's series the
// sparks draw (the one still filling is left out: see completeBuckets).
func (m Model) sparkPoints() int {
	s := m.snap
	if s == nil {
		return 0
	}
	n := max(len(s.Old.Series), len(s.New.Series))
	for _, p := range s.Providers {
		n = max(n, len(p.Old.Series), len(p.New.Series))
	}
	return completeBuckets(n, s.Since, m.snapAt, seriesStep(s.Step, s.Since, s.Until, n))
}

// relayout recomputes what depends on the size: sparks, detail and sources
// lines, scroll bounds.
func (m *Model) relayout() {
	nameW := 0
	for _, p := range m.panes {
		nameW = max(nameW, ansi.StringWidth(p.name))
	}
	m.lay = computeLayout(m.width, m.sparkPoints(), nameW)
	if m.total != nil {
		m.drawSparks(m.total)
	}
	for _, p := range m.panes {
		m.drawSparks(p)
	}
	m.keepVisible()
	bh := m.bodyHeight()
	if m.view == viewDetail && m.detail != nil {
		m.orderBreakdown()
		m.detailLines = m.detailBody(m.width)
		m.detailScroll = max(min(m.detailScroll, len(m.detailLines)-detailPinned-(bh-detailPinned)), 0)
	}
	m.relayoutBounces()
	m.relayoutSuppression()
	if m.view == viewSources {
		m.sourceLines = m.sourcesBody(m.width)
		m.sourcesScroll = max(min(m.sourcesScroll, len(m.sourceLines)-bh), 0)
	}
}

// drawSparks draws a pane's sparks and rows for the current layout: on new
// data or a resize, never per frame.
func (m *Model) drawSparks(p *pane) {
	if p.drawn && p.lay == m.lay {
		return
	}
	p.drawn, p.lay = true, m.lay
	p.oldVol, p.newVol, p.oldDef, p.newDef = "", "", "", ""
	if c, w := m.lay.chart, m.lay.sparkW; w > 0 {
		o, os := group(firstN(p.old.Series, m.lay.points), c)
		n, ns := group(firstN(p.new.Series, m.lay.points), c)
		ov, nv := volumes(o, os), volumes(n, ns)
		// Volume is scaled per side (its shape matters; rcpt/h gives the
		// size); deferral rates share one scale, at least the warn level, so
		// a 0.5 % blip is not drawn as a full bar.
		p.oldVol = padRight(spark(ov, maxOf(ov), c.k, false, sparkDotted), w)
		p.newVol = padRight(spark(nv, maxOf(nv), c.k, false, sparkSolid), w)
		od, nd := rates(o, deferrals), rates(n, deferrals)
		scale := niceCeil(math.Max(m.th.Deferral.Warn, maxOf(od, nd)))
		p.oldDef = padRight(spark(od, scale, c.k, true, sparkDotted), w)
		p.newDef = padRight(spark(nd, scale, c.k, true, sparkSolid), w)
	}
	p.oldRow = m.sideRow(m.lay, model.SideOld, p)
	p.newRow = m.sideRow(m.lay, model.SideNew, p)
}

// padRight pads s (single-width runes) with spaces to w cells.
func padRight(s string, w int) string {
	if n := w - utf8.RuneCountInString(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// visiblePanes is how many whole panes fit under the cockpit's fixed lines.
func (m Model) visiblePanes() int {
	if m.lay.paneH == 0 {
		return 0
	}
	return max(m.bodyHeight()-4, 0) / m.lay.paneH
}

func (m *Model) keepVisible() {
	vis := max(m.visiblePanes(), 1)
	if m.sel < m.top {
		m.top = m.sel
	}
	if m.sel >= m.top+vis {
		m.top = m.sel - vis + 1
	}
	m.top = max(min(m.top, len(m.panes)-vis), 0)
}

// cockpitBody is the cockpit under the top bar: status, column heads, totals
// and as many provider panes as fit.
func (m Model) cockpitBody(h int) []string {
	lines := make([]string, 0, h)
	lines = append(lines, m.statusLine())
	if m.snap == nil {
		return append(lines, m.st.Dim.Render("  loading…"))
	}
	lines = append(lines, m.columnHeads(m.lay))
	lines = append(lines, m.paneLines(m.total, false)...)
	if len(m.panes) == 0 {
		lines = append(lines, m.st.Dim.Render("  no traffic in this window"))
	}
	for i := m.top; i < len(m.panes) && len(lines) < h; i++ {
		lines = append(lines, m.paneLines(m.panes[i], i == m.sel)...)
	}
	return lines
}

// span is what rates (rcpt/h) are averaged over: the window from its first
// bucket with data, so 1.5 h of data in a 24 h window is not divided by 24.
func (m Model) span() time.Duration {
	if m.snap == nil {
		return 0
	}
	since := m.snap.Since
	if m.rateSince.After(since) {
		since = m.rateSince
	}
	return m.snap.Until.Sub(since)
}

// partial says the rates cover only part of the window ("" when all of it).
func (m Model) partial() string {
	if m.snap == nil {
		return ""
	}
	full := m.snap.Until.Sub(m.snap.Since)
	if sp := m.span(); full > 0 && sp < full*9/10 {
		return fmtSpan(sp) + " of data"
	}
	return ""
}

// fmtSpan is a short duration: 30m, 1h30m, 2d04h.
func fmtSpan(d time.Duration) string {
	m := int64(d / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%dm", m)
	case m < 24*60:
		if m%60 == 0 {
			return fmt.Sprintf("%dh", m/60)
		}
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	return fmt.Sprintf("%dd%02dh", m/(24*60), m%(24*60)/60)
}

// dataStart is the start of the first bucket with any count in either
// series (since when none has, or the step is unknown).
func dataStart(since, until time.Time, step time.Duration, series ...[]model.Tally) time.Time {
	n := 0
	for _, s := range series {
		n = max(n, len(s))
	}
	step = seriesStep(step, since, until, n)
	if step <= 0 {
		return since
	}
	first := n
	for _, s := range series {
		for i, t := range s {
			if i >= first {
				break
			}
			if t != (model.Tally{}) {
				first = i
				break
			}
		}
	}
	if first == n {
		return since
	}
	return since.Add(step * time.Duration(first))
}

// columnHeads labels the numeric columns, aligned with paneLines.
func (m Model) columnHeads(l layout) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", l.pre+3))
	for _, c := range []struct {
		s    string
		w    int
		mark bool
	}{{"rcpt/h", 7, false}, {"dlv%", 6, false}, {"def%", 6, true}, {"bnc%", 6, false}, {"hard%", 6, true}, {"cmpl%", 6, true}} {
		b.WriteString(" " + FitRight(c.s, c.w))
		if c.mark {
			b.WriteByte(' ')
		}
	}
	if l.sparkW > 0 {
		b.WriteString(" " + Fit("volume", l.sparkW) + " " + Fit("deferral", l.sparkW))
	}
	b.WriteString(" mark")
	if l.wide && l.sigW > 0 {
		b.WriteString(" top response")
	}
	return m.st.Label.Render(b.String())
}

// paneLines renders one provider: a title line and two rows when narrow, two
// rows with the name in the first column when wide.
func (m Model) paneLines(p *pane, selected bool) []string {
	l := m.lay
	cur := "  "
	name := p.name
	if selected {
		cur = "▸ "
	}
	styledName := func(w int) string {
		t := Fit(name, w)
		if selected {
			return m.st.Selected.Render(t)
		}
		return m.st.Label.Render(t)
	}
	mark := m.st.health(p.health, p.health.String())
	if p.worse.Any() {
		mark += " " + m.st.Worse.Render("NEW▲")
	}
	pace := m.paceMark(p.isp)
	if pace {
		mark += " " + m.st.Warn.Render("PACE")
	}
	if l.wide {
		oldPre := cur + styledName(l.pre-3) + " "
		markW := ansi.StringWidth(p.health.String())
		if p.worse.Any() {
			markW += 5
		}
		if pace {
			markW += 5
		}
		newPre := "  " + mark + strings.Repeat(" ", max(l.pre-2-markW, 0))
		return []string{oldPre + p.oldRow, newPre + p.newRow}
	}
	if p.isp == "" && p.name == "ALL" {
		return []string{m.st.Label.Render("ALL ") + p.oldRow, "    " + p.newRow}
	}
	title := cur + styledName(ansi.StringWidth(name)) + "  " + mark
	if p.worse.Any() {
		title += " " + m.st.Worse.Render(worseList(p.worse))
	}
	if !math.IsNaN(p.share) {
		title += m.st.Dim.Render(fmt.Sprintf("  new %s", fmtShare(p.share)))
	}
	if sig := topLine(p); sig != "" {
		rest := m.width - ansi.StringWidth(title) - 2
		if rest > 8 {
			title += "  " + m.st.Dim.Render(Sanitize(sig, rest))
		}
	}
	pre := strings.Repeat(" ", l.pre)
	return []string{title, pre + p.oldRow, pre + p.newRow}
}

// fmtShare prints NEW's share of a provider's attempts.
func fmtShare(f float64) string {
	if f > 0 && f < 0.001 {
		return "<0.1%"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

func worseList(w model.Worse) string {
	var parts []string
	if w.Deferral {
		parts = append(parts, "def")
	}
	if w.HardBounce {
		parts = append(parts, "hard")
	}
	if w.Complaint {
		parts = append(parts, "cmpl")
	}
	return strings.Join(parts, ",")
}

// topLine is the narrow layout's response: NEW's if it has one (NEW is what
// is being watched), else OLD's.
func topLine(p *pane) string {
	side, r := "NEW", p.new.Top
	if r.Count == 0 {
		side, r = "OLD", p.old.Top
	}
	if r.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s× %s", side, fmtCount(float64(r.Count)), sigLabel(r.Signature, r.Sample))
}

// sideRow is the side label, the numbers, the sparks, the mark and (wide)
// the side's top response.
func (m Model) sideRow(l layout, side model.Side, p *pane) string {
	s, v, label := p.old, p.oldV, m.st.Old.Render("OLD")
	vol, def, sparkSt := p.oldVol, p.oldDef, m.st.SparkOld
	var worse model.Worse
	if side == model.SideNew {
		s, v, label = p.new, p.newV, m.st.New.Render("NEW")
		vol, def, sparkSt = p.newVol, p.newDef, m.st.SparkNew
		worse = p.worse
	}
	t := s.Counts
	a := t.Attempts()
	var b strings.Builder
	b.WriteString(label)
	cell := func(text string, w int, h model.Health) {
		b.WriteByte(' ')
		text = FitRight(text, w)
		switch {
		case strings.HasSuffix(strings.TrimSpace(text), "--"):
			b.WriteString(m.st.Dim.Render(text))
		case h >= model.HealthWarn:
			b.WriteString(m.st.health(h, text))
		default:
			b.WriteString(text)
		}
	}
	marker := func(on bool) {
		if on {
			b.WriteString(m.st.Worse.Render("▲"))
		} else {
			b.WriteByte(' ')
		}
	}
	rate := fmtCount(perHour(a, m.span()))
	if a == 0 {
		rate = "0"
	}
	cell(rate, 7, model.HealthNone)
	cell(fmtPct(t.Delivered, a), 6, model.HealthNone)
	cell(fmtPct(t.Deferred, a), 6, v.Deferral)
	marker(worse.Deferral)
	cell(fmtPct(t.Bounced, a), 6, model.HealthNone)
	cell(fmtPct(t.HardBounce, a), 6, v.HardBounce)
	marker(worse.HardBounce)
	cell(fmtPctFine(t.Complaints, t.Delivered), 6, v.Complaint)
	marker(worse.Complaint)
	if l.sparkW > 0 {
		b.WriteString(" " + sparkSt.Render(vol) + " " + sparkSt.Render(def))
	}
	b.WriteString(" " + m.st.health(v.Overall, Fit(v.Overall.String(), 4)))
	if l.wide && l.sigW > 0 && s.Top.Count > 0 {
		sig := FitRight(fmtCount(float64(s.Top.Count)), 5) + "× " + sigLabel(s.Top.Signature, s.Top.Sample)
		b.WriteString(" " + m.st.Dim.Render(Sanitize(sig, l.sigW)))
	}
	return b.String()
}

// statusLine: window and its range, then by priority the warning (its key
// words first, cut at its end), the sources, the database's warnings and its
// path (cut from the left: the file name matters more than the directory).
// What does not fit is cut, lowest priority first, never the window.
func (m Model) statusLine() string {
	sep := m.st.Dim.Render(" │ ")
	line := m.st.Label.Render(m.window.String())
	if m.snap == nil {
		return line
	}
	line += " " + fmtRange(m.snap.Since, m.snap.Until)
	if n := m.dataNote(); n != "" {
		line += " " + m.st.Warn.Render(n)
	}
	if p := m.partial(); p != "" {
		line += " " + m.st.Dim.Render("("+p+")")
	}
	room := m.width - ansi.StringWidth(line)
	src := m.sourcesSummary(m.snap.Sources)
	srcW := ansi.StringWidth(src)
	if w := m.suppressWarning(m.newShare()); w != "" {
		// The warning gets what the sources leave, but at least its key
		// words; then the sources get the rest, cut.
		ww := max(room-3-3-min(srcW, 20), 32)
		if ww > room-3 {
			ww = room - 3
		}
		if ww > 4 {
			t := Sanitize(w, ww)
			line += sep + m.st.Warn.Render(t)
			room -= 3 + ansi.StringWidth(t)
		}
	}
	if room > 3+8 {
		if srcW > room-3 {
			src = ansi.Truncate(src, room-3, "…")
		}
		line += sep + src
		room = m.width - ansi.StringWidth(line)
	}
	for _, w := range m.snap.Warnings {
		t := Sanitize("! "+w, 60)
		if room < 3+ansi.StringWidth(t) {
			if room >= 3+12 {
				t = Sanitize("! "+w, room-3)
			} else {
				break
			}
		}
		line += sep + m.st.Warn.Render(t)
		room = m.width - ansi.StringWidth(line)
	}
	if m.snap.DBPath != "" {
		if r := room - 3 - 3; r >= 12 {
			line += sep + m.st.Dim.Render("db "+SanitizePath(m.snap.DBPath, r))
		}
	}
	return line
}

// sourcesSummary counts sources by state; stale and unreachable show for how
// long (the longest), rejected lines their total.
func (m Model) sourcesSummary(srcs []SourceView) string {
	if len(srcs) == 0 {
		return m.st.Dim.Render("no sources")
	}
	var n [numSourceStates]int
	var longest [numSourceStates]time.Duration
	var rej int64
	for _, s := range srcs {
		st := s.State
		if int(st) >= len(n) {
			st = SourceUnknown
		}
		n[st]++
		if !s.Since.IsZero() {
			longest[st] = max(longest[st], m.now.Sub(s.Since))
		}
		rej += s.Rejected
	}
	var parts []string
	if n[SourceFollowing] > 0 {
		parts = append(parts, m.st.OK.Render(fmt.Sprintf("%d ok", n[SourceFollowing])))
	}
	if n[SourceStale] > 0 {
		parts = append(parts, m.st.Warn.Render(fmt.Sprintf("%d stale %s", n[SourceStale], fmtAgo(longest[SourceStale]))))
	}
	if n[SourceUnreachable] > 0 {
		parts = append(parts, m.st.Crit.Render(fmt.Sprintf("%d unreach %s", n[SourceUnreachable], fmtAgo(longest[SourceUnreachable]))))
	}
	if n[SourceIdle] > 0 {
		parts = append(parts, m.st.Dim.Render(fmt.Sprintf("%d idle", n[SourceIdle])))
	}
	if n[SourceWaiting] > 0 {
		parts = append(parts, m.st.Dim.Render(fmt.Sprintf("%d waiting", n[SourceWaiting])))
	}
	if n[SourceUnknown] > 0 {
		parts = append(parts, m.st.Dim.Render(fmt.Sprintf("%d unknown", n[SourceUnknown])))
	}
	if rej > 0 {
		parts = append(parts, m.st.Warn.Render(fmt.Sprintf("%s rej", fmtCount(float64(rej)))))
	}
	return "src " + strings.Join(parts, ", ")
}

// fmtRange prints a window's range in UTC, with dates when it spans days.
func fmtRange(since, until time.Time) string {
	since, until = since.UTC(), until.UTC()
	if until.Sub(since) <= 24*time.Hour && since.YearDay() == until.YearDay() {
		return since.Format("15:04") + "–" + until.Format("15:04") + "Z"
	}
	return since.Format("01-02 15:04") + "–" + until.Format("01-02 15:04") + "Z"
}
