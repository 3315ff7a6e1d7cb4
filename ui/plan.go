package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cutover/model"
	"cutover/state/plan"
)

// PlanReportMarkdown renders a checkpoint report for the customer: the
// verdict, the plan-wide items, each gated provider's items with numbers,
// and every override so far. Text from logs and config is sanitized and
// table cells are escaped.
func PlanReportMarkdown(r *plan.Report, sha string) string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(Sanitize(s, 400), "|", `\|`) }
	fmt.Fprintf(&b, "# Checkpoint report — %s\n\n", cell(r.Plan))
	fmt.Fprintf(&b, "- Verdict: **%s**\n- Step %d/%d at %d %% NEW, plan day %d\n- Window %s: %s → %s\n- Evaluated %s\n",
		r.Verdict, r.Step, r.Steps, r.Ratio, r.Day, r.Window, r.Since.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339), r.At.UTC().Format(time.RFC3339))
	if sha != "" {
		fmt.Fprintf(&b, "- Report sha256 `%s` (sign off this hash: `cutover plan signoff --report %s --by \"Name <email>\"`)\n", sha, sha)
	}
	if r.AcceptWarn {
		b.WriteString("- NEW health is WARN: the signoff must accept it (`--accept-warn`)\n")
	}
	if len(r.Overrides) > 0 {
		b.WriteString("\n## Overrides (gate and signoff bypassed)\n\n")
		for _, o := range r.Overrides {
			fmt.Fprintf(&b, "- %s step %d → %d by %s (mtactl change #%s): %s\n", o.At.UTC().Format(time.RFC3339), o.FromStep, o.Step, cell(o.Who), cell(o.AuditID), cell(o.Reason))
		}
	}
	b.WriteString("\n## Plan-wide items\n\n| item | verdict | numbers |\n|---|---|---|\n")
	for _, it := range r.Common {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", it.Name, it.Verdict, cell(it.Reason))
	}
	for _, pg := range append(append([]plan.ProviderGate(nil), r.Providers...), r.Totals) {
		title := pg.ISP
		if pg.ISP == "all" {
			title = "all providers (totals, for information)"
		}
		fmt.Fprintf(&b, "\n## %s — %s\n\n", cell(title), pg.Verdict)
		fmt.Fprintf(&b, "OLD %s · NEW %s\n\n", tallyLine(pg.Old), tallyLine(pg.New))
		b.WriteString("| item | verdict | numbers |\n|---|---|---|\n")
		for _, it := range pg.Items {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", it.Name, it.Verdict, cell(it.Reason))
		}
	}
	if len(r.Ungated) > 0 {
		fmt.Fprintf(&b, "\nUnder 1 %% of the volume (in the totals only): %s\n", cell(strings.Join(r.Ungated, ", ")))
	}
	if len(r.WarmupDays) > 0 {
		b.WriteString("\nWarm-up day per provider (a day counts when NEW delivered ≥ 90 % of min(wanted, cap)):")
		for _, isp := range sortedISPs(r.WarmupDays) {
			fmt.Fprintf(&b, " %s %d;", cell(isp), r.WarmupDays[isp])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sortedISPs(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tallyLine(t model.Tally) string {
	return fmt.Sprintf("%d attempts: %d delivered, %d deferred, %d bounced (%d hard), %d complaints",
		t.Attempts(), t.Delivered, t.Deferred, t.Bounced, t.HardBounce, t.Complaints)
}

// PlanHeader is the header segment of a plan:
// "step 2/6 15% · day 9 · gate PASS · signoff ✓ · next checkpoint Mon 09:00"
// ("" without a plan), times in loc. ascii swaps ✓/✗ for y/n.
func PlanHeader(st plan.State, now time.Time, loc *time.Location, ascii bool) string {
	if st.Schedule == nil {
		return ""
	}
	gate := "-"
	if st.Gate != nil {
		gate = st.Gate.Verdict
		if st.Gate.Step != st.Step {
			gate += "(old)"
		}
	}
	sign := "✗"
	if st.SignoffState() == "current" && st.Gate.Step == st.Step {
		sign = "✓"
	}
	if ascii {
		sign = map[string]string{"✓": "y", "✗": "n"}[sign]
	}
	s := fmt.Sprintf("step %d/%d %d%% · day %d · gate %s · signoff %s", st.Step, st.Steps(), st.Ratio, st.Day(now), gate, sign)
	if st.Hold != nil {
		s += " · HOLD"
	}
	if next := st.NextCheckpoint(); !next.IsZero() {
		s += " · next checkpoint " + next.In(loc).Format("Mon 15:04")
	}
	return s
}
