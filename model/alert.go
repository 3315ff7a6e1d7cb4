package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Severity of an alert rule: warn or crit (wave2 §8.3).
type Severity uint8

const (
	SevNone Severity = iota
	SevWarn
	SevCrit
)

func (s Severity) String() string {
	switch s {
	case SevWarn:
		return "warn"
	case SevCrit:
		return "crit"
	}
	return "info"
}

// ParseSeverity reads "warn" or "crit" ("info" and "" are SevNone, the
// min_severity that lets everything through).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return SevNone, nil
	case "warn", "warning":
		return SevWarn, nil
	case "crit", "critical":
		return SevCrit, nil
	}
	return SevNone, fmt.Errorf("severity %q: want info, warn or crit", clip(s))
}

// Alert metrics: what a rule measures. Rates are fractions; counts are counts.
const (
	MetricComplaint   = "complaint"         // complaints / delivered, NEW
	MetricHardBounce  = "hard_bounce"       // hard bounces / attempts, NEW
	MetricDeferral    = "deferral"          // deferrals / attempts, NEW
	MetricNewWorse    = "new_worse"         // Compare NEW▲ on any metric: value = largest z
	MetricBlock       = "block"             // block-class replies on NEW in the window
	MetricBlocklisted = "blocklisted"       // NEW IPs LISTED on a configured DNSBL
	MetricAuth        = "auth"              // dns check CRIT items
	MetricVolumeDrop  = "volume_drop"       // NEW delivered last hour / same hour last week
	MetricSourceStale = "source_stale"      // minutes a source has been stale
	MetricSuppression = "suppression_drift" // addresses suppress verify found missing
	MetricPostmaster  = "postmaster_spam"   // imported Postmaster spam rate UpperBound
)

// AlertRule is one rule {name, expr, severity, for, repeat, resolve_after}
// (wave2 §8.3); the expression is a metric compared with a threshold over a
// window on at least MinSample of its denominator.
type AlertRule struct {
	Name     string
	Metric   string
	Severity Severity
	// Threshold: the rule is active at value >= Threshold (volume_drop:
	// value < Threshold, the share of last week's hour).
	Threshold float64
	// Clear is the level below which the condition counts as gone for
	// ResolveAfter: the metric's warn level, so a crit alert does not
	// resolve while the metric still sits at warn (§8.3 "below the warn level").
	Clear     float64
	Window    time.Duration
	MinSample uint64
	// For is how long the condition must hold before the alert fires.
	For          time.Duration
	Repeat       time.Duration
	ResolveAfter time.Duration
	Disabled     bool
}

// Alert rule timing defaults (§8.3; Alertmanager's repeat_interval is 4h).
const (
	DefaultRepeat       = 4 * time.Hour
	DefaultResolveAfter = 30 * time.Minute
)

// DefaultAlertRules are the §8.3 defaults, in the table's order.
func DefaultAlertRules() []AlertRule {
	r := func(name, metric string, sev Severity, thr, clear float64, win time.Duration, min uint64) AlertRule {
		return AlertRule{Name: name, Metric: metric, Severity: sev, Threshold: thr, Clear: clear, Window: win,
			MinSample: min, Repeat: DefaultRepeat, ResolveAfter: DefaultResolveAfter}
	}
	rules := []AlertRule{
		r("complaint-crit", MetricComplaint, SevCrit, 0.003, 0.001, 24*time.Hour, 1000),
		r("complaint-warn", MetricComplaint, SevWarn, 0.001, 0.001, 24*time.Hour, 1000),
		r("hardbounce-crit", MetricHardBounce, SevCrit, 0.05, 0.02, 6*time.Hour, 500),
		r("hardbounce-warn", MetricHardBounce, SevWarn, 0.02, 0.02, 6*time.Hour, 500),
		r("deferral-crit", MetricDeferral, SevCrit, 0.25, 0.10, time.Hour, 200),
		r("deferral-warn", MetricDeferral, SevWarn, 0.10, 0.10, time.Hour, 200),
		r("new-worse", MetricNewWorse, SevWarn, 0, 0, 24*time.Hour, 0),
		r("provider-block", MetricBlock, SevCrit, 10, 10, 15*time.Minute, 0),
		r("blocklisted", MetricBlocklisted, SevCrit, 1, 1, 0, 0),
		r("auth-regression", MetricAuth, SevCrit, 1, 1, 0, 0),
		r("volume-drop", MetricVolumeDrop, SevWarn, 0.5, 0.5, time.Hour, 1000),
		r("source-stale", MetricSourceStale, SevCrit, 15, 15, 0, 0),
		r("suppression-drift", MetricSuppression, SevCrit, 1, 1, 0, 0),
		r("postmaster-spam", MetricPostmaster, SevCrit, 0.003, 0.001, 0, 0),
	}
	rules[4].For, rules[5].For = 15*time.Minute, 15*time.Minute
	return rules
}

