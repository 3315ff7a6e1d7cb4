package ui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/model"
)

// detailBody renders the provider detail as lines; View scrolls them.
func (m Model) detailBody(w int) []string {
	d := m.detail
	p := m.newPane(Sanitize(d.ISP, 40), d.ISP, d.Old, d.New)
	var out []string

	head := m.st.Selected.Render(" "+p.name+" ") + "  " +
		m.st.Label.Render("window "+m.window.String()+" "+fmtRange(d.Since, d.Until)) +
		m.st.Dim.Render(" · "+fmtStep(d.Step)+" steps") + "  " + m.st.health(p.health, p.health.String())
	if p.worse.Any() {
		head += " " + m.st.Worse.Render("NEW▲ "+worseList(p.worse))
	}
	if !math.IsNaN(p.share) {
		head += m.st.Dim.Render("  new " + fmtShare(p.share))
	}
	out = append(out, head)
	nl := layout{pre: 2}
	out = append(out, m.columnHeads(nl))
	out = append(out, "  "+m.sideRow(nl, model.SideOld, p), "  "+m.sideRow(nl, model.SideNew, p))

	// Time series: one spark per side and metric over the buckets that are
	// complete (the one still filling would read as a drop), each bucket the
	// same whole number of columns, or each bar the same number of buckets.
	n := max(len(d.Old.Series), len(d.New.Series))
	step := seriesStep(d.Step, d.Since, d.Until, n)
	done := completeBuckets(n, d.Since, m.detailAt, step)
	c := planChart(done, max(w-5, 1), w, true)
	o, os := group(firstN(d.Old.Series, done), c)
	nw, ns := group(firstN(d.New.Series, done), c)
	ov, nv := volumes(o, os), volumes(nw, ns)
	chart := func(title, note string, ov, nv []float64, oMax, nMax float64, zero bool) {
		out = append(out, m.st.Label.Render(title)+m.st.Dim.Render(note))
		out = append(out, m.st.Old.Render("OLD")+"  "+m.st.SparkOld.Render(spark(ov, oMax, c.k, zero, sparkDotted)))
		out = append(out, m.st.New.Render("NEW")+"  "+m.st.SparkNew.Render(spark(nv, nMax, c.k, zero, sparkSolid)))
	}
	title := "recipients per " + fmtStep(step)
	if c.g > 1 {
		title += ", mean of " + fmtStep(step*time.Duration(c.g))
	}
	per := "/" + fmtStep(step)
	chart(title, fmt.Sprintf("  peak OLD %s%s · NEW %s%s (own scales)",
		fmtCount(maxOf(ov)), per, fmtCount(maxOf(nv)), per), ov, nv, maxOf(ov), maxOf(nv), false)
	od, nd := rates(o, deferrals), rates(nw, deferrals)
	ds := niceCeil(math.Max(m.th.Deferral.Warn, maxOf(od, nd)))
	chart("deferred %", "  scale 0–"+pct(ds)+" · blank = no attempts", od, nd, ds, ds, true)
	ob, nb := rates(o, bounces), rates(nw, bounces)
	bs := niceCeil(math.Max(m.th.HardBounce.Warn, maxOf(ob, nb)))
	chart("bounced %", "  scale 0–"+pct(bs), ob, nb, bs, bs, true)
	end := d.Since.Add(step * time.Duration(done))
	out = append(out, m.st.Dim.Render(axis(end.Add(-step*time.Duration(c.g*c.cells)), step*time.Duration(c.g), c.cells, c.k, 5)))

	// Response signatures.
	out = append(out, "")
	out = append(out, m.st.Label.Render(FitRight("OLD", 7)+" "+FitRight("NEW", 7)+"  top responses (non-delivered, hourly buckets)"))
	reasons := make([]ReasonRow, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		if m.filt.matches(r.Signature, r.Sample) {
			reasons = append(reasons, r)
		}
	}
	switch {
	case len(d.Reasons) == 0:
		out = append(out, m.st.Dim.Render("  none in this window"))
	case len(reasons) == 0:
		out = append(out, m.st.Dim.Render("  none matching /"+m.filt.text))
	}
	for i, r := range reasons {
		if i == 10 {
			break
		}
		row := FitRight(fmtCount(float64(r.Old)), 7) + " " + FitRight(fmtCount(float64(r.New)), 7) + "  "
		out = append(out, row+Sanitize(sigLabel(r.Signature, r.Sample), max(w-len(row), 1)))
		if r.Sample != "" {
			out = append(out, m.st.Dim.Render(strings.Repeat(" ", 12)+"└ "+Sanitize(r.Sample, max(w-14, 1))))
		}
	}

	// Breakdown by source IP, vmta, transport.
	out = append(out, "")
	out = append(out, m.breakdown(d.Breakdown, w)...)
	return out
}

// breakdown lists each source IP / vmta / transport with its rates, busiest
// first within a dimension.
func (m Model) breakdown(rows []BreakdownRow, w int) []string {
	const dimW = 10
	valW := max(min(w-2-dimW-1-3-numW-5, 40), 8)
	head := "  " + Fit("by", dimW) + Fit("value", valW) + " " + ansi.Strip(m.columnHeads(layout{}))
	out := []string{m.st.Label.Render(head)}
	if len(rows) == 0 {
		return append(out, m.st.Dim.Render("  no source IP, vmta or transport logged"))
	}
	// rows come ordered by orderBreakdown (busiest first, with hysteresis).
	for _, r := range rows {
		p := &pane{}
		side := model.SideOld
		if r.Side == model.SideNew {
			side = model.SideNew
			p.new = SideStats{Counts: r.Counts}
			p.newV = m.th.Judge(r.Counts)
		} else {
			p.old = SideStats{Counts: r.Counts}
			p.oldV = m.th.Judge(r.Counts)
		}
		line := "  " + Fit(Sanitize(r.Dim, dimW-1), dimW) + Fit(Sanitize(r.Value, valW), valW) + " " + m.sideRow(layout{}, side, p)
		out = append(out, line)
	}
	return out
}

// fmtStep prints a series step: 1m, 10m, 1h.
func fmtStep(d time.Duration) string {
	switch {
	case d <= 0:
		return "?"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// axis labels a chart of cells bars, k columns each, that starts at column
// off and at time start, each bar covering cell: a few UTC times at bar
// edges, the chart's end last, with a Z.
func axis(start time.Time, cell time.Duration, cells, k, off int) string {
	width := cells * k
	if width < 12 || cell <= 0 {
		return ""
	}
	end := start.Add(cell * time.Duration(cells))
	layout := "15:04"
	if end.Sub(start) > 24*time.Hour {
		layout = "01-02 15:04"
	}
	buf := []rune(strings.Repeat(" ", width+off))
	put := func(col int, s string) {
		for i, r := range s {
			if col+i >= 0 && col+i < len(buf) {
				buf[col+i] = r
			}
		}
	}
	lw := len(layout)
	ticks := max(min(width/(lw+6), 4), 1)
	for i := 0; i <= ticks; i++ {
		bar := i * cells / ticks
		s := start.Add(cell * time.Duration(bar)).UTC().Format(layout)
		col := off + bar*k - lw/2
		switch i {
		case 0:
			col = off
		case ticks:
			s = end.UTC().Format(layout) + "Z"
			col = off + width - len(s)
		}
		put(col, s)
	}
	return strings.TrimRight(string(buf), " ")
}
