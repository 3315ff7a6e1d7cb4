// Package notify sends the monitor's notifications (wave2 §8.3) through
// the configured channels: webhook (a JSON POST), smtp (a plain-text mail
// through a configured relay) and exec (argv with placeholders, never a
// shell). The JSON body is a contract: docs/CONTRACTS.md "Alert webhook".
package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cutover/model"
)

// Message is one notification: the webhook's JSON body, the mail's fields
// and the exec placeholders. Kind is firing, repeat, escalation, resolved,
// test or report.
type Message struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	Severity  string    `json:"severity"`
	ISP       string    `json:"isp"`
	Side      string    `json:"side"`
	State     string    `json:"state"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Window    string    `json:"window"`
	FiredAt   time.Time `json:"fired_at,omitzero"`
	DueBy     time.Time `json:"due_by,omitzero"`
	Summary   string    `json:"summary"`
	URL       string    `json:"url,omitempty"`
}

// FromNotice builds the message of a notice; url links the alert (or the
// report) when [monitor] url is set.
func FromNotice(n model.Notice, url string) Message {
	a := n.Alert
	return Message{Kind: string(n.Kind), ID: a.ID, Rule: a.Rule, Severity: a.Severity, ISP: a.ISP, Side: a.Side,
		State: string(a.State), Value: a.Value, Threshold: a.Threshold, Window: a.Window, FiredAt: a.FiredAt.UTC(),
		DueBy: a.DueBy.UTC(), Summary: a.Summary, URL: url}
}

// Subject is the one-line title of a message (mail subject, logs).
func (m Message) Subject() string {
	if m.Kind == string(model.NoticeReport) || m.Kind == string(model.NoticeTest) {
		return "[cutover] " + m.Summary
	}
	where := m.ISP
	if m.Side != "" {
		where += " " + m.Side
	}
	return fmt.Sprintf("[cutover] %s %s %s %s", upper(m.Severity), m.Kind, m.Rule, where)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// fields are the message as "name value" pairs in the JSON order: the mail
// body and the exec placeholders.
func (m Message) fields() [][2]string {
	t := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return [][2]string{{"kind", m.Kind}, {"id", m.ID}, {"rule", m.Rule}, {"severity", m.Severity}, {"isp", m.ISP},
		{"side", m.Side}, {"state", m.State}, {"value", f(m.Value)}, {"threshold", f(m.Threshold)}, {"window", m.Window},
		{"fired_at", t(m.FiredAt)}, {"due_by", t(m.DueBy)}, {"summary", m.Summary}, {"url", m.URL}}
}

// Sender delivers one message on one channel.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Channel is a configured [[notify]] entry.
type Channel struct {
	Name        string
	MinSeverity model.Severity
	// Escalation channels get escalation notices (and tests) only; the
	// others get everything else.
	Escalation bool
	Sender     Sender
}

// Wants tells whether the channel takes a message: escalation notices only
// on escalation channels, every other alert notice only on the others, and
// not below min_severity; tests go everywhere, report announcements to the
// ordinary channels.
func (c Channel) Wants(m Message) bool {
	switch model.NoticeKind(m.Kind) {
	case model.NoticeTest:
		return true
	case model.NoticeReport:
		return !c.Escalation
	case model.NoticeEscalation:
		if !c.Escalation {
			return false
		}
	default:
		if c.Escalation {
			return false
		}
	}
	sev, _ := model.ParseSeverity(m.Severity)
	return sev >= c.MinSeverity
}

// Result is one delivery attempt.
type Result struct {
	Channel string
	Err     error
}

// Deliver sends m on every channel that wants it, one after the other
// (each sender has its own timeout), and returns what happened on each.
func Deliver(ctx context.Context, chans []Channel, m Message) []Result {
	var out []Result
	for _, c := range chans {
		if !c.Wants(m) {
			continue
		}
		out = append(out, Result{Channel: c.Name, Err: c.Sender.Send(ctx, m)})
	}
	return out
}

// Errors joins the failed results, nil when all went through.
func Errors(rs []Result) error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Channel, r.Err))
		}
	}
	return errors.Join(errs...)
}
