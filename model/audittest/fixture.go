// Package audittest generates the source-audit fixture of wave2 §4.6: 28 days
// of hourly OLD-side counts from Monday 2026-01-05 00:00 UTC, deterministic,
// no randomness. Tests of the audit rules, the ESP importers and the
// PowerMTA backfill all write it in their own format and compare against
// this truth.
package audittest

import (
	"time"

	"cutover/model"
)

// Start is the fixture's first hour (a Monday).
var Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// Hours is the fixture's length: 4 weeks.
const Hours = 28 * 24

// Blast is the one-off Google hour: Wed 2026-01-14 10:00 = 30,000.
var Blast = time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)

// Providers in report order, with their factor of Google's pattern (×10,
// to stay in integers).
var Providers = []string{"google", "microsoft", "yahoo", "other"}

var factor10 = map[string]uint64{"google": 10, "microsoft": 4, "yahoo": 2, "other": 1}

// YahooDeferral is Yahoo's deferral rate in weeks 1-4, in percent.
var YahooDeferral = [4]uint64{2, 4, 6, 8}

// googleHour is Google's attempts in one hour at full volume.
func googleHour(t time.Time) uint64 {
	if t.Equal(Blast) {
		return 30000
	}
	var v uint64
	switch h := t.Hour(); {
	case h >= 8 && h <= 17:
		v = 10000
	case h >= 18:
		v = 2000
	default:
		v = 1000
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		v /= 2
	}
	return v
}

// Attempts is one provider's attempts per hour at full volume (the blast
// only for Google).
func fullAttempts(isp string, t time.Time) uint64 {
	if isp == "google" {
		return googleHour(t)
	}
	base := googleHour(t)
	if t.Equal(Blast) {
		base = 10000
	}
	return base * factor10[isp] / 10
}

// Hourly is the fixture at 1/div of the volume (div 1 or 100): per provider
// Hours tallies. Fractions are spread by cumulative rounding, so every total
// (per provider, per week) is the full total / div, rounded half up: Yahoo's
// deferrals at 1/100 are round(1,440 × 2 %) = 29 in week 1, and so on.
func Hourly(div uint64) map[string][]model.Tally {
	if div == 0 {
		div = 1
	}
	out := map[string][]model.Tally{}
	for _, isp := range Providers {
		s := make([]model.Tally, Hours)
		var cumFull, cumAtt, prevAtt uint64
		var weekAtt, prevDef uint64
		for i := range s {
			t := Start.Add(time.Duration(i) * time.Hour)
			if i%model.HoursPerWeek == 0 {
				weekAtt, prevDef = 0, 0
			}
			cumFull += fullAttempts(isp, t)
			cumAtt = (2*cumFull + div) / (2 * div)
			att := cumAtt - prevAtt
			prevAtt = cumAtt
			weekAtt += att
			var def uint64
			if isp == "yahoo" {
				rate := YahooDeferral[i/model.HoursPerWeek]
				cumDef := (weekAtt*rate*2 + 100) / 200 // round half up of weekAtt × rate %
				def = cumDef - prevDef
				prevDef = cumDef
			}
			s[i] = model.Tally{Delivered: att - def, Deferred: def}
		}
		out[isp] = s
	}
	return out
}

// Attempts is the per-hour attempts of a tally series.
func Attempts(s []model.Tally) []uint64 {
	out := make([]uint64, len(s))
	for i, t := range s {
		out[i] = t.Attempts()
	}
	return out
}
