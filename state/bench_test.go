package state

import (
	"fmt"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// BenchmarkCommit: the ingest path, AddEvent for 5,000 events (20 ISPs × 2
// sides, 200 domains, 10% failures with a response, a source IP each) plus
// one Commit with two cursors; each batch is the next minute of log time, so
// the database grows and pruning runs as it would.
func BenchmarkCommit(b *testing.B) {
	db := openTest(b, Options{})
	const per = 5000
	var ispNames [20]string
	for i := range ispNames {
		ispNames[i] = fmt.Sprintf("isp%02d", i)
	}
	evs := make([]model.Event, per)
	for i := range evs {
		side := model.Side(1 + i%2)
		isp := ispNames[(i/2)%20]
		evs[i] = model.Event{Side: side, MTA: side.String(), ISP: isp, Domain: fmt.Sprintf("d%d.%s.example", i%10, isp),
			Outcome: model.Delivered, SourceIP: fmt.Sprintf("192.0.2.%d", i%4)}
		if i%10 == 0 {
			evs[i].Outcome = model.Deferred
			evs[i].Response = fmt.Sprintf("421 4.7.%d try again later id %d", i%3, 100000+i)
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		batch := NewBatch()
		base := t0.Add(time.Duration(n) * time.Minute)
		for i := range evs {
			evs[i].Time = base.Add(time.Duration(i) * (time.Minute / per))
			batch.AddEvent(&evs[i])
		}
		batch.SetCursor(Cursor{Source: "old", FPLen: 4096, FPHash: 1, Offset: int64(n)})
		batch.SetCursor(Cursor{Source: "new", FPLen: 4096, FPHash: 2, Offset: int64(n)})
		if err := db.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}

// dayDB holds a full day of minute buckets for 50 providers × 2 sides (one
// event per provider, side and minute).
func dayDB(b *testing.B) *DB {
	db := openTest(b, Options{})
	batch := NewBatch()
	for m := 0; m < 24*60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		for p := 0; p < 50; p++ {
			for side := model.SideOld; side <= model.SideNew; side++ {
				batch.AddEvent(&model.Event{Time: at, Side: side, MTA: side.String(), ISP: fmt.Sprintf("isp%02d", p), Outcome: model.Delivered})
			}
		}
		if batch.Len() >= 5000 {
			if err := db.Commit(batch); err != nil {
				b.Fatal(err)
			}
			batch = NewBatch()
		}
	}
	if err := db.Commit(batch); err != nil {
		b.Fatal(err)
	}
	return db
}

func reportMS(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

// BenchmarkStatsDay: Stats over the last 24h (minute regime). "planned" is
// what Stats does (minute edges + whole hours); "minutes" scans every minute
// bucket, for comparison.
func BenchmarkStatsDay(b *testing.B) {
	db := dayDB(b)
	since := t0.Add(7 * time.Minute)
	until := t0.Add(24 * time.Hour)
	b.Run("planned", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			rows, err := db.Stats(Query{Since: since, Until: until})
			if err != nil || len(rows) != 100 {
				b.Fatal(err, len(rows))
			}
		}
		reportMS(b)
	})
	b.Run("minutes", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			agg := map[string]Counts{}
			db.View(func(tx *bbolt.Tx) error {
				scanGran(tx.Bucket(bktCounters), gMinute, since.Unix(), until.Unix(), func(_ int64, rest, v []byte) {
					c := agg[string(rest)]
					addEncoded(&c, v)
					agg[string(rest)] = c
				})
				return nil
			})
			if len(agg) != 100 {
				b.Fatal(len(agg))
			}
		}
		reportMS(b)
	})
	b.Run("whole-history", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			if rows, err := db.Stats(Query{}); err != nil || len(rows) != 100 {
				b.Fatal(err)
			}
		}
		reportMS(b)
	})
}

// BenchmarkSeries: a day of 5-minute steps (reads all 144,000 minute
// buckets) and of hourly steps (aligned: reads hour buckets).
func BenchmarkSeries(b *testing.B) {
	db := dayDB(b)
	for _, step := range []time.Duration{5 * time.Minute, time.Hour} {
		b.Run(step.String(), func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				s, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(24 * time.Hour), Step: step})
				if err != nil || len(s) != 100 {
					b.Fatal(err, len(s))
				}
			}
			reportMS(b)
		})
	}
	b.Run("one-isp-1m", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			s, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(24 * time.Hour), Step: time.Minute, ISP: "isp07"})
			if err != nil || len(s) != 2 {
				b.Fatal(err, len(s))
			}
		}
		reportMS(b)
	})
}

// BenchmarkAddEvent: aggregation alone (the writer stage's share of a
// backfill), over BenchmarkCommit's events.
func BenchmarkAddEvent(b *testing.B) {
	const per = 5000
	evs := make([]model.Event, per)
	for i := range evs {
		side := model.Side(1 + i%2)
		isp := fmt.Sprintf("isp%02d", (i/2)%20)
		evs[i] = model.Event{Side: side, MTA: side.String(), ISP: isp, Domain: fmt.Sprintf("d%d.%s.example", i%10, isp),
			Outcome: model.Delivered, SourceIP: fmt.Sprintf("192.0.2.%d", i%4), Time: t0.Add(time.Duration(i) * (time.Minute / per))}
		if i%10 == 0 {
			evs[i].Outcome = model.Deferred
			evs[i].Response = fmt.Sprintf("421 4.7.%d try again later id %d", i%3, 100000+i)
		}
	}
	batch := NewBatch()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if n%20 == 0 {
			batch = NewBatch()
		}
		for i := range evs {
			batch.AddEvent(&evs[i])
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}
