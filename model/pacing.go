package model

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pacing on degradation (wave2 §7): when a mailbox provider pushes back on
// the NEW side, a time-limited overlay slows that provider down on NEW, or
// hands its share back to OLD, on top of the plan's throttles. The rules are
// KumoMTA's Traffic Shaping Automation shape ({match, trigger, action,
// duration}) with PowerMTA's backoff mode as the native twin; this file holds
// the pure parts: rule parsing, matching, overlay arithmetic, restore steps
// and the flap guards. The owner's pacer does the I/O.

// PacingMode says what the pacer does with a rule that fires.
type PacingMode string

const (
	// PaceSuggest (default): the cockpit and `pace list` show the
	// suggestion; a person applies it (`y`, `pace apply`).
	PaceSuggest PacingMode = "suggest"
	// PaceAuto applies at once, audited as pacer:<rule>.
	PaceAuto PacingMode = "auto"
	// PaceOff evaluates nothing.
	PaceOff PacingMode = "off"
)

// PacingAction is what a rule does to its provider on the NEW side.
type PacingAction struct {
	// Scale multiplies per_hour and connections (0 < Scale ≤ 1, floor 1
	// and never below the config's floor_scale); per_connection stays.
	Scale float64 `toml:"scale" json:"scale,omitempty"`
	// Connections caps connections after scaling (KumoMTA's
	// connection_limit = 1 of its default reputation rule); 0: no cap.
	Connections int `toml:"connections" json:"connections,omitempty"`
	// ShiftOld sets the provider's NEW ratio to 0: its mail goes to the
	// warm OLD side for the duration.
	ShiftOld bool `toml:"shift_old" json:"shift_old,omitempty"`
}

// String is the action for people: "scale 0.5", "shift to OLD".
func (a PacingAction) String() string {
	if a.ShiftOld {
		return "shift to OLD"
	}
	s := "scale " + strconv.FormatFloat(a.Scale, 'f', -1, 64)
	if a.Connections > 0 {
		s += fmt.Sprintf(" conn ≤%d", a.Connections)
	}
	return s
}

// PacingRule is one [[pacing.rule]]: either a reply rule (Match + Trigger)
// or a metric rule (Metric, Op, Value, Window, MinAttempts, RequireWorse).
type PacingRule struct {
	Name string `toml:"name" json:"name"`
	// ISP is the provider the rule watches ("*": every provider).
	ISP string `toml:"isp" json:"isp"`
	// Match: "sig:<name>" (a model.BounceRules signature) or "re:<regex>"
	// (case-insensitive like PowerMTA's patterns) on the reply text.
	Match []string `toml:"match" json:"match,omitempty"`
	// Trigger: "N/<duration>" matches on the NEW side within the window,
	// or "immediate" (= 1 match).
	Trigger string `toml:"trigger" json:"trigger,omitempty"`

	Metric       string  `toml:"metric" json:"metric,omitempty"` // deferral_rate
	Op           string  `toml:"op" json:"op,omitempty"`         // >= (default) or >
	Value        float64 `toml:"value" json:"value,omitempty"`
	Window       string  `toml:"window" json:"window,omitempty"`
	MinAttempts  int     `toml:"min_attempts" json:"min_attempts,omitempty"`
	RequireWorse bool    `toml:"require_worse" json:"require_worse,omitempty"`

	Action PacingAction `toml:"action" json:"action"`
	// Duration of the full action; "manual": until `pace clear`.
	Duration string `toml:"duration" json:"duration"`
	// Restore steps after Duration: "75%/30m" = 75 % of the plan's values
	// for 30 minutes; then 100 %.
	Restore []string `toml:"restore" json:"restore,omitempty"`
	// Class "block": shift to OLD until cleared by hand, CRIT, plan gate FAIL.
	Class string `toml:"class" json:"class,omitempty"`
	// Stack lets a re-trigger multiply the scale again (never below
	// floor_scale); default: a re-trigger only extends.
	Stack bool `toml:"stack" json:"stack,omitempty"`
	// Disabled drops a shipped default of the same name.
	Disabled bool `toml:"disabled" json:"disabled,omitempty"`
}

