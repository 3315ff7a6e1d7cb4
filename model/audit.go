package model

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// The source-state audit's pure rules (wave2 §4.5): hour profiles
// (nearest-rank percentiles over every hour of the window, zero hours
// included), the hour-of-week table, weekly rates with least-squares trends,
// IP-pool flags and the per-step throttle recommendation.

// HoursPerWeek is the size of the hour-of-week table.
const HoursPerWeek = 7 * 24

// HourOfWeek is the index of t's hour in a week that starts on Monday 00:00
// UTC: Monday 00:00 = 0, Wednesday 10:00 = 58, Sunday 23:00 = 167.
func HourOfWeek(t time.Time) int {
	t = t.UTC()
	return (int(t.Weekday())+6)%7*24 + t.Hour()
}

// HourOfWeekLabel is "Wed 10:00" for an index of HourOfWeek.
func HourOfWeekLabel(i int) string {
	days := [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	i = ((i % HoursPerWeek) + HoursPerWeek) % HoursPerWeek
	return days[i/24] + " " + twoDigits(i%24) + ":00"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// NearestRank is the p-th percentile (0 < p ≤ 100) of vals by the
// nearest-rank method: the smallest value with at least p % of the values at
// or below it, i.e. the ceil(p/100 × n)-th smallest. 0 for no values.
func NearestRank(vals []uint64, p float64) uint64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	return nearestRankSorted(s, p)
}

func nearestRankSorted(s []uint64, p float64) uint64 {
	// Rank in integer arithmetic where p is whole: 0.95×672 = 638.4 must give
	// 639, and float rounding must not make 0.5×672 = 336 into 337.
	n := len(s)
	var rank int
	if p == math.Trunc(p) {
		rank = (int(p)*n + 99) / 100
	} else {
		rank = int(math.Ceil(p / 100 * float64(n)))
	}
	rank = min(max(rank, 1), n)
	return s[rank-1]
}

// HourProfile is a provider's hourly attempts summarised.
type HourProfile struct {
	Hours  int       `json:"hours"` // hours in the window (zero hours included)
	P50    uint64    `json:"p50_hour"`
	P95    uint64    `json:"p95_hour"`
	Peak   uint64    `json:"peak_hour"`
	PeakAt time.Time `json:"peak_at"` // start of the first hour with Peak
}

// ProfileOf summarises hourly attempts; hour i starts at start + i hours.
func ProfileOf(start time.Time, hourly []uint64) HourProfile {
	h := HourProfile{Hours: len(hourly)}
	if len(hourly) == 0 {
		return h
	}
	for i, v := range hourly {
		if v > h.Peak || i == 0 {
			h.Peak, h.PeakAt = v, start.Add(time.Duration(i)*time.Hour).UTC()
		}
	}
	s := slices.Clone(hourly)
	slices.Sort(s)
	h.P50 = nearestRankSorted(s, 50)
	h.P95 = nearestRankSorted(s, 95)
	return h
}

// HourOfWeekTable sums hourly values into the 168 hours of the week.
func HourOfWeekTable(start time.Time, hourly []uint64) [HoursPerWeek]uint64 {
	var t [HoursPerWeek]uint64
	for i, v := range hourly {
		t[HourOfWeek(start.Add(time.Duration(i)*time.Hour))] += v
	}
	return t
}

// Deciles maps a table to 0-9 by each cell's share of the largest cell: the
// NO_COLOR heat map prints these digits.
func Deciles(t [HoursPerWeek]uint64) [HoursPerWeek]int {
	var mx uint64
	for _, v := range t {
		mx = max(mx, v)
	}
	var d [HoursPerWeek]int
	if mx == 0 {
		return d
	}
	for i, v := range t {
		d[i] = min(int(v*10/mx), 9)
	}
	return d
}

// WeekRates are one week's rates (fractions); complaints are per delivered,
// the others per attempt.
type WeekRates struct {
	Week          time.Time `json:"week"` // start
	Attempts      uint64    `json:"attempts"`
	Delivered     uint64    `json:"delivered"`
	DeliveredRate float64   `json:"delivered_rate"`
	DeferralRate  float64   `json:"deferral_rate"`
	HardRate      float64   `json:"hard_rate"`
	ComplaintRate float64   `json:"complaint_rate"`
	// Skipped: fewer attempts than the thresholds' MinSample; left out of the
	// trends (and listed).
	Skipped bool `json:"skipped,omitempty"`
}

// Weekly cuts hourly tallies into full weeks of 168 hours from start (a
// trailing partial week is left out: its rates would weigh a few days like a
// week).
func Weekly(start time.Time, hourly []Tally, th Thresholds) []WeekRates {
	th = th.WithDefaults()
	var out []WeekRates
	for w := 0; (w+1)*HoursPerWeek <= len(hourly); w++ {
		var t Tally
		for _, h := range hourly[w*HoursPerWeek : (w+1)*HoursPerWeek] {
			t.Add(h)
		}
		r := t.Rates()
		out = append(out, WeekRates{
			Week: start.Add(time.Duration(w*HoursPerWeek) * time.Hour).UTC(), Attempts: r.Attempts, Delivered: t.Delivered,
			DeliveredRate: r.Delivered, DeferralRate: r.Deferred, HardRate: r.HardBounce, ComplaintRate: r.Complaint,
			Skipped: r.Attempts < th.MinSample,
		})
	}
	return out
}

// Trend flags.
const (
	TrendRising  = "rising"
	TrendFalling = "falling"
	TrendFlat    = "flat"
	TrendNone    = "n/a" // fewer than MinTrendWeeks usable weeks
)

// MinTrendWeeks is the fewest full weeks a trend is computed on.
const MinTrendWeeks = 3

// Trend is one metric's weekly course, in percentage points.
type Trend struct {
	SlopePtPerWeek float64 `json:"slope_pt_per_week"`
	First          float64 `json:"first"` // percent
	Last           float64 `json:"last"`  // percent
	Flag           string  `json:"flag"`
	Weeks          int     `json:"weeks"`
}

// TrendOf fits weekly rates (fractions, oldest first) by ordinary least
// squares against the week number and flags the course (wave2 §4.5): rising
// when the slope is positive and last ≥ 1.5 × first and last ≥ half the
// metric's warn level (warn 0: no level test); falling symmetrically (first ≥
// 1.5 × last, first ≥ half the warn level); otherwise flat.
func TrendOf(rates []float64, warn float64) Trend {
	t := Trend{Weeks: len(rates), Flag: TrendNone}
	if len(rates) == 0 {
		return t
	}
	t.First, t.Last = round4(rates[0]*100), round4(rates[len(rates)-1]*100)
	if len(rates) < MinTrendWeeks {
		return t
	}
	n := float64(len(rates))
	var sx, sy float64
	for i, r := range rates {
		sx += float64(i)
		sy += r * 100
	}
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for i, r := range rates {
		dx := float64(i) - mx
		sxy += dx * (r*100 - my)
		sxx += dx * dx
	}
	t.SlopePtPerWeek = round4(sxy / sxx)
	half := warn * 100 / 2
	switch {
	case t.SlopePtPerWeek > 0 && t.Last >= 1.5*t.First && t.Last >= half:
		t.Flag = TrendRising
	case t.SlopePtPerWeek < 0 && t.First >= 1.5*t.Last && t.First >= half:
		t.Flag = TrendFalling
	default:
		t.Flag = TrendFlat
	}
	return t
}

// round4 keeps 4 decimals so that float noise (2.0000000004) does not reach
// a golden file or a flag comparison.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// Trend metric names, in report order.
var TrendMetrics = []string{"delivered", "deferral", "hard_bounce", "complaint"}

// Trends computes every metric's trend from weekly rates, leaving out
// skipped weeks.
func Trends(weeks []WeekRates, th Thresholds) map[string]Trend {
	th = th.WithDefaults()
	var dl, df, hb, cp []float64
	for _, w := range weeks {
		if w.Skipped {
			continue
		}
		dl = append(dl, w.DeliveredRate)
		df = append(df, w.DeferralRate)
		hb = append(hb, w.HardRate)
		cp = append(cp, w.ComplaintRate)
	}
	return map[string]Trend{
		"delivered":   TrendOf(dl, 0),
		"deferral":    TrendOf(df, th.Deferral.Warn),
		"hard_bounce": TrendOf(hb, th.HardBounce.Warn),
		"complaint":   TrendOf(cp, th.Complaint.Warn),
	}
}

// Pool is one source IP, VMTA or transport of a provider's OLD traffic.
type Pool struct {
	Dim          string  `json:"dim"` // ip | vmta | transport | ip_pool
	Value        string  `json:"value"`
	Attempts     uint64  `json:"attempts"`
	Share        float64 `json:"share"` // of the provider's attempts in this dimension
	DeferralRate float64 `json:"deferral_rate"`
	// Flagged: deferral rate ≥ 2 × the provider's overall rate (a bad IP
	// whose pattern NEW must not inherit).
	Flagged bool `json:"flagged,omitempty"`
}

// PoolFlagFactor is how many times the provider's deferral rate flags a pool.
const PoolFlagFactor = 2

// Pools computes shares per dimension and flags against the provider's
// overall deferral rate; input tallies are keyed dim, value.
func Pools(in map[[2]string]Tally, providerDeferral float64) []Pool {
	totals := map[string]uint64{}
	for k, t := range in {
		totals[k[0]] += t.Attempts()
	}
	out := make([]Pool, 0, len(in))
	for k, t := range in {
		r := t.Rates()
		if r.Attempts == 0 {
			continue
		}
		p := Pool{Dim: k[0], Value: k[1], Attempts: r.Attempts, DeferralRate: round4(r.Deferred),
			Share: round4(float64(r.Attempts) / float64(totals[k[0]]))}
		p.Flagged = providerDeferral > 0 && r.Deferred >= PoolFlagFactor*providerDeferral
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dim != out[j].Dim {
			return out[i].Dim < out[j].Dim
		}
		if out[i].Attempts != out[j].Attempts {
			return out[i].Attempts > out[j].Attempts
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// StepRecommendation is the throttle for one provider at one plan step and
// warm-up day, each number with what capped it.
type StepRecommendation struct {
	Step int `json:"step"`
	Day  int `json:"warmup_day"` // 0 = warm IPs
	Explained
}

// Recommend is the throttle per step at the policy's warm-up day for one
// provider whose basis hour is basisHourly (wave2 §4.5).
func (p ThrottlePolicy) Recommend(isp string, basisHourly int, steps []int) []StepRecommendation {
	out := make([]StepRecommendation, 0, len(steps))
	day := max(p.WarmupDay, 1)
	if p.Warm {
		day = 0
	}
	for _, s := range steps {
		if s <= 0 {
			continue
		}
		out = append(out, StepRecommendation{Step: s, Day: day, Explained: p.Explain(isp, basisHourly, s)})
	}
	return out
}

// Share is part/total as a fraction rounded to 4 decimals (58.99 % = 0.5899).
func Share(part, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return round4(float64(part) / float64(total))
}