// AlertRuleOverride is one [[alert.rule]] of the config: a rule named like a
// default changes the fields given (nil/"" = keep); a new name adds a rule,
// which then needs metric, severity and threshold.
type AlertRuleOverride struct {
	Name         string   `toml:"name"`
	Metric       string   `toml:"metric"`
	Severity     string   `toml:"severity"`
	Threshold    *float64 `toml:"threshold"`
	Clear        *float64 `toml:"clear"`
	Window       string   `toml:"window"`
	MinSample    *uint64  `toml:"min_sample"`
	For          string   `toml:"for"`
	Repeat       string   `toml:"repeat"`
	ResolveAfter string   `toml:"resolve_after"`
	Disabled     *bool    `toml:"disabled"`
}

var alertMetrics = map[string]bool{MetricComplaint: true, MetricHardBounce: true, MetricDeferral: true,
	MetricNewWorse: true, MetricBlock: true, MetricBlocklisted: true, MetricAuth: true, MetricVolumeDrop: true,
	MetricSourceStale: true, MetricSuppression: true, MetricPostmaster: true}

// MergeAlertRules applies overrides by name to the defaults; errors name the
// override's position and field.
func MergeAlertRules(defaults []AlertRule, over []AlertRuleOverride) ([]AlertRule, error) {
	out := append([]AlertRule(nil), defaults...)
	idx := map[string]int{}
	for i, r := range out {
		idx[r.Name] = i
	}
	dur := func(i int, field, s string, dst *time.Duration) error {
		if s == "" {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("[[alert.rule]] #%d %s: %s %q: want a duration like 15m", i+1, clip(over[i].Name), field, clip(s))
		}
		*dst = d
		return nil
	}
	for i, o := range over {
		if strings.TrimSpace(o.Name) == "" {
			return nil, fmt.Errorf("[[alert.rule]] #%d: name is required", i+1)
		}
		j, known := idx[o.Name]
		r := AlertRule{Name: o.Name, Repeat: DefaultRepeat, ResolveAfter: DefaultResolveAfter}
		if known {
			r = out[j]
		}
		if o.Metric != "" {
			if !alertMetrics[o.Metric] {
				return nil, fmt.Errorf("[[alert.rule]] #%d %s: metric %q unknown", i+1, clip(o.Name), clip(o.Metric))
			}
			r.Metric = o.Metric
		}
		if o.Severity != "" {
			s, err := ParseSeverity(o.Severity)
			if err != nil || s == SevNone {
				return nil, fmt.Errorf("[[alert.rule]] #%d %s: severity %q: want warn or crit", i+1, clip(o.Name), clip(o.Severity))
			}
			r.Severity = s
		}
		if o.Threshold != nil {
			if math.IsNaN(*o.Threshold) || *o.Threshold < 0 {
				return nil, fmt.Errorf("[[alert.rule]] #%d %s: threshold must be >= 0", i+1, clip(o.Name))
			}
			r.Threshold = *o.Threshold
			if o.Clear == nil && !known {
				r.Clear = r.Threshold
			}
		}
		if o.Clear != nil {
			r.Clear = *o.Clear
		}
		if o.MinSample != nil {
			r.MinSample = *o.MinSample
		}
		if o.Disabled != nil {
			r.Disabled = *o.Disabled
		}
		for _, f := range []struct {
			name, v string
			dst     *time.Duration
		}{{"window", o.Window, &r.Window}, {"for", o.For, &r.For}, {"repeat", o.Repeat, &r.Repeat}, {"resolve_after", o.ResolveAfter, &r.ResolveAfter}} {
			if err := dur(i, f.name, f.v, f.dst); err != nil {
				return nil, err
			}
		}
		if !known {
			if r.Metric == "" || r.Severity == SevNone || o.Threshold == nil {
				return nil, fmt.Errorf("[[alert.rule]] #%d %s: a new rule needs metric, severity and threshold", i+1, clip(o.Name))
			}
			idx[r.Name] = len(out)
			out = append(out, r)
			continue
		}
		out[j] = r
	}
	return out, nil
}

