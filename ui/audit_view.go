package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"cutover/model"
)

// The source-state audit view (key A; "a" is mtactl's change log): per
// provider its share, daily mean, p95 and peak hour, weekly trend arrows,
// reputation baseline and the throttle NEW gets at the current plan step and
// the next one, each naming what capped it; enter shows the provider's
// hour-of-week heat map (digits 0-9 = decile, shaded where colour is on) and
// its weekly rates.

// AuditSource computes the audit report (the cockpit's owner reads its own
// database); it may take a moment, so the view calls it off the UI loop.
type AuditSource func() (*model.AuditReport, error)

type auditViewState struct {
	src     AuditSource
	rep     *model.AuditReport
	err     error
	loading bool
	sel     int
	detail  bool
	scroll  int
	// cur and next are the applied ratio and the next plan step, read with
	// the report (-1: no Control).
	cur, next int
}

type auditLoaded struct {
	rep       *model.AuditReport
	err       error
	cur, next int
}

func (m Model) openSourceAudit() (tea.Model, tea.Cmd) {
	m.view, m.aud.scroll, m.aud.detail = viewSourceAudit, 0, false
	if m.aud.rep == nil && !m.aud.loading {
		return m.loadAudit()
	}
	return m, nil
}

func (m Model) loadAudit() (tea.Model, tea.Cmd) {
	m.aud.loading = true
	src, ctl := m.aud.src, m.ctl.c
	return m, func() tea.Msg {
		r, err := src()
		msg := auditLoaded{rep: r, err: err, cur: -1, next: -1}
		if ctl != nil {
			if d, err := ctl.Current(); err == nil {
				msg.cur, msg.next = d.RatioNew, ctl.Steps().Next(d.RatioNew)
			}
		}
		return msg
	}
}

func (m Model) auditViewKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	n := 0
	if m.aud.rep != nil {
		n = len(m.aud.rep.Providers)
	}
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, k.SourceAudit):
		if m.aud.detail && !key.Matches(msg, k.SourceAudit) {
			m.aud.detail, m.aud.scroll = false, 0
			return m, nil
		}
		m.view = viewCockpit
		return m, nil
	case key.Matches(msg, k.Refresh) && !m.aud.loading:
		return m.loadAudit()
	case key.Matches(msg, k.Open) && n > 0:
		m.aud.detail, m.aud.scroll = true, 0
		return m, nil
	case !m.aud.detail && key.Matches(msg, k.Up):
		m.aud.sel = max(m.aud.sel-1, 0)
		return m, nil
	case !m.aud.detail && key.Matches(msg, k.Down):
		m.aud.sel = min(m.aud.sel+1, max(n-1, 0))
		return m, nil
	}
	m.aud.scroll = m.scroll(msg, m.aud.scroll, len(m.auditViewLines()), m.bodyHeight())
	return m, nil
}

// arrow is a trend flag as one character (ASCII under a C locale).
func (m Model) arrow(t model.Trend) string {
	a := map[string][2]string{model.TrendRising: {"↑", "^"}, model.TrendFalling: {"↓", "v"}, model.TrendFlat: {"→", "-"}}[t.Flag]
	if a[0] == "" {
		return "·"
	}
	if m.ascii {
		return a[1]
	}
	return a[0]
}

// auditPolicy is the policy the report's recommendation used, to compute
// the throttle at a ratio the report's steps may not hold (the slider's).
func auditPolicy(r *model.AuditReport) model.ThrottlePolicy {
	rc := r.Recommend
	return model.ThrottlePolicy{Margin: rc.Margin, NewIPs: rc.NewIPs, WarmupDay: rc.WarmupDay, Warm: rc.WarmupDay == 0, Basis: rc.Basis}
}

