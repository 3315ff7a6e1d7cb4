// Package uifake is deterministic fake data for the cockpit: the same
// counts for the same clock, so golden tests and previews are stable. It
// includes hostile response text (escape sequences, bidi overrides) on
// purpose.
package uifake

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"cutover/model"
	"cutover/ui"
)

// Now is the fixed clock of the fixtures.
var Now = time.Date(2026, 11, 27, 14, 3, 22, 0, time.UTC)

// Data implements ui.Data.
type Data struct {
	Providers []string
	Plan      ui.Plan
	Srcs      []ui.SourceView
	DBPath    string
	Warnings  []string
	// Fail makes every call return this error.
	Fail error
}

type profile struct {
	perMin  float64 // OLD+NEW attempts per minute
	defOld  float64
	defNew  float64
	hardOld float64
	hardNew float64
	softNew float64
	cmplOld float64
	cmplNew float64
	reasonO string
	reasonN string
	sampleO string
	sampleN string
}

var profiles = map[string]profile{
	"google": {perMin: 210, defOld: 0.012, defNew: 0.16, hardOld: 0.004, hardNew: 0.004, cmplOld: 0.0004, cmplNew: 0.0005,
		reasonO: "421-4.7.0 [#] Try again later, closing connection.",
		reasonN: "421-4.7.28 [#] Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
		sampleO: "421-4.7.0 [198.51.100.7 15] Try again later, closing connection. (EHLO mx.old.example) a1si123456qkb.42 - gsmtp",
		sampleN: "421-4.7.28 [203.0.113.10 15] \x1b]0;pwned\x07Our system has detected\x1b[2J an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited."},
	"microsoft": {perMin: 160, defOld: 0.02, defNew: 0.05, hardOld: 0.006, hardNew: 0.007, softNew: 0.03, cmplOld: 0.0006, cmplNew: 0.0007,
		reasonO: "451 4.7.650 The mail server [#] has been temporarily rate limited due to IP reputation.",
		reasonN: "550 5.7.1 Unfortunately, messages from [#] weren't sent. (S3150)",
		sampleO: "451 4.7.650 The mail server [198.51.100.7] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775) [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]",
		sampleN: "550 5.7.1 Unfortunately, messages from [203.0.113.11] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).\r\x9b31mFAKE OK\u202e"},
	"yahoo": {perMin: 120, defOld: 0.03, defNew: 0.035, hardOld: 0.01, hardNew: 0.011, cmplOld: 0.0021, cmplNew: 0.0019,
		reasonO: "421 4.7.0 [TSS04] Messages from # temporarily deferred due to unexpected volume or user complaints",
		reasonN: "421 4.7.0 [TSS04] Messages from # temporarily deferred due to unexpected volume or user complaints",
		sampleO: "421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		sampleN: "421 4.7.0 [TSS04] Messages from 203.0.113.12 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
	"apple": {perMin: 60, defOld: 0.005, defNew: 0.006, hardOld: 0.003, hardNew: 0.003, cmplOld: 0, cmplNew: 0,
		reasonO: "450 4.2.1 <addr>: user is over quota", reasonN: "450 4.2.1 <addr>: user is over quota",
		sampleO: "450 4.2.1 <jane@icloud.com>: user is over quota", sampleN: "450 4.2.1 <joe@me.com>: user is over quota"},
	"comcast": {perMin: 30, defOld: 0.01, defNew: 0.012, hardOld: 0.005, hardNew: 0.005,
		reasonO: "421 4.1.0 # Throttled - try again later. Please see http://postmaster.comcast.net/smtp-error-codes.php#RL000001",
		reasonN: "421 4.1.0 # Throttled - try again later. Please see http://postmaster.comcast.net/smtp-error-codes.php#RL000001"},
	"other": {perMin: 90, defOld: 0.04, defNew: 0.045, hardOld: 0.03, hardNew: 0.031, cmplOld: 0.0001, cmplNew: 0.0001,
		reasonO: "550 5.1.1 <addr>: Recipient address rejected: User unknown in virtual mailbox table",
		reasonN: "550 5.1.1 <addr>: Recipient address rejected: User unknown in virtual mailbox table",
		sampleO: "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
		sampleN: "550 5.1.1 <ann@example.net>: Recipient address rejected: User unknown in virtual mailbox table"},
}

// New returns fixtures with six realistic providers plus extra generated
// ones (isp01, isp02...).
func New(extra int) *Data {
	d := &Data{
		Providers: []string{"google", "microsoft", "yahoo", "apple", "comcast", "other"},
		Plan: ui.Plan{RatioNew: 10, Step: 3, Start: Now.Add(-3*24*time.Hour - 5*time.Hour),
			Steps: []ui.PlanStep{{Name: "baseline", RatioNew: 0}, {Name: "canary", RatioNew: 1}, {Name: "ramp-5", RatioNew: 5}, {Name: "ramp-10", RatioNew: 10}, {Name: "ramp-25", RatioNew: 25}, {Name: "half", RatioNew: 50}, {Name: "done", RatioNew: 100}}},
		DBPath: "/var/lib/cutover/cutover.db",
		Srcs:   Sources(),
	}
	for i := range extra {
		d.Providers = append(d.Providers, fmt.Sprintf("isp%02d", i+1))
	}
	return d
}

// Sources are three sources in three states, one with hostile rejects.
func Sources() []ui.SourceView {
	return []ui.SourceView{
		{Name: "postfix-old", Kind: "postfix", Side: "old", Path: "/mnt/old-mta/var/log/mail.log", State: ui.SourceFollowing,
			Offset: 812_345_678, Size: 812_345_678, LastLine: Now.Add(-time.Second), Lines: 4_123_456, Events: 3_987_654},
		{Name: "pmta-new", Kind: "pmta", Side: "new", Path: "/var/log/pmta/acct-2026-11-27-0001.csv", State: ui.SourceStale,
			Since: Now.Add(-42 * time.Second), Offset: 12_345_678, Size: 12_400_000, LastLine: Now.Add(-44 * time.Second),
			Lines: 312_001, Events: 311_950, Rejected: 3,
			Samples: []ui.RejectSample{
				{Path: "/var/log/pmta/acct-2026-11-27-0001.csv", Offset: 1234, Line: 7, Reason: "3 fields where the header has 18 (torn or truncated record)", Text: "d,2026-11-27\x1b]0;owned\x07,\x1b[31mred"},
				{Path: "/var/log/pmta/acct-2026-11-27-0001.csv", Offset: 98765, Reason: "bad timestamp", Text: "d,yesterday,a@b"},
			}},
		{Name: "exim-relay", Kind: "exim", Side: "old", Path: "/mnt/relay/var/log/exim4/mainlog", State: ui.SourceUnreachable,
			Since: Now.Add(-5*time.Minute - 10*time.Second), Error: "stat /mnt/relay/var/log/exim4/mainlog: transport endpoint is not connected",
			Offset: 99_000, Size: 99_000, LastLine: Now.Add(-5*time.Minute - 12*time.Second), Lines: 1_200, Events: 1_150, NoDomain: 2},
	}
}

func (d *Data) prof(isp string) profile {
	if p, ok := profiles[isp]; ok {
		return p
	}
	h := hash(isp, 0)
	return profile{perMin: 2 + float64(h%40), defOld: 0.02, defNew: 0.025, hardOld: 0.005, hardNew: 0.006, cmplOld: 0.0003, cmplNew: 0.0003,
		reasonO: "421 4.7.0 Try again later", reasonN: "421 4.7.0 Try again later"}
}

func hash(s string, n int64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", s, n)
	return h.Sum64()
}

// minute is one side's counts of one provider in the minute starting at t.
func (d *Data) minute(isp string, side model.Side, t time.Time) model.Tally {
	p := d.prof(isp)
	m := t.Unix() / 60
	// Diurnal shape plus a deterministic ±20 % jitter.
	hour := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
	shape := 1 + 0.5*math.Sin((hour-9)/24*2*math.Pi)
	jit := 0.8 + 0.4*float64(hash(isp, m*2+int64(side))%1000)/1000
	share := d.Plan.RatioNew / 100
	// The ratio ramped up over the last day; earlier NEW carried less.
	if age := Now.Sub(t); age > 24*time.Hour {
		share /= 2
	}
	vol := p.perMin * shape * jit
	def, hard, soft, cmpl := p.defOld, p.hardOld, 0.002, p.cmplOld
	if side == model.SideNew {
		vol *= share
		def, hard, soft, cmpl = p.defNew, p.hardNew, 0.002+p.softNew, p.cmplNew
		// NEW's deferrals at google rise over the last half hour.
		if isp == "google" && Now.Sub(t) > 30*time.Minute {
			def /= 4
		}
	} else {
		vol *= 1 - share
	}
	a := round(vol, hash(isp, m*7+int64(side)))
	var c model.Tally
	c.Deferred = round(float64(a)*def, hash(isp, m*11+int64(side)))
	c.HardBounce = round(float64(a)*hard, hash(isp, m*13+int64(side)))
	c.Bounced = c.HardBounce + round(float64(a)*soft, hash(isp, m*17+int64(side)))
	c.Expired = round(float64(a)*0.001, hash(isp, m*19+int64(side)))
	used := c.Deferred + c.Bounced + c.Expired
	if used > a {
		a = used
	}
	c.Delivered = a - used
	c.Complaints = round(float64(c.Delivered)*cmpl, hash(isp, m*23+int64(side)))
	c.Held = round(float64(a)*0.01, hash(isp, m*29+int64(side)))
	return c
}

// round rounds x randomly (by h) so small expectations still add up.
func round(x float64, h uint64) uint64 {
	f := math.Floor(x)
	if float64(h%1000)/1000 < x-f {
		f++
	}
	return uint64(f)
}

func (d *Data) window(w ui.Window, now time.Time) (since, until time.Time, step time.Duration) {
	until = now.Truncate(time.Minute).Add(time.Minute)
	switch w {
	case ui.WindowCutover:
		since = d.Plan.Start.Truncate(time.Hour)
		return since, until, time.Hour
	default:
		since = until.Add(-w.Duration())
	}
	return since, until, time.Minute
}

func (d *Data) side(isp string, side model.Side, since, until time.Time, step time.Duration) ui.SideStats {
	var s ui.SideStats
	for t := since; t.Before(until); t = t.Add(step) {
		var b model.Tally
		for mt := t; mt.Before(t.Add(step)) && mt.Before(until); mt = mt.Add(time.Minute) {
			if mt.After(Now) {
				break
			}
			b.Add(d.minute(isp, side, mt))
		}
		s.Series = append(s.Series, b)
		s.Counts.Add(b)
	}
	p := d.prof(isp)
	r := ui.Reason{Signature: p.reasonO, Sample: p.sampleO}
	if side == model.SideNew {
		r = ui.Reason{Signature: p.reasonN, Sample: p.sampleN}
	}
	if r.Signature != "" {
		r.Count = s.Counts.Deferred + s.Counts.Bounced - s.Counts.HardBounce
	}
	s.Top = r
	return s
}

// Snapshot implements ui.Data.
func (d *Data) Snapshot(w ui.Window, now time.Time) (*ui.Snapshot, error) {
	if d.Fail != nil {
		return nil, d.Fail
	}
	since, until, step := d.window(w, now)
	s := &ui.Snapshot{Since: since, Until: until, Step: step, Plan: d.Plan, DBPath: d.DBPath, Warnings: d.Warnings}
	for _, isp := range d.Providers {
		p := ui.ProviderStats{ISP: isp,
			Old: d.side(isp, model.SideOld, since, until, step),
			New: d.side(isp, model.SideNew, since, until, step)}
		s.Old.Counts.Add(p.Old.Counts)
		s.New.Counts.Add(p.New.Counts)
		s.Providers = append(s.Providers, p)
	}
	for _, src := range d.Srcs {
		src.Samples = nil
		s.Sources = append(s.Sources, src)
	}
	return s, nil
}

// Detail implements ui.Data.
func (d *Data) Detail(isp string, w ui.Window, now time.Time) (*ui.Detail, error) {
	if d.Fail != nil {
		return nil, d.Fail
	}
	since, until, step := d.window(w, now)
	det := &ui.Detail{ISP: isp, Since: since, Until: until, Step: step,
		Old: d.side(isp, model.SideOld, since, until, step),
		New: d.side(isp, model.SideNew, since, until, step)}
	p := d.prof(isp)
	o, n := det.Old.Counts, det.New.Counts
	det.Reasons = []ui.ReasonRow{
		{Signature: p.reasonN, Sample: p.sampleN, Old: o.Deferred / 7, New: n.Deferred},
		{Signature: p.reasonO, Sample: p.sampleO, Old: o.Deferred, New: n.Deferred / 9},
		{Signature: "550 5.1.1 <addr>: user unknown", Sample: "550 5.1.1 <x@" + isp + ".example>: user unknown", Old: o.HardBounce, New: n.HardBounce},
		{Signature: "452 4.2.2 The email account that you tried to reach is over quota.", Old: o.Deferred / 20, New: n.Deferred / 25},
		{Signature: "bidi \u202eevil\u202c and zero\u200bwidth", Sample: "\u2066hidden\u2069 \ufeff", Old: 2, New: 1},
	}
	det.Breakdown = []ui.BreakdownRow{
		{Dim: "ip", Value: "198.51.100.7", Side: model.SideOld, Counts: scale(o, 0.6)},
		{Dim: "ip", Value: "198.51.100.8", Side: model.SideOld, Counts: scale(o, 0.4)},
		{Dim: "ip", Value: "203.0.113.10", Side: model.SideNew, Counts: scale(n, 0.5)},
		{Dim: "ip", Value: "203.0.113.11", Side: model.SideNew, Counts: scale(n, 0.3)},
		{Dim: "ip", Value: "203.0.113.12", Side: model.SideNew, Counts: scale(n, 0.2)},
		{Dim: "vmta", Value: "vmta-new-warm", Side: model.SideNew, Counts: scale(n, 0.8)},
		{Dim: "vmta", Value: "vmta-new-cold-pool-03", Side: model.SideNew, Counts: scale(n, 0.2)},
		{Dim: "transport", Value: "smtp-" + isp, Side: model.SideOld, Counts: o},
	}
	return det, nil
}

func scale(t model.Tally, f float64) model.Tally {
	s := func(x uint64) uint64 { return uint64(math.Round(float64(x) * f)) }
	return model.Tally{Delivered: s(t.Delivered), Deferred: s(t.Deferred), Held: s(t.Held), Bounced: s(t.Bounced),
		HardBounce: s(t.HardBounce), Expired: s(t.Expired), Complaints: s(t.Complaints)}
}

// Sources implements ui.Data.
func (d *Data) Sources(now time.Time) ([]ui.SourceView, error) {
	if d.Fail != nil {
		return nil, d.Fail
	}
	return d.Srcs, nil
}
