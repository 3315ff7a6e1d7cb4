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

func TestResampleKeepsSums(t *testing.T) {
	in := make([]model.Tally, 1440)
	var want model.Tally
	for i := range in {
		in[i] = model.Tally{Delivered: uint64(i), Deferred: uint64(i % 7)}
		want.Add(in[i])
	}
	var got model.Tally
	out := resample(in, 17)
	if len(out) != 17 {
		t.Fatalf("len = %d", len(out))
	}
	for _, t := range out {
		got.Add(t)
	}
	if got != want {
		t.Fatalf("resample lost counts: %+v vs %+v", got, want)
	}
}

func TestSpark(t *testing.T) {
	nan := math.NaN()
	if got := spark([]float64{0, 1, 2, 4, nan}, 4, 5, false); got != " ▂▄█ " {
		t.Errorf("spark = %q", got)
	}
	if got := spark([]float64{0, 4}, 4, 4, true); got != "  ▁█" {
		t.Errorf("spark right-aligned with zero mark = %q", got)
	}
	if got := spark([]float64{1, 2, 3}, 3, 2, false); got != "▆█" {
		t.Errorf("spark keeps the newest points = %q", got)
	}
	if got := stretch([]float64{1, 2}, 5); len(got) != 5 || got[0] != 1 || got[4] != 2 {
		t.Errorf("stretch = %v", got)
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
