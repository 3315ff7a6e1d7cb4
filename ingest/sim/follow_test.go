package sim_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/ingest/sim"
	"cutover/model"
	"cutover/state"
)

// The demo's real path: the simulator runs live (partial lines, midnight
// rotation) while the project's follower, parsers and state read it; what
// state counts at the end is what the simulator wrote.
func TestLiveThroughPipeline(t *testing.T) {
	dir := t.TempDir()
	s, err := sim.New(sim.Options{Dir: filepath.Join(dir, "logs"), Seed: 7, Speed: 7200, VolumePerHour: 4000,
		Start:   time.Date(2026, 3, 2, 23, 15, 0, 0, time.UTC),
		Control: sim.Fixed(sim.Control{RatioNew: 20, MaxPerHour: map[string]int{"google": 150}})})
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	specs := []ingest.SourceSpec{
		{Name: "old-postfix", Kind: "postfix", Side: model.SideOld, MTA: "postfix-old",
			Globs:  []string{filepath.Join(s.Dir(), sim.OldGlob)},
			Parser: postfix.New(postfix.Options{Location: s.Location(), Now: s.Clock, IgnoreMTime: true})},
		{Name: "new-pmta", Kind: "pmta", Side: model.SideNew, MTA: "pmta-new",
			Globs:  []string{filepath.Join(s.Dir(), sim.NewGlob)},
			Parser: pmta.New(pmta.Options{Location: s.Location()})},
	}
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()

	simCtx, stopSim := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer stopSim()
	plCtx, stopPL := context.WithCancel(context.Background())
	simDone, plDone := make(chan error, 1), make(chan error, 1)
	go func() { simDone <- s.Run(simCtx) }()
	go func() { plDone <- pl.Run(plCtx, 20*time.Millisecond) }()
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
	stopPL()
	if err := <-plDone; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	sum, err := pl.Backfill(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Clock().Day() != 3 {
		t.Fatalf("the run did not cross midnight: %v", s.Clock())
	}
	if sum.Rejected != 0 {
		rj, _ := db.Rejects("")
		t.Fatalf("%d lines rejected: %+v", sum.Rejected, rj)
	}
	rows, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[sim.Key]model.Tally{}
	for _, r := range rows {
		k := sim.Key{Side: r.Side, ISP: r.ISP}
		c := got[k]
		c.Add(model.Tally(r.Counts))
		got[k] = c
	}
	want := s.Totals()
	if len(want.Counts) < 10 {
		t.Fatalf("too little written: %+v", want)
	}
	for k, w := range want.Counts {
		if got[k] != w {
			t.Errorf("%v %s: state %+v\n\twritten %+v", k.Side, k.ISP, got[k], w)
		}
		delete(got, k)
	}
	for k, v := range got {
		t.Errorf("state has %v %s: %+v, never written", k.Side, k.ISP, v)
	}
	t.Logf("simulated %v in 1.5 s: %d lines, %d events", s.Clock().Sub(time.Date(2026, 3, 2, 23, 15, 0, 0, time.UTC)), sum.Lines, sum.Events)
}
