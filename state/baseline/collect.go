package baseline

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

// DefaultWindow is the audit's default span (wave2 §4.5: last 28 days of
// data).
const DefaultWindow = 28 * 24 * time.Hour

// Newest is the end of the newest data the audit can read: the counters'
// newest event or the end of the newest imported row, whichever is later.
func Newest(db *state.DB) (time.Time, error) {
	n := db.Newest()
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktBaseline)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Seek(prefRow); k != nil && bytes.HasPrefix(k, prefRow); k, _ = c.Next() {
			st, hour, ok := keyStart(k[len(prefRow):])
			if !ok {
				continue
			}
			span := 24 * time.Hour
			if hour {
				span = time.Hour
			}
			// The last instant inside the row: a day row ending at midnight
			// must not open a new empty day.
			if e := st.Add(span - time.Second); e.After(n) {
				n = e
			}
		}
		return nil
	})
	return n, err
}

// Window resolves the audit window: until zero means just after the newest
// data (the hour after its hour); since zero means until - DefaultWindow.
// Both are aligned to the hour.
func Window(db *state.DB, since, until time.Time) (time.Time, time.Time, error) {
	if until.IsZero() {
		n, err := Newest(db)
		if err != nil {
			return since, until, err
		}
		if n.IsZero() {
			return since, until, fmt.Errorf("audit: no data: backfill OLD logs or `cutover audit import` ESP statistics first")
		}
		until = n.UTC().Truncate(time.Hour).Add(time.Hour)
	}
	until = until.UTC().Truncate(time.Hour)
	if since.IsZero() {
		since = until.Add(-DefaultWindow)
	}
	since = since.UTC().Truncate(time.Hour)
	if !since.Before(until) {
		return since, until, fmt.Errorf("audit: empty window %s – %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return since, until, nil
}

// Collect gathers the audit's input over [since, until) (hour-aligned): the
// side's hourly counters (logs; 0 = both sides) and the imported ESP rows,
// added together per provider, the via breakdown per provider, the
// reputation rows. Counters older than the hour retention come as days and
// mark the provider day-only, like day-resolution imports.
func Collect(db *state.DB, since, until time.Time, side model.Side) (model.AuditInput, error) {
	hours := int(until.Sub(since) / time.Hour)
	in := model.AuditInput{Since: since, Hours: hours, Hourly: map[string][]model.Tally{}, DayOnly: map[string]bool{},
		Pools: map[string]map[[2]string]model.Tally{}, Unknown: map[string]int{}}
	if hours <= 0 {
		return in, fmt.Errorf("audit: empty window")
	}
	series := func(isp string) []model.Tally {
		s, ok := in.Hourly[isp]
		if !ok {
			s = make([]model.Tally, hours)
			in.Hourly[isp] = s
		}
		return s
	}
	hourGran := db.GranularityFor(since) != state.Day
	pts, err := db.Series(state.SeriesQuery{Since: since, Until: until, Step: time.Hour, Side: side})
	if err != nil {
		return in, err
	}
	logs := false
	for k, p := range pts {
		s := series(k.ISP)
		for i, pt := range p {
			if i < hours {
				s[i].Add(model.Tally(pt.Counts))
				if pt.Counts != (state.Counts{}) {
					logs = true
				}
			}
		}
		if !hourGran {
			in.DayOnly[k.ISP] = true
		}
	}
	if logs {
		in.Sources = append(in.Sources, "logs ("+sideName(side)+")")
		bd, err := perISPBreakdown(db, since, until, side, in.Hourly)
		if err != nil {
			return in, err
		}
		for isp, m := range bd {
			in.Pools[isp] = m
		}
	}
	err = db.View(func(tx *bbolt.Tx) error {
		rows, err := Rows(tx, since, until)
		if err != nil {
			return err
		}
		// Totals: a (source, name, start) with a plain row uses it; one with
		// only ip/ip_pool rows sums them. The split rows also feed pools.
		type key struct {
			src, name string
			at        int64
		}
		plain := map[key]bool{}
		for _, r := range rows {
			if r.Dim == "" {
				plain[key{r.Source, r.Name, r.Start.Unix()}] = true
			}
		}
		srcs := map[string]bool{}
		for _, r := range rows {
			i := int(r.Start.Sub(since) / time.Hour)
			if i < 0 || i >= hours {
				continue
			}
			if r.Dim != "" {
				m := in.Pools[r.ISP]
				if m == nil {
					m = map[[2]string]model.Tally{}
					in.Pools[r.ISP] = m
				}
				t := m[[2]string{r.Dim, r.DimValue}]
				t.Add(r.Counts)
				m[[2]string{r.Dim, r.DimValue}] = t
				if plain[key{r.Source, r.Name, r.Start.Unix()}] {
					continue
				}
			}
			series(r.ISP)[i].Add(r.Counts)
			if !r.Hour {
				in.DayOnly[r.ISP] = true
			}
			if r.ISP == model.ISPOther && r.Name != "" {
				in.Unknown[r.Source+": "+r.Name]++
			}
			srcs[r.Source] = true
		}
		for _, s := range slices.Sorted(func(yield func(string) bool) {
			for s := range srcs {
				if !yield(s) {
					return
				}
			}
		}) {
			in.Sources = append(in.Sources, "import "+s)
		}
		in.Reputation, err = Reputation(tx)
		return err
	})
	return in, err
}

func sideName(s model.Side) string {
	if s == 0 {
		return "both sides"
	}
	return s.String()
}

// perISPBreakdown asks the via counters once per provider with traffic.
func perISPBreakdown(db *state.DB, since, until time.Time, side model.Side, hourly map[string][]model.Tally) (map[string]map[[2]string]model.Tally, error) {
	out := map[string]map[[2]string]model.Tally{}
	for isp := range hourly {
		rows, err := db.Breakdown(isp, since, until)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if side != 0 && r.Side != side {
				continue
			}
			m := out[isp]
			if m == nil {
				m = map[[2]string]model.Tally{}
				out[isp] = m
			}
			t := m[[2]string{r.Dim, r.Value}]
			t.Add(model.Tally(r.Counts))
			m[[2]string{r.Dim, r.Value}] = t
		}
	}
	return out, nil
}