// PacingConfig is the [pacing] section.
type PacingConfig struct {
	Mode              PacingMode   `toml:"mode"`
	MinApplyInterval  string       `toml:"min_apply_interval"`
	MaxAppliesPerHour int          `toml:"max_applies_per_hour"`
	FloorScale        float64      `toml:"floor_scale"`
	Rules             []PacingRule `toml:"rule"`
}

// Defaults of the [pacing] section.
const (
	DefaultMinApplyInterval  = 10 * time.Minute
	DefaultMaxAppliesPerHour = 6
	DefaultFloorScale        = 0.1
)

// KumoMTA community shaping.toml's five "default" automation regexes
// (reputation deferrals that name the sending IP), read for the facts.
var defaultReputationRegexes = []string{
	`re:Messages from \d+\.\d+\.\d+\.\d+ temporarily deferred`,
	`re:All messages from \d+\.\d+\.\d+\.\d+ will be permanently deferred`,
	`re:has been temporarily rate limited due to IP reputation`,
	`re:Unfortunately, messages from \d+\.\d+\.\d+\.\d+ weren.t sent`,
	`re:Server busy\. Please try again later from`,
}

// DefaultPacingRules are the shipped rules in priority order (the first
// that fires for a provider wins; `pace test` shows every match in this
// order). Config rules of the same name replace them.
func DefaultPacingRules() []PacingRule {
	return []PacingRule{
		{Name: "block", ISP: "*", Class: "block", Trigger: "3/15m", Duration: "manual",
			Match: []string{"sig:ms-s3150-blocklist", "sig:ms-s3140-blocklist", "sig:ms-5.7.606-649-banned-ip",
				"sig:gmail-5.7.28-block", "sig:yahoo-tss09-deferral", "sig:yahoo-bl-blocklist", "sig:comcast-bl-blocklist"},
			Action: PacingAction{ShiftOld: true}},
		{Name: "yahoo-tss04", ISP: "yahoo", Match: []string{"sig:yahoo-tss04-deferral"}, Trigger: "immediate",
			Action: PacingAction{ShiftOld: true}, Duration: "2h"},
		{Name: "gmail-rate", ISP: "google", Match: []string{"sig:gmail-4.7.28-rate", "sig:gmail-x.2.1-rate"},
			Trigger: "5/10m", Action: PacingAction{Scale: 0.5}, Duration: "90m", Restore: []string{"75%/30m"}},
		{Name: "ms-rate", ISP: "microsoft", Match: []string{"sig:ms-4.7.650-rate", "sig:ms-rp-rate", "sig:ms-4.7.5xx-throttle"},
			Trigger: "5/10m", Action: PacingAction{Scale: 0.5}, Duration: "60m"},
		{Name: "comcast-rl", ISP: "comcast", Match: []string{"sig:comcast-rl-rate"}, Trigger: "2/1h",
			Action: PacingAction{Scale: 0.5}, Duration: "2h"},
		{Name: "default-reputation", ISP: "*", Match: slices.Clone(defaultReputationRegexes), Trigger: "immediate",
			Action: PacingAction{Scale: 0.1, Connections: 1}, Duration: "90m"},
		{Name: "deferral-rate", ISP: "*", Metric: "deferral_rate", Op: ">=", Value: 0.25, Window: "15m",
			MinAttempts: 100, RequireWorse: true, Action: PacingAction{Scale: 0.5}, Duration: "60m"},
	}
}

// Pacing is the compiled [pacing] section.
type Pacing struct {
	Mode             PacingMode
	MinApplyInterval time.Duration
	MaxPerHour       int
	FloorScale       float64
	Rules            []*CompiledRule
}

// CompiledRule is a checked PacingRule.
type CompiledRule struct {
	PacingRule
	Sigs     []string         // named signatures
	Regexes  []*regexp.Regexp // re: patterns, case-insensitive
	N        int              // trigger count (1 = immediate)
	Within   time.Duration    // trigger window (0 = immediate)
	For      time.Duration    // 0 with Manual
	Manual   bool             // until cleared by hand
	Steps    []RestoreStep
	MetricW  time.Duration
	metricGT bool
}

