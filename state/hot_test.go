package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"cutover/model"
)

// AddEvent's cache of recent buckets must never move a count: random
// events over few minutes, sides, MTAs, ISPs and domains (so slots are
// reused and collide) give the totals a plain tally gives, at every
// resolution a query reads (minute, hour, day; per ISP and per domain).
func TestAddEventHotCache(t *testing.T) {
	db := openTest(t, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	type k struct {
		side        model.Side
		mta, isp, d string
	}
	want := map[k]Counts{}
	wantISP := map[k]Counts{}
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	for round := 0; round < 4; round++ {
		b := NewBatch()
		for i := 0; i < 20000; i++ {
			ev := model.Event{
				Time:    base.Add(time.Duration(rng.IntN(150)) * time.Minute).Add(time.Duration(rng.IntN(60)) * time.Second),
				Side:    model.Side(1 + rng.IntN(2)),
				MTA:     fmt.Sprint("mta", rng.IntN(2)),
				ISP:     fmt.Sprint("isp", rng.IntN(7)),
				Outcome: model.Outcome(1 + rng.IntN(model.NumOutcomes-1)),
			}
			if rng.IntN(10) > 0 {
				ev.Domain = fmt.Sprintf("d%d.example", rng.IntN(300))
			}
			b.AddEvent(&ev)
			var d Counts
			d.AddEvent(&ev)
			c := want[k{ev.Side, ev.MTA, ev.ISP, ev.Domain}]
			c.Add(d)
			want[k{ev.Side, ev.MTA, ev.ISP, ev.Domain}] = c
			c = wantISP[k{ev.Side, ev.MTA, ev.ISP, ""}]
			c.Add(d)
			wantISP[k{ev.Side, ev.MTA, ev.ISP, ""}] = c
		}
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	delete(want, k{}) // never a key; events without a domain are not per-domain
	for key := range want {
		if key.d == "" {
			delete(want, key)
		}
	}
	check := func(name string, q Query, want map[k]Counts) {
		rows, err := db.Stats(q)
		if err != nil {
			t.Fatal(err)
		}
		got := map[k]Counts{}
		for _, r := range rows {
			c := got[k{r.Side, r.MTA, r.ISP, r.Domain}]
			c.Add(r.Counts)
			got[k{r.Side, r.MTA, r.ISP, r.Domain}] = c
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
		}
		for key, w := range want {
			if got[key] != w {
				t.Fatalf("%s %+v: %+v, want %+v", name, key, got[key], w)
			}
		}
	}
	check("day", Query{}, wantISP)
	check("minute", Query{Since: base, Until: base.Add(3 * time.Hour)}, wantISP)
	check("domain day", Query{By: "domain"}, want)
	check("domain hour", Query{By: "domain", Since: base, Until: base.Add(3 * time.Hour)}, want)
}
