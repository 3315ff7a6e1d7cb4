package model

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// AuditInput is what the audit reads, already gathered from the counters and
// the imported ESP statistics: per provider one tally per hour of the
// window (zero hours included).
type AuditInput struct {
	Since  time.Time // hour-aligned window start
	Hours  int
	Hourly map[string][]Tally
	// DayOnly marks providers with data at day resolution only (an ESP that
	// exports days): their counts sit in the first hour of each day, so
	// hour statistics are not shown and the basis hour is the p95 day ÷
	// WarmupWindowHours.
	DayOnly map[string]bool
	// Pools per provider: (dim, value) → tally (OLD logs' ip/vmta/transport,
	// Mailgun's ip/ip_pool).
	Pools       map[string]map[[2]string]Tally
	Sources     []string       // where the numbers come from (logs, sendgrid:file …)
	Unknown     map[string]int // ESP provider names mapped to other, with rows
	Reputation  []ReputationRecord
	Suppression map[string]uint64 // totals by kind, when known
}

// AuditOptions shape the recommendation.
type AuditOptions struct {
	Policy     ThrottlePolicy // Basis, Margin, NewIPs, WarmupDay, Warm, Ceilings
	Steps      []int          // plan steps (default DefaultSteps without 0)
	Thresholds Thresholds
}

// AuditReport is the audit's JSON (docs/CONTRACTS.md "audit report"), also
// the input of the plan's feasibility and the weekly report.
type AuditReport struct {
	Window struct {
		Since time.Time `json:"since"`
		Until time.Time `json:"until"`
		Hours int       `json:"hours"`
	} `json:"window"`
	Attempts    uint64              `json:"attempts"`
	Providers   []AuditProvider     `json:"providers"`
	Reputation  AuditReputation     `json:"reputation"`
	Suppression map[string]uint64   `json:"suppression,omitempty"`
	Gaps        []string            `json:"gaps"` // days (YYYY-MM-DD) inside the window without any data
	Sources     []string            `json:"sources"`
	Unknown     map[string]int      `json:"unknown_providers,omitempty"`
	Recommend   AuditRecommendation `json:"recommend"`
}

// AuditRecommendation echoes the policy the per-step numbers used.
type AuditRecommendation struct {
	Basis     string  `json:"basis"`
	Margin    float64 `json:"margin"`
	NewIPs    int     `json:"new_ips"`
	WarmupDay int     `json:"warmup_day"` // 0 = warm IPs
	Steps     []int   `json:"steps"`
}

// AuditProvider is one provider's row of the audit.
type AuditProvider struct {
	ISP         string                        `json:"isp"`
	Attempts    uint64                        `json:"attempts"`
	Share       float64                       `json:"share"`
	DailyMean   float64                       `json:"daily_mean"`
	DayOnly     bool                          `json:"day_only,omitempty"`
	HourProfile                               // p50_hour, p95_hour, peak_hour, peak_at
	PeakWhen    string                        `json:"peak_when"` // "Wed 10:00"
	HourOfWeek  [HoursPerWeek]uint64          `json:"hour_of_week"`
	Weekly      []WeekRates                   `json:"weekly"`
	Trend       map[string]Trend              `json:"trend"`
	Pools       []Pool                        `json:"pools"`
	Basis       int                           `json:"basis_hourly"`
	PerStep     map[string]StepRecommendation `json:"per_step"`
}

// AuditReputation is the baseline: every imported row and how many look bad.
type AuditReputation struct {
	Records []ReputationRecord `json:"records"`
	Bad     int                `json:"bad"`
}

