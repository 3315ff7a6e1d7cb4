package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"cutover/ui"
)

// JSON renders the report as indented JSON (keys sorted by the struct).
func JSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// cell makes untrusted text safe for a Markdown table cell: terminal
// controls stripped (the report is often read with less or cat), pipes
// and backticks escaped, one line.
func cell(s string, n int) string {
	s = ui.Sanitize(s, n)
	r := strings.NewReplacer("|", `\|`, "`", "'", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "[", `\[`)
	return r.Replace(s)
}

func pctS(f float64) string { return fmt.Sprintf("%.2f %%", f*100) }

func ptS(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%+.2f", *p)
}

func tS(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return "–"
	}
	return t.In(zone).Format("Mon 2006-01-02 15:04")
}

// Markdown renders the report with text charts.
func Markdown(r *Report) []byte {
	zone := zoneOf(r)
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := "Weekly"
	if r.Kind == "daily" {
		title = "Daily"
	}
	p("# %s deliverability report %s\n\n", title, r.Period)
	p("%s – %s (%s). Generated %s.\n\n", r.From.Format("Mon 2006-01-02"), r.To.Add(-time.Second).Format("Mon 2006-01-02"), r.Timezone,
		r.Generated.In(zone).Format("2006-01-02 15:04 MST"))

	p("## 1. Summary\n\n")
	s := r.Summary
	switch {
	case s.Start == "":
		p("Monitoring window: not started.\n\n")
	case s.Day > 0:
		p("Week %d of the cutover, day %d of %d (monitoring since %s).\n\n", s.Week, s.Day, s.Days, s.Start)
	default:
		p("Outside the %d-day monitoring window (start %s).\n\n", s.Days, s.Start)
	}
	p("| side | attempts | delivered | deferral | hard bounce | complaints |\n|---|---:|---:|---:|---:|---:|\n")
	for _, x := range []struct {
		n string
		c Counts
	}{{"OLD", s.Old}, {"NEW", s.New}} {
		p("| %s | %d | %s | %s | %s | %s |\n", x.n, x.c.Attempts, pctS(x.c.DelivRate), pctS(x.c.DeferRate), pctS(x.c.HardRate), pctS(x.c.ComplRate))
	}
	p("\nRatio timeline and overrides:\n\n")
	if len(s.Changes) == 0 {
		p("- no MTA config change this period\n")
	}
	for _, c := range s.Changes {
		p("- %s %s %s → %s by %s (%s)\n", tS(c.At, zone), cell(c.Action, 40), cell(c.From, 60), cell(c.To, 60), cell(c.Who, 60), cell(c.Result, 20))
	}

	p("\n## 2. Providers (OLD | NEW)\n\n")
	p("| provider | side | attempts | delivered | deferred | held | bounced | hard | expired | complaints | delivered %% | deferral %% | hard %% | complaint | health |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, pr := range r.Providers {
		for _, x := range []struct {
			n string
			c Counts
		}{{"OLD", pr.Old}, {"NEW", pr.New}} {
			c := x.c
			p("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n", cell(pr.ISP, 40), x.n, c.Attempts, c.Delivered, c.Deferred,
				c.Held, c.Bounced, c.HardBounced, c.Expired, c.Complaints, pctS(c.DelivRate), pctS(c.DeferRate), pctS(c.HardRate), pctS(c.ComplRate), c.Health)
		}
	}
	p("\nNEW week over week (percentage points), NEW▲ z-scores, days since the last day ≥ 0.30 %% complaints:\n\n")
	p("| provider | delivered pt | deferral pt | hard pt | complaint pt | NEW▲ | z defer | z hard | z compl | days since ≥ 0.30 %% |\n")
	p("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	for _, pr := range r.Providers {
		since := "none in 90 d"
		if pr.DaysSinceCrit >= 0 {
			since = fmt.Sprint(pr.DaysSinceCrit)
		}
		worse := strings.Join(pr.NewWorse, ", ")
		if worse == "" {
			worse = "–"
		}
		p("| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n", cell(pr.ISP, 40), ptS(pr.DelivPt), ptS(pr.DeferPt), ptS(pr.HardPt), ptS(pr.ComplPt),
			worse, pr.ZDefer, pr.ZHard, pr.ZCompl, since)
	}

	p("\n## 3. Bounce trends\n\n")
	if len(r.Bounces.Classes) == 0 {
		p("No failures this period.\n")
	} else {
		p("| provider | side | class | this period | previous |\n|---|---|---|---:|---:|\n")
		for _, c := range r.Bounces.Classes {
			p("| %s | %s | %s | %d | %d |\n", cell(c.ISP, 40), c.Side, c.Kind, c.Count, c.Previous)
		}
		p("\nTop reply signatures:\n\n| # | side | provider | class | count | sample |\n|---:|---|---|---|---:|---|\n")
		for i, t := range r.Bounces.Top {
			p("| %d | %s | %s | %s | %d | %s |\n", i+1, t.Side, cell(t.ISP, 40), t.Kind, t.Count, cell(t.Sample, 120))
		}
	}

	p("\n## 4. Complaint rates (NEW, per day; lines at 0.10 %% and 0.30 %%)\n\n")
	if len(r.Complaints) == 0 {
		p("No NEW deliveries this period.\n")
	}
	for _, c := range r.Complaints {
		p("%s: %s over the period, %d day(s) ≥ 0.30 %%\n\n```\n", cell(c.ISP, 40), pctS(c.Rate), c.Over)
		b.WriteString(textChart(r.Days, c.Daily))
		p("```\n\n")
	}

	p("## 5. Blocklists and SNDS\n\n")
	if len(r.Blocklists.DNSBL) == 0 {
		p("No DNSBL check stored (cutover dns check with [dns] new_ips and dnsbl_zones).\n")
	} else {
		p("Checked %s.\n\n| NEW IP | zone | status | meaning |\n|---|---|---|---|\n", tS(r.Blocklists.Checked, zone))
		for _, l := range r.Blocklists.DNSBL {
			p("| %s | %s | %s | %s |\n", cell(l.IP, 40), cell(l.Zone, 60), cell(l.Status, 20), cell(l.Meaning, 80))
		}
	}
	if len(r.Blocklists.SNDS) == 0 {
		p("\nSNDS: no data imported for this period.\n")
	} else {
		p("\n| SNDS IP | day | filter | complaint rate | trap hits | blocked |\n|---|---|---|---|---:|---|\n")
		for _, x := range r.Blocklists.SNDS {
			p("| %s | %s | %s | %s | %d | %v |\n", cell(x.IP, 40), x.Date, cell(x.Filter, 10), cell(x.ComplaintRate, 20), x.TrapHits, x.Blocked)
		}
	}

	p("\n## 6. Authentication\n\n")
	p("Latest dns check: %s (%s).\n", r.Auth.State, tS(r.Auth.Checked, zone))
	for _, f := range r.Auth.Findings {
		p("- %s %s %s: %s\n", f.Severity, cell(f.Check, 10), cell(f.Name, 80), cell(f.Message, 160))
	}
	if len(r.Auth.Postmaster) == 0 {
		p("\nPostmaster Tools: not imported for this period.\n")
	} else {
		p("\n| Postmaster domain | day | spam rate | reputation | ratios / compliance |\n|---|---|---:|---|---|\n")
		for _, x := range r.Auth.Postmaster {
			spam := "–"
			if x.SpamRate != nil {
				spam = pctS(*x.SpamRate)
			}
			p("| %s | %s | %s | %s | %s |\n", cell(x.Domain, 60), x.Date, spam, cell(x.Reputation, 10), cell(kv(x.Ratios, x.Compliance), 300))
		}
	}

	p("\n## 7. Alerts\n\n")
	a := r.Alerts
	p("%d fired, %d acked, SLA met %d, missed %d, pending %d; %d still open.\n\n", a.Fired, a.Acked, a.Met, a.Missed, a.Pending, a.Open)
	if len(a.List) > 0 {
		p("| id | severity | rule | provider | fired | acked by | time to ack | SLA | state |\n|---:|---|---|---|---|---|---|---|---|\n")
		for _, x := range a.List {
			by, tta := x.AckedBy, x.TimeToAck
			if by == "" {
				by, tta = "–", "–"
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.ID, x.Severity, cell(x.Rule, 40), cell(x.ISP, 40), tS(x.FiredAt, zone), cell(by, 40), tta, x.SLA, x.State)
		}
	}

	p("\n## 8. Pacing\n\n")
	switch {
	case !r.Pacing.Configured:
		p("Pacing not configured.\n")
	case len(r.Pacing.Overlays) == 0:
		p("No pacing overlay this period.\n")
	default:
		p("| overlay | rule | provider | state | from | to | duration | trigger |\n|---|---|---|---|---|---|---|---|\n")
		for _, o := range r.Pacing.Overlays {
			p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(o.ID, 20), cell(o.Rule, 40), cell(o.ISP, 40), cell(o.State, 20), tS(o.Created, zone), tS(o.Ended, zone), o.Duration, cell(o.Trigger, 120))
		}
	}

	p("\n## 9. Anomalies\n\n")
	if len(r.Anomalies) == 0 {
		p("None (NEW daily rates within 3 σ of their trailing 28-day mean; volumes at least half of last week's).\n")
	}
	for _, x := range r.Anomalies {
		p("- %s %s %s: %s\n", x.Day, cell(x.ISP, 40), x.Metric, x.Note)
	}

	p("\n## 10. Suppression\n\n")
	sp := r.Suppression
	p("%d event(s) added this period; log chain: %s; last verify: %s.\n", sp.Total, cell(sp.Chain, 200), sp.Verify)
	if len(sp.Events) > 0 {
		p("\n| type | source | events |\n|---|---|---:|\n")
		for _, e := range sp.Events {
			p("| %s | %s | %d |\n", cell(e.Type, 20), cell(e.Source, 80), e.Count)
		}
	}
	return b.Bytes()
}