// repFor is the reputation word of a provider: Google from Postmaster,
// Microsoft from SNDS (the newest row of each subject).
func repFor(r *model.AuditReport, isp string) string {
	var kinds []string
	switch isp {
	case "google":
		kinds = []string{model.RepPostmaster, model.RepPostmasterV2}
	case "microsoft":
		kinds = []string{model.RepSNDS, model.RepSNDSStatus}
	default:
		return ""
	}
	var last model.ReputationRecord
	bad := 0
	for _, rec := range r.Reputation.Records {
		for _, k := range kinds {
			if rec.Kind == k {
				if rec.Date >= last.Date {
					last = rec
				}
				if rec.Bad(model.Thresholds{}) {
					bad++
				}
			}
		}
	}
	switch {
	case last.Kind == "":
		return ""
	case last.HasSpam:
		return fmt.Sprintf("spam %.2f%% %d!", last.SpamRate*100, bad)
	case last.Filter != "":
		return fmt.Sprintf("%s %d!", last.Filter, bad)
	case last.DomainReputation != "":
		return fmt.Sprintf("%s %d!", last.DomainReputation, bad)
	}
	return fmt.Sprintf("%d!", bad)
}

func (m Model) auditViewLines() []string {
	w := max(m.width-2, 20)
	switch {
	case m.aud.rep == nil && m.aud.err != nil:
		return []string{" " + m.st.Error.Render(Sanitize("! audit: "+m.aud.err.Error(), w))}
	case m.aud.rep == nil:
		return []string{" " + m.st.Dim.Render("computing the audit…")}
	}
	r := m.aud.rep
	rc := r.Recommend
	out := []string{" " + m.st.Label.Render("source audit") + m.st.Dim.Render(fmt.Sprintf("  %s – %s · %s attempts · basis %s · warm-up day %d · %d new IPs",
		r.Window.Since.Format("01-02 15:04"), r.Window.Until.Format("01-02 15:04"), thousands(r.Attempts), rc.Basis, rc.WarmupDay, rc.NewIPs))}
	if m.aud.err != nil {
		out = append(out, " "+m.st.Error.Render(Sanitize("! refresh failed: "+m.aud.err.Error(), w)))
	}
	if len(r.Providers) == 0 {
		return append(out, " "+m.st.Dim.Render("no history: backfill OLD logs or `cutover audit import`"))
	}
	m.aud.sel = min(m.aud.sel, len(r.Providers)-1)
	if m.aud.detail {
		return append(out, m.auditDetailLines(r.Providers[m.aud.sel])...)
	}
	cur, next := m.aud.cur, m.aud.next
	// Under 130 columns the daily mean and reputation columns give way to
	// the throttles, which are what the consultant acts on.
	wide := w >= 130
	hdr := fmt.Sprintf("  %-10s %6s %7s %-15s %-11s ", "provider", "share", "p95/h", "peak", "trend")
	sub := fmt.Sprintf("  %-10s %6s %7s %-15s %-11s", "", "", "", "", "dl df hb cp")
	if wide {
		hdr = fmt.Sprintf("  %-10s %6s %9s %7s %-15s %-11s %-14s ", "provider", "share", "daily", "p95/h", "peak", "trend", "reputation")
		sub = fmt.Sprintf("  %-10s %6s %9s %7s %-15s %-11s", "", "", "", "", "", "dl df hb cp")
	}
	out = append(out, m.st.Label.Render(Sanitize(hdr+"throttle now → next step (capped by)", w)), m.st.Dim.Render(Sanitize(sub, w)))
	pol := auditPolicy(r)
	for i, p := range r.Providers {
		peak := "day data"
		p95 := "n/a"
		if !p.DayOnly {
			peak = fmt.Sprintf("%s %s", thousands(p.Peak), p.PeakWhen)
			p95 = thousands(p.P95)
		}
		tr := fmt.Sprintf("%s  %s  %s  %s", m.arrow(p.Trend["delivered"]), m.arrow(p.Trend["deferral"]), m.arrow(p.Trend["hard_bounce"]), m.arrow(p.Trend["complaint"]))
		thr := ""
		if cur >= 0 {
			a, b := pol.Explain(p.ISP, p.Basis, cur), pol.Explain(p.ISP, p.Basis, next)
			thr = fmt.Sprintf("%d%% %s/h %s → %d%% %s/h %s", cur, thousands(uint64(a.PerHour)), a.PerHourBy, next, thousands(uint64(b.PerHour)), b.PerHourBy)
		} else if len(rc.Steps) > 0 {
			s := p.PerStep[strconv.Itoa(rc.Steps[0])]
			thr = fmt.Sprintf("%d%%: %s/h %s", s.Step, thousands(uint64(s.PerHour)), s.PerHourBy)
		}
		var line string
		if wide {
			line = fmt.Sprintf("%-10s %5.2f%% %9s %7s %-15s %-11s %-14s %s", Sanitize(p.ISP, 10), p.Share*100, thousands(uint64(p.DailyMean+0.5)), p95, peak, tr,
				Sanitize(repFor(r, p.ISP), 14), thr)
		} else {
			line = fmt.Sprintf("%-10s %5.2f%% %7s %-15s %-11s %s", Sanitize(p.ISP, 10), p.Share*100, p95, peak, tr, thr)
		}
		line = Sanitize(line, w-2)
		if i == m.aud.sel {
			out = append(out, " "+m.st.Selected.Render("▸")+line)
		} else {
			out = append(out, "  "+line)
		}
	}
	if len(r.Gaps) > 0 {
		out = append(out, "", " "+m.st.Warn.Render(Sanitize(fmt.Sprintf("%d days without data: %s", len(r.Gaps), strings.Join(r.Gaps, ", ")), w)))
	}
	for _, p := range r.Providers {
		for _, pl := range p.Pools {
			if pl.Flagged {
				out = append(out, " "+m.st.Warn.Render(Sanitize(fmt.Sprintf("%s %s %s: deferral %.1f%% ≥ 2× the provider's", p.ISP, pl.Dim, pl.Value, pl.DeferralRate*100), w)))
			}
		}
	}
	return append(out, "", " "+m.st.Dim.Render("enter heat map and weeks · r recompute · esc back"))
}

