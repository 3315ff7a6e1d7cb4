package ui

import (
	"cmp"
	"math"
	"slices"
	"time"

	"cutover/model"
	"cutover/state"
)

// StateData implements Data over the cutover database. It only reads (bbolt
// read transactions through state's queries), so it runs beside the ingest
// writer in the same process.
type StateData struct {
	DB *state.DB
	// Plan gives the ratio and plan steps; nil: no plan, 0 % NEW.
	Plan PlanProvider
	// Live returns the followers' live view of each source (State, Since,
	// Error, Path, Offset, Size), which the database cannot know; main.go
	// maps the pipeline's statuses into it. Nil: database summaries only.
	Live func() []SourceView
	// CutoverStart is used by WindowCutover when the plan has no Start;
	// without either, the first NEW event is (firstNew).
	CutoverStart time.Time

	firstNew time.Time // cached: the first NEW event does not move
	// Suppression gives the suppression view and the header warning (a
	// SuppressionData over the same database); nil: neither.
	Suppression SuppressionProvider
}

// NewStateData wraps db.
func NewStateData(db *state.DB) *StateData { return &StateData{DB: db} }

func (d *StateData) plan() Plan {
	if d.Plan == nil {
		return Plan{Step: -1, Unmanaged: true}
	}
	return d.Plan.Plan()
}

// windowRange resolves a window to [since, until) and a series step. The 15m
// and 1h windows end at the next whole minute and use minute steps. 24h and
// the cutover window are whole hours with hour steps, so that the series
// read hour buckets (24 keys per series, not 1440).
func (d *StateData) windowRange(w Window, now time.Time, detail bool) (since, until time.Time, step time.Duration) {
	now, _ = d.dataEnd(now)
	now = now.UTC()
	switch w {
	case Window15m, Window1h:
		until = now.Truncate(time.Minute).Add(time.Minute)
		return until.Add(-w.Duration()), until, time.Minute
	case Window24h:
		until = now.Truncate(time.Hour).Add(time.Hour)
		if detail {
			return until.Add(-24 * time.Hour), until, 15 * time.Minute
		}
		return until.Add(-24 * time.Hour), until, time.Hour
	}
	until = now.Truncate(time.Hour).Add(time.Hour)
	start := d.plan().Start
	if start.IsZero() {
		start = d.CutoverStart
	}
	if start.IsZero() {
		start = d.firstNewEvent(until)
	}
	if start.IsZero() || !start.Before(until) {
		start = until.Add(-7 * 24 * time.Hour)
	}
	since = start.UTC().Truncate(time.Hour)
	points := 48.0
	if detail {
		points = 120
	}
	hours := math.Ceil(until.Sub(since).Hours() / points)
	return since, until, time.Duration(max(hours, 1)) * time.Hour
}

// dataEnd is where windows end: now while the data is live, else the newest
// event (history: a backfill, or sources that stopped).
func (d *StateData) dataEnd(now time.Time) (time.Time, bool) {
	n := d.DB.Newest()
	if n.IsZero() || now.Sub(n) <= LiveWithin {
		return now, false
	}
	return n, true
}

// firstNewEvent is the hour of the first event on the NEW side (zero when
// none): the cutover started then, if nobody said otherwise. Day buckets
// find the day, hour buckets the hour; found once, it is kept.
func (d *StateData) firstNewEvent(until time.Time) time.Time {
	if !d.firstNew.IsZero() {
		return d.firstNew
	}
	first := func(since, until time.Time, step time.Duration) time.Time {
		series, err := d.DB.Series(state.SeriesQuery{Since: since, Until: until, Step: step, Side: model.SideNew})
		if err != nil {
			return time.Time{}
		}
		var t time.Time
		for _, pts := range series {
			for _, p := range pts {
				if p.Counts.Total() > 0 {
					if t.IsZero() || p.Start.Before(t) {
						t = p.Start
					}
					break
				}
			}
		}
		return t
	}
	until = until.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	day := first(until.Add(-90*24*time.Hour), until, 24*time.Hour)
	if day.IsZero() {
		return time.Time{}
	}
	if h := first(day, day.Add(24*time.Hour), time.Hour); !h.IsZero() {
		day = h
	}
	d.firstNew = day
	return day
}

