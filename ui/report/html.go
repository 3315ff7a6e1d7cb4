package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/go-analyze/charts"

	"cutover/ui"
)

// HTML renders one self-contained file: inline CSS, inline SVG charts, no
// script, no external reference (the customer may open it offline or from
// a mail attachment).
func HTML(r *Report) ([]byte, error) {
	zone := zoneOf(r)
	svg, err := complaintSVG(r)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"pct": pctS,
		"pt":  ptS,
		"t":   func(t time.Time) string { return tS(t, zone) },
		"s":   func(s string) string { return ui.Sanitize(s, 300) },
		"kv":  kv,
		"spam": func(p *float64) string {
			if p == nil {
				return "–"
			}
			return pctS(*p)
		},
		"since": func(d int) string {
			if d < 0 {
				return "none in 90 d"
			}
			return fmt.Sprint(d)
		},
		"join": func(s []string) string {
			if len(s) == 0 {
				return "–"
			}
			return strings.Join(s, ", ")
		},
		"z":     func(f float64) string { return fmt.Sprintf("%.2f", f) },
		"add1":  func(i int) int { return i + 1 },
		"title": func() string { return strings.ToUpper(r.Kind[:1]) + r.Kind[1:] },
		"last":  func() string { return r.To.Add(-time.Second).Format("Mon 2006-01-02") },
		"gen":   func() string { return r.Generated.In(zone).Format("2006-01-02 15:04 MST") },
	}
	t, err := template.New("r").Funcs(funcs).Parse(htmlTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct {
		R   *Report
		SVG template.HTML
	}{r, template.HTML(svg)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// safeName keeps chart labels to letters, digits and a few marks: the
// chart library writes them into SVG text.
func safeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_. ", c) {
			b.WriteRune(c)
		}
	}
	if b.Len() > 30 {
		return b.String()[:30]
	}
	return b.String()
}

// complaintSVG is section 4's chart: NEW complaint rate (%) per day and
// provider, with the 0.10 % and 0.30 % lines as two flat series.
func complaintSVG(r *Report) (string, error) {
	if len(r.Complaints) == 0 || len(r.Days) == 0 {
		return "", nil
	}
	var values [][]float64
	var names []string
	for _, c := range r.Complaints {
		row := make([]float64, len(r.Days))
		for i := range row {
			if i < len(c.Daily) && c.Daily[i] >= 0 {
				row[i] = c.Daily[i] * 100
			} else {
				row[i] = charts.GetNullValue()
			}
		}
		values = append(values, row)
		names = append(names, safeName(c.ISP))
	}
	flat := func(v float64) []float64 {
		row := make([]float64, len(r.Days))
		for i := range row {
			row[i] = v
		}
		return row
	}
	values = append(values, flat(0.10), flat(0.30))
	names = append(names, "0.10 % line", "0.30 % line")
	var labels []string
	for _, d := range r.Days {
		labels = append(labels, d.Format("Mon 01-02"))
	}
	opt := charts.NewLineChartOptionWithData(values)
	opt.Title.Text = "NEW complaint rate per day (%)"
	opt.XAxis.Labels = labels
	opt.Legend.SeriesNames = names
	opt.Legend.Offset = charts.OffsetRight
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: charts.ChartOutputSVG, Width: 760, Height: 320})
	if err := p.LineChart(opt); err != nil {
		return "", err
	}
	b, err := p.Bytes()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{title}} deliverability report {{.R.Period}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:2px 6px;font-size:90%}
