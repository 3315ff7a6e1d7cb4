package owner

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/sim"
	"cutover/model"
	"cutover/state"
)

// closedLoop runs the demo simulator (seed 1) for hours with every
// provider 100 % on NEW on day one and Google's NEW throttle at four times
// its cold allowance, the pipeline following the logs and, unless mode is
// off, the pacer evaluating every simulated minute and applying through the
// demo driver the simulator reads. It returns the NEW side's Gmail
// 421-4.7.28 deferrals, counted in the PowerMTA accounting files the
// simulator wrote (not through cutover's parsers), and the pacer's applies.
func closedLoop(t *testing.T, mode model.PacingMode, hours int) (deferrals int, applies int) {
	t.Helper()
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctl, demo, err := DemoMtactl(dir, db, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	const volume = 4000 // per hour; Google 40 %, its cold allowance 10 % of that: 160/h
	// 640/h: 300 % over Google's allowance for the NEW IPs.
	e := &paceEnv{db: db, ctl: ctl}
	e.operator(t, ctl.Current().WithOverride("google", model.Throttle{PerHour: 640}))
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	logs := filepath.Join(dir, "logs")
	s, err := sim.New(sim.Options{Dir: logs, Seed: 1, Start: start, VolumePerHour: volume, Control: demo.Get})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pl, err := ingest.NewPipeline(db, DemoSpecs(logs, s), ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	rules, err := model.ParsePacing(model.PacingConfig{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pacer{Rules: rules, DB: db, Control: ctl, Now: s.Clock, Thresholds: model.DefaultThresholds()}
	ctx := context.Background()
	for m := 0; m < hours*60; m++ {
		if err := s.Step(time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := pl.Backfill(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(logs, sim.NewGlob))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "t,") && strings.Contains(l, "421-4.7.28") && (strings.Contains(l, "@gmail.com,") || strings.Contains(l, "@googlemail.com,")) {
				deferrals++
			}
		}
		fh.Close()
	}
	for _, a := range mustHistory(t, ctl) {
		if strings.HasPrefix(a.Who.User, "pacer:") {
			applies++
		}
	}
	return deferrals, applies
}

// TestPacerClosedLoop (§7.5): with mode = auto NEW's Gmail 421-4.7.28
// deferrals over 6 simulated hours are at least 30 % fewer than with mode =
// off. Measured (seed 1): lockedReduction; the test holds the measured
// figure with a 10 % margin.
func TestPacerClosedLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("6 simulated hours twice")
	}
	off, offApplies := closedLoop(t, model.PaceOff, 6)
	auto, autoApplies := closedLoop(t, model.PaceAuto, 6)
	reduction := 1 - float64(auto)/float64(off)
	t.Logf("NEW Gmail 421-4.7.28 deferrals over 6 h: off %d, auto %d (%d pacer applies): %.1f %% fewer", off, auto, autoApplies, 100*reduction)
	if offApplies != 0 || autoApplies == 0 || off == 0 {
		t.Fatalf("off applied %d, auto %d, off deferrals %d", offApplies, autoApplies, off)
	}
	if reduction < 0.30 {
		t.Fatalf("only %.1f %% fewer deferrals with the pacer, want ≥ 30 %%", 100*reduction)
	}
	if reduction < lockedReduction*0.9 {
		t.Fatalf("%.1f %% fewer deferrals: below the measured %.1f %% minus 10 %%", 100*reduction, 100*lockedReduction)
	}
}

// lockedReduction is the measured reduction (seed 1, 6 h, 2026-12-08: off
// 2998, auto 1177 deferrals, 8 pacer applies: 60.7 % fewer); the test
// allows 10 % less.
const lockedReduction = 0.607

func mustHistory(t *testing.T, ctl interface {
	History() ([]mtactlAudit, error)
}) []mtactlAudit {
	t.Helper()
	h, err := ctl.History()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
