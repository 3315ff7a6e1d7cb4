package model

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultSteps are the plan's stops for the share of traffic sent to the NEW
// side, in percent. Small steps first: the first 5 % shows whether the new
// IPs are accepted at all before anything large moves.
var DefaultSteps = []int{0, 5, 15, 30, 50, 75, 100}

// Steps is a sorted, duplicate-free list of ratios in [0, 100] that always
// holds 0 (the baseline) and 100 (done).
type Steps []int

// NewSteps validates and normalises configured steps; nil or empty gives
// DefaultSteps. 0 and 100 are added when missing so the slider can always
// reach the baseline and the end.
func NewSteps(vals []int) (Steps, error) {
	if len(vals) == 0 {
		vals = DefaultSteps
	}
	seen := map[int]bool{0: true, 100: true}
	out := Steps{0, 100}
	for _, v := range vals {
		if v < 0 || v > 100 {
			return nil, fmt.Errorf("plan step %d%%: want 0-100", v)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out, nil
}

// Next is the first step above cur (100 stays 100).
func (s Steps) Next(cur int) int {
	for _, v := range s {
		if v > cur {
			return v
		}
	}
	return clampPct(cur)
}

// Prev is the last step below cur (0 stays 0).
func (s Steps) Prev(cur int) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < cur {
			return s[i]
		}
	}
	return clampPct(cur)
}

// Index is the position of cur in the steps, or -1 when cur sits between
// steps (after a fine adjustment).
func (s Steps) Index(cur int) int { return slices.Index(s, cur) }

// Fine moves cur by delta percent points, clamped to [0, 100] (the slider's
// shift/+/- keys).
func Fine(cur, delta int) int { return clampPct(cur + delta) }

func clampPct(v int) int { return min(max(v, 0), 100) }

// Throttle limits what the NEW side sends to one mailbox provider. A zero
// field means "no limit from cutover" (the MTA's own default applies).
type Throttle struct {
	PerHour       int `json:"per_hour,omitempty" toml:"per_hour"`             // messages (attempted recipients) per hour
	Connections   int `json:"connections,omitempty" toml:"connections"`       // concurrent connections
	PerConnection int `json:"per_connection,omitempty" toml:"per_connection"` // messages per connection
}

// IsZero reports whether no field is set.
func (t Throttle) IsZero() bool { return t == Throttle{} }

// String is the form the CLI and the audit view print: "500/h conn 5 msg/conn 50".
func (t Throttle) String() string {
	var parts []string
	if t.PerHour > 0 {
		parts = append(parts, fmt.Sprintf("%d/h", t.PerHour))
	}
	if t.Connections > 0 {
		parts = append(parts, fmt.Sprintf("conn %d", t.Connections))
	}
	if t.PerConnection > 0 {
		parts = append(parts, fmt.Sprintf("msg/conn %d", t.PerConnection))
	}
	if len(parts) == 0 {
		return "unlimited"
	}
	return strings.Join(parts, " ")
}

// Over returns t with every non-zero field of o in place of t's (an operator
// override that sets only the rate keeps the default connection limit).
func (t Throttle) Over(o Throttle) Throttle {
	if o.PerHour > 0 {
		t.PerHour = o.PerHour
	}
	if o.Connections > 0 {
		t.Connections = o.Connections
	}
	if o.PerConnection > 0 {
		t.PerConnection = o.PerConnection
	}
	return t
}

// Desired is what the operator wants the MTAs to do: the share of traffic to
// the NEW side (global, optionally per provider) and the NEW side's
// per-provider throttles. Throttles are the effective values that drivers
// render; Overrides are the operator's explicit settings, kept apart so that
// moving the ratio recomputes the defaults without losing them.
type Desired struct {
	RatioNew  int                 `json:"ratio_new"`
	PerISP    map[string]int      `json:"per_isp,omitempty"`
	Throttles map[string]Throttle `json:"throttles,omitempty"`
	Overrides map[string]Throttle `json:"overrides,omitempty"`
}

// Baseline is the 0 %-new state: everything goes to the OLD side. Throttles
// are kept so that the first step forward starts from the same limits.
func Baseline(cur Desired) Desired {
	b := cur.Clone()
	b.RatioNew = 0
	b.PerISP = nil
	return b
}