td.n{text-align:right}
.CRIT{background:#f8d0d0}.WARN{background:#fbeec8}.OK{background:#d8f0d8}
</style></head><body>
{{with .R}}<h1>{{title}} deliverability report {{.Period}}</h1>
<p>{{.From.Format "Mon 2006-01-02"}} – {{last}} ({{.Timezone}}). Generated {{gen}}.</p>
<h2>1. Summary</h2>
{{with .Summary}}{{if eq .Start ""}}<p>Monitoring window: not started.</p>{{else if gt .Day 0}}<p>Week {{.Week}} of the cutover, day {{.Day}} of {{.Days}} (monitoring since {{.Start}}).</p>{{else}}<p>Outside the {{.Days}}-day monitoring window (start {{.Start}}).</p>{{end}}
<table><tr><th>side</th><th>attempts</th><th>delivered</th><th>deferral</th><th>hard bounce</th><th>complaints</th></tr>
<tr><td>OLD</td><td class="n">{{.Old.Attempts}}</td><td class="n">{{pct .Old.DelivRate}}</td><td class="n">{{pct .Old.DeferRate}}</td><td class="n">{{pct .Old.HardRate}}</td><td class="n">{{pct .Old.ComplRate}}</td></tr>
<tr><td>NEW</td><td class="n">{{.New.Attempts}}</td><td class="n">{{pct .New.DelivRate}}</td><td class="n">{{pct .New.DeferRate}}</td><td class="n">{{pct .New.HardRate}}</td><td class="n">{{pct .New.ComplRate}}</td></tr></table>
<p>Ratio timeline and overrides:</p><ul>{{range .Changes}}<li>{{t .At}} {{s .Action}} {{s .From}} → {{s .To}} by {{s .Who}} ({{s .Result}})</li>{{else}}<li>no MTA config change this period</li>{{end}}</ul>{{end}}
<h2>2. Providers (OLD | NEW)</h2>
<table><tr><th>provider</th><th>side</th><th>attempts</th><th>delivered</th><th>deferred</th><th>held</th><th>bounced</th><th>hard</th><th>expired</th><th>complaints</th><th>delivered %</th><th>deferral %</th><th>hard %</th><th>complaint</th><th>health</th></tr>
{{range .Providers}}<tr><td>{{s .ISP}}</td><td>OLD</td><td class="n">{{.Old.Attempts}}</td><td class="n">{{.Old.Delivered}}</td><td class="n">{{.Old.Deferred}}</td><td class="n">{{.Old.Held}}</td><td class="n">{{.Old.Bounced}}</td><td class="n">{{.Old.HardBounced}}</td><td class="n">{{.Old.Expired}}</td><td class="n">{{.Old.Complaints}}</td><td class="n">{{pct .Old.DelivRate}}</td><td class="n">{{pct .Old.DeferRate}}</td><td class="n">{{pct .Old.HardRate}}</td><td class="n">{{pct .Old.ComplRate}}</td><td class="{{.Old.Health}}">{{.Old.Health}}</td></tr>
<tr><td>{{s .ISP}}</td><td>NEW</td><td class="n">{{.New.Attempts}}</td><td class="n">{{.New.Delivered}}</td><td class="n">{{.New.Deferred}}</td><td class="n">{{.New.Held}}</td><td class="n">{{.New.Bounced}}</td><td class="n">{{.New.HardBounced}}</td><td class="n">{{.New.Expired}}</td><td class="n">{{.New.Complaints}}</td><td class="n">{{pct .New.DelivRate}}</td><td class="n">{{pct .New.DeferRate}}</td><td class="n">{{pct .New.HardRate}}</td><td class="n">{{pct .New.ComplRate}}</td><td class="{{.New.Health}}">{{.New.Health}}</td></tr>
{{end}}</table>
<p>NEW week over week (percentage points), NEW▲ z-scores, days since the last day ≥ 0.30 % complaints:</p>
<table><tr><th>provider</th><th>delivered pt</th><th>deferral pt</th><th>hard pt</th><th>complaint pt</th><th>NEW▲</th><th>z defer</th><th>z hard</th><th>z compl</th><th>days since ≥ 0.30 %</th></tr>
{{range .Providers}}<tr><td>{{s .ISP}}</td><td class="n">{{pt .DelivPt}}</td><td class="n">{{pt .DeferPt}}</td><td class="n">{{pt .HardPt}}</td><td class="n">{{pt .ComplPt}}</td><td>{{join .NewWorse}}</td><td class="n">{{z .ZDefer}}</td><td class="n">{{z .ZHard}}</td><td class="n">{{z .ZCompl}}</td><td class="n">{{since .DaysSinceCrit}}</td></tr>
{{end}}</table>
<h2>3. Bounce trends</h2>
{{if .Bounces.Classes}}<table><tr><th>provider</th><th>side</th><th>class</th><th>this period</th><th>previous</th></tr>
{{range .Bounces.Classes}}<tr><td>{{s .ISP}}</td><td>{{.Side}}</td><td>{{.Kind}}</td><td class="n">{{.Count}}</td><td class="n">{{.Previous}}</td></tr>
{{end}}</table>
<p>Top reply signatures:</p><table><tr><th>#</th><th>side</th><th>provider</th><th>class</th><th>count</th><th>sample</th></tr>
{{range $i, $t := .Bounces.Top}}<tr><td class="n">{{add1 $i}}</td><td>{{$t.Side}}</td><td>{{s $t.ISP}}</td><td>{{$t.Kind}}</td><td class="n">{{$t.Count}}</td><td>{{s $t.Sample}}</td></tr>
{{end}}</table>{{else}}<p>No failures this period.</p>{{end}}
<h2>4. Complaint rates</h2>
{{if .Complaints}}<table><tr><th>provider</th><th>period rate</th><th>days ≥ 0.30 %</th></tr>
{{range .Complaints}}<tr><td>{{s .ISP}}</td><td class="n">{{pct .Rate}}</td><td class="n">{{.Over}}</td></tr>
{{end}}</table>{{else}}<p>No NEW deliveries this period.</p>{{end}}{{end}}
{{.SVG}}
{{with .R}}<h2>5. Blocklists and SNDS</h2>
{{if .Blocklists.DNSBL}}<p>Checked {{t .Blocklists.Checked}}.</p><table><tr><th>NEW IP</th><th>zone</th><th>status</th><th>meaning</th></tr>
{{range .Blocklists.DNSBL}}<tr><td>{{s .IP}}</td><td>{{s .Zone}}</td><td>{{s .Status}}</td><td>{{s .Meaning}}</td></tr>
{{end}}</table>{{else}}<p>No DNSBL check stored.</p>{{end}}
{{if .Blocklists.SNDS}}<table><tr><th>SNDS IP</th><th>day</th><th>filter</th><th>complaint rate</th><th>trap hits</th><th>blocked</th></tr>
{{range .Blocklists.SNDS}}<tr><td>{{s .IP}}</td><td>{{.Date}}</td><td>{{s .Filter}}</td><td>{{s .ComplaintRate}}</td><td class="n">{{.TrapHits}}</td><td>{{.Blocked}}</td></tr>
{{end}}</table>{{else}}<p>SNDS: no data imported for this period.</p>{{end}}
<h2>6. Authentication</h2>
<p>Latest dns check: {{.Auth.State}} ({{t .Auth.Checked}}).</p>
{{if .Auth.Findings}}<ul>{{range .Auth.Findings}}<li>{{.Severity}} {{s .Check}} {{s .Name}}: {{s .Message}}</li>{{end}}</ul>{{end}}
{{if .Auth.Postmaster}}<table><tr><th>Postmaster domain</th><th>day</th><th>spam rate</th><th>reputation</th><th>ratios / compliance</th></tr>
{{range .Auth.Postmaster}}<tr><td>{{s .Domain}}</td><td>{{.Date}}</td><td class="n">{{spam .SpamRate}}</td><td>{{s .Reputation}}</td><td>{{s (kv .Ratios .Compliance)}}</td></tr>
{{end}}</table>{{else}}<p>Postmaster Tools: not imported for this period.</p>{{end}}
<h2>7. Alerts</h2>
{{with .Alerts}}<p>{{.Fired}} fired, {{.Acked}} acked, SLA met {{.Met}}, missed {{.Missed}}, pending {{.Pending}}; {{.Open}} still open.</p>
{{if .List}}<table><tr><th>id</th><th>severity</th><th>rule</th><th>provider</th><th>fired</th><th>acked by</th><th>time to ack</th><th>SLA</th><th>state</th></tr>
{{range .List}}<tr><td class="n">{{.ID}}</td><td>{{.Severity}}</td><td>{{s .Rule}}</td><td>{{s .ISP}}</td><td>{{t .FiredAt}}</td><td>{{if .AckedBy}}{{s .AckedBy}}{{else}}–{{end}}</td><td>{{if .TimeToAck}}{{.TimeToAck}}{{else}}–{{end}}</td><td>{{.SLA}}</td><td>{{.State}}</td></tr>
{{end}}</table>{{end}}{{end}}
<h2>8. Pacing</h2>
{{if not .Pacing.Configured}}<p>Pacing not configured.</p>{{else if not .Pacing.Overlays}}<p>No pacing overlay this period.</p>{{else}}<table><tr><th>overlay</th><th>rule</th><th>provider</th><th>state</th><th>from</th><th>to</th><th>duration</th><th>trigger</th></tr>
{{range .Pacing.Overlays}}<tr><td>{{s .ID}}</td><td>{{s .Rule}}</td><td>{{s .ISP}}</td><td>{{s .State}}</td><td>{{t .Created}}</td><td>{{t .Ended}}</td><td>{{.Duration}}</td><td>{{s .Trigger}}</td></tr>
{{end}}</table>{{end}}
<h2>9. Anomalies</h2>
{{if .Anomalies}}<ul>{{range .Anomalies}}<li>{{.Day}} {{s .ISP}} {{.Metric}}: {{.Note}}</li>{{end}}</ul>{{else}}<p>None (NEW daily rates within 3 σ of their trailing 28-day mean; volumes at least half of last week's).</p>{{end}}
<h2>10. Suppression</h2>
{{with .Suppression}}<p>{{.Total}} event(s) added this period; log chain: {{s .Chain}}; last verify: {{.Verify}}.</p>
{{if .Events}}<table><tr><th>type</th><th>source</th><th>events</th></tr>
{{range .Events}}<tr><td>{{s .Type}}</td><td>{{s .Source}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>{{end}}{{end}}{{end}}
</body></html>
`