// RestoreStep is one "P%/D" step: P percent of the plan's values for D.
type RestoreStep struct {
	Pct int           `json:"pct"`
	For time.Duration `json:"for"`
}

// IsMetric reports a metric rule.
func (r *CompiledRule) IsMetric() bool { return r.Metric != "" }

// Block reports the block class.
func (r *CompiledRule) Block() bool { return r.Class == "block" }

// ForISP reports whether the rule watches isp.
func (r *CompiledRule) ForISP(isp string) bool { return r.ISP == "*" || r.ISP == isp }

// TriggerText is the trigger for people: "5/10m", "immediate", "deferral_rate >= 0.25 over 15m".
func (r *CompiledRule) TriggerText() string {
	if r.IsMetric() {
		op := ">="
		if r.metricGT {
			op = ">"
		}
		s := fmt.Sprintf("%s %s %g over %s (≥ %d attempts)", r.Metric, op, r.Value, paceDur(r.MetricW), r.MinAttempts)
		if r.RequireWorse {
			s += ", NEW worse than OLD"
		}
		return s
	}
	if r.N <= 1 && r.Within == 0 {
		return "immediate"
	}
	return fmt.Sprintf("%d/%s", r.N, paceDur(r.Within))
}

// DurationText is "90m" or "until cleared".
func (r *CompiledRule) DurationText() string {
	if r.Manual {
		return "until cleared"
	}
	return paceDur(r.For)
}

func paceDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Fires reports whether n matches in the window trip a reply rule.
func (r *CompiledRule) Fires(n int) bool { return !r.IsMetric() && n >= max(r.N, 1) }

// FiresMetric judges a metric rule on the NEW and OLD tallies of its window.
func (r *CompiledRule) FiresMetric(oldT, newT Tally, th Thresholds) bool {
	if !r.IsMetric() || newT.Attempts() < uint64(r.MinAttempts) || newT.Attempts() == 0 {
		return false
	}
	rate := float64(newT.Deferred) / float64(newT.Attempts())
	if r.metricGT && rate <= r.Value || !r.metricGT && rate < r.Value {
		return false
	}
	return !r.RequireWorse || th.Compare(oldT, newT).Deferral
}

// MatchesSig reports whether the rule names signature sig.
func (r *CompiledRule) MatchesSig(sig string) bool { return slices.Contains(r.Sigs, sig) }