// RatioFor is the share to NEW for one provider.
func (d Desired) RatioFor(isp string) int {
	if r, ok := d.PerISP[isp]; ok {
		return r
	}
	return d.RatioNew
}

// WithRatio returns a copy with the global ratio set (isp == "") or one
// provider's ratio set. Setting a provider to the global value removes its
// override, so per-provider entries only exist where they differ.
func (d Desired) WithRatio(pct int, isp string) Desired {
	n := d.Clone()
	if isp == "" {
		n.RatioNew = pct
		for k, v := range n.PerISP {
			if v == pct {
				delete(n.PerISP, k)
			}
		}
	} else if pct == n.RatioNew {
		delete(n.PerISP, isp)
	} else {
		if n.PerISP == nil {
			n.PerISP = map[string]int{}
		}
		n.PerISP[isp] = pct
	}
	if len(n.PerISP) == 0 {
		n.PerISP = nil
	}
	return n
}

// WithOverride returns a copy with the operator's throttle for isp merged
// into any earlier override (zero fields keep the earlier value).
func (d Desired) WithOverride(isp string, t Throttle) Desired {
	n := d.Clone()
	if n.Overrides == nil {
		n.Overrides = map[string]Throttle{}
	}
	n.Overrides[isp] = n.Overrides[isp].Over(t)
	return n
}

// Clone deep-copies the maps.
func (d Desired) Clone() Desired {
	d.PerISP = maps.Clone(d.PerISP)
	d.Throttles = maps.Clone(d.Throttles)
	d.Overrides = maps.Clone(d.Overrides)
	return d
}

// Equal compares two Desired values, treating nil and empty maps alike.
func (d Desired) Equal(o Desired) bool {
	return d.RatioNew == o.RatioNew && maps.Equal(d.PerISP, o.PerISP) &&
		maps.Equal(d.Throttles, o.Throttles) && maps.Equal(d.Overrides, o.Overrides)
}

// Validate checks ranges; drivers may refuse more (e.g. Postfix cannot split
// per provider).
func (d Desired) Validate() error {
	var errs []error
	if d.RatioNew < 0 || d.RatioNew > 100 {
		errs = append(errs, fmt.Errorf("ratio %d%%: want 0-100", d.RatioNew))
	}
	for _, isp := range slices.Sorted(maps.Keys(d.PerISP)) {
		if isp == "" {
			errs = append(errs, errors.New("per-provider ratio with an empty provider name"))
		}
		if r := d.PerISP[isp]; r < 0 || r > 100 {
			errs = append(errs, fmt.Errorf("ratio %d%% for %s: want 0-100", r, isp))
		}
	}
	for _, m := range []map[string]Throttle{d.Throttles, d.Overrides} {
		for _, isp := range slices.Sorted(maps.Keys(m)) {
			t := m[isp]
			if isp == "" {
				errs = append(errs, errors.New("throttle with an empty provider name"))
			}
			if t.PerHour < 0 || t.Connections < 0 || t.PerConnection < 0 {
				errs = append(errs, fmt.Errorf("throttle for %s: negative value", isp))
			}
		}
	}
	return errors.Join(errs...)
}