func zoneOf(r *Report) *time.Location {
	if loc, err := time.LoadLocation(r.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

func kv(ratios map[string]float64, comp map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(ratios) {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, ratios[k]))
	}
	for _, k := range sortedKeys(comp) {
		parts = append(parts, k+" "+comp[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// chartWidth is the bar length of the text chart at its scale's top.
const chartWidth = 40

// textChart draws one row per day: a bar of the rate, with the 0.10 %
// line as ':' and the 0.30 % line as '|' (scale: 0.50 % or the peak).
func textChart(days []time.Time, vals []float64) string {
	top := 0.005
	for _, v := range vals {
		top = math.Max(top, v)
	}
	pos := func(v float64) int { return int(math.Round(v / top * chartWidth)) }
	warn, crit := pos(0.001), pos(0.003)
	var b strings.Builder
	for i, d := range days {
		v := -1.0
		if i < len(vals) {
			v = vals[i]
		}
		row := []rune(strings.Repeat(" ", chartWidth+1))
		n := 0
		if v > 0 {
			n = pos(v)
		}
		for j := 0; j < n && j <= chartWidth; j++ {
			row[j] = '#'
		}
		if row[warn] == ' ' {
			row[warn] = ':'
		}
		if row[crit] == ' ' {
			row[crit] = '|'
		}
		label := "  no mail"
		if v >= 0 {
			label = fmt.Sprintf("%7.3f %%", v*100)
		}
		fmt.Fprintf(&b, "%s %s %s\n", d.Format("Mon 01-02"), label, strings.TrimRight(string(row), " "))
	}
	return b.String()
}
