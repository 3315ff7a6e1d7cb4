package ui

import (
	"fmt"
	"math"
	"slices"
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

	// Time series: one full-width spark per side and metric.
	cw := max(w-5, 1)
	o, n := resample(d.Old.Series, cw), resample(d.New.Series, cw)
	ov, nv := volumes(o), volumes(n)
	chart := func(title, note string, ov, nv []float64, oMax, nMax float64, zero bool) {
		out = append(out, m.st.Label.Render(title)+m.st.Dim.Render(note))
		out = append(out, m.st.Old.Render("OLD")+"  "+m.st.Spark.Render(spark(stretch(ov, cw), oMax, cw, zero)))
		out = append(out, m.st.New.Render("NEW")+"  "+m.st.Spark.Render(spark(stretch(nv, cw), nMax, cw, zero)))
	}
	stepName := fmtStep(d.Step)
	if len(o) > 0 && len(o) < len(d.Old.Series) {
		stepName = fmtStep(d.Step * time.Duration(math.Ceil(float64(len(d.Old.Series))/float64(len(o)))))
	}
	chart("recipients per "+stepName, fmt.Sprintf("  peak OLD %s · NEW %s (each side to its own scale)",
		fmtCount(maxOf(ov)), fmtCount(maxOf(nv))), ov, nv, maxOf(ov), maxOf(nv), false)
	od, nd := rates(o, deferrals), rates(n, deferrals)
	ds := niceCeil(math.Max(m.th.Deferral.Warn, maxOf(od, nd)))
	chart("deferred %", "  scale 0–"+pct(ds)+" · blank = no attempts", od, nd, ds, ds, true)
	ob, nb := rates(o, bounces), rates(n, bounces)
	bs := niceCeil(math.Max(m.th.HardBounce.Warn, maxOf(ob, nb)))
	chart("bounced %", "  scale 0–"+pct(bs), ob, nb, bs, bs, true)
	out = append(out, m.st.Dim.Render(axis(d.Since, d.Until, cw, 5)))

	// Response signatures.
	out = append(out, "")
	out = append(out, m.st.Label.Render(FitRight("OLD", 7)+" "+FitRight("NEW", 7)+"  top responses (non-delivered, hourly buckets)"))
	if len(d.Reasons) == 0 {
		out = append(out, m.st.Dim.Render("  none in this window"))
	}
	for i, r := range d.Reasons {
		if i == 10 {
			break
		}
		row := FitRight(fmtCount(float64(r.Old)), 7) + " " + FitRight(fmtCount(float64(r.New)), 7) + "  "
		out = append(out, row+Sanitize(r.Signature, max(w-len(row), 1)))
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
	dims := map[string]int{"ip": 0, "vmta": 1, "transport": 2}
	rank := func(d string) int {
		if r, ok := dims[d]; ok {
			return r
		}
		return 3
	}
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b BreakdownRow) int {
		if ra, rb := rank(a.Dim), rank(b.Dim); ra != rb {
			return ra - rb
		}
		if a.Dim != b.Dim {
			return strings.Compare(a.Dim, b.Dim)
		}
		aa, ba := a.Counts.Attempts(), b.Counts.Attempts()
		if aa != ba {
			if aa > ba {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
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

// axis labels a chart of width cells starting at column off with a few UTC
// times.
func axis(since, until time.Time, width, off int) string {
	if width < 12 || !until.After(since) {
		return ""
	}
	layout := "15:04"
	if until.Sub(since) > 24*time.Hour {
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
		col := i * (width - 1) / ticks
		t := since.Add(time.Duration(float64(until.Sub(since)) * float64(col) / float64(width)))
		s := t.UTC().Format(layout)
		start := off + col - lw/2
		if i == 0 {
			start = off
		}
		if i == ticks {
			s = until.UTC().Format(layout) + "Z"
			start = off + width - len(s)
		}
		put(start, s)
	}
	return strings.TrimRight(string(buf), " ")
}