// String is a one-line summary: "30% new (google 50%) google 500/h conn 5".
func (d Desired) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d%% new", d.RatioNew)
	if len(d.PerISP) > 0 {
		var parts []string
		for _, isp := range slices.Sorted(maps.Keys(d.PerISP)) {
			parts = append(parts, fmt.Sprintf("%s %d%%", isp, d.PerISP[isp]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	for _, isp := range slices.Sorted(maps.Keys(d.Throttles)) {
		fmt.Fprintf(&b, "; %s %s", isp, d.Throttles[isp])
	}
	return b.String()
}

// ParseRate reads "500/h", "10/m", "2/s", "12000/d" (or a bare number, per
// hour) as messages per hour, rounding up so a limit never loosens.
func ParseRate(s string) (int, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	num, unit, found := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("rate %q: want N/h, N/m, N/s or N/d", s)
	}
	if !found {
		return n, nil
	}
	switch strings.TrimSpace(unit) {
	case "s", "sec", "second":
		return n * 3600, nil
	case "m", "min", "minute":
		return n * 60, nil
	case "h", "hr", "hour":
		return n, nil
	case "d", "day":
		return (n + 23) / 24, nil
	}
	return 0, fmt.Errorf("rate %q: unknown unit %q (want s, m, h or d)", s, unit)
}

// Ceiling is the most cutover proposes for one provider on the NEW side
// before an operator override: connection limits from community shaping
// defaults, and an hourly cap from the IP warm-up schedule.
type Ceiling struct {
	Connections   int    `json:"connections" toml:"connections"`
	PerConnection int    `json:"per_connection" toml:"per_connection"`
	PerHour       int    `json:"per_hour,omitempty" toml:"per_hour"` // 0 = from the warm-up schedule
	Source        string `json:"source,omitempty" toml:"source"`
}

// DefaultCeilings are per-provider connection ceilings. Source:
// shared/reference/suppression-bounce-isp.md §5.3, which quotes KumoMTA's
// community shaping defaults (assets/policy-extras/shaping.toml): Google 5
// connections / 50 per connection; Yahoo 20 per connection ("provided by Yahoo
// directly"); Outlook.com & Office 365 5 / 50; Apple 10 / 5; Comcast 25 / 1000
// ("provided directly by Comcast"); orange.fr 3 connections; everything else
// 10 / 100. These are ceilings for WARM IPs (no provider publishes cold-IP
// numbers, §7), so they are upper bounds, never targets.
var DefaultCeilings = map[string]Ceiling{
	"google":    {Connections: 5, PerConnection: 50, Source: "KumoMTA shaping.toml: Google"},
	"yahoo":     {Connections: 10, PerConnection: 20, Source: "KumoMTA shaping.toml: Yahoo (20/conn from Yahoo); default 10 connections"},
	"microsoft": {Connections: 5, PerConnection: 50, Source: "KumoMTA shaping.toml: Outlook.com & Office365"},
	"apple":     {Connections: 10, PerConnection: 5, Source: "KumoMTA shaping.toml: Apple"},
	"comcast":   {Connections: 25, PerConnection: 1000, Source: "KumoMTA shaping.toml: comcast.net (from Comcast)"},
	"orange":    {Connections: 3, PerConnection: 100, Source: "KumoMTA shaping.toml: orange.fr"},
	ISPOther:    {Connections: 10, PerConnection: 100, Source: "KumoMTA shaping.toml: default"},
}

// ceilingAliases maps provider names operators commonly use to the model's.
var ceilingAliases = map[string]string{
	"gmail": "google", "googlemail": "google",
	"outlook": "microsoft", "hotmail": "microsoft", "live": "microsoft", "msn": "microsoft", "office365": "microsoft",
	"aol": "yahoo", "icloud": "apple",
}

// WarmupDaily is SparkPost's IP warm-up schedule: messages per day per IP on
// warm-up day 1..29 (day 30 and later: warmed up, no cap). Source:
// suppression-bounce-isp.md §5.4 (SparkPost/support-docs
// ip-warm-up-overview.md).
var WarmupDaily = []int{200, 500, 1000, 2000, 5000, 10000, 20000, 40000, 50000, 75000,
	100000, 150000, 200000, 250000, 325000, 400000, 500000, 600000, 750000, 1000000,
	1250000, 1750000, 2000000, 3000000, 4250000, 5000000, 6000000, 7500000, 10000000}

// WarmupWindowHours spreads a warm-up day over a sending window: one provider
// may take one IP's whole day in 8 hours. Day 1 gives 25/h per IP, below Word
// to the Wise's "start with a hundred or so messages an hour" (§5.4).
const WarmupWindowHours = 8

// WarmupHourly is the hourly cap per provider on warm-up day day (1-based)
// for ips new IPs; 0 means no cap (day 30 or later). Day < 1 counts as day 1.
func WarmupHourly(day, ips int) int {
	if ips < 1 {
		ips = 1
	}
	if day < 1 {
		day = 1
	}
	if day > len(WarmupDaily) {
		return 0
	}
	return max(1, WarmupDaily[day-1]*ips/WarmupWindowHours)
}

// ThrottlePolicy turns history into default throttles.
type ThrottlePolicy struct {
	// Margin multiplies the expected share of the historical basis hour (1.2
	// = 20 % headroom so that a normal busy hour does not queue on NEW).
	Margin float64 `json:"margin" toml:"margin"`
	// WarmupDay is the NEW IPs' warm-up day (1 = first day); 0 is treated as
	// day 1, the most conservative, unless Warm is set.
	WarmupDay int  `json:"warmup_day" toml:"warmup_day"`
	NewIPs    int  `json:"new_ips" toml:"new_ips"` // sending IPs on NEW (default 1)
	Warm      bool `json:"warm" toml:"warm"`       // NEW IPs are already warm: no hourly cap
	// Basis is which historical hour the throttle scales: "p95" (default,
	// the 95th percentile hour, so a one-off blast does not set NEW's
	// ceiling; wave2 §4.5) or "peak" (the busiest hour).
	Basis string `json:"basis,omitempty" toml:"basis"`
	// Ceilings replace DefaultCeilings entries by provider name.
	Ceilings map[string]Ceiling `json:"ceilings,omitempty" toml:"ceilings"`
}

// DefaultMargin is the default headroom over the expected peak share.
const DefaultMargin = 1.2

// Throttle bases (ThrottlePolicy.Basis).
const (
	BasisP95  = "p95"
	BasisPeak = "peak"
)

// BasisName is p's basis with the default filled in.
func (p ThrottlePolicy) BasisName() string {
	if p.Basis == BasisPeak {
		return BasisPeak
	}
	return BasisP95
}

// ValidBasis checks a configured or flagged basis.
func ValidBasis(s string) error {
	if s == "" || s == BasisP95 || s == BasisPeak {
		return nil
	}
	return fmt.Errorf("basis %q: want p95 or peak", s)
}

// BasisHourly picks the hour the policy scales from a provider's profile.
func (p ThrottlePolicy) BasisHourly(h HourProfile) int {
	if p.BasisName() == BasisPeak {
		return int(h.Peak)
	}
	return int(h.P95)
}

// ceilingOf is the configured or default ceiling of one provider, without
// the warm-up cap (aliases such as "gmail" map to "google"; unknown providers
// get "other").
func (p ThrottlePolicy) ceilingOf(isp string) Ceiling {
	c, ok := p.Ceilings[isp]
	if !ok {
		name := isp
		if a, ok := ceilingAliases[isp]; ok {
			name = a
		}
		if c, ok = p.Ceilings[name]; !ok {
			if c, ok = DefaultCeilings[name]; !ok {
				c = DefaultCeilings[ISPOther]
			}
		}
	}
	return c
}

// CeilingFor is the ceiling of one provider (aliases such as "gmail" map to
// "google"; unknown providers get "other"). Without a configured hourly cap
// the warm-up cap fills PerHour.
func (p ThrottlePolicy) CeilingFor(isp string) Ceiling {
	c := p.ceilingOf(isp)
	if c.PerHour == 0 && !p.Warm {
		c.PerHour = WarmupHourly(p.WarmupDay, p.NewIPs)
	}
	return c
}

// CappedBy names what decided one throttle number (wave2 §4.5).
type CappedBy string

const (
	CapHistory  CappedBy = "history"  // the basis hour × share × margin
	CapWarmup   CappedBy = "warmup"   // the IP warm-up schedule
	CapCeiling  CappedBy = "ceiling"  // a provider ceiling (connections, configured per-hour)
	CapOverride CappedBy = "override" // the operator's explicit value
)

// Explained is a throttle with what decided each of its numbers ("" when the
// number is 0, i.e. nothing limits it).
type Explained struct {
	Throttle
	PerHourBy       CappedBy `json:"per_hour_capped_by,omitempty"`
	ConnectionsBy   CappedBy `json:"connections_capped_by,omitempty"`
	PerConnectionBy CappedBy `json:"per_connection_capped_by,omitempty"`
}

// Caps is what the slider's preview prints after a throttle: "rate capped
// by warmup".
func (e Explained) Caps() string {
	if e.PerHourBy == "" {
		return "no hourly cap"
	}
	return "rate capped by " + string(e.PerHourBy)
}

// Explain is DefaultThrottle with the reason of each number: per hour =
// min(ceil(basis × ratio/100 × margin), warm-up cap of day/IPs, configured
// ceiling per hour) — wave2 §4.5; connections and messages per connection
// come from the ceiling. On a tie the history wins the name: the basis alone
// would have given the same number. Without history (or at 0 %) the caps
// themselves are proposed, so that NEW never starts unthrottled.
func (p ThrottlePolicy) Explain(isp string, basisHourlyOld int, ratioNew int) Explained {
	c := p.ceilingOf(isp)
	margin := p.Margin
	if margin <= 0 {
		margin = DefaultMargin
	}
	e := Explained{Throttle: Throttle{Connections: c.Connections, PerConnection: c.PerConnection}}
	if c.Connections > 0 {
		e.ConnectionsBy = CapCeiling
	}
	if c.PerConnection > 0 {
		e.PerConnectionBy = CapCeiling
	}
	base := int(math.Ceil(float64(max(basisHourlyOld, 0)) * float64(clampPct(ratioNew)) / 100 * margin))
	if base > 0 {
		e.PerHour, e.PerHourBy = base, CapHistory
	}
	take := func(v int, by CappedBy) {
		if v > 0 && (e.PerHour == 0 || v < e.PerHour) {
			e.PerHour, e.PerHourBy = v, by
		}
	}
	if !p.Warm {
		take(WarmupHourly(p.WarmupDay, p.NewIPs), CapWarmup)
	}
	take(c.PerHour, CapCeiling)
	return e
}

// DefaultThrottle is the proposal for one provider: its historical basis
// hour on OLD (p95 or peak, see Basis) × the share to NEW × Margin, capped by
// the warm-up schedule and the provider's ceiling.
func (p ThrottlePolicy) DefaultThrottle(isp string, basisHourlyOld int, ratioNew int) Throttle {
	return p.Explain(isp, basisHourlyOld, ratioNew).Throttle
}

// WithOverride applies an operator override to an explained throttle: every
// field the override sets is decided by it.
func (e Explained) WithOverride(o Throttle) Explained {
	if o.PerHour > 0 {
		e.PerHour, e.PerHourBy = o.PerHour, CapOverride
	}
	if o.Connections > 0 {
		e.Connections, e.ConnectionsBy = o.Connections, CapOverride
	}
	if o.PerConnection > 0 {
		e.PerConnection, e.PerConnectionBy = o.PerConnection, CapOverride
	}
	return e
}

// ResolveThrottles fills d.Throttles for every provider in providers (plus
// any with an override): the default from history (basisHourlyOld: each
// provider's p95 or peak hour, per p.Basis), then the operator's override
// fields, which win even above a ceiling. It returns a copy.
func ResolveThrottles(d Desired, providers []string, basisHourlyOld map[string]int, p ThrottlePolicy) Desired {
	n := d.Clone()
	n.Throttles = nil
	for isp, e := range ExplainThrottles(d, providers, basisHourlyOld, p) {
		if n.Throttles == nil {
			n.Throttles = map[string]Throttle{}
		}
		n.Throttles[isp] = e.Throttle
	}
	return n
}

// ExplainThrottles is ResolveThrottles with what capped each number: the
// slider's preview shows it.
func ExplainThrottles(d Desired, providers []string, basisHourlyOld map[string]int, p ThrottlePolicy) map[string]Explained {
	names := map[string]bool{}
	for _, isp := range providers {
		names[isp] = true
	}
	for isp := range d.Overrides {
		names[isp] = true
	}
	out := map[string]Explained{}
	for isp := range names {
		out[isp] = p.Explain(isp, basisHourlyOld[isp], d.RatioFor(isp)).WithOverride(d.Overrides[isp])
	}
	return out
}

// ExpectedDaily converts a share and an expected daily volume into the
// PowerMTA cold-VMTA daily count (max-cold-virtual-mta-msg N/day), rounding
// up so a small domain at a small ratio still moves some mail.
func ExpectedDaily(ratioNew, dailyVolume int) int {
	if ratioNew <= 0 || dailyVolume <= 0 {
		return 0
	}
	return int(math.Ceil(float64(dailyVolume) * float64(clampPct(ratioNew)) / 100))
}

// RateDelay is the Postfix _destination_rate_delay for perHour messages an
// hour, in whole seconds (rounded up, so the rate never exceeds perHour), and
// the hourly rate that delay really gives. 0 means no delay.
func RateDelay(perHour int) (delay time.Duration, effective int) {
	if perHour <= 0 {
		return 0, 0
	}
	secs := (3600 + perHour - 1) / perHour
	return time.Duration(secs) * time.Second, 3600 / secs
}
