package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/sim"
	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
)

// TestDemoSliderMovesTraffic: the demo's simulated MTAs read what mtactl
// writes, so applying 50 % through the Controller moves the NEW side's share
// of the counted deliveries from about 5 % to about 50 %.
func TestDemoSliderMovesTraffic(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, ctl, err := owner.DemoMtactl(dir, db, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := ctl.Get().RatioNew; got != 5 {
		t.Fatalf("initial control file says %d%%, want 5", got)
	}
	speed := 1200.0
	start := time.Now().UTC().Add(-time.Duration(speed*7200) * time.Second).Truncate(time.Hour)
	logs := filepath.Join(dir, "logs")
	s, err := sim.New(sim.Options{Dir: logs, Seed: 3, Speed: speed, VolumePerHour: 20000, Control: ctl.Get, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := ingest.NewPipeline(db, owner.DemoSpecs(logs, s), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	simErr := make(chan error, 1)
	go func() { simErr <- s.Run(ctx) }()
	plErr := make(chan error, 1)
	go func() { plErr <- pl.Run(ctx, 50*time.Millisecond) }()

	// attempts counts delivery attempts per side: deliveries, deferrals and
	// bounces. The NEW IPs are cold: pushed from 5 to 50 % on day one the
	// simulated providers defer much of it, so NEW's deliveries lag and its
	// retries add attempts; the split itself shows in both.
	attempts := func(since, until time.Time) (old, new, oldDlv, newDlv int64) {
		rows, err := db.Stats(state.Query{Since: since, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			a := int64(r.Delivered + r.Deferred + r.Bounced)
			if r.Side == model.SideNew {
				new, newDlv = new+a, newDlv+int64(r.Delivered)
			} else {
				old, oldDlv = old+a, oldDlv+int64(r.Delivered)
			}
		}
		return
	}
	// Over a simulated hour, so the throttles mtactl derives from the OLD
	// side's peak hourly volume have a full hour to go by.
	waitSim := func(until time.Time) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); s.Clock().Before(until); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("simulator stuck at %v, waiting for %v", s.Clock(), until)
			}
		}
	}
	waitSim(start.Add(70 * time.Minute))
	tApply := s.Clock()

	// Generous throttles: the defaults follow the OLD side's peak hourly
	// volume in the database, which lags the simulator under -race; this
	// test is about the split.
	d := c.Current().WithRatio(50, "")
	for isp := range owner.DemoProviders {
		d = d.WithOverride(isp, model.Throttle{PerHour: 50000})
	}
	ch, err := c.Plan(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), ch, mtactl.CurrentWho("test"), mtactl.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ctl.Get(); got.RatioNew != 50 || got.MaxPerHour["google"] != 50000 {
		t.Fatalf("control after apply: %+v", got)
	}
	waitSim(tApply.Add(60 * time.Minute))
	cancel()
	if err := <-simErr; err != nil {
		t.Fatal(err)
	}
	<-plErr
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// By simulated delivery time: the pipeline may lag the simulator.
	// Mail queued before the switch and retried later stays on its side,
	// so the window after it starts a few simulated minutes later.
	o1, n1, od1, nd1 := attempts(start, tApply)
	o2, n2, od2, nd2 := attempts(tApply.Add(5*time.Minute), s.Clock())
	share := func(n, o int64) float64 { return float64(n) / float64(max(n+o, 1)) }
	t.Logf("NEW share at 5%%: %.1f%% of %d attempts, %.1f%% of deliveries; after applying 50%%: %.1f%% of %d attempts, %.1f%% of deliveries",
		100*share(n1, o1), n1+o1, 100*share(nd1, od1), 100*share(n2, o2), n2+o2, 100*share(nd2, od2))
	if n1+o1 < 500 || n2+o2 < 500 {
		t.Fatalf("too few attempts to judge: %d before, %d after", n1+o1, n2+o2)
	}
	if b := share(n1, o1); b < 0.02 || b > 0.12 {
		t.Errorf("NEW share of attempts at 5%%: %.1f%%", 100*b)
	}
	if a := share(n2, o2); a < 0.35 || a > 0.8 {
		t.Errorf("NEW share of attempts after applying 50%%: %.1f%%, want about half (plus NEW's retries)", 100*a)
	}
	if share(nd2, od2) < 3*share(nd1, od1) {
		t.Errorf("NEW share of deliveries did not rise: %.1f%% -> %.1f%%", 100*share(nd1, od1), 100*share(nd2, od2))
	}
}
