package owner

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/state"
)

// BenchmarkAlertEvaluation50: one evaluation cycle (snapshot of every rule
// window from committed counters, rules, state step in bbolt) with 50
// providers on both sides and a week of minute/hour history (wave2 §8.5
// target < 50 ms). go test -run - -bench AlertEvaluation ./owner
func BenchmarkAlertEvaluation50(b *testing.B) {
	db, err := state.Open(filepath.Join(b.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	for h := 7*24 + 1; h > 0; h-- {
		batch := state.NewBatch()
		at := now.Add(-time.Duration(h) * time.Hour)
		for p := 0; p < 50; p++ {
			isp := fmt.Sprintf("isp%02d", p)
			for _, side := range []model.Side{model.SideOld, model.SideNew} {
				for m := 0; m < 60; m += 10 {
					for _, o := range []model.Outcome{model.Delivered, model.Delivered, model.Deferred, model.Complaint} {
						batch.AddEvent(&model.Event{Time: at.Add(time.Duration(m) * time.Minute), Side: side, MTA: side.String(), Kind: "pmta",
							ISP: isp, Domain: isp + ".example", Outcome: o, Response: "421 4.7.0 try later"})
					}
				}
			}
		}
		if err := db.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	own, err := Start(&Config{}, Options{DB: db, Specs: []ingest.SourceSpec{}, NoMonitor: true, Clock: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer own.Close()
	m := own.Monitoring()
	ctx := context.Background()
	if _, err := m.Evaluate(ctx); err != nil { // the first cycle creates the alerts
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
