package suppress

import (
	"strconv"
	"strings"
	"time"
)

// Layouts with a zone, most common first: ISO 8601 (Postmark, SparkPost,
// AWS CLI v2), RFC 2822 (Mailgun: "Thu, 13 Oct 2011 18:02:00 +0000" and
// "... GMT"/"UTC").
var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 MST",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
	time.RFC850,
	time.RubyDate,
	time.UnixDate,
}

// Layouts without a zone: read in the import's time zone (UTC unless
// --tz): SendGrid's old API gave Pacific time without saying so.
var naiveLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006",
}

// Timestamps outside this range are treated as garbage (a unix time in the
// wrong unit, a typo), not as when something happened.
var (
	minTS = time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime reads an export's timestamp: unix seconds (int or float, as
// SendGrid and SES send), milliseconds or microseconds since the epoch, or a
// text date. ok is false when s is not empty and cannot be read; naive is
// true when the text had no zone and tz was applied.
func parseTime(s string, tz *time.Location) (t time.Time, naive, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, true
	}
	if c := s[0]; c >= '0' && c <= '9' && isNumber(s) {
		// Integer and fraction apart: a float would turn SES's
		// 1586556479.141 into ...140999999 ns.
		ip, frac, _ := strings.Cut(s, ".")
		sec, err := strconv.ParseInt(ip, 10, 64)
		if err != nil {
			return time.Time{}, false, false
		}
		frac = (frac + "000000000")[:9]
		ns, _ := strconv.ParseInt(frac, 10, 64)
		switch {
		case sec > 1e17: // nanoseconds
			sec, ns = sec/1e9, sec%1e9
		case sec > 1e14: // microseconds
			sec, ns = sec/1e6, sec%1e6*1e3
		case sec > 1e11: // milliseconds
			sec, ns = sec/1e3, sec%1e3*1e6
		}
		return checked(time.Unix(sec, ns).UTC(), false)
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return checked(t.UTC(), false)
		}
	}
	if tz == nil {
		tz = time.UTC
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, tz); err == nil {
			return checked(t.UTC(), true)
		}
	}
	return time.Time{}, false, false
}

func inRange(t time.Time) bool { return !t.Before(minTS) && t.Before(maxTS) }

// checked returns t, or the zero time when it is out of range.
func checked(t time.Time, naive bool) (time.Time, bool, bool) {
	if !inRange(t) {
		return time.Time{}, false, false
	}
	return t, naive, true
}

func isNumber(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}
