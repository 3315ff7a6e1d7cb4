package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// Breakdown dimensions.
const (
	DimIP        = "ip"        // Event.SourceIP
	DimVMTA      = "vmta"      // Event.VMTA
	DimTransport = "transport" // Event.Transport
)

// Query selects counters for Stats.
type Query struct {
	Since, Until time.Time  // both zero: whole history (day buckets); Until zero: no upper bound
	By           string     // "isp" (default) | "domain"
	Side         model.Side // 0 = both
	ISP          string     // "" = all
}

// Row is one line of Stats. Domain is empty unless Query.By is "domain".
type Row struct {
	Side   model.Side
	MTA    string
	ISP    string
	Domain string
	Counts
}

// SeriesQuery selects a time series for Series.
type SeriesQuery struct {
	Since, Until time.Time // required
	Step         time.Duration
	ISP          string     // "" = every ISP (one series each)
	Side         model.Side // 0 = both
}

// SeriesKey names one series: counts summed over the MTAs of a side.
type SeriesKey struct {
	Side model.Side
	ISP  string
}

// Point is the counts of one step starting at Start.
type Point struct {
	Start time.Time
	Counts
}

// Reason is a response signature with its count over a range.
type Reason struct {
	Side      model.Side
	ISP       string
	Signature string    // model.Signature of the response
	Sample    string    // first response text seen (untrusted, cut to 300 bytes)
	Count     uint64    // non-delivered outcomes with this signature
	Last      time.Time // newest event with it
}

// BreakdownRow is one value of one dimension (DimIP, DimVMTA, DimTransport).
type BreakdownRow struct {
	Side  model.Side
	Dim   string
	Value string
	Counts
}

// maxSeriesPoints stops a bad Step from allocating without bound.
const maxSeriesPoints = 100_000

// Bounds of a scan when a query has no lower or upper time; both are whole
// days, far outside any real log.
const (
	scanMin = -(1 << 40) / secDay * secDay
	scanMax = (1 << 40) / secDay * secDay
)

// level indexes granularities from fine to coarse.
var levelGran = [...]byte{gMinute, gHour, gDay}

func levelOf(g byte) int {
	switch g {
	case gMinute:
		return 0
	case gHour:
		return 1
	}
	return 2
}

// finest picks the finest granularity whose buckets are all still kept from
// since on; domains have no minute buckets and keep hours only as long as
// counters keep minutes.
func (db *DB) finest(since time.Time, domains bool) byte {
	if since.IsZero() {
		return gDay
	}
	newest := db.Newest()
	switch {
	case !since.Before(newest.Add(-db.opt.MinuteRetention)):
		if domains {
			return gHour
		}
		return gMinute
	case !domains && !since.Before(newest.Add(-db.opt.HourRetention)):
		return gHour
	}
	return gDay
}

// GranularityFor tells which bucket size Stats and Series use for a range
// starting at since (Stats by domain never uses minutes).
func (db *DB) GranularityFor(since time.Time) Granularity { return granName(db.finest(since, false)) }

// untilSec converts an exclusive upper time to whole seconds: a bucket start b
// (whole seconds) is before until iff b < untilSec(until).
func untilSec(t time.Time) int64 {
	if t.IsZero() {
		return scanMax
	}
	s := t.Unix()
	if t.Nanosecond() != 0 {
		s++
	}
	return s
}

func sinceSec(t time.Time) int64 {
	if t.IsZero() {
		return scanMin
	}
	return t.Unix()
}

type segment struct {
	g        byte
	from, to int64 // bucket starts in [from, to), aligned to g
}

// plan covers [from, end) (aligned to the finest level lv) with the coarsest
// buckets that fit wholly inside it: an hour bucket is exactly the sum of its
// minutes because every event is added to both in the same commit, so a
// 24-hour range reads ~24 hour keys plus the minute edges instead of 1440
// minute keys per series.
func plan(from, end int64, lv, maxLv int) []segment {
	if from >= end {
		return nil
	}
	if lv >= maxLv {
		return []segment{{levelGran[lv], from, end}}
	}
	next := granSecs(levelGran[lv+1])
	a, b := ceilSec(from, next), floorSec(end, next)
	if a >= b {
		return []segment{{levelGran[lv], from, end}}
	}
	var out []segment
	if from < a {
		out = append(out, segment{levelGran[lv], from, a})
	}
	out = append(out, plan(a, b, lv+1, maxLv)...)
	if b < end {
		out = append(out, segment{levelGran[lv], b, end})
	}
	return out
}

// scanGran calls fn for every key g | start | ... with start in [from, to),
// passing the start and the key after the 9-byte head.
func scanGran(bk *bbolt.Bucket, g byte, from, to int64, fn func(start int64, rest, v []byte)) {
	if bk == nil || from >= to {
		return
	}
	var seek [9]byte
	seek[0] = g
	putTime(seek[1:], from)
	c := bk.Cursor()
	for k, v := c.Seek(seek[:]); k != nil && len(k) >= 9 && k[0] == g; k, v = c.Next() {
		t := getTime(k[1:9])
		if t >= to {
			return
		}
		fn(t, k[9:], v)
	}
}