// SideISP keys a tally by side and provider.
type SideISP struct {
	Side Side
	ISP  string
}

// AlertSnapshot is what one evaluation sees, read from committed state by
// the owner: tallies per rule window, and the facts other features store.
// A nil map or false Known flag means "not available": the rules on it stay
// inactive and say why.
type AlertSnapshot struct {
	Now time.Time
	// Tallies per window length, per side and provider, over [Now-w, Now).
	Tallies map[time.Duration]map[SideISP]Tally
	// Blocks counts NEW block-class replies per provider per window.
	Blocks map[time.Duration]map[string]uint64
	// LastWeek is NEW per provider over [Now-7d-1h, Now-7d).
	LastWeek map[string]Tally
	// Stale sources and since when.
	Stale map[string]time.Time
	// Listed NEW IPs: "ip zone" entries, LISTED only.
	Listed     []string
	DNSBLKnown bool
	// AuthCrit are the dns check CRIT items; AuthKnown: a check is stored.
	AuthCrit  []string
	AuthKnown bool
	// SuppressionMissing from the last suppress verify; SuppressionKnown: one ran.
	SuppressionMissing int
	SuppressionKnown   bool
	// Postmaster spam UpperBound per provider; nil: "not imported".
	Postmaster map[string]float64
}

// Observation is one rule on one instance (provider, side) at one evaluation.
type Observation struct {
	Rule      string
	Severity  Severity
	ISP       string // "" for instance-less rules (auth, suppression)
	Side      Side
	Value     float64
	Threshold float64
	Window    time.Duration
	Active    bool // the condition holds
	Clear     bool // below the clear level: counts toward resolve_after
	Summary   string
}

// InactiveReason says why a rule cannot be evaluated, "" when it can.
func (s AlertSnapshot) InactiveReason(r AlertRule) string {
	switch r.Metric {
	case MetricPostmaster:
		if s.Postmaster == nil {
			return "not imported"
		}
	case MetricBlocklisted:
		if !s.DNSBLKnown {
			return "no DNSBL check stored"
		}
	case MetricAuth:
		if !s.AuthKnown {
			return "no dns check stored"
		}
	case MetricSuppression:
		if !s.SuppressionKnown {
			return "no suppress verify recorded"
		}
	}
	return ""
}

func pct(f float64) string { return fmt.Sprintf("%.2f %%", f*100) }

