package model

import "math"

// Health is the verdict on one provider, side or metric.
type Health uint8

const (
	// HealthNone means too little traffic to judge: no mark is better than a
	// mark drawn from five messages.
	HealthNone Health = iota
	HealthOK
	HealthWarn
	HealthCrit
)

// String gives the mark shown in the UI; it must read without colour.
func (h Health) String() string {
	switch h {
	case HealthOK:
		return "OK"
	case HealthWarn:
		return "WARN"
	case HealthCrit:
		return "CRIT"
	}
	return "--"
}

// Worst returns the more severe of two verdicts.
func Worst(a, b Health) Health {
	if b > a {
		return b
	}
	return a
}

// Level is one metric's warn and critical rate, as fractions (0.001 = 0.1 %).
// A rate at or above a level reaches it.
type Level struct {
	Warn float64 `toml:"warn" json:"warn"`
	Crit float64 `toml:"crit" json:"crit"`
}

// Thresholds decide the health marks and the NEW-worse mark. The config may
// override any field; DefaultThresholds fills the rest.
type Thresholds struct {
	Complaint  Level `toml:"complaint" json:"complaint"`     // complaints / delivered
	HardBounce Level `toml:"hard_bounce" json:"hard_bounce"` // hard bounces / attempts
	Deferral   Level `toml:"deferral" json:"deferral"`       // deferred / attempts

	// MinSample is the smallest denominator (attempts, or delivered for the
	// complaint rate) a metric is judged on; below it the metric is HealthNone.
	MinSample uint64 `toml:"min_sample" json:"min_sample"`
	// MinEvents is the fewest events (deferrals, hard bounces, complaints)
	// that can raise a mark: two complaints are an anecdote, not a rate.
	MinEvents uint64 `toml:"min_events" json:"min_events"`

	// Z is the one-sided z score above which NEW is worse than OLD
	// (2.33 ≈ 99 %: with dozens of panes refreshed every second, a 95 % test
	// would cry wolf somewhere all the time).
	Z float64 `toml:"z" json:"z"`
	// WorseMinEvents is the fewest NEW events of the kind for the NEW-worse
	// test: the normal approximation is meaningless on a handful of counts.
	WorseMinEvents uint64 `toml:"worse_min_events" json:"worse_min_events"`
	// WorseMinEffect is the smallest difference (NEW rate - OLD rate) that
	// counts, as a share of the metric's warn level: on a million messages a
	// 0.01-point difference is "significant" and irrelevant.
	WorseMinEffect float64 `toml:"worse_min_effect" json:"worse_min_effect"`
}

// DefaultThresholds are the defaults: complaint rate warn 0.1 % crit
// 0.3 % (Gmail and Yahoo bulk sender rules), hard bounces warn 2 % crit 5 %
// (industry rule of thumb, SES review level), deferrals warn 10 % crit 25 %.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Complaint:      Level{Warn: 0.001, Crit: 0.003},
		HardBounce:     Level{Warn: 0.02, Crit: 0.05},
		Deferral:       Level{Warn: 0.10, Crit: 0.25},
		MinSample:      50,
		MinEvents:      3,
		Z:              2.33,
		WorseMinEvents: 5,
		WorseMinEffect: 0.25,
	}
}

// WithDefaults fills zero fields from DefaultThresholds, so a config that sets
// only the complaint levels keeps the other defaults.
func (t Thresholds) WithDefaults() Thresholds {
	d := DefaultThresholds()
	fill := func(l *Level, dl Level) {
		if l.Warn <= 0 {
			l.Warn = dl.Warn
		}
		if l.Crit <= 0 {
			l.Crit = dl.Crit
		}
		if l.Crit < l.Warn {
			l.Crit = l.Warn
		}
	}
	fill(&t.Complaint, d.Complaint)
	fill(&t.HardBounce, d.HardBounce)
	fill(&t.Deferral, d.Deferral)
	if t.MinSample == 0 {
		t.MinSample = d.MinSample
	}
	if t.MinEvents == 0 {
		t.MinEvents = d.MinEvents
	}
	if t.Z <= 0 {
		t.Z = d.Z
	}
	if t.WorseMinEvents == 0 {
		t.WorseMinEvents = d.WorseMinEvents
	}
	if t.WorseMinEffect <= 0 {
		t.WorseMinEffect = d.WorseMinEffect
	}
	return t
}

// Tally is the outcome counts of one side over some time. Its fields match
// state.Counts, so a state.Counts converts with model.Tally(c).
type Tally struct {
	Delivered  uint64
	Deferred   uint64
	Held       uint64
	Bounced    uint64
	HardBounce uint64 // subset of Bounced
	Expired    uint64
	Complaints uint64
}

// Add adds o into t.
func (t *Tally) Add(o Tally) {
	t.Delivered += o.Delivered
	t.Deferred += o.Deferred
	t.Held += o.Held
	t.Bounced += o.Bounced
	t.HardBounce += o.HardBounce
	t.Expired += o.Expired
	t.Complaints += o.Complaints
}

