package dnsq

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cutover/model/auth"
)

// Clean makes DNS-supplied text safe for a terminal: valid UTF-8, control
// and format characters (ESC, CR, BEL, C1 such as U+009B, bidi overrides)
// escaped, and cut to max runes.
func Clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= max {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			if r < utf8.RuneSelf {
				fmt.Fprintf(&b, "\\x%02x", r)
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		} else {
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}

// RenderText writes the check report for a terminal, one line per finding
// grouped by check, worst first within a check.
func (r *Report) RenderText(w io.Writer) {
	fmt.Fprintf(w, "dns %s (checked %s)\n", r.State, r.Checked.Format(time.RFC3339))
	if r.Blocked {
		fmt.Fprintln(w, "BLOCKED: NEW ratio must stay at 0: DMARC enforces and NEW's DKIM does not pass aligned")
	}
	for _, c := range Checks {
		var fs auth.Findings
		for _, f := range r.Findings {
			if f.Check == c {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s %s\n", strings.ToUpper(c), StateWord(fs.Worst()))
		for _, f := range fs {
			fmt.Fprintf(w, "  %-7s %s: %s\n", f.Severity, Clean(f.Name, 80), Clean(f.Message, 300))
			if f.Record != "" && f.Severity >= auth.Warn {
				fmt.Fprintf(w, "          record: %s\n", Clean(f.Record, 300))
			}
		}
	}
	for _, s := range r.SPF {
		fmt.Fprintf(w, "spf %s: lookups %d (RFC), %d (strict, as checkdmarc counts), void %d\n", s.Domain, s.RFC, s.Strict, s.Void)
	}
}

// RenderSPF writes `dns spf`: the tree with per-record counts, both totals
// and the per-IP evaluations.
func RenderSPF(w io.Writer, s *auth.SPFReport) {
	fmt.Fprintf(w, "%s  SPF %s\n", s.Domain, StateWord(s.Severity))
	var walk func(n *auth.SPFNode, depth int)
	walk = func(n *auth.SPFNode, depth int) {
		if n == nil {
			return
		}
		pad := strings.Repeat("  ", depth)
		label := n.Name
		if n.Via != "" {
			label = Clean(n.Via, 120)
		}
		rec := n.Record
		if rec == "" {
			rec = "(" + n.Answer + ")"
		}
		fmt.Fprintf(w, "%s%s  [%d]  %s\n", pad, label, n.Lookups, Clean(rec, 400))
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(s.Tree, 1)
	fmt.Fprintf(w, "lookups: %d (RFC), %d (strict, as checkdmarc counts); void lookups: %d\n", s.RFC, s.Strict, s.Void)
	for _, f := range s.Findings {
		if f.Severity != auth.OK {
			fmt.Fprintf(w, "  %-7s %s: %s\n", f.Severity, Clean(f.Name, 80), Clean(f.Message, 300))
		}
	}
	for _, e := range s.Evals {
		fmt.Fprintf(w, "  %-39s %-9s lookups %2d", e.IP, e.Result, e.Lookups)
		if e.Matched != "" {
			fmt.Fprintf(w, "  by %s", Clean(e.Matched, 200))
		} else if e.Reason != "" {
			fmt.Fprintf(w, "  (%s)", Clean(e.Reason, 200))
		}
		fmt.Fprintln(w)
	}
}

// RenderTTL writes `dns ttl`: per record, TTL_old, lowered_at and safe_at.
func RenderTTL(w io.Writer, sts []auth.TTLStatus) {
	fmt.Fprintf(w, "%-34s %-5s %8s %6s  %-20s  %-20s  %s\n", "NAME", "TYPE", "TTL_OLD", "LOW", "LOWERED_AT", "SAFE_AT", "STATE")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	}
	for _, s := range sts {
		fmt.Fprintf(w, "%-34s %-5s %8d %6d  %-20s  %-20s  %s\n", Clean(s.Name, 34), s.Type, s.TTLOld, s.TTLLow, ts(s.LoweredAt), ts(s.SafeAt), s.State)
		for _, f := range s.Findings {
			if f.Severity >= auth.Warn {
				fmt.Fprintf(w, "  %-7s %s\n", f.Severity, Clean(f.Message, 300))
			}
		}
	}
}

// Runner re-checks DNS on a schedule for the owner process (cockpit
// header word, `status`, /metrics) and keeps the latest report.
type Runner struct {
	Client *Client
	Config Config
	Opt    Options
	Every  time.Duration // default 5 min

	mu     sync.Mutex
	latest *Report
	err    error
}

// Run checks at once, then every Every, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rep, err := Check(ctx, r.Client, r.Config, r.Opt)
		if err == nil && r.Opt.DB != nil && !r.Opt.DB.ReadOnly() {
			// status, /metrics and the cockpit read the stored report.
			err = SaveReport(r.Opt.DB, rep)
		}
		r.mu.Lock()
		if err == nil {
			r.latest = rep
		}
		r.err = err
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Latest is the newest report (nil before the first) and the last error.
func (r *Runner) Latest() (*Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest, r.err
}
