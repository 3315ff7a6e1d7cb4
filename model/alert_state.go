package model

import (
	"fmt"
	"sort"
	"time"
)

// AlertState is where an alert instance is: pending (the condition holds,
// `for` not yet over) → firing → acked → resolved.
type AlertState string

const (
	AlertPending  AlertState = "pending"
	AlertFiring   AlertState = "firing"
	AlertAcked    AlertState = "acked"
	AlertResolved AlertState = "resolved"
)

// Alert is one instance of a rule on (rule, isp, side), from pending to
// resolved. Times are UTC; the SLA fields are computed on the operating
// clock. The JSON is what the state bucket `alerts` stores.
type Alert struct {
	ID        string     `json:"id"`
	Rule      string     `json:"rule"`
	Severity  string     `json:"severity"`
	ISP       string     `json:"isp"`
	Side      string     `json:"side"`
	State     AlertState `json:"state"`
	Value     float64    `json:"value"`
	Threshold float64    `json:"threshold"`
	Window    string     `json:"window"`
	Summary   string     `json:"summary"`
	// PendingSince: first evaluation with the condition true.
	PendingSince time.Time `json:"pending_since"`
	FiredAt      time.Time `json:"fired_at,omitzero"`
	DueBy        time.Time `json:"due_by,omitzero"`
	EscalateAt   time.Time `json:"escalate_at,omitzero"`
	AckedAt      time.Time `json:"acked_at,omitzero"`
	AckedBy      string    `json:"acked_by,omitempty"`
	AckNote      string    `json:"ack_note,omitempty"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	// ClearSince: first evaluation below the clear level while fired.
	ClearSince   time.Time `json:"clear_since,omitzero"`
	LastNotified time.Time `json:"last_notified,omitzero"`
	Escalated    bool      `json:"escalated,omitempty"`
	Notices      int       `json:"notices"`
}

// Instance is the (rule, isp, side) key an alert is unique on while open.
func (a *Alert) Instance() string { return a.Rule + "|" + a.ISP + "|" + a.Side }

// Open is true until resolved.
func (a *Alert) Open() bool { return a.State != AlertResolved }

// Fired is true for firing and acked alerts: what status and the bar count.
func (a *Alert) Fired() bool { return a.State == AlertFiring || a.State == AlertAcked }

// TimeToAck is the operating time from firing to ack (0 when not acked).
func (a *Alert) TimeToAck(oh *OperatingHours) time.Duration {
	if a.AckedAt.IsZero() || a.FiredAt.IsZero() {
		return 0
	}
	return oh.OperatingBetween(a.FiredAt, a.AckedAt)
}

// SLAMet: acked by DueBy. An unacked alert past DueBy has missed it; one
// not yet due is undecided (ok false).
func (a *Alert) SLAMet(now time.Time) (met, decided bool) {
	if a.FiredAt.IsZero() {
		return false, false
	}
	if !a.AckedAt.IsZero() {
		return !a.AckedAt.After(a.DueBy), true
	}
	if !a.ResolvedAt.IsZero() && !a.ResolvedAt.After(a.DueBy) {
		return true, true // gone before anyone had to answer
	}
	if now.After(a.DueBy) {
		return false, true
	}
	return false, false
}

// DueText is "due in 1h20m" or "overdue 35m" (§8.3), "" once acked.
func (a *Alert) DueText(now time.Time) string {
	if a.State != AlertFiring || a.DueBy.IsZero() {
		return ""
	}
	if d := a.DueBy.Sub(now); d >= 0 {
		return "due in " + fmtDur(d.Truncate(time.Minute))
	}
	return "overdue " + fmtDur(now.Sub(a.DueBy).Truncate(time.Minute))
}

// Ack records who acknowledged a firing alert: repeats and escalation stop.
func (a *Alert) Ack(by, note string, now time.Time) error {
	if by == "" {
		return fmt.Errorf("alert %s: ack needs a name (--by)", a.ID)
	}
	switch a.State {
	case AlertFiring:
	case AlertAcked:
		return fmt.Errorf("alert %s: already acked by %s at %s", a.ID, a.AckedBy, a.AckedAt.Format(time.RFC3339))
	default:
		return fmt.Errorf("alert %s is %s, not firing", a.ID, a.State)
	}
	a.State, a.AckedAt, a.AckedBy, a.AckNote = AlertAcked, now.UTC(), by, note
	return nil
}

// NoticeKind is why a notification goes out.
type NoticeKind string

const (
	NoticeFiring     NoticeKind = "firing"
	NoticeRepeat     NoticeKind = "repeat"
	NoticeEscalation NoticeKind = "escalation"
	NoticeResolved   NoticeKind = "resolved"
	NoticeTest       NoticeKind = "test"
	NoticeReport     NoticeKind = "report"
)

// Notice is one notification to send: escalation notices go only to the
// escalation channels, every other kind only to the others.
type Notice struct {
	Kind  NoticeKind
	Alert Alert
}

// AlertPolicy is the [monitor] part the state machine needs.
type AlertPolicy struct {
	Hours         *OperatingHours
	AckSLA        time.Duration // default 4h operating time
	EscalateAfter time.Duration // 0: no escalation
}

// StepAlerts advances the open alerts by one evaluation at now: new
// instances start pending (or fire at once without `for`), pending ones fire
// after `for`, fired ones repeat every `repeat` while unacked, escalate once
// after EscalateAfter of operating time unacked, and resolve after
// `resolve_after` below the clear level. open holds the open alerts by
// Instance; it is updated in place (resolved and dropped pending alerts are
// removed). newID names a new alert. It returns the alerts that changed
// (resolved and dropped ones included, dropped as State "" ) and the
// notices to send, in a deterministic order.
func StepAlerts(open map[string]*Alert, obs []Observation, rules []AlertRule, pol AlertPolicy, now time.Time, newID func() string) (changed []*Alert, notices []Notice) {
	now = now.UTC()
	if pol.AckSLA <= 0 {
		pol.AckSLA = 4 * time.Hour
	}
	byName := map[string]AlertRule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	seen := map[string]bool{}
	for _, o := range obs {
		r, ok := byName[o.Rule]
		if !ok {
			continue
		}
		key := o.Rule + "|" + o.ISP + "|" + sideName(o.Side)
		seen[key] = true
		a := open[key]
		if a == nil {
			if !o.Active {
				continue
			}
			a = &Alert{ID: newID(), Rule: o.Rule, Severity: o.Severity.String(), ISP: o.ISP, Side: sideName(o.Side),
				State: AlertPending, PendingSince: now}
			open[key] = a
		}
		a.Value, a.Threshold, a.Window, a.Summary = o.Value, o.Threshold, fmtDur(o.Window), o.Summary
		advance(a, o.Active, o.Clear, r, pol, now, &notices)
		changed = append(changed, a)
		if a.State == AlertResolved || a.State == "" {
			delete(open, key)
		}
	}
	// Open alerts their rule no longer reports on (the provider went quiet,
	// the rule was disabled or removed) count as clear.
	keys := make([]string, 0, len(open))
	for k := range open {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := open[k]
		r, ok := byName[a.Rule]
		if !ok || r.Disabled {
			r = AlertRule{Name: a.Rule, ResolveAfter: 0, Repeat: DefaultRepeat}
		}
		advance(a, false, true, r, pol, now, &notices)
		changed = append(changed, a)
		if a.State == AlertResolved || a.State == "" {
			delete(open, k)
		}
	}
	return changed, notices
}

func sideName(s Side) string {
	if s == SideUnknown {
		return ""
	}
	return s.String()
}

// advance moves one alert; it reports whether anything but the value changed.
func advance(a *Alert, active, clear bool, r AlertRule, pol AlertPolicy, now time.Time, out *[]Notice) bool {
	repeat := r.Repeat
	if repeat <= 0 {
		repeat = DefaultRepeat
	}
	switch a.State {
	case AlertPending:
		if !active {
			a.State = "" // never fired: dropped without a trace
			return true
		}
		if now.Sub(a.PendingSince) < r.For {
			return false
		}
		a.State, a.FiredAt = AlertFiring, now
		a.DueBy = pol.Hours.DueBy(now, pol.AckSLA).UTC()
		if pol.EscalateAfter > 0 {
			a.EscalateAt = pol.Hours.DueBy(now, pol.EscalateAfter).UTC()
		}
		a.LastNotified = now
		a.Notices++
		*out = append(*out, Notice{Kind: NoticeFiring, Alert: *a})
		return true
	case AlertFiring, AlertAcked:
		if active || !clear {
			a.ClearSince = time.Time{}
		} else {
			if a.ClearSince.IsZero() {
				a.ClearSince = now
			}
			if now.Sub(a.ClearSince) >= r.ResolveAfter {
				a.State, a.ResolvedAt = AlertResolved, now
				a.Notices++
				*out = append(*out, Notice{Kind: NoticeResolved, Alert: *a})
				return true
			}
		}
		if a.State != AlertFiring {
			return false
		}
		changed := false
		if pol.EscalateAfter > 0 && !a.Escalated && pol.Hours.OperatingBetween(a.FiredAt, now) >= pol.EscalateAfter {
			a.Escalated = true
			a.Notices++
			*out = append(*out, Notice{Kind: NoticeEscalation, Alert: *a})
			changed = true
		}
		if now.Sub(a.LastNotified) >= repeat {
			a.LastNotified = now
			a.Notices++
			*out = append(*out, Notice{Kind: NoticeRepeat, Alert: *a})
			changed = true
		}
		return changed
	}
	return false
}

// SLAStats summarises the alerts fired in [from, to) (zero: open ends):
// how many fired, were acked, met or missed the ack SLA, are still open,
// and the operating time to ack of the acked ones.
type SLAStats struct {
	Fired, Acked, Met, Missed, Open, Pending int
	AckTimes                                 []time.Duration
}

// ComputeSLA counts alerts against now (an unacked alert past due has
// missed; one not yet due is pending).
func ComputeSLA(all []Alert, oh *OperatingHours, from, to, now time.Time) SLAStats {
	var s SLAStats
	for i := range all {
		a := &all[i]
		if a.FiredAt.IsZero() || (!from.IsZero() && a.FiredAt.Before(from)) || (!to.IsZero() && !a.FiredAt.Before(to)) {
			continue
		}
		s.Fired++
		if a.Open() {
			s.Open++
		}
		if !a.AckedAt.IsZero() {
			s.Acked++
			s.AckTimes = append(s.AckTimes, a.TimeToAck(oh))
		}
		switch met, decided := a.SLAMet(now); {
		case !decided:
			s.Pending++
		case met:
			s.Met++
		default:
			s.Missed++
		}
	}
	return s
}
