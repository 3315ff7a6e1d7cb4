package state

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"cutover/model"
)

// The via breakdown counts every event once in its (hour, side, ISP,
// dimension, value) bucket whatever the order of events: with more
// distinct combinations than cache slots, colliding and returning ones,
// Breakdown equals counts made directly from the events.
func TestViaBreakdownMatchesEvents(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "c.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	start := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	type k struct {
		side     model.Side
		dim, val string
	}
	want := map[k]*Counts{}
	add := func(side model.Side, dim, val string, o model.Outcome) {
		c := want[k{side, dim, val}]
		if c == nil {
			c = &Counts{}
			want[k{side, dim, val}] = c
		}
		var ev model.Event
		ev.Outcome = o
		var d Counts
		d.AddEvent(&ev)
		c.Add(d)
	}
	b := NewBatch()
	outcomes := []model.Outcome{model.Delivered, model.Deferred, model.Bounced}
	for i := 0; i < 20000; i++ {
		side := model.Side(1 + rng.IntN(2))
		ev := model.Event{Kind: "pmta", Side: side, MTA: "pmta", ISP: "gmail", Domain: "gmail.com",
			Time:    start.Add(time.Duration(rng.IntN(3*3600)) * time.Second),
			Outcome: outcomes[rng.IntN(3)], Response: "x",
			VMTA: fmt.Sprintf("vmta%d", rng.IntN(400)), SourceIP: fmt.Sprintf("10.0.%d.%d", rng.IntN(2), rng.IntN(300))}
		if rng.IntN(5) == 0 {
			ev.ISP = "yahoo"
			ev.VMTA = "y" + ev.VMTA
		}
		if ev.ISP == "gmail" {
			add(side, DimVMTA, ev.VMTA, ev.Outcome)
			add(side, DimIP, ev.SourceIP, ev.Outcome)
		}
		b.AddEvent(&ev)
		if i%7000 == 6999 {
			if err := db.Commit(b); err != nil {
				t.Fatal(err)
			}
			b = NewBatch()
		}
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Breakdown("gmail", start.Add(-time.Hour), start.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		w := want[k{r.Side, r.Dim, r.Value}]
		if w == nil || *w != r.Counts {
			t.Fatalf("%v %s %s: %+v, want %+v", r.Side, r.Dim, r.Value, r.Counts, w)
		}
	}
}
