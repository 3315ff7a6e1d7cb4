package ui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"cutover/model"
)

// fmtCount prints a count or rate in at most 6 cells: 640, 12.3k, 1.23M.
func fmtCount(v float64) string {
	switch {
	case math.IsNaN(v) || v < 0:
		return "--"
	case v < 9999.5:
		if v > 0 && v < 10 && v != math.Trunc(v) {
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.0f", v)
	case v < 99950:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v < 999500:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v < 9.995e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v < 99.95e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v < 999.5e6:
		return fmt.Sprintf("%.0fM", v/1e6)
	}
	return fmt.Sprintf("%.1fG", v/1e9)
}

// fmtPct prints x/n as a percentage with one decimal, "--" when n is 0.
func fmtPct(x, n uint64) string {
	if n == 0 {
		return "--"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(x)/float64(n))
}

// fmtPctFine prints x/n with two decimals below 10 %: complaint rates live
// around 0.1 %.
func fmtPctFine(x, n uint64) string {
	if n == 0 {
		return "--"
	}
	p := 100 * float64(x) / float64(n)
	if p >= 9.995 {
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.2f%%", p)
}

// fmtBytes prints a byte count in at most 7 cells.
func fmtBytes(n int64) string {
	if n < 0 {
		return "--"
	}
	f := float64(n)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB"} {
		if f < 999.5 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1000
	}
	return "--"
}

// fmtAgo prints a duration the way an on-call engineer reads it: 42s, 5m10s,
// 3h05m, 2d04h.
func fmtAgo(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// perHour is attempts per hour over span.
func perHour(n uint64, span time.Duration) float64 {
	if span <= 0 {
		return math.NaN()
	}
	return float64(n) / span.Hours()
}

// resample sums series into at most width buckets (counts add up; rates are
// computed afterwards from the sums, never averaged).
func resample(series []model.Tally, width int) []model.Tally {
	n := len(series)
	if width <= 0 || n == 0 {
		return nil
	}
	if n <= width {
		return series
	}
	out := make([]model.Tally, width)
	for i := range out {
		lo, hi := i*n/width, (i+1)*n/width
		for _, t := range series[lo:hi] {
			out[i].Add(t)
		}
	}
	return out
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// spark draws values (NaN = no data, drawn as a space) scaled to [0, max],
// right-aligned in width cells so the newest point is always at the right
// edge. A positive value is at least ▁ so that a trickle is not invisible;
// zero is ▁ only if zeroMark.
func spark(vals []float64, max float64, width int, zeroMark bool) string {
	if width <= 0 {
		return ""
	}
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	var b strings.Builder
	b.Grow(width * 3)
	for i := len(vals); i < width; i++ {
		b.WriteByte(' ')
	}
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			b.WriteByte(' ')
		case v <= 0 || max <= 0:
			if zeroMark && !(v < 0) {
				b.WriteRune(sparkRunes[0])
			} else {
				b.WriteByte(' ')
			}
		default:
			i := int(math.Ceil(v/max*float64(len(sparkRunes)))) - 1
			if i < 0 {
				i = 0
			}
			if i >= len(sparkRunes) {
				i = len(sparkRunes) - 1
			}
			b.WriteRune(sparkRunes[i])
		}
	}
	return b.String()
}

// stretch widens a short series to exactly width cells, each point taking
// an equal share (±1 cell), so charts line up with their time axis.
func stretch(vals []float64, width int) []float64 {
	n := len(vals)
	if n == 0 || n >= width {
		return vals
	}
	out := make([]float64, width)
	for i := range out {
		out[i] = vals[i*n/width]
	}
	return out
}

// volumes is the attempts of each bucket.
func volumes(series []model.Tally) []float64 {
	out := make([]float64, len(series))
	for i, t := range series {
		out[i] = float64(t.Attempts())
	}
	return out
}

// rates maps each bucket to a proportion (NaN when it had no attempts).
func rates(series []model.Tally, f func(model.Tally) (x, n uint64)) []float64 {
	out := make([]float64, len(series))
	for i, t := range series {
		x, n := f(t)
		if n == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = float64(x) / float64(n)
		}
	}
	return out
}

// niceCeil rounds a positive scale up to 1, 2, 2.5 or 5 times a power of
// ten, so chart scales read 20 %, not 18.75 %.
func niceCeil(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*p >= x*(1-1e-12) {
			return f * p
		}
	}
	return 10 * p
}

func maxOf(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			if x > m {
				m = x
			}
		}
	}
	return m
}

func deferrals(t model.Tally) (uint64, uint64) { return t.Deferred, t.Attempts() }
func bounces(t model.Tally) (uint64, uint64)   { return t.Bounced, t.Attempts() }
func delivered(t model.Tally) (uint64, uint64) { return t.Delivered, t.Attempts() }