// Snapshot implements Data.
func (d *StateData) Snapshot(w Window, now time.Time) (*Snapshot, error) {
	since, until, step := d.windowRange(w, now, false)
	s := &Snapshot{Since: since, Until: until, Step: step, Plan: d.plan(), DBPath: d.DB.Path(), Warnings: d.DB.Warnings()}
	if end, history := d.dataEnd(now); history {
		s.DataUntil = end
	}

	rows, err := d.DB.Stats(state.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	byISP := map[string]*ProviderStats{}
	get := func(isp string) *ProviderStats {
		p := byISP[isp]
		if p == nil {
			p = &ProviderStats{ISP: isp}
			byISP[isp] = p
		}
		return p
	}
	for _, r := range rows {
		side := sideOf(get(r.ISP), r.Side)
		if side == nil {
			continue
		}
		side.Counts.Add(model.Tally(r.Counts))
	}
	series, err := d.DB.Series(state.SeriesQuery{Since: since, Until: until, Step: step})
	if err != nil {
		return nil, err
	}
	for k, pts := range series {
		side := sideOf(get(k.ISP), k.Side)
		if side == nil {
			continue
		}
		side.Series = tallies(pts)
	}
	for _, sd := range []model.Side{model.SideOld, model.SideNew} {
		rs, err := d.DB.TopReasons(sd, "", since, until, 0)
		if err != nil {
			return nil, err
		}
		for _, r := range rs { // count-descending: the first per ISP is its top
			p, ok := byISP[r.ISP]
			if !ok {
				continue
			}
			if side := sideOf(p, sd); side != nil && side.Top.Count == 0 {
				side.Top = Reason{Signature: r.Signature, Sample: r.Sample, Count: r.Count}
			}
		}
	}
	for _, p := range byISP {
		if p.Old.Counts == (model.Tally{}) && p.New.Counts == (model.Tally{}) {
			continue // only zeros in the series: nothing in this window
		}
		s.Old.Counts.Add(p.Old.Counts)
		s.New.Counts.Add(p.New.Counts)
		s.Providers = append(s.Providers, *p)
	}
	slices.SortFunc(s.Providers, func(a, b ProviderStats) int { return cmp.Compare(a.ISP, b.ISP) })
	s.Sources, err = d.sources(false)
	return s, err
}

func sideOf(p *ProviderStats, s model.Side) *SideStats {
	switch s {
	case model.SideOld:
		return &p.Old
	case model.SideNew:
		return &p.New
	}
	return nil // events the side map could not place are not compared
}

func tallies(pts []state.Point) []model.Tally {
	out := make([]model.Tally, len(pts))
	for i, p := range pts {
		out[i] = model.Tally(p.Counts)
	}
	return out
}

// Detail implements Data.
func (d *StateData) Detail(isp string, w Window, now time.Time) (*Detail, error) {
	since, until, step := d.windowRange(w, now, true)
	det := &Detail{ISP: isp, Since: since, Until: until, Step: step}
	rows, err := d.DB.Stats(state.Query{Since: since, Until: until, ISP: isp})
	if err != nil {
		return nil, err
	}
	p := &ProviderStats{ISP: isp}
	for _, r := range rows {
		if side := sideOf(p, r.Side); side != nil {
			side.Counts.Add(model.Tally(r.Counts))
		}
	}
	series, err := d.DB.Series(state.SeriesQuery{Since: since, Until: until, Step: step, ISP: isp})
	if err != nil {
		return nil, err
	}
	for k, pts := range series {
		if side := sideOf(p, k.Side); side != nil {
			side.Series = tallies(pts)
		}
	}
	det.Old, det.New = p.Old, p.New

	// Merge both sides' signatures into one table, busiest first.
	merged := map[string]*ReasonRow{}
	var order []string
	for _, sd := range []model.Side{model.SideNew, model.SideOld} {
		rs, err := d.DB.TopReasons(sd, isp, since, until, 0)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			row := merged[r.Signature]
			if row == nil {
				row = &ReasonRow{Signature: r.Signature, Sample: r.Sample}
				merged[r.Signature] = row
				order = append(order, r.Signature)
			}
			if sd == model.SideOld {
				row.Old += r.Count
			} else {
				row.New += r.Count
			}
		}
	}
	for _, sig := range order {
		det.Reasons = append(det.Reasons, *merged[sig])
	}
	slices.SortStableFunc(det.Reasons, func(a, b ReasonRow) int { return cmp.Compare(b.Old+b.New, a.Old+a.New) })
	if len(det.Reasons) > 10 {
		det.Reasons = det.Reasons[:10]
	}

	bd, err := d.DB.Breakdown(isp, since, until)
	if err != nil {
		return nil, err
	}
	for _, r := range bd {
		det.Breakdown = append(det.Breakdown, BreakdownRow{Dim: r.Dim, Value: r.Value, Side: r.Side, Counts: model.Tally(r.Counts)})
	}
	return det, nil
}