// Attempts is the denominator of the delivery rates: every recipient outcome
// of a delivery attempt. Held is excluded (no attempt was made: a dead
// destination must not inflate or dilute the rates), and so are complaints
// (they arrive later, about mail already delivered).
func (t Tally) Attempts() uint64 {
	return t.Delivered + t.Deferred + t.Bounced + t.Expired
}

// Rates are a Tally's proportions as fractions. A rate whose denominator is
// zero is 0; check Attempts/Delivered before showing it.
type Rates struct {
	Attempts   uint64
	Delivered  float64 // delivered / attempts
	Deferred   float64 // deferred / attempts
	Bounced    float64 // bounced / attempts (hard and soft)
	HardBounce float64 // hard / attempts
	Expired    float64 // expired / attempts
	Complaint  float64 // complaints / delivered
}

// Rates computes the proportions of t.
func (t Tally) Rates() Rates {
	a := t.Attempts()
	r := Rates{Attempts: a}
	r.Delivered = ratio(t.Delivered, a)
	r.Deferred = ratio(t.Deferred, a)
	r.Bounced = ratio(t.Bounced, a)
	r.HardBounce = ratio(t.HardBounce, a)
	r.Expired = ratio(t.Expired, a)
	r.Complaint = ratio(t.Complaints, t.Delivered)
	return r
}

func ratio(x, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n)
}

// Verdict is the health of one Tally, per metric and overall.
type Verdict struct {
	Overall    Health
	Deferral   Health
	HardBounce Health
	Complaint  Health
}

// Judge gives the health of t against the thresholds.
func (th Thresholds) Judge(t Tally) Verdict {
	th = th.WithDefaults()
	a := t.Attempts()
	v := Verdict{
		Deferral:   th.level(th.Deferral, t.Deferred, a),
		HardBounce: th.level(th.HardBounce, t.HardBounce, a),
		Complaint:  th.level(th.Complaint, t.Complaints, t.Delivered),
	}
	v.Overall = Worst(Worst(v.Deferral, v.HardBounce), v.Complaint)
	return v
}

func (th Thresholds) level(l Level, x, n uint64) Health {
	if n < th.MinSample || n == 0 {
		return HealthNone
	}
	if x < th.MinEvents {
		return HealthOK
	}
	r := float64(x) / float64(n)
	switch {
	case r >= l.Crit:
		return HealthCrit
	case r >= l.Warn:
		return HealthWarn
	}
	return HealthOK
}

// Worse says, per metric, whether NEW is worse than OLD beyond noise, with
// the z scores behind it (0 when the test could not be run).
type Worse struct {
	Deferral, HardBounce, Complaint    bool
	ZDeferral, ZHardBounce, ZComplaint float64
}

// Any reports a NEW-worse mark on any metric.
func (w Worse) Any() bool { return w.Deferral || w.HardBounce || w.Complaint }

// Compare tests whether NEW is worse than OLD on deferral, hard-bounce and
// complaint proportions: a one-sided two-proportion z-test, plus a minimum
// NEW event count and a minimum effect size (see Thresholds).
func (th Thresholds) Compare(oldT, newT Tally) Worse {
	th = th.WithDefaults()
	var w Worse
	w.Deferral, w.ZDeferral = th.worse(th.Deferral, oldT.Deferred, oldT.Attempts(), newT.Deferred, newT.Attempts())
	w.HardBounce, w.ZHardBounce = th.worse(th.HardBounce, oldT.HardBounce, oldT.Attempts(), newT.HardBounce, newT.Attempts())
	w.Complaint, w.ZComplaint = th.worse(th.Complaint, oldT.Complaints, oldT.Delivered, newT.Complaints, newT.Delivered)
	return w
}

func (th Thresholds) worse(l Level, xOld, nOld, xNew, nNew uint64) (bool, float64) {
	z := ZWorse(xOld, nOld, xNew, nNew)
	if xNew < th.WorseMinEvents {
		return false, z
	}
	diff := ratio(xNew, nNew) - ratio(xOld, nOld)
	return z > th.Z && diff >= th.WorseMinEffect*l.Warn, z
}

// ZWorse is the pooled two-proportion z statistic for "NEW proportion xNew/nNew
// is larger than OLD proportion xOld/nOld": positive when NEW is worse. It is
// 0 when either side has no trials or the pooled proportion is 0 or 1 (no
// variance, nothing to test).
func ZWorse(xOld, nOld, xNew, nNew uint64) float64 {
	if nOld == 0 || nNew == 0 || xOld > nOld || xNew > nNew {
		return 0
	}
	p := float64(xOld+xNew) / float64(nOld+nNew)
	if p <= 0 || p >= 1 {
		return 0
	}
	se := math.Sqrt(p * (1 - p) * (1/float64(nOld) + 1/float64(nNew)))
	return (float64(xNew)/float64(nNew) - float64(xOld)/float64(nOld)) / se
}
