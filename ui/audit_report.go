package ui

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// The source-state audit as a document for the customer: Markdown (the
// golden-tested form) and a self-contained HTML page (inline style, no
// external URL). Both render model.AuditReport, nothing else.

// mdCell makes untrusted text (ESP provider names, pool values, reputation
// subjects) safe inside a Markdown table cell: no control sequences, no
// pipes, no line breaks.
func mdCell(s string) string {
	s = Sanitize(s, 200)
	return strings.NewReplacer("|", `\|`, "`", "'", "<", "&lt;", ">", "&gt;").Replace(s)
}

func auditPct(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + " %" }

func pt1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func signed(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	if f > 0 {
		s = "+" + s
	}
	return s
}

// thousands prints 2900000 as 2,900,000.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func stepCell(sr model.StepRecommendation) string {
	return fmt.Sprintf("%s/h (%s) conn %d msg/conn %d", thousands(uint64(sr.PerHour)), sr.PerHourBy, sr.Connections, sr.PerConnection)
}

func trendCell(t model.Trend) string {
	if t.Flag == model.TrendNone {
		return "n/a"
	}
	return fmt.Sprintf("%s %s→%s %% (%s pt/wk)", t.Flag, pt1(t.First), pt1(t.Last), signed(t.SlopePtPerWeek))
}