// MatchesText reports whether a reply text matches the rule: its named
// signature is one of the rule's, or one of its regexes matches.
func (r *CompiledRule) MatchesText(text string) bool {
	if len(text) > 2048 {
		text = text[:2048]
	}
	if len(r.Sigs) > 0 {
		if sig, ok := NamedSignature(text); ok && r.MatchesSig(sig) {
			return true
		}
	}
	for _, re := range r.Regexes {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

// ParsePacing checks the section and merges it over the defaults: a rule
// with a default's name replaces it (Disabled drops it), others are added
// after the defaults in their order. Every error names the rule.
func ParsePacing(c PacingConfig) (*Pacing, error) {
	p := &Pacing{Mode: c.Mode, MaxPerHour: c.MaxAppliesPerHour, FloorScale: c.FloorScale,
		MinApplyInterval: DefaultMinApplyInterval}
	var errs []error
	switch p.Mode {
	case "":
		p.Mode = PaceSuggest
	case PaceSuggest, PaceAuto, PaceOff:
	default:
		errs = append(errs, fmt.Errorf("[pacing] mode %q: want suggest, auto or off", c.Mode))
	}
	if c.MinApplyInterval != "" {
		d, err := time.ParseDuration(c.MinApplyInterval)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("[pacing] min_apply_interval %q: want a duration like 10m", c.MinApplyInterval))
		}
		p.MinApplyInterval = d
	}
	switch {
	case p.MaxPerHour == 0:
		p.MaxPerHour = DefaultMaxAppliesPerHour
	case p.MaxPerHour < 0:
		errs = append(errs, fmt.Errorf("[pacing] max_applies_per_hour %d: want ≥ 1", c.MaxAppliesPerHour))
	}
	switch {
	case p.FloorScale == 0:
		p.FloorScale = DefaultFloorScale
	case p.FloorScale < 0 || p.FloorScale > 1 || math.IsNaN(p.FloorScale):
		errs = append(errs, fmt.Errorf("[pacing] floor_scale %g: want 0 < x ≤ 1", c.FloorScale))
	}
	rules := DefaultPacingRules()
	for _, r := range c.Rules {
		if i := slices.IndexFunc(rules, func(d PacingRule) bool { return d.Name == r.Name }); i >= 0 {
			rules[i] = r
		} else {
			rules = append(rules, r)
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Disabled {
			continue
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("[[pacing.rule]] %q: defined twice", r.Name))
			continue
		}
		seen[r.Name] = true
		cr, err := CompileRule(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Rules = append(p.Rules, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

var ruleNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,40}$`)

// CompileRule checks one rule.
func CompileRule(r PacingRule) (*CompiledRule, error) {
	where := fmt.Sprintf("[[pacing.rule]] %q", r.Name)
	if !ruleNameRe.MatchString(r.Name) {
		return nil, fmt.Errorf("%s: name: want lower-case letters, digits, '.', '_' or '-' (≤ 41)", where)
	}
	if r.ISP == "" {
		r.ISP = "*"
	}
	if r.ISP != "*" && !ruleNameRe.MatchString(r.ISP) {
		return nil, fmt.Errorf("%s: isp %q: want a provider name or *", where, r.ISP)
	}
	c := &CompiledRule{PacingRule: r}
	if r.Metric != "" {
		if len(r.Match) > 0 || r.Trigger != "" {
			return nil, fmt.Errorf("%s: a metric rule has no match or trigger", where)
		}
		if r.Metric != "deferral_rate" {
			return nil, fmt.Errorf("%s: metric %q: want deferral_rate", where, r.Metric)
		}
		switch r.Op {
		case "", ">=":
		case ">":
			c.metricGT = true
		default:
			return nil, fmt.Errorf("%s: op %q: want >= or >", where, r.Op)
		}
		if r.Value <= 0 || r.Value > 1 || math.IsNaN(r.Value) {
			return nil, fmt.Errorf("%s: value %g: want a rate in (0, 1]", where, r.Value)
		}
		d, err := time.ParseDuration(r.Window)
		if err != nil || d < time.Minute || d > 48*time.Hour {
			return nil, fmt.Errorf("%s: window %q: want 1m to 48h", where, r.Window)
		}
		c.MetricW = d
		if r.MinAttempts < 0 {
			return nil, fmt.Errorf("%s: min_attempts %d: want ≥ 0", where, r.MinAttempts)
		}
	} else {
		if len(r.Match) == 0 {
			return nil, fmt.Errorf("%s: match is empty (or set metric)", where)
		}
		for _, m := range r.Match {
			switch {
			case strings.HasPrefix(m, "sig:"):
				name := m[4:]
				if !knownSignature(name) {
					return nil, fmt.Errorf("%s: match %q: no such named signature (see model.BounceRules)", where, m)
				}
				c.Sigs = append(c.Sigs, name)
			case strings.HasPrefix(m, "re:"):
				re, err := regexp.Compile("(?i)" + m[3:])
				if err != nil {
					return nil, fmt.Errorf("%s: match %q: %v", where, m, err)
				}
				c.Regexes = append(c.Regexes, re)
			default:
				return nil, fmt.Errorf("%s: match %q: want sig:<name> or re:<regex>", where, m)
			}
		}
		n, w, err := ParseTrigger(r.Trigger)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		c.N, c.Within = n, w
	}
	a := r.Action
	switch {
	case a.ShiftOld && (a.Scale != 0 || a.Connections != 0):
		return nil, fmt.Errorf("%s: action: shift_old takes no scale or connections", where)
	case a.ShiftOld:
	case a.Scale <= 0 || a.Scale > 1 || math.IsNaN(a.Scale):
		return nil, fmt.Errorf("%s: action: scale %g: want 0 < scale ≤ 1 (an overlay never raises a limit)", where, a.Scale)
	case a.Connections < 0:
		return nil, fmt.Errorf("%s: action: connections %d: want ≥ 0", where, a.Connections)
	}
	switch r.Class {
	case "":
	case "block":
		if !a.ShiftOld {
			return nil, fmt.Errorf("%s: class block: the action must be shift_old", where)
		}
	default:
		return nil, fmt.Errorf("%s: class %q: want block or nothing", where, r.Class)
	}
	if r.Duration == "manual" {
		c.Manual = true
	} else {
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			return nil, fmt.Errorf("%s: duration %q: want 1m to 720h, or manual", where, r.Duration)
		}
		c.For = d
	}
	if c.Block() && !c.Manual {
		return nil, fmt.Errorf("%s: class block lasts until cleared: duration must be manual", where)
	}
	for _, s := range r.Restore {
		st, err := ParseRestoreStep(s)
		if err != nil {
			return nil, fmt.Errorf("%s: restore: %w", where, err)
		}
		if a.ShiftOld {
			return nil, fmt.Errorf("%s: restore steps scale; a shift_old rule has none", where)
		}
		if len(c.Steps) > 0 && st.Pct < c.Steps[len(c.Steps)-1].Pct {
			return nil, fmt.Errorf("%s: restore %q: steps must not go down", where, s)
		}
		c.Steps = append(c.Steps, st)
	}
	if c.Manual && len(c.Steps) > 0 {
		return nil, fmt.Errorf("%s: a manual overlay has no restore steps", where)
	}
	return c, nil
}

func knownSignature(name string) bool {
	for _, r := range BounceRules {
		if r.Name == name && r.Provider != "" {
			return true
		}
	}
	return false
}

// ParseTrigger reads "immediate" or "N/<duration>" ("5/10m", "2/1h", "2/hr").
func ParseTrigger(s string) (n int, within time.Duration, err error) {
	if s == "" || s == "immediate" {
		return 1, 0, nil
	}
	num, per, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("trigger %q: want N/<duration> or immediate", s)
	}
	n, err = strconv.Atoi(num)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, 0, fmt.Errorf("trigger %q: count: want 1 to 1000000", s)
	}
	per = strings.TrimSuffix(strings.TrimSuffix(per, "r"), "ou") // "2/hr", "2/hour"
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per // "2/h" = per hour
	}
	within, err = time.ParseDuration(per)
	if err != nil || within < time.Minute || within > 48*time.Hour {
		return 0, 0, fmt.Errorf("trigger %q: window: want 1m to 48h (minute counters)", s)
	}
	return n, within, nil
}

// ParseRestoreStep reads "75%/30m".
func ParseRestoreStep(s string) (RestoreStep, error) {
	p, d, ok := strings.Cut(s, "/")
	pct, err := strconv.Atoi(strings.TrimSuffix(p, "%"))
	if !ok || !strings.HasSuffix(p, "%") || err != nil || pct < 1 || pct > 100 {
		return RestoreStep{}, fmt.Errorf("%q: want P%%/<duration> with 1 ≤ P ≤ 100", s)
	}
	dur, err := time.ParseDuration(d)
	if err != nil || dur < time.Minute || dur > 7*24*time.Hour {
		return RestoreStep{}, fmt.Errorf("%q: duration: want 1m to 168h", s)
	}
	return RestoreStep{Pct: pct, For: dur}, nil
}

// Rule returns the compiled rule of that name.
func (p *Pacing) Rule(name string) *CompiledRule {
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ReplyMatch is one rule a reply text matches (for `pace test`).
type ReplyMatch struct {
	Rule *CompiledRule
	ISP  string // the provider the overlay would act on
}

// MatchReply lists the reply rules the text matches for isp ("" = any: a
// rule's own provider is used, "*" rules keep "*"), in priority order.
func (p *Pacing) MatchReply(text, isp string) []ReplyMatch {
	var out []ReplyMatch
	for _, r := range p.Rules {
		if r.IsMetric() || (isp != "" && !r.ForISP(isp)) || !r.MatchesText(text) {
			continue
		}
		target := isp
		if target == "" {
			target = r.ISP
		}
		out = append(out, ReplyMatch{Rule: r, ISP: target})
	}
	return out
}

// ScaleThrottle is base × scale: per_hour and connections floored, at least
// 1, connections capped by connCap (> 0), per_connection unchanged. It is
// never above base in any field; an unlimited (0) rate stays unlimited (there
// is nothing to scale) and an unlimited connection count takes the cap.
func ScaleThrottle(base Throttle, scale float64, connCap int) Throttle {
	if scale >= 1 && connCap <= 0 {
		return base
	}
	out := base
	if base.PerHour > 0 {
		out.PerHour = min(base.PerHour, max(1, int(math.Floor(float64(base.PerHour)*scale+1e-9))))
	}
	if base.Connections > 0 {
		out.Connections = min(base.Connections, max(1, int(math.Floor(float64(base.Connections)*scale+1e-9))))
	}
	if connCap > 0 && (out.Connections == 0 || out.Connections > connCap) {
		out.Connections = connCap
	}
	return out
}

// Overlay phases.
const (
	OverlaySuggested = "suggested" // mode suggest: waiting for y / pace apply
	OverlayQueued    = "queued"    // wanted, held back by a flap guard
	OverlayActive    = "active"    // applied, in its full action or a restore step
	OverlayEnded     = "ended"     // restored (or cleared) and applied
	OverlayDismissed = "dismissed" // n: ignored until DismissedUntil
)

// Overlay is a time-limited change on top of the plan's throttles, stored as
// JSON in the state bucket "overlays" (key: ID). Other features read it: the
// plan gate FAILs while an active block-class overlay exists; the weekly
// report lists overlays and their applies.
type Overlay struct {
	ID     string       `json:"id"`
	Rule   string       `json:"rule"`
	ISP    string       `json:"isp"`
	Class  string       `json:"class,omitempty"` // "block"
	Action PacingAction `json:"action"`
	// Warn says how the action was degraded for the drivers (postfix-front
	// cannot shift one provider: floor scale on the delivery transport).
	Warn  string `json:"warn,omitempty"`
	State string `json:"state"`
	// Created is when the rule first fired; Started when the full action
	// last began (a re-trigger in a restore step restarts it); Expires ends
	// the full action (zero: until cleared by hand).
	Created time.Time     `json:"created"`
	Started time.Time     `json:"started,omitzero"`
	Expires time.Time     `json:"expires,omitzero"`
	Restore []RestoreStep `json:"restore,omitempty"`
	// Trigger says what fired ("5 × sig:gmail-4.7.28-rate in 10m"), Sample
	// one reply text (untrusted: sanitise before display).
	Trigger string `json:"trigger"`
	Sample  string `json:"sample,omitempty"`
	// Triggered is the newest trigger; matches up to it are used up.
	Triggered time.Time `json:"triggered"`
	// Base is the provider's non-overlaid throttle and BaseRatio its NEW
	// share when the overlay was first applied; PrevOverride the operator's
	// override then (nil: none), restored at the end.
	Base         Throttle  `json:"base"`
	BaseRatio    int       `json:"base_ratio"`
	PrevOverride *Throttle `json:"prev_override,omitempty"`
	PrevPerISP   *int      `json:"prev_per_isp,omitempty"`
	// BaseAt is when Base was taken (zero: not yet); it is taken once.
	BaseAt time.Time `json:"base_at,omitzero"`
	// AppliedPct is the percentage of the plan's values in force on the
	// MTAs (0 = none applied yet or shifted; 100 = restored).
	AppliedPct int `json:"applied_pct"`
	// Waiting says why a wanted change is not applied yet (a flap guard,
	// a failed apply): it stays queued, never dropped.
	Waiting        string         `json:"waiting,omitempty"`
	Applies        []OverlayApply `json:"applies,omitempty"`
	DismissedUntil time.Time      `json:"dismissed_until,omitzero"`
	Ended          time.Time      `json:"ended,omitzero"`
	EndReason      string         `json:"end_reason,omitempty"`
}

// OverlayApply is one mtactl change the overlay made.
type OverlayApply struct {
	At      time.Time `json:"at"`
	AuditID string    `json:"audit_id,omitempty"`
	Who     string    `json:"who"`    // pacer:<rule>, or the operator
	Change  string    `json:"change"` // "600/h conn 5 → 300/h conn 2"
	Pct     int       `json:"pct"`
}

// Live reports an overlay that holds (or wants) a change on the MTAs.
func (o *Overlay) Live() bool { return o.State == OverlayActive || o.State == OverlayQueued }

// WantPct is the percentage of the plan's values the overlay wants at now:
// the action's scale × 100 in the full phase (0 for shift_old), then the
// restore steps, then 100 (ended). Manual overlays stay until cleared.
func (o *Overlay) WantPct(now time.Time, floor float64) (pct int, phase int) {
	full := o.fullPct(floor)
	if o.Expires.IsZero() || now.Before(o.Expires) {
		return full, 0
	}
	t := o.Expires
	for i, s := range o.Restore {
		t = t.Add(s.For)
		if now.Before(t) {
			return max(s.Pct, full), i + 1
		}
	}
	return 100, len(o.Restore) + 1
}

func (o *Overlay) fullPct(floor float64) int {
	if o.Action.ShiftOld {
		return 0
	}
	s := max(o.Action.Scale, floor)
	return min(100, max(1, int(math.Round(s*100))))
}

// RestoreAt is when the overlay ends entirely (zero: manual).
func (o *Overlay) RestoreAt() time.Time {
	if o.Expires.IsZero() {
		return time.Time{}
	}
	t := o.Expires
	for _, s := range o.Restore {
		t = t.Add(s.For)
	}
	return t
}

// Retrigger handles a rule firing again for a live overlay: in the full
// phase it extends Expires (no new apply, scales do not stack unless the
// rule says so, never below floor); in a restore step it restarts the full
// action, skipping the remaining steps. It reports whether the MTAs need a
// change.
func (o *Overlay) Retrigger(r *CompiledRule, now time.Time, floor float64) bool {
	o.Triggered = now
	if r.Manual || o.Expires.IsZero() {
		return false
	}
	_, phase := o.WantPct(now, floor)
	if phase == 0 {
		if e := now.Add(r.For); e.After(o.Expires) {
			o.Expires = e
		}
		if r.Stack && !o.Action.ShiftOld {
			o.Action.Scale = max(floor, o.Action.Scale*r.Action.Scale)
			return true
		}
		return false
	}
	o.Started, o.Expires = now, now.Add(r.For)
	return true
}

// NewOverlay starts an overlay for rule r on isp at now. canShift says
// whether the drivers can send one provider to OLD; if not, shift_old
// becomes floor scale with a warning.
func NewOverlay(r *CompiledRule, isp string, now time.Time, floor float64, canShift bool) Overlay {
	o := Overlay{
		ID:   OverlayID(r.Name, isp, now),
		Rule: r.Name, ISP: isp, Class: r.Class, Action: r.Action,
		Created: now, Started: now, Triggered: now, Restore: slices.Clone(r.Steps),
		AppliedPct: 100,
	}
	if !r.Manual {
		o.Expires = now.Add(r.For)
	}
	if !o.Action.ShiftOld {
		o.Action.Scale = max(o.Action.Scale, floor)
	}
	if o.Action.ShiftOld && !canShift {
		o.Action = PacingAction{Scale: floor}
		o.Warn = fmt.Sprintf("postfix-front cannot send one provider to OLD: %s scaled to %g on the delivery transport instead", isp, floor)
	}
	return o
}

// OverlayID is "<isp>.<rule>.<unix seconds>": unique per rule and provider
// (a rule fires once per provider at a time), sortable by eye.
func OverlayID(rule, isp string, t time.Time) string {
	return fmt.Sprintf("%s.%s.%d", isp, rule, t.Unix())
}

// EffectiveThrottle is the throttle the overlay puts in force at pct percent
// (never above base; floor 1).
func (o *Overlay) EffectiveThrottle(pct int) Throttle {
	if pct >= 100 {
		return o.Base
	}
	cap := 0
	if o.Action.Connections > 0 && pct <= o.fullPct(0) {
		cap = o.Action.Connections
	}
	return ScaleThrottle(o.Base, float64(pct)/100, cap)
}

// DesiredAt is cur with the overlay's change at pct: a scale sets the
// provider's throttle override, shift_old its NEW ratio to 0; at 100 the
// operator's previous override and ratio come back (both: an overlay that
// replaced another one restores what that one changed too).
func (o *Overlay) DesiredAt(cur Desired, pct int) Desired {
	d := cur.Clone()
	if pct >= 100 {
		if o.PrevPerISP != nil {
			d = d.WithRatio(*o.PrevPerISP, o.ISP)
		} else {
			d = d.WithRatio(d.RatioNew, o.ISP)
		}
		if !o.BaseAt.IsZero() || !o.Action.ShiftOld {
			if d.Overrides == nil {
				d.Overrides = map[string]Throttle{}
			}
			if o.PrevOverride != nil {
				d.Overrides[o.ISP] = *o.PrevOverride
			} else {
				delete(d.Overrides, o.ISP)
			}
		}
	} else if o.Action.ShiftOld {
		d = d.WithRatio(0, o.ISP)
	} else {
		if d.Overrides == nil {
			d.Overrides = map[string]Throttle{}
		}
		t := o.EffectiveThrottle(pct)
		if o.PrevOverride != nil {
			t.PerConnection = o.PrevOverride.PerConnection
		}
		d.Overrides[o.ISP] = t
	}
	if len(d.Overrides) == 0 {
		d.Overrides = nil
	}
	return d
}

// ChangeText is "600/h conn 5 → 300/h conn 2" or "NEW 30% → 0%".
func (o *Overlay) ChangeText(from, to int) string {
	if o.Action.ShiftOld {
		a, b := o.BaseRatio, o.BaseRatio
		if from < 100 {
			a = 0
		}
		if to < 100 {
			b = 0
		}
		return fmt.Sprintf("%s NEW %d%% → %d%%", o.ISP, a, b)
	}
	return fmt.Sprintf("%s %s → %s", o.ISP, o.EffectiveThrottle(from), o.EffectiveThrottle(to))
}

// PacingGuard holds the flap guards: at most one apply per provider within
// MinInterval, at most MaxPerHour applies over all providers in any hour.
// Actions over the limits are queued, never dropped.
type PacingGuard struct {
	MinInterval time.Duration
	MaxPerHour  int
}

// Allow reports whether an apply for isp may run at now given earlier
// applies (any order), and why not.
func (g PacingGuard) Allow(isp string, now time.Time, applies []GuardApply) (bool, string) {
	n := 0
	for _, a := range applies {
		if a.At.After(now) {
			continue
		}
		if a.ISP == isp && g.MinInterval > 0 && now.Sub(a.At) < g.MinInterval {
			return false, fmt.Sprintf("%s changed %s ago (min_apply_interval %s)", isp, now.Sub(a.At).Round(time.Second), g.MinInterval)
		}
		if now.Sub(a.At) < time.Hour {
			n++
		}
	}
	if g.MaxPerHour > 0 && n >= g.MaxPerHour {
		return false, fmt.Sprintf("%d applies in the last hour (max_applies_per_hour %d)", n, g.MaxPerHour)
	}
	return true, ""
}

// GuardApply is one earlier apply the guards count.
type GuardApply struct {
	At  time.Time
	ISP string
}