// EvaluateAlerts runs every enabled rule on the snapshot and returns one
// observation per (rule, provider, side) that has data, sorted by rule, ISP.
// Only instances with traffic or an active condition are returned: a rule
// that has nothing to say about a provider is silent about it.
func EvaluateAlerts(rules []AlertRule, s AlertSnapshot, th Thresholds) []Observation {
	th = th.WithDefaults()
	var out []Observation
	for _, r := range rules {
		if r.Disabled || s.InactiveReason(r) != "" {
			continue
		}
		switch r.Metric {
		case MetricComplaint, MetricHardBounce, MetricDeferral:
			tallies := s.Tallies[r.Window]
			for _, k := range sortedKeys(tallies) {
				if k.Side != SideNew {
					continue
				}
				t := tallies[k]
				var x, n uint64
				switch r.Metric {
				case MetricComplaint:
					x, n = t.Complaints, t.Delivered
				case MetricHardBounce:
					x, n = t.HardBounce, t.Attempts()
				default:
					x, n = t.Deferred, t.Attempts()
				}
				v := ratio(x, n)
				enough := n >= r.MinSample && n > 0
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: k.ISP, Side: SideNew, Value: v,
					Threshold: r.Threshold, Window: r.Window, Active: enough && v >= r.Threshold, Clear: !enough || v < r.Clear,
					Summary: fmt.Sprintf("%s NEW %s %s over %s (%d of %d), threshold %s", k.ISP, strings.ReplaceAll(r.Metric, "_", " "),
						pct(v), fmtDur(r.Window), x, n, pct(r.Threshold))})
			}
		case MetricNewWorse:
			tallies := s.Tallies[r.Window]
			for _, k := range sortedKeys(tallies) {
				if k.Side != SideNew {
					continue
				}
				w := th.Compare(tallies[SideISP{SideOld, k.ISP}], tallies[k])
				z := math.Max(w.ZDeferral, math.Max(w.ZHardBounce, w.ZComplaint))
				var what []string
				if w.Deferral {
					what = append(what, "deferral")
				}
				if w.HardBounce {
					what = append(what, "hard bounce")
				}
				if w.Complaint {
					what = append(what, "complaint")
				}
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: k.ISP, Side: SideNew, Value: z,
					Threshold: th.Z, Window: r.Window, Active: w.Any(), Clear: !w.Any(),
					Summary: fmt.Sprintf("%s NEW worse than OLD (%s) over %s, z %.2f", k.ISP, strings.Join(what, ", "), fmtDur(r.Window), z)})
			}
		case MetricBlock:
			b := s.Blocks[r.Window]
			for _, isp := range sortedStrings(b) {
				v := float64(b[isp])
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: isp, Side: SideNew, Value: v,
					Threshold: r.Threshold, Window: r.Window, Active: v >= r.Threshold, Clear: v < r.Clear,
					Summary: fmt.Sprintf("%s NEW %d block-class replies in %s", isp, b[isp], fmtDur(r.Window))})
			}
		case MetricVolumeDrop:
			now := s.Tallies[r.Window]
			for _, isp := range sortedStrings(s.LastWeek) {
				before := s.LastWeek[isp].Delivered
				cur := now[SideISP{SideNew, isp}].Delivered
				if before == 0 {
					continue
				}
				v := float64(cur) / float64(before)
				enough := before >= r.MinSample
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: isp, Side: SideNew, Value: v,
					Threshold: r.Threshold, Window: r.Window, Active: enough && v < r.Threshold, Clear: !enough || v >= r.Clear,
					Summary: fmt.Sprintf("%s NEW delivered %d in the last hour, %.0f %% of the same hour last week (%d)", isp, cur, v*100, before)})
			}
		case MetricSourceStale:
			names := make([]string, 0, len(s.Stale))
			for n := range s.Stale {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				v := s.Now.Sub(s.Stale[n]).Minutes()
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: n, Value: v, Threshold: r.Threshold,
					Active: v >= r.Threshold, Clear: v < r.Clear,
					Summary: fmt.Sprintf("source %s stale for %.0f min", n, v)})
			}
		case MetricBlocklisted:
			v := float64(len(s.Listed))
			out = append(out, Observation{Rule: r.Name, Severity: r.Severity, Side: SideNew, Value: v, Threshold: r.Threshold,
				Active: v >= r.Threshold, Clear: v < r.Clear, Summary: "NEW IP listed: " + strings.Join(s.Listed, ", ")})
		case MetricAuth:
			v := float64(len(s.AuthCrit))
			out = append(out, Observation{Rule: r.Name, Severity: r.Severity, Value: v, Threshold: r.Threshold,
				Active: v >= r.Threshold, Clear: v < r.Clear, Summary: "dns check CRIT: " + strings.Join(s.AuthCrit, ", ")})
		case MetricSuppression:
			v := float64(s.SuppressionMissing)
			out = append(out, Observation{Rule: r.Name, Severity: r.Severity, Value: v, Threshold: r.Threshold,
				Active: v >= r.Threshold, Clear: v < r.Clear, Summary: fmt.Sprintf("suppress verify: %d suppressed addresses missing on NEW", s.SuppressionMissing)})
		case MetricPostmaster:
			for _, isp := range sortedStrings(s.Postmaster) {
				v := s.Postmaster[isp]
				out = append(out, Observation{Rule: r.Name, Severity: r.Severity, ISP: isp, Side: SideNew, Value: v,
					Threshold: r.Threshold, Active: v >= r.Threshold, Clear: v < r.Clear,
					Summary: fmt.Sprintf("%s Postmaster spam rate upper bound %s", isp, pct(v))})
			}
		}
	}
	return out
}

func sortedKeys(m map[SideISP]Tally) []SideISP {
	out := make([]SideISP, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ISP != out[j].ISP {
			return out[i].ISP < out[j].ISP
		}
		return out[i].Side < out[j].Side
	})
	return out
}

func sortedStrings[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fmtDur prints 24h, 15m, 1h30m without the zero tails of Duration.String.
func fmtDur(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// FormatDuration is fmtDur for callers outside the package (reports, CLI).
func FormatDuration(d time.Duration) string { return fmtDur(d) }