// AuditMarkdown writes the report as Markdown; now is the "generated" stamp
// (a fixed --now makes the output byte-identical run to run).
func AuditMarkdown(w io.Writer, r model.AuditReport, now time.Time) error {
	var b strings.Builder
	const ts = "2006-01-02 15:04 UTC"
	fmt.Fprintf(&b, "# Source-state audit\n\n")
	fmt.Fprintf(&b, "Generated %s. Window %s – %s (%d hours). Attempts %s.\n\n", now.UTC().Format(ts),
		r.Window.Since.Format(ts), r.Window.Until.Format(ts), r.Window.Hours, thousands(r.Attempts))
	src := make([]string, 0, len(r.Sources))
	for _, s := range r.Sources {
		src = append(src, mdCell(s))
	}
	fmt.Fprintf(&b, "Sources: %s.\n\n", strings.Join(append(src, "")[:max(len(src), 1)], ", "))

	b.WriteString("## Providers\n\n")
	b.WriteString("| provider | share | attempts | daily mean | p50 hour | p95 hour | peak hour | peak at |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range r.Providers {
		if p.DayOnly {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | n/a | n/a | n/a | day data only |\n", mdCell(p.ISP), auditPct(p.Share), thousands(p.Attempts), thousands(uint64(math.Round(p.DailyMean))))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s (%s) |\n", mdCell(p.ISP), auditPct(p.Share), thousands(p.Attempts), thousands(uint64(math.Round(p.DailyMean))),
			thousands(p.P50), thousands(p.P95), thousands(p.Peak), p.PeakWhen, p.PeakAt.Format(ts))
	}

	rc := r.Recommend
	day := "warm IPs"
	if rc.WarmupDay > 0 {
		day = fmt.Sprintf("warm-up day %d", rc.WarmupDay)
	}
	fmt.Fprintf(&b, "\n## Recommended NEW throttles\n\nBasis %s hour × step × margin %s, capped by the warm-up (%d new IPs, %s) and the provider ceilings; each rate names what capped it.\n\n",
		rc.Basis, strconv.FormatFloat(rc.Margin, 'f', -1, 64), rc.NewIPs, day)
	b.WriteString("| provider | basis/h |")
	for _, s := range rc.Steps {
		fmt.Fprintf(&b, " %d %% |", s)
	}
	b.WriteString("\n|---|---:|" + strings.Repeat("---|", len(rc.Steps)) + "\n")
	for _, p := range r.Providers {
		fmt.Fprintf(&b, "| %s | %s |", mdCell(p.ISP), thousands(uint64(p.Basis)))
		for _, s := range rc.Steps {
			fmt.Fprintf(&b, " %s |", stepCell(p.PerStep[strconv.Itoa(s)]))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Weekly trends\n\nRates per attempt (complaints per delivered), least-squares slope over full weeks; rising/falling needs last ≥ 1.5 × first and half the warn level.\n\n")
	b.WriteString("| provider | delivered | deferral | hard bounce | complaint |\n|---|---|---|---|---|\n")
	for _, p := range r.Providers {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(p.ISP), trendCell(p.Trend["delivered"]), trendCell(p.Trend["deferral"]),
			trendCell(p.Trend["hard_bounce"]), trendCell(p.Trend["complaint"]))
	}
	b.WriteString("\n| provider | week | attempts | deferral | hard bounce | complaint |\n|---|---|---:|---:|---:|---:|\n")
	for _, p := range r.Providers {
		for _, wk := range p.Weekly {
			skip := ""
			if wk.Skipped {
				skip = " (skipped: small sample)"
			}
			fmt.Fprintf(&b, "| %s | %s%s | %s | %s | %s | %s |\n", mdCell(p.ISP), wk.Week.Format(time.DateOnly), skip, thousands(wk.Attempts),
				auditPct(wk.DeferralRate), auditPct(wk.HardRate), auditPct(wk.ComplaintRate))
		}
	}

	b.WriteString("\n## Hour of week\n\nAttempts per hour of the week (UTC) as deciles of the provider's busiest cell: 0 = under 10 %, 9 = 90 % or more.\n")
	for _, p := range r.Providers {
		if p.DayOnly {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n\n```\n", mdCell(p.ISP))
		b.WriteString(heatRows(p.HourOfWeek))
		b.WriteString("```\n")
	}

	b.WriteString("\n## IP pools\n\n")
	n := 0
	for _, p := range r.Providers {
		for _, pl := range p.Pools {
			if n == 0 {
				b.WriteString("| provider | dimension | value | attempts | share | deferral | flag |\n|---|---|---|---:|---:|---:|---|\n")
			}
			n++
			flag := ""
			if pl.Flagged {
				flag = "≥ 2× provider rate"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdCell(p.ISP), mdCell(pl.Dim), mdCell(pl.Value), thousands(pl.Attempts), auditPct(pl.Share), auditPct(pl.DeferralRate), flag)
		}
	}
	if n == 0 {
		b.WriteString("No source IP, VMTA or pool recorded.\n")
	}

	b.WriteString("\n## Reputation baseline\n\n")
	if len(r.Reputation.Records) == 0 {
		b.WriteString("Nothing imported (`cutover reputation import`).\n")
	} else {
		fmt.Fprintf(&b, "%d rows, %d warning signs.\n\n| source | subject | date | reading | warning |\n|---|---|---|---|---|\n", len(r.Reputation.Records), r.Reputation.Bad)
		for _, rec := range r.Reputation.Records {
			bad := ""
			if rec.Bad(model.Thresholds{}) {
				bad = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", rec.Kind, mdCell(rec.Subject), rec.Date, mdCell(rec.Summary()), bad)
		}
	}
	if len(r.Suppression) > 0 {
		b.WriteString("\n## Suppression\n\n")
		for _, k := range slices.Sorted(maps.Keys(r.Suppression)) {
			fmt.Fprintf(&b, "- %s: %s\n", mdCell(k), thousands(r.Suppression[k]))
		}
	}
	if len(r.Unknown) > 0 {
		b.WriteString("\n## Unknown provider names (counted as other)\n\n")
		for _, k := range slices.Sorted(maps.Keys(r.Unknown)) {
			fmt.Fprintf(&b, "- %s (%d rows)\n", mdCell(k), r.Unknown[k])
		}
	}
	b.WriteString("\n## Data gaps\n\n")
	if len(r.Gaps) == 0 {
		b.WriteString("None: every day of the window has data.\n")
	} else {
		fmt.Fprintf(&b, "%d days without data: %s.\n", len(r.Gaps), strings.Join(r.Gaps, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// heatRows is the 7×24 table as digits, one row per weekday.
func heatRows(t [model.HoursPerWeek]uint64) string {
	d := model.Deciles(t)
	var b strings.Builder
	b.WriteString("    ")
	for h := 0; h < 24; h++ {
		fmt.Fprintf(&b, "%02d", h)
		if h < 23 {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\n")
	for day := 0; day < 7; day++ {
		b.WriteString(model.HourOfWeekLabel(day * 24)[:3] + " ")
		for h := 0; h < 24; h++ {
			fmt.Fprintf(&b, " %d", d[day*24+h])
			if h < 23 {
				b.WriteByte(' ')
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

var auditHTML = template.Must(template.New("audit").Funcs(template.FuncMap{
	"pct": auditPct, "pt1": pt1, "n": func(v uint64) string { return thousands(v) }, "ni": func(v int) string { return thousands(uint64(max(v, 0))) },
	"trend": trendCell, "step": func(p model.AuditProvider, s int) string { return stepCell(p.PerStep[strconv.Itoa(s)]) },
	"ts": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"deciles": func(t [model.HoursPerWeek]uint64) [][]int {
		d := model.Deciles(t)
		out := make([][]int, 7)
		for i := range out {
			out[i] = d[i*24 : (i+1)*24]
		}
		return out
	},
	"day": func(i int) string { return model.HourOfWeekLabel(i * 24)[:3] },
	"shade": func(v int) template.CSS {
		return template.CSS(fmt.Sprintf("background:rgba(200,60,20,%.1f)", float64(v)/10+0.05))
	},
	"bad": func(r model.ReputationRecord) bool { return r.Bad(model.Thresholds{}) },
	"hours": func() []int {
		h := make([]int, 24)
		for i := range h {
			h[i] = i
		}
		return h
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Source-state audit</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}
td:first-child,th:first-child{text-align:left}
.heat td{width:1.4em;text-align:center;font-size:.8em}
.bad{color:#b00;font-weight:bold}
</style></head><body>
<h1>Source-state audit</h1>
<p>Generated {{ts .Now}}. Window {{ts .R.Window.Since}} – {{ts .R.Window.Until}} ({{.R.Window.Hours}} hours). Attempts {{n .R.Attempts}}. Sources: {{range $i, $s := .R.Sources}}{{if $i}}, {{end}}{{$s}}{{end}}.</p>
<h2>Providers</h2>
<table><tr><th>provider</th><th>share</th><th>attempts</th><th>daily mean</th><th>p50 hour</th><th>p95 hour</th><th>peak hour</th><th>peak at</th></tr>
{{range .R.Providers}}<tr><td>{{.ISP}}</td><td>{{pct .Share}}</td><td>{{n .Attempts}}</td><td>{{pt1 .DailyMean}}</td>{{if .DayOnly}}<td colspan="4">day data only</td>{{else}}<td>{{n .P50}}</td><td>{{n .P95}}</td><td>{{n .Peak}}</td><td>{{.PeakWhen}} ({{ts .PeakAt}})</td>{{end}}</tr>
{{end}}</table>
<h2>Recommended NEW throttles</h2>
<p>Basis {{.R.Recommend.Basis}} hour × step × margin {{.R.Recommend.Margin}}, {{.R.Recommend.NewIPs}} new IPs, warm-up day {{.R.Recommend.WarmupDay}} (0 = warm).</p>
<table><tr><th>provider</th><th>basis/h</th>{{range .R.Recommend.Steps}}<th>{{.}} %</th>{{end}}</tr>
{{range $p := .R.Providers}}<tr><td>{{$p.ISP}}</td><td>{{ni $p.Basis}}</td>{{range $.R.Recommend.Steps}}<td>{{step $p .}}</td>{{end}}</tr>
{{end}}</table>
<h2>Weekly trends</h2>
<table><tr><th>provider</th><th>delivered</th><th>deferral</th><th>hard bounce</th><th>complaint</th></tr>
{{range .R.Providers}}<tr><td>{{.ISP}}</td><td>{{trend (index .Trend "delivered")}}</td><td>{{trend (index .Trend "deferral")}}</td><td>{{trend (index .Trend "hard_bounce")}}</td><td>{{trend (index .Trend "complaint")}}</td></tr>
{{end}}</table>
<h2>Hour of week (UTC, deciles)</h2>
{{range .R.Providers}}{{if not .DayOnly}}<h3>{{.ISP}}</h3>
<table class="heat"><tr><th></th>{{range hours}}<th>{{.}}</th>{{end}}</tr>
{{range $d, $row := deciles .HourOfWeek}}<tr><th>{{day $d}}</th>{{range $row}}<td style="{{shade .}}">{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}{{end}}
<h2>IP pools</h2>
<table><tr><th>provider</th><th>dimension</th><th>value</th><th>attempts</th><th>share</th><th>deferral</th><th>flag</th></tr>
{{range $p := .R.Providers}}{{range .Pools}}<tr><td>{{$p.ISP}}</td><td>{{.Dim}}</td><td>{{.Value}}</td><td>{{n .Attempts}}</td><td>{{pct .Share}}</td><td>{{pct .DeferralRate}}</td><td>{{if .Flagged}}<span class="bad">≥ 2× provider rate</span>{{end}}</td></tr>
{{end}}{{end}}</table>
<h2>Reputation baseline</h2>
<table><tr><th>source</th><th>subject</th><th>date</th><th>reading</th></tr>
{{range .R.Reputation.Records}}<tr{{if bad .}} class="bad"{{end}}><td>{{.Kind}}</td><td>{{.Subject}}</td><td>{{.Date}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>
<h2>Data gaps</h2>
<p>{{if .R.Gaps}}{{range $i, $g := .R.Gaps}}{{if $i}}, {{end}}{{$g}}{{end}}{{else}}None.{{end}}</p>
</body></html>
`))

// AuditHTML writes the report as one self-contained page: inline style, no
// script, no external URL; every value escaped by html/template.
func AuditHTML(w io.Writer, r model.AuditReport, now time.Time) error {
	return auditHTML.Execute(w, struct {
		R   model.AuditReport
		Now time.Time
	}{r, now})
}