// auditDetailLines is one provider's hour-of-week heat map and weeks.
func (m Model) auditDetailLines(p model.AuditProvider) []string {
	w := max(m.width-2, 20)
	out := []string{"", " " + m.st.Label.Render(Sanitize(p.ISP, 30)) + m.st.Dim.Render(fmt.Sprintf("  share %.2f%% · p50 %s · p95 %s · peak %s at %s",
		p.Share*100, thousands(p.P50), thousands(p.P95), thousands(p.Peak), p.PeakWhen))}
	if p.DayOnly {
		out = append(out, " "+m.st.Dim.Render("day-resolution data only: no hour-of-week table"))
	} else {
		out = append(out, "", " "+m.st.Label.Render("hour of week (UTC), decile of the busiest hour"))
		var hdr strings.Builder
		hdr.WriteString("      ")
		for h := 0; h < 24; h++ {
			if h%3 == 0 {
				fmt.Fprintf(&hdr, "%-3d", h)
			}
		}
		out = append(out, m.st.Dim.Render(hdr.String()))
		d := model.Deciles(p.HourOfWeek)
		colour := m.r != nil && m.r.ColorProfile() != termenv.Ascii
		for day := 0; day < 7; day++ {
			var b strings.Builder
			b.WriteString("  " + model.HourOfWeekLabel(day * 24)[:3] + " ")
			for h := 0; h < 24; h++ {
				v := d[day*24+h]
				cell := strconv.Itoa(v)
				if colour {
					// 232-255 is the grey ramp: brighter = busier.
					cell = m.r.NewStyle().Background(lipglossColor(232 + v*2)).Render(cell)
				}
				b.WriteString(cell)
			}
			out = append(out, b.String())
		}
	}
	out = append(out, "", " "+m.st.Label.Render("weeks")+m.st.Dim.Render("  attempts, deferral, hard bounce, complaint"))
	for _, wk := range p.Weekly {
		skip := ""
		if wk.Skipped {
			skip = " (small sample, not in the trend)"
		}
		out = append(out, "  "+Sanitize(fmt.Sprintf("%s %12s  %6.2f%%  %6.2f%%  %6.3f%%%s", wk.Week.Format("2006-01-02"), thousands(wk.Attempts),
			wk.DeferralRate*100, wk.HardRate*100, wk.ComplaintRate*100, skip), w-2))
	}
	out = append(out, "", " "+m.st.Label.Render("trends")+m.st.Dim.Render("  least squares over full weeks"))
	for _, k := range model.TrendMetrics {
		t := p.Trend[k]
		out = append(out, "  "+Sanitize(fmt.Sprintf("%-12s %s %s", k, m.arrow(t), trendCell(t)), w-2))
	}
	return append(out, "", " "+m.st.Dim.Render("esc back to the providers"))
}

func lipglossColor(n int) lipgloss.Color { return lipgloss.Color(strconv.Itoa(n)) }
