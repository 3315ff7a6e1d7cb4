package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OperatingHours is the clock the alert SLA runs on (wave2 §8.3): weekly
// wall-clock opening intervals in one zone, minus holidays. Intervals are
// wall-clock on purpose: "08:00-18:00" means 08:00 to 18:00 as the customer's
// clock shows it, so an interval on a DST day is as long as the clock says
// it is in real time, and the Monday after a DST weekend still opens at 08:00.
//
// The zero value has no intervals; it counts every instant as operating time
// in UTC (no operating_hours configured = plain elapsed time).
type OperatingHours struct {
	zone     *time.Location
	week     [7][]span // per time.Weekday, sorted, non-overlapping
	holidays map[civilDate]struct{}
}

// span is an opening interval within one day, in minutes since local midnight;
// end may be 24*60.
type span struct{ start, end int }

type civilDate struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

// next uses UTC for the calendar step: civil dates have no zone and UTC has
// no DST to skip or repeat a day.
func (c civilDate) next() civilDate {
	return dateOf(time.Date(c.y, c.m, c.d+1, 0, 0, 0, 0, time.UTC))
}

func (c civilDate) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Weekday()
}

// at is the instant the zone's clock shows min minutes after midnight on c.
// 24:00 normalises to the next day's 00:00, so "00:00-24:00" lasts 23 h on a
// spring-forward day and 25 h on a fall-back day. A boundary inside the
// skipped or repeated hour itself follows Go's time.Date choice of offset.
func (c civilDate) at(min int, zone *time.Location) time.Time {
	return time.Date(c.y, c.m, c.d, min/60, min%60, 0, 0, zone)
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseOperatingHours builds the clock from the [monitor] config strings:
// spec like "Mon-Fri 08:00-18:00" (groups separated by ';', day lists by ',',
// several ranges per group by ',': "Mon,Wed 09:00-12:00,13:00-17:00; Sat
// 10:00-14:00"; "24:00" is allowed as an end; a range whose end is before its
// start runs overnight into the next day), holidays as "2026-12-25" dates in
// zone. A nil zone means UTC.
func ParseOperatingHours(spec string, zone *time.Location, holidays []string) (*OperatingHours, error) {
	if zone == nil {
		zone = time.UTC
	}
	oh := &OperatingHours{zone: zone, holidays: map[civilDate]struct{}{}}
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("operating_hours: empty (want e.g. \"Mon-Fri 08:00-18:00\")")
	}
	for gi, group := range strings.Split(spec, ";") {
		group = strings.TrimSpace(group)
		fields := strings.Fields(group)
		if len(fields) != 2 {
			return nil, fmt.Errorf("operating_hours group %d %q: want \"DAYS HH:MM-HH:MM\"", gi+1, clip(group))
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return nil, fmt.Errorf("operating_hours group %d %q: %v", gi+1, clip(group), err)
		}
		for _, r := range strings.Split(fields[1], ",") {
			start, end, err := parseRange(r)
			if err != nil {
				return nil, fmt.Errorf("operating_hours group %d %q: %v", gi+1, clip(group), err)
			}
			for _, d := range days {
				if start < end {
					oh.week[d] = append(oh.week[d], span{start, end})
					continue
				}
				// Overnight: the tail belongs to the next weekday's calendar date.
				oh.week[d] = append(oh.week[d], span{start, 24 * 60})
				if end > 0 {
					n := (d + 1) % 7
					oh.week[n] = append(oh.week[n], span{0, end})
				}
			}
		}
	}
	for d := range oh.week {
		oh.week[d] = mergeSpans(oh.week[d])
	}
	for i, h := range holidays {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("holidays[%d] %q: want YYYY-MM-DD", i, clip(h))
		}
		oh.holidays[dateOf(t)] = struct{}{}
	}
	return oh, nil
}

// clip keeps error messages one short line whatever the config holds.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := weekdayNames[strings.ToLower(lo)]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (want Mon..Sun)", clip(lo))
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := weekdayNames[strings.ToLower(hi)]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (want Mon..Sun)", clip(hi))
		}
		// Ranges may wrap the week: "Fri-Mon" is Fri, Sat, Sun, Mon.
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseRange(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM", clip(s))
	}
	if start, err = parseClock(a); err != nil {
		return 0, 0, err
	}
	if end, err = parseClock(b); err != nil {
		return 0, 0, err
	}
	if start == 24*60 {
		return 0, 0, fmt.Errorf("time range %q: 24:00 only as an end", s)
	}
	if start == end {
		return 0, 0, fmt.Errorf("time range %q: empty", s)
	}
	return start, end, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("time %q: want HH:MM", clip(s))
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", clip(s))
	}
	return hh*60 + mm, nil
}

func mergeSpans(s []span) []span {
	sort.Slice(s, func(i, j int) bool { return s[i].start < s[j].start })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && x.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Zone is the configured zone (UTC for the zero value).
func (oh *OperatingHours) Zone() *time.Location {
	if oh == nil || oh.zone == nil {
		return time.UTC
	}
	return oh.zone
}

func (oh *OperatingHours) alwaysOpen() bool {
	if oh == nil {
		return true
	}
	for _, d := range oh.week {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

// IsHoliday reports whether t's calendar date in the zone is a holiday.
func (oh *OperatingHours) IsHoliday(t time.Time) bool {
	if oh == nil {
		return false
	}
	_, ok := oh.holidays[dateOf(t.In(oh.Zone()))]
	return ok
}

// DueBy is the instant at which sla of operating time has passed since fired
// (wave2 §8.3: Mon–Fri 08:00–18:00, 4h, fired Fri 17:00 → due Mon 11:00).
// The result is in the configured zone. sla <= 0 gives fired.
func (oh *OperatingHours) DueBy(fired time.Time, sla time.Duration) time.Time {
	zone := oh.Zone()
	if sla <= 0 || oh.alwaysOpen() {
		return fired.Add(max(sla, 0)).In(zone)
	}
	t := fired.In(zone)
	remaining := sla
	// Terminates: some weekday has an interval and holidays are finite.
	for day := dateOf(t); ; day = day.next() {
		if _, hol := oh.holidays[day]; hol {
			continue
		}
		for _, sp := range oh.week[day.weekday()] {
			s, e := day.at(sp.start, zone), day.at(sp.end, zone)
			if !e.After(t) {
				continue
			}
			lo := s
			if t.After(lo) {
				lo = t
			}
			if avail := e.Sub(lo); avail >= remaining {
				return lo.Add(remaining)
			} else if avail > 0 {
				remaining -= avail
			}
		}
	}
}

// OperatingBetween is the operating time within [a, b): the time-to-ack of an
// alert and the escalate_after check. b before a gives 0.
func (oh *OperatingHours) OperatingBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if oh.alwaysOpen() {
		return b.Sub(a)
	}
	zone := oh.Zone()
	var total time.Duration
	for day := dateOf(a.In(zone)); day.at(0, zone).Before(b); day = day.next() {
		if _, hol := oh.holidays[day]; hol {
			continue
		}
		for _, sp := range oh.week[day.weekday()] {
			s, e := day.at(sp.start, zone), day.at(sp.end, zone)
			if s.Before(a) {
				s = a
			}
			if e.After(b) {
				e = b
			}
			if e.After(s) {
				total += e.Sub(s)
			}
		}
	}
	return total
}

// DueBy is the package-level form wave2 §8.3 names (model.DueBy(firedAt,
// hours, sla)); a nil hours counts plain elapsed time.
func DueBy(firedAt time.Time, hours *OperatingHours, sla time.Duration) time.Time {
	return hours.DueBy(firedAt, sla)
}
