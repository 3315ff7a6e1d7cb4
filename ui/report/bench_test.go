package report_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
	"cutover/ui/report"
)

// BenchmarkWeeklyReport90d20p: the weekly report (build + md + html) over a
// database holding 90 days × 20 providers × both sides, hourly traffic
// (wave2 §8.5 target < 2 s). go test -run - -bench WeeklyReport ./ui/report
func BenchmarkWeeklyReport90d20p(b *testing.B) {
	db, err := state.Open(filepath.Join(b.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	end := time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC) // a Monday
	start := end.AddDate(0, 0, -90)
	reply := "421-4.7.28 [203.0.113.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp"
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		batch := state.NewBatch()
		for h := 0; h < 24; h++ {
			at := d.Add(time.Duration(h) * time.Hour)
			for p := 0; p < 20; p++ {
				isp := fmt.Sprintf("isp%02d", p)
				for _, side := range []model.Side{model.SideOld, model.SideNew} {
					mta := map[model.Side]string{model.SideOld: "old", model.SideNew: "new"}[side]
					for i, o := range []model.Outcome{model.Delivered, model.Delivered, model.Delivered, model.Deferred, model.Bounced, model.Complaint} {
						ev := &model.Event{Time: at.Add(time.Duration(i) * time.Minute), Side: side, MTA: mta, Kind: "pmta", ISP: isp,
							Domain: isp + ".example", Outcome: o}
						if o == model.Deferred || o == model.Bounced {
							ev.Response = reply
						}
						batch.AddEvent(ev)
					}
				}
			}
		}
		if err := db.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	oh, _ := model.ParseOperatingHours("Mon-Fri 08:00-18:00", time.UTC, nil)
	in := report.Input{DB: db, Kind: "weekly", From: end.AddDate(0, 0, -7), To: end, Period: "2026-W11", Zone: time.UTC, Now: end, Hours: oh}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := report.Build(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Providers) != 20 {
			b.Fatalf("%d providers", len(r.Providers))
		}
		report.Markdown(r)
		if _, err := report.HTML(r); err != nil {
			b.Fatal(err)
		}
	}
}