// scanHours is scanGran for keys that start with the time (reasons, via).
func scanHours(bk *bbolt.Bucket, from, to int64, fn func(start int64, rest, v []byte)) {
	if bk == nil || from >= to {
		return
	}
	var seek [8]byte
	putTime(seek[:], from)
	c := bk.Cursor()
	for k, v := c.Seek(seek[:]); k != nil && len(k) >= 8; k, v = c.Next() {
		t := getTime(k[:8])
		if t >= to {
			return
		}
		fn(t, k[8:], v)
	}
}

// Stats sums counters per side, MTA and ISP (and domain with By "domain")
// over a range, sorted by side, MTA, ISP, domain.
//
// Granularity: Since zero → day buckets (whole history). Otherwise minute
// buckets if Since ≥ Newest−MinuteRetention, else hour buckets if Since ≥
// Newest−HourRetention, else day buckets (by domain: hour, else day). A bucket
// of that granularity counts when its start is in [floor(Since), Until); Until
// zero means no upper bound. Whole hours and days inside the range are read
// from their own buckets, which hold exactly the same sums.
func (db *DB) Stats(q Query) ([]Row, error) {
	domains := false
	switch q.By {
	case "", "isp":
	case "domain":
		domains = true
	default:
		return nil, fmt.Errorf("stats: by %q: want isp or domain", q.By)
	}
	g := db.finest(q.Since, domains)
	step := granSecs(g)
	from := floorSec(sinceSec(q.Since), step)
	end := ceilSec(untilSec(q.Until), step)
	maxLv := 2
	bktName := bktCounters
	if domains {
		bktName = bktDomains
	}
	segs := plan(from, end, levelOf(g), maxLv)

	agg := map[string]*Counts{} // side | mta \0 isp [\0 domain]
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktName)
		for _, s := range segs {
			scanGran(bk, s.g, s.from, s.to, func(_ int64, rest, v []byte) {
				if len(rest) < 1 || (q.Side != 0 && model.Side(rest[0]) != q.Side) {
					return
				}
				if q.ISP != "" {
					_, tail := splitNul(rest[1:])
					isp, _ := splitNul(tail)
					if string(isp) != q.ISP {
						return
					}
				}
				if c, ok := agg[string(rest)]; ok {
					addEncoded(c, v)
				} else {
					c := decodeCounts(v)
					agg[string(rest)] = &c
				}
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(agg))
	for k, c := range agg {
		r := Row{Side: model.Side(k[0]), Counts: *c}
		parts := strings.SplitN(k[1:], "\x00", 3)
		r.MTA = parts[0]
		if len(parts) > 1 {
			r.ISP = parts[1]
		}
		if len(parts) > 2 {
			r.Domain = parts[2]
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b Row) int {
		if a.Side != b.Side {
			return int(a.Side) - int(b.Side)
		}
		if c := strings.Compare(a.MTA, b.MTA); c != 0 {
			return c
		}
		if c := strings.Compare(a.ISP, b.ISP); c != 0 {
			return c
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	return rows, nil
}

// Series returns, per side and ISP (summed over MTAs), one point per Step in
// [Since, Until), zeros included: point i starts at Since+i·Step. It reads the
// granularity Stats would use for Since (or a coarser one when Since, Until
// and Step are all aligned to it: same sums, fewer keys). A bucket counts in
// the point whose step contains its start; buckets starting before Since
// (after flooring Since to the granularity) count in the first point. Align
// Since to Step for clean steps; a Step finer than the granularity puts each
// bucket's counts in the step holding its start. With ISP set, the requested
// sides are present even when empty.
func (db *DB) Series(q SeriesQuery) (map[SeriesKey][]Point, error) {
	if q.Since.IsZero() || q.Until.IsZero() {
		return nil, errors.New("series: Since and Until are required")
	}
	if q.Step <= 0 {
		return nil, errors.New("series: Step must be positive")
	}
	span := q.Until.Sub(q.Since)
	if span <= 0 {
		return map[SeriesKey][]Point{}, nil
	}
	n := int64((span + q.Step - 1) / q.Step)
	if n > maxSeriesPoints {
		return nil, fmt.Errorf("series: %d points (max %d): use a larger Step", n, maxSeriesPoints)
	}
	g := db.finest(q.Since, false)
	for lv := levelOf(g) + 1; lv < len(levelGran); lv++ {
		d := time.Duration(granSecs(levelGran[lv])) * time.Second
		if q.Step%d != 0 || !aligned(q.Since, d) || !aligned(q.Until, d) {
			break
		}
		g = levelGran[lv]
	}
	step := granSecs(g)
	from := floorSec(sinceSec(q.Since), step)
	to := untilSec(q.Until)
	sinceNS, stepNS := q.Since.UnixNano(), int64(q.Step)

	var bySide [3]map[string][]Point
	newSeries := func() []Point {
		ps := make([]Point, n)
		for i := range ps {
			ps[i].Start = q.Since.Add(time.Duration(i) * q.Step).UTC()
		}
		return ps
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		scanGran(tx.Bucket(bktCounters), g, from, to, func(start int64, rest, v []byte) {
			if len(rest) < 1 || rest[0] > byte(model.SideNew) {
				return
			}
			side := model.Side(rest[0])
			if q.Side != 0 && side != q.Side {
				return
			}
			_, isp := splitNul(rest[1:])
			if q.ISP != "" && string(isp) != q.ISP {
				return
			}
			m := bySide[side]
			if m == nil {
				m = map[string][]Point{}
				bySide[side] = m
			}
			ps, ok := m[string(isp)]
			if !ok {
				ps = newSeries()
				m[string(isp)] = ps
			}
			i := floorDiv(start*1e9-sinceNS, stepNS)
			if i < 0 {
				i = 0
			}
			if i < n {
				addEncoded(&ps[i].Counts, v)
			}
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[SeriesKey][]Point{}
	for side, m := range bySide {
		for isp, ps := range m {
			out[SeriesKey{model.Side(side), isp}] = ps
		}
	}
	if q.ISP != "" {
		for _, side := range []model.Side{model.SideOld, model.SideNew} {
			k := SeriesKey{side, q.ISP}
			if (q.Side == 0 || q.Side == side) && out[k] == nil {
				out[k] = newSeries()
			}
		}
	}
	return out, nil
}

func aligned(t time.Time, d time.Duration) bool {
	return t.UnixNano()%int64(d) == 0
}

// TopReasons returns the n most frequent response signatures of non-delivered
// outcomes (n ≤ 0: all) for a side (0 = both) and ISP ("" = all) over the hour
// buckets whose start is in [floor_hour(since), until); zero times are open
// ends. Order: count descending, then most recent, then side, ISP, signature.
// The sample is the first text seen in the earliest hour of the range.
func (db *DB) TopReasons(side model.Side, isp string, since, until time.Time, n int) ([]Reason, error) {
	from := floorSec(sinceSec(since), secHour)
	to := untilSec(until)
	agg := map[string]*Reason{} // side | isp \0 signature
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		scanHours(tx.Bucket(bktReasons), from, to, func(_ int64, rest, v []byte) {
			if len(rest) < 1 || len(v) < 16 || (side != 0 && model.Side(rest[0]) != side) {
				return
			}
			ispB, sig := splitNul(rest[1:])
			if isp != "" && string(ispB) != isp {
				return
			}
			count := binary.BigEndian.Uint64(v)
			last := time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC()
			if r, ok := agg[string(rest)]; ok {
				r.Count += count
				if last.After(r.Last) {
					r.Last = last
				}
				return
			}
			agg[string(rest)] = &Reason{
				Side: model.Side(rest[0]), ISP: string(ispB), Signature: string(sig),
				Sample: string(v[16:]), Count: count, Last: last,
			}
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Reason, 0, len(agg))
	for _, r := range agg {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Reason) int {
		switch {
		case a.Count != b.Count:
			if a.Count > b.Count {
				return -1
			}
			return 1
		case !a.Last.Equal(b.Last):
			return b.Last.Compare(a.Last)
		case a.Side != b.Side:
			return int(a.Side) - int(b.Side)
		case a.ISP != b.ISP:
			return strings.Compare(a.ISP, b.ISP)
		}
		return strings.Compare(a.Signature, b.Signature)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// Breakdown sums the hourly via counters of an ISP ("" = all ISPs, merged)
// per side, dimension and value over hour buckets whose start is in
// [floor_hour(since), until) (zero times are open ends), sorted by side,
// dimension, value. Only events that logged the dimension are counted in it.
func (db *DB) Breakdown(isp string, since, until time.Time) ([]BreakdownRow, error) {
	from := floorSec(sinceSec(since), secHour)
	to := untilSec(until)
	agg := map[string]*Counts{} // side | dim \0 value
	var kb []byte
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		scanHours(tx.Bucket(bktVia), from, to, func(_ int64, rest, v []byte) {
			if len(rest) < 1 {
				return
			}
			ispB, dv := splitNul(rest[1:])
			if isp != "" && string(ispB) != isp {
				return
			}
			kb = append(append(kb[:0], rest[0]), dv...)
			if c, ok := agg[string(kb)]; ok {
				addEncoded(c, v)
			} else {
				c := decodeCounts(v)
				agg[string(kb)] = &c
			}
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]BreakdownRow, 0, len(agg))
	for k, c := range agg {
		dim, val := splitNul([]byte(k[1:]))
		out = append(out, BreakdownRow{Side: model.Side(k[0]), Dim: string(dim), Value: string(val), Counts: *c})
	}
	slices.SortFunc(out, func(a, b BreakdownRow) int {
		if a.Side != b.Side {
			return int(a.Side) - int(b.Side)
		}
		if c := strings.Compare(a.Dim, b.Dim); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out, nil
}