// BuildAudit computes the report (wave2 §4.5). Providers are sorted by
// attempts, largest first.
func BuildAudit(in AuditInput, o AuditOptions) AuditReport {
	th := o.Thresholds.WithDefaults()
	var r AuditReport
	r.Window.Since, r.Window.Hours = in.Since.UTC(), in.Hours
	r.Window.Until = in.Since.Add(time.Duration(in.Hours) * time.Hour).UTC()
	steps := o.Steps
	if len(steps) == 0 {
		steps = DefaultSteps
	}
	steps = slices.DeleteFunc(slices.Clone(steps), func(s int) bool { return s <= 0 || s > 100 })
	pol := o.Policy
	r.Recommend = AuditRecommendation{Basis: pol.BasisName(), Margin: pol.Margin, NewIPs: max(pol.NewIPs, 1), WarmupDay: max(pol.WarmupDay, 1), Steps: steps}
	if r.Recommend.Margin <= 0 {
		r.Recommend.Margin = DefaultMargin
	}
	if pol.Warm {
		r.Recommend.WarmupDay = 0
	}
	totals := map[string]uint64{}
	for isp, s := range in.Hourly {
		for _, t := range s {
			totals[isp] += t.Attempts()
		}
		r.Attempts += totals[isp]
	}
	days := float64(in.Hours) / 24
	for _, isp := range slices.Sorted(maps.Keys(in.Hourly)) {
		s := in.Hourly[isp]
		att := make([]uint64, len(s))
		var all Tally
		for i, t := range s {
			att[i] = t.Attempts()
			all.Add(t)
		}
		p := AuditProvider{ISP: isp, Attempts: totals[isp], Share: Share(totals[isp], r.Attempts), DayOnly: in.DayOnly[isp]}
		if days > 0 {
			p.DailyMean = math.Round(float64(totals[isp])/days*10) / 10
		}
		if p.DayOnly {
			var daily []uint64
			for d := 0; d*24 < len(att); d++ {
				var n uint64
				for _, v := range att[d*24 : min((d+1)*24, len(att))] {
					n += v
				}
				daily = append(daily, n)
			}
			p95d := NearestRank(daily, 95)
			p.Basis = int((p95d + WarmupWindowHours - 1) / WarmupWindowHours)
		} else {
			p.HourProfile = ProfileOf(in.Since, att)
			p.PeakWhen = HourOfWeekLabel(HourOfWeek(p.PeakAt))
			p.HourOfWeek = HourOfWeekTable(in.Since, att)
			p.Basis = pol.BasisHourly(p.HourProfile)
		}
		p.Weekly = Weekly(in.Since, s, th)
		p.Trend = Trends(p.Weekly, th)
		p.Pools = Pools(in.Pools[isp], all.Rates().Deferred)
		p.PerStep = map[string]StepRecommendation{}
		for _, sr := range pol.Recommend(isp, p.Basis, steps) {
			p.PerStep[strconv.Itoa(sr.Step)] = sr
		}
		r.Providers = append(r.Providers, p)
	}
	slices.SortStableFunc(r.Providers, func(a, b AuditProvider) int {
		switch {
		case a.Attempts > b.Attempts:
			return -1
		case a.Attempts < b.Attempts:
			return 1
		}
		return 0
	})
	// Gaps: days of the window without a single count anywhere.
	r.Gaps = []string{}
	for d := 0; d*24 < in.Hours; d++ {
		any := false
		for _, s := range in.Hourly {
			for _, t := range s[d*24 : min((d+1)*24, len(s))] {
				if t != (Tally{}) {
					any = true
					break
				}
			}
			if any {
				break
			}
		}
		if !any {
			r.Gaps = append(r.Gaps, in.Since.Add(time.Duration(d)*24*time.Hour).Format(time.DateOnly))
		}
	}
	r.Sources = slices.Clone(in.Sources)
	if r.Sources == nil {
		r.Sources = []string{}
	}
	if len(in.Unknown) > 0 {
		r.Unknown = maps.Clone(in.Unknown)
	}
	r.Reputation.Records = slices.Clone(in.Reputation)
	if r.Reputation.Records == nil {
		r.Reputation.Records = []ReputationRecord{}
	}
	for _, rec := range in.Reputation {
		if rec.Bad(th) {
			r.Reputation.Bad++
		}
	}
	r.Suppression = in.Suppression
	return r
}
