package ui

import (
	"math"
	"testing"
	"time"

	"cutover/model"
)

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0.1875: 0.2, 0.0741: 0.1, 0.1: 0.1, 0.26: 0.5, 0.021: 0.025, 3: 5, 0: 0} {
		if got := niceCeil(in); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestFmt(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 7: "7", 2.5: "2.5", 640: "640", 9999: "9999", 12345: "12.3k", 123456: "123k", 1234567: "1.23M", 12345678: "12.3M", 123456789: "123M", 2e9: "2.0G"} {
		if got := fmtCount(v); got != want {
			t.Errorf("fmtCount(%v) = %q, want %q", v, got, want)
		}
	}
	if got := fmtPct(1, 3); got != "33.3%" {
		t.Errorf("fmtPct = %q", got)
	}
	if got := fmtPct(1, 0); got != "--" {
		t.Errorf("fmtPct no denominator = %q", got)
	}
	if got := fmtPctFine(3, 2000); got != "0.15%" {
		t.Errorf("fmtPctFine = %q", got)
	}
	if got := fmtAgo(42 * time.Second); got != "42s" {
		t.Errorf("fmtAgo = %q", got)
	}
	if got := fmtAgo(3*time.Hour + 5*time.Minute); got != "3h05m" {
		t.Errorf("fmtAgo = %q", got)
	}
	if got := fmtBytes(54_321); got != "54.3 KB" {
		t.Errorf("fmtBytes = %q", got)
	}
}

func TestGroupKeepsSums(t *testing.T) {
	in := make([]model.Tally, 1439)
	var want model.Tally
	for i := range in {
		in[i] = model.Tally{Delivered: uint64(i), Deferred: uint64(i % 7)}
		want.Add(in[i])
	}
	c := planChart(len(in), 17, 1, false)
	if c.g != 85 || c.cells != 17 || c.k != 1 {
		t.Fatalf("plan = %+v, want 17 cells of 85 points", c)
	}
	out, sizes := group(in, c)
	var got model.Tally
	n := 0
	for i, t := range out {
		got.Add(t)
		n += sizes[i]
	}
	if got != want || n != len(in) {
		t.Fatalf("group lost counts: %+v vs %+v (%d points)", got, want, n)
	}
	// Whole points per cell from the newest; only the oldest cell is short.
	if sizes[16] != 85 || sizes[1] != 85 || sizes[0] != 1439-16*85 {
		t.Fatalf("sizes = %v", sizes)
	}
	if out[16].Delivered != want.Delivered-sumTo(1439-85) {
		t.Fatalf("newest cell is not the newest 85 points")
	}
	// whole drops the short cell; volumes are per point, so a short cell
	// does not read as a drop.
	if c := planChart(1439, 17, 1, true); c.cells != 16 {
		t.Fatalf("whole plan = %+v", c)
	}
	flat := []model.Tally{{Delivered: 4}, {Delivered: 4}, {Delivered: 4}, {Delivered: 4}, {Delivered: 4}}
	o, sz := group(flat, planChart(5, 2, 1, false))
	if v := volumes(o, sz); len(v) != 2 || v[0] != 4 || v[1] != 4 {
		t.Fatalf("volumes of a flat series = %v (sizes %v)", v, sz)
	}
}

func sumTo(n int) uint64 { return uint64(n) * uint64(n-1) / 2 }

func TestPlanChartUniformColumns(t *testing.T) {
	for _, c := range []struct{ n, w, maxK, k, cells int }{
		{59, 114, 200, 1, 59}, {59, 155, 200, 2, 59}, {14, 75, 200, 5, 14}, {14, 75, 3, 3, 14}, {59, 19, 1, 1, 15}, {0, 20, 1, 1, 0},
	} {
		p := planChart(c.n, c.w, c.maxK, false)
		if p.k != c.k || p.cells != c.cells || p.width() > c.w {
			t.Errorf("planChart(%d, %d, %d) = %+v, want k %d cells %d", c.n, c.w, c.maxK, p, c.k, c.cells)
		}
	}
}

func TestCompleteBuckets(t *testing.T) {
	since := time.Date(2026, 11, 27, 13, 4, 0, 0, time.UTC)
	now := since.Add(59*time.Minute + 22*time.Second)
	if got := completeBuckets(60, since, now, time.Minute); got != 59 {
		t.Errorf("completeBuckets = %d, want 59 (the bucket holding now is still filling)", got)
	}
	if got := completeBuckets(60, since, since.Add(2*time.Hour), time.Minute); got != 60 {
		t.Errorf("completeBuckets after the window = %d", got)
	}
	if got := completeBuckets(60, since, time.Time{}, time.Minute); got != 60 {
		t.Errorf("completeBuckets without now = %d", got)
	}
}

func TestSpark(t *testing.T) {
	nan := math.NaN()
	if got := spark([]float64{0, 1, 2, 4, nan}, 4, 1, false, sparkSolid); got != " ▂▄█ " {
		t.Errorf("spark = %q", got)
	}
	if got := spark([]float64{0, 4}, 4, 2, true, sparkSolid); got != "▁▁██" {
		t.Errorf("spark, 2 columns per point, zero mark = %q", got)
	}
	if got := spark([]float64{1, 2, 3, 8}, 8, 1, false, sparkDotted); got != "⢀⣀⣠⣿" {
		t.Errorf("dotted spark = %q", got)
	}
}

func TestRatioBar(t *testing.T) {
	for _, c := range []struct {
		r    float64
		want string
	}{{0, "░░░░░░░░░░"}, {1, "░░░░░░░░░█"}, {50, "░░░░░█████"}, {99, "░█████████"}, {100, "██████████"}} {
		if got := ratioBar(c.r, 10); got != c.want {
			t.Errorf("ratioBar(%v) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestParseSourceState(t *testing.T) {
	for _, s := range []SourceState{SourceFollowing, SourceIdle, SourceWaiting, SourceStale, SourceUnreachable} {
		if got := ParseSourceState(s.String()); got != s {
			t.Errorf("ParseSourceState(%q) = %v", s.String(), got)
		}
	}
	if ParseSourceState("bogus") != SourceUnknown {
		t.Error("unknown state")
	}
}