// Sources implements Data.
func (d *StateData) Sources(now time.Time) ([]SourceView, error) { return d.sources(true) }

// sources merges the database's per-source summaries and cursors with the
// followers' live view (which wins for state, path and position).
func (d *StateData) sources(samples bool) ([]SourceView, error) {
	stats, err := d.DB.Sources()
	if err != nil {
		return nil, err
	}
	var out []SourceView
	idx := map[string]int{}
	if d.Live != nil {
		for _, l := range d.Live() {
			idx[l.Name] = len(out)
			out = append(out, l)
		}
	}
	for _, st := range stats {
		i, ok := idx[st.Source]
		if !ok {
			i = len(out)
			idx[st.Source] = i
			out = append(out, SourceView{Name: st.Source})
		}
		v := &out[i]
		v.Kind = cmp.Or(v.Kind, st.Kind)
		v.Side = cmp.Or(v.Side, st.Side)
		v.Lines, v.Events, v.Rejected, v.NoDomain = st.Lines, st.Events, st.Rejected, st.NoDomain
		if st.LastLine.After(v.LastLine) {
			v.LastLine = st.LastLine
		}
		if v.Error == "" && d.Live == nil {
			v.Error = st.LastError
		}
	}
	for i := range out {
		v := &out[i]
		if v.Path == "" || (v.Offset == 0 && v.Size == 0) {
			curs, err := d.DB.Cursors(v.Name)
			if err != nil {
				return nil, err
			}
			if c, ok := currentCursor(curs); ok {
				v.Path = cmp.Or(v.Path, c.Path)
				v.Offset, v.Size = c.Offset, c.Size
				if c.LastLine.After(v.LastLine) {
					v.LastLine = c.LastLine
				}
			}
		}
		if samples && v.Rejected > 0 {
			rej, err := d.DB.Rejects(v.Name)
			if err != nil {
				return nil, err
			}
			for j, r := range rej {
				if j == 5 {
					break
				}
				v.Samples = append(v.Samples, RejectSample{Path: r.Path, Offset: r.Offset, Line: r.Line, Reason: r.Reason, Text: r.Text})
			}
		}
	}
	return out, nil
}

// currentCursor is the file being followed: the most recently updated cursor
// not yet rotated away and drained, else the most recent one.
func currentCursor(cs []state.Cursor) (state.Cursor, bool) {
	var best state.Cursor
	found := false
	for _, c := range cs {
		if !found || (best.Done && !c.Done) || (best.Done == c.Done && c.Updated.After(best.Updated)) {
			best, found = c, true
		}
	}
	return best, found
}
