package bounce

import (
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// Sources of the canonical log events this package writes. They do not
// depend on the channel (maildir, mbox, pipe): the same report read twice
// is the same event, which the log deduplicates.
const (
	SourceDSN  = "bounce:dsn"
	SourceARF  = "fbl:arf"
	SourceJMRP = "fbl:jmrp"
)

// Suppressions are the canonical log events of a report: one hard_bounce
// per hard recipient of a bounce, one complaint per recipient of a
// complaint, one unsubscribe per recipient of an ARF opt-out. Soft bounces, deferrals ("delayed") and X.7 policy blocks give
// none. origin says where the message was ("<path> sha256:<hex>"); the
// recipient's index is appended.
func (r *Report) Suppressions(origin string) []model.SuppressionEvent {
	var out []model.SuppressionEvent
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		ev := model.SuppressionEvent{Addr: rc.Addr, Orig: rc.Orig, TS: rc.Time, Scope: "account",
			Origin: origin + ":" + strconv.Itoa(i+1)}
		switch {
		case (r.Format == FormatDSN || r.Format == FormatPlain) && rc.Hard():
			ev.Type, ev.Source = model.SuppHardBounce, SourceDSN
			ev.Reason = clip(joinNonEmpty(rc.Status, rc.Diagnostic), 300)
		case r.Unsubscribe():
			ev.Type, ev.Source = model.SuppUnsubscribe, SourceARF
			ev.Reason = clip(joinNonEmpty(r.FeedbackType, r.UserAgent), 300)
		case r.Complaint():
			ev.Type, ev.Source = model.SuppComplaint, SourceARF
			if r.Format == FormatJMRP {
				ev.Source = SourceJMRP
			}
			ev.Reason = clip(joinNonEmpty(r.FeedbackType, r.UserAgent), 300)
		default:
			continue
		}
		if ev.Addr == "" {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// ComplaintEvents are the counter events of a complaint: one per
// recipient, or one for a report that redacted every recipient (it still
// counts against the provider, from the reporter's domain). Side, MTA and
// ISP are left for the caller (side map, ISP table).
func (r *Report) ComplaintEvents(now time.Time) []model.Event {
	if !r.Complaint() {
		return nil
	}
	when := firstTime(r.Date, now)
	base := model.Event{Time: when, Kind: string(r.Format), Outcome: model.Complaint, SourceIP: r.SourceIP,
		Response: r.FeedbackType}
	if len(r.Recipients) == 0 {
		ev := base
		ev.Domain = reporterDomain(r.From)
		return []model.Event{ev}
	}
	out := make([]model.Event, 0, len(r.Recipients))
	for _, rc := range r.Recipients {
		ev := base
		ev.Recipient = rc.Addr
		ev.Domain = model.DomainKey(rc.Addr)
		if !rc.Time.IsZero() {
			ev.Time = rc.Time
		}
		out = append(out, ev)
	}
	return out
}

// reporterDomain is the mailbox provider's domain from the report's sender
// ("feedback@arf.mail.yahoo.com" → "yahoo.com", "staff@hotmail.com" →
// "hotmail.com"): the last two labels, three under a two-letter
// second-level such as co.uk.
func reporterDomain(from string) string {
	d := model.DomainOf(from)
	labels := strings.Split(d, ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-2]) <= 3 && len(labels[len(labels)-1]) == 2 {
		n = 3
	}
	if len(labels) <= n {
		return d
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && s[len(s)-1]&0xc0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xc0 {
		s = s[:len(s)-1]
	}
	return s
}
