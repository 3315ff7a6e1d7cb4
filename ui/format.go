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

// chartPlan is how n points are drawn in a field: cells bars of k columns,
// each averaging g whole points.
type chartPlan struct {
	g     int // points per cell
	k     int // columns per cell
	cells int
}

func (c chartPlan) width() int { return c.cells * c.k }

// planChart fits n points into width columns. When they fit, every point
// gets the same whole number of columns (k, at most maxK); when they do not,
// every cell averages the same whole number of points (g), grouped back from
// the newest, so every bar is one column and stands for the same time. The
// oldest cell may hold fewer points (they would lie before the window);
// whole drops it instead, for charts with a time axis.
func planChart(n, width, maxK int, whole bool) chartPlan {
	if n <= 0 || width <= 0 {
		return chartPlan{g: 1, k: 1}
	}
	if n <= width {
		return chartPlan{g: 1, k: max(min(width/n, maxK), 1), cells: n}
	}
	g := (n + width - 1) / width
	c := chartPlan{g: g, k: 1, cells: (n + g - 1) / g}
	if whole {
		c.cells = n / g
	}
	return c
}

// group sums series into the plan's cells, oldest first, and returns how
// many points each cell holds. Counts add up; rates are computed afterwards
// from the sums, never averaged.
func group(series []model.Tally, c chartPlan) ([]model.Tally, []int) {
	sums := make([]model.Tally, c.cells)
	sizes := make([]int, c.cells)
	n := len(series)
	for j := range sums {
		hi := max(n-(c.cells-1-j)*c.g, 0)
		lo := max(hi-c.g, 0)
		for _, t := range series[lo:hi] {
			sums[j].Add(t)
		}
		sizes[j] = hi - lo
	}
	return sums, sizes
}

// completeBuckets is how many leading buckets of a series that starts at
// since had ended by now. The bucket holding now is still filling: drawn, it
// would always read as a drop, so charts leave it out (the numbers keep it).
// A zero step or now draws all n.
func completeBuckets(n int, since, now time.Time, step time.Duration) int {
	if step <= 0 || now.IsZero() {
		return n
	}
	return max(min(int(now.Sub(since)/step), n), 0)
}

// settle is how long, in wall time, committed data may trail the clock: the
// pipeline polls every 250 ms and commits in batches.
const settle = 500 * time.Millisecond

// settled is the Clock time by which the data loaded now is complete: now
// less settle, converted at the Clock's average rate since New (1 for the
// wall clock, 600 for a demo at --speed 600, 0 for a fixed test clock).
func (m Model) settled(now, wall time.Time) time.Time {
	dw := wall.Sub(m.startWall)
	if dw < time.Second || now.Before(m.startClock) {
		return now.Add(-settle) // too early to measure: assume the wall clock's rate
	}
	rate := float64(now.Sub(m.startClock)) / float64(dw)
	return now.Add(-time.Duration(rate * float64(settle)))
}

// seriesStep is a series' step: the stated one, else the window over the
// number of points.
func seriesStep(step time.Duration, since, until time.Time, n int) time.Duration {
	if step > 0 || n == 0 {
		return step
	}
	return until.Sub(since) / time.Duration(n)
}

// firstN is series cut or padded (with empty buckets) to n points.
func firstN(series []model.Tally, n int) []model.Tally {
	if len(series) >= n {
		return series[:n]
	}
	out := make([]model.Tally, n)
	copy(out, series)
	return out
}

// Spark glyphs, lowest level first. OLD is drawn in braille dots and NEW in
// solid blocks, so their rows stay apart on screen without colour too.
var (
	sparkSolid  = []rune("▁▂▃▄▅▆▇█")
	sparkDotted = []rune("⢀⣀⣠⣤⣴⣶⣾⣿")
)

// spark draws one bar per value, k columns wide, scaled to [0, top] (NaN =
// no data, drawn blank). A positive value is at least the lowest glyph so a
// trickle is not invisible; zero is the lowest glyph only if zeroMark.
func spark(vals []float64, top float64, k int, zeroMark bool, glyphs []rune) string {
	var b strings.Builder
	b.Grow(len(vals) * k * 3)
	for _, v := range vals {
		r := ' '
		switch {
		case math.IsNaN(v):
		case v <= 0 || top <= 0:
			if zeroMark && !(v < 0) {
				r = glyphs[0]
			}
		default:
			i := int(math.Ceil(v/top*float64(len(glyphs)))) - 1
			r = glyphs[max(min(len(glyphs)-1, i), 0)]
		}
		for range k {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// volumes is the attempts per point of each cell (its sum over the points
// it holds), so a cell holding fewer points does not read as a drop.
func volumes(sums []model.Tally, sizes []int) []float64 {
	out := make([]float64, len(sums))
	for i, t := range sums {
		if sizes[i] > 0 {
			out[i] = float64(t.Attempts()) / float64(sizes[i])
		}
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
