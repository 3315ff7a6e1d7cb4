// Package reporttest writes the weekly-report fixture (wave2 §8.5): week
// 2026-W03 in UTC (Mon 2026-01-12 – Mon 2026-01-19) with 28 days of history
// before it, deterministic, no randomness. Google NEW deferrals alternate
// 1.5 % / 2.5 % (mean 2 %, σ 0.5 pt) except Wed 2026-01-14 at 9 % (an
// anomaly) and Thu 2026-01-15 at 3 % (not one).
package reporttest

import (
	"fmt"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
)

// Week of the fixture.
const Week = "2026-W03"

var (
	// From and To bound the week (UTC).
	From = time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	To   = time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC)
	// First is the first fixture day (28 days of history before From).
	First = From.AddDate(0, 0, -28)
	// AnomalyDay is listed; MildDay (3 %) is not.
	AnomalyDay = time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)
	MildDay    = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

type spec struct {
	isp, domain string
	side        model.Side
	attempts    int
	defer1000   func(day int) int // deferrals per 1000 attempts
	hard, compl int               // per day
}

// Replies are real provider texts (model/bounce.go signatures).
var (
	gmailRate  = "421-4.7.28 [203.0.113.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp"
	gmailNoUsr = "550-5.1.1 The email account that you tried to reach does not exist. - gsmtp"
	msBlock    = "550 5.7.1 Unfortunately, messages from [203.0.113.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	yahooTSS   = "421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1"
	msNoUsr    = "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)."
)

// googleNewDefer is deferrals per 1000 Google NEW attempts on day d (0 =
// First): 15 / 25 alternating, 90 on AnomalyDay, 30 on MildDay.
func googleNewDefer(d int) int {
	day := First.AddDate(0, 0, d)
	switch {
	case day.Equal(AnomalyDay):
		return 90
	case day.Equal(MildDay):
		return 30
	case d%2 == 0:
		return 15
	}
	return 25
}

var specs = []spec{
	{"google", "gmail.com", model.SideNew, 2000, googleNewDefer, 10, 1},
	{"google", "gmail.com", model.SideOld, 1500, func(int) int { return 10 }, 6, 1},
	{"microsoft", "outlook.com", model.SideNew, 800, func(int) int { return 20 }, 4, 0},
	{"microsoft", "outlook.com", model.SideOld, 900, func(int) int { return 20 }, 4, 1},
	{"yahoo", "yahoo.com", model.SideNew, 500, func(int) int { return 40 }, 3, 0},
	{"yahoo", "yahoo.com", model.SideOld, 700, func(int) int { return 30 }, 3, 0},
}

func reply(isp string, hard bool) string {
	switch {
	case isp == "google" && hard:
		return gmailNoUsr
	case isp == "google":
		return gmailRate
	case isp == "microsoft" && hard:
		return msNoUsr
	case isp == "microsoft":
		return msBlock
	}
	return yahooTSS
}

// Write fills db with the fixture and returns the number of events.
func Write(t testing.TB, db *state.DB) int {
	t.Helper()
	n := 0
	days := int(To.Sub(First).Hours() / 24)
	for d := 0; d < days; d++ {
		b := state.NewBatch()
		day := First.AddDate(0, 0, d)
		for _, s := range specs {
			mta := "pmta-new"
			if s.side == model.SideOld {
				mta = "postfix-old"
			}
			def := s.attempts * s.defer1000(d) / 1000
			// Outcomes spread over the day's hours so the day is the sum of
			// many hour buckets.
			for i := 0; i < s.attempts; i++ {
				ev := &model.Event{Time: day.Add(time.Duration(i%24)*time.Hour + time.Duration(i%60)*time.Minute), Side: s.side, MTA: mta,
					Kind: "pmta", ISP: s.isp, Domain: s.domain, Recipient: fmt.Sprintf("u%d@%s", i, s.domain), Outcome: model.Delivered}
				switch {
				case i < def:
					ev.Outcome, ev.Response, ev.Status = model.Deferred, reply(s.isp, false), "4.7.0"
				case i < def+s.hard:
					ev.Outcome, ev.Response, ev.Status, ev.Class = model.Bounced, reply(s.isp, true), "5.1.1", model.ClassHard
				}
				b.AddEvent(ev)
				n++
			}
			for i := 0; i < s.compl; i++ {
				b.AddEvent(&model.Event{Time: day.Add(20 * time.Hour), Side: s.side, MTA: mta, Kind: "pmta", ISP: s.isp, Domain: s.domain,
					Recipient: fmt.Sprintf("c%d@%s", i, s.domain), Outcome: model.Complaint})
				n++
			}
		}
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
