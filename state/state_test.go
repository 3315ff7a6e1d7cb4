package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// t0 is a fixed past time (a Monday 00:00 UTC) so tests never meet the
// future-timestamp guard.
var t0 = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)

func openTest(t testing.TB, opt Options) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "c.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mkEv(at time.Time, side model.Side, isp, domain string, o model.Outcome) *model.Event {
	mta := "pmta-old"
	if side == model.SideNew {
		mta = "pmta-new"
	}
	return &model.Event{Time: at, Side: side, MTA: mta, ISP: isp, Domain: domain, Outcome: o}
}

func commit(t testing.TB, db *DB, evs ...*model.Event) {
	t.Helper()
	b := NewBatch()
	for _, e := range evs {
		b.AddEvent(e)
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
}

func total(rows []Row) (c Counts) {
	for _, r := range rows {
		c.Add(r.Counts)
	}
	return c
}

func TestCommitRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	b.AddEvent(mkEv(t0.Add(time.Minute), model.SideOld, "google", "gmail.com", model.Delivered))
	b.AddEvent(mkEv(t0.Add(2*time.Minute), model.SideOld, "google", "gmail.com", model.Delivered))
	b.AddEvent(mkEv(t0.Add(3*time.Minute), model.SideNew, "google", "googlemail.com", model.Deferred))
	hard := mkEv(t0.Add(4*time.Minute), model.SideNew, "yahoo", "yahoo.com", model.Bounced)
	hard.Class = model.ClassHard
	b.AddEvent(hard)
	b.AddEvent(&model.Event{Side: model.SideOld, Outcome: model.Delivered}) // no time: skipped
	cur := Cursor{Source: "pmta-old", Path: "/var/log/acct.csv", FPLen: 4096, FPHash: 42, Offset: 100}
	b.SetCursor(cur)
	cur.Offset = 200 // last one per key wins
	b.SetCursor(cur)
	b.AddSourceStat(SourceStat{Source: "pmta-old", Kind: "pmta", Side: "old", Lines: 10, Events: 2, LastLine: t0})
	b.AddSourceStat(SourceStat{Source: "pmta-old", Lines: 5, LastLine: t0.Add(-time.Hour), LastError: "EIO"})
	if b.Len() != 5 || b.Skipped() != 1 {
		t.Fatalf("Len %d Skipped %d, want 5 and 1", b.Len(), b.Skipped())
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	if !db.Newest().Equal(t0.Add(4 * time.Minute)) {
		t.Fatalf("Newest %v", db.Newest())
	}
	db.Close()

	db, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.Newest().Equal(t0.Add(4 * time.Minute)) {
		t.Fatalf("Newest after reopen %v", db.Newest())
	}
	rows, err := db.Stats(Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Side: model.SideOld, MTA: "pmta-old", ISP: "google", Counts: Counts{Delivered: 2}},
		{Side: model.SideNew, MTA: "pmta-new", ISP: "google", Counts: Counts{Deferred: 1}},
		{Side: model.SideNew, MTA: "pmta-new", ISP: "yahoo", Counts: Counts{Bounced: 1, HardBounce: 1}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("Stats\n got %+v\nwant %+v", rows, want)
	}
	rows, _ = db.Stats(Query{By: "domain", ISP: "google"})
	if len(rows) != 2 || rows[0].Domain != "gmail.com" || rows[1].Domain != "googlemail.com" {
		t.Fatalf("by domain: %+v", rows)
	}
	rows, _ = db.Stats(Query{Side: model.SideNew, Since: t0, Until: t0.Add(time.Hour)})
	if len(rows) != 2 || total(rows).Total() != 2 {
		t.Fatalf("side new: %+v", rows)
	}
	if _, err := db.Stats(Query{By: "mta"}); err == nil {
		t.Fatal("By mta accepted")
	}
	curs, _ := db.Cursors("pmta-old")
	if len(curs) != 1 || curs[0].Offset != 200 {
		t.Fatalf("cursors %+v", curs)
	}
	if curs, _ := db.Cursors("pmta"); len(curs) != 0 { // prefix of another source
		t.Fatalf("cursors of pmta: %+v", curs)
	}
	srcs, _ := db.Sources()
	if len(srcs) != 1 || srcs[0].Lines != 15 || srcs[0].Kind != "pmta" || !srcs[0].LastLine.Equal(t0) || srcs[0].LastError != "EIO" {
		t.Fatalf("sources %+v", srcs)
	}
	if err := db.Commit(b); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("commit read-only: %v", err)
	}
}

// dump returns every key/value of the counting buckets, for exact
// comparisons.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bktCounters, bktDomains, bktReasons, bktVia, bktMeta, bktCursors} {
			tx.Bucket(name).ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sumGran sums the counts of one granularity per side|mta\0isp over
// [from, to).
func sumGran(t *testing.T, db *DB, g byte, from, to int64) map[string]Counts {
	out := map[string]Counts{}
	db.View(func(tx *bbolt.Tx) error {
		scanGran(tx.Bucket(bktCounters), g, from, to, func(_ int64, rest, v []byte) {
			c := out[string(rest)]
			addEncoded(&c, v)
			out[string(rest)] = c
		})
		return nil
	})
	return out
}

var isps = []string{"google", "microsoft", "yahoo", "apple", "other"}

func randEvents(r *rand.Rand, n int, start time.Time, span time.Duration) []*model.Event {
	outcomes := []model.Outcome{model.Delivered, model.Delivered, model.Delivered, model.Deferred, model.Held, model.Bounced, model.Expired, model.Complaint}
	responses := []string{"", "421 4.7.28 rate limited id 123456", "550 5.1.1 <x@y.com> user unknown", "451 4.7.650 S3150 blocked"}
	evs := make([]*model.Event, n)
	for i := range evs {
		side := model.Side(1 + r.Intn(2))
		isp := isps[r.Intn(len(isps))]
		e := mkEv(start.Add(time.Duration(r.Int63n(int64(span)))), side, isp, fmt.Sprintf("d%d.%s.example", r.Intn(3), isp), outcomes[r.Intn(len(outcomes))])
		e.Class = model.ClassFor(e.Outcome, []string{"5.1.1", "4.7.28", "5.7.1"}[r.Intn(3)])
		e.Response = responses[r.Intn(len(responses))]
		e.SourceIP = fmt.Sprintf("192.0.2.%d", 1+r.Intn(3))
		if r.Intn(2) == 0 {
			e.VMTA = "vmta" + fmt.Sprint(r.Intn(2))
		}
		evs[i] = e
	}
	return evs
}

func TestGranularitiesAgree(t *testing.T) {
	db := openTest(t, Options{MinuteRetention: 10 * 24 * time.Hour})
	r := rand.New(rand.NewSource(1))
	evs := randEvents(r, 20000, t0, 3*24*time.Hour)
	for i := 0; i < len(evs); i += 1000 {
		commit(t, db, evs[i:i+1000]...)
	}
	from, to := t0.Unix(), t0.Add(3*24*time.Hour).Unix()
	m := sumGran(t, db, gMinute, from, to)
	h := sumGran(t, db, gHour, from, to)
	d := sumGran(t, db, gDay, from, to)
	if !reflect.DeepEqual(m, h) || !reflect.DeepEqual(h, d) {
		t.Fatalf("granularities disagree:\nminute %v\nhour %v\nday %v", m, h, d)
	}
	var all Counts
	for _, c := range d {
		all.Add(c)
	}
	if all.Total() != uint64(len(evs)) {
		t.Fatalf("day total %d, want %d", all.Total(), len(evs))
	}
	// Every hour equals its own minutes.
	for hr := from; hr < to; hr += secHour {
		if a, b := sumGran(t, db, gMinute, hr, hr+secHour), sumGran(t, db, gHour, hr, hr+secHour); !reflect.DeepEqual(a, b) {
			t.Fatalf("hour %v: minutes %v hour %v", unixToTime(hr), a, b)
		}
	}
}

func TestPruneKeepsDayTotals(t *testing.T) {
	db := openTest(t, Options{MinuteRetention: 2 * time.Hour, HourRetention: 5 * time.Hour})
	r := rand.New(rand.NewSource(2))
	span := 3 * 24 * time.Hour
	evs := randEvents(r, 30000, t0, span)
	// Chronological, as a follower would read them.
	sortEvents(evs)
	for i := 0; i < len(evs); i += 500 {
		commit(t, db, evs[i:min(i+500, len(evs))]...)
	}
	newest := db.Newest()
	d := sumGran(t, db, gDay, scanMin, scanMax)
	var all Counts
	for _, c := range d {
		all.Add(c)
	}
	if all.Total() != uint64(len(evs)) {
		t.Fatalf("day total after pruning %d, want %d", all.Total(), len(evs))
	}
	rows, _ := db.Stats(Query{})
	if total(rows) != all {
		t.Fatalf("Stats(whole history) %+v, want %+v", total(rows), all)
	}
	minCut := floorSec(newest.Add(-2*time.Hour).Unix(), secHour)
	hourCut := floorSec(newest.Add(-5*time.Hour).Unix(), secHour)
	if n := len(sumGran(t, db, gMinute, scanMin, minCut)); n != 0 {
		t.Fatalf("%d minute series older than the cut survive", n)
	}
	if n := len(sumGran(t, db, gHour, scanMin, hourCut)); n != 0 {
		t.Fatalf("%d hour series older than the cut survive", n)
	}
	if n := len(sumGran(t, db, gMinute, minCut, scanMax)); n == 0 {
		t.Fatal("recent minute buckets were pruned")
	}
	// What is kept still adds up: the last full hours equal their minutes.
	for hr := minCut; hr+secHour <= newest.Unix(); hr += secHour {
		if a, b := sumGran(t, db, gMinute, hr, hr+secHour), sumGran(t, db, gHour, hr, hr+secHour); !reflect.DeepEqual(a, b) {
			t.Fatalf("hour %v after prune: minutes %v hour %v", unixToTime(hr), a, b)
		}
	}
	// Reasons and via are pruned with hours.
	db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bktReasons, bktVia} {
			k, _ := tx.Bucket(name).Cursor().First()
			if k == nil || getTime(k[:8]) < hourCut {
				t.Errorf("%s: first key %v, cut %v", name, k, unixToTime(hourCut))
			}
		}
		k, _ := tx.Bucket(bktDomains).Cursor().Seek([]byte{gHour})
		if k == nil || k[0] != gHour || getTime(k[1:9]) < minCut {
			t.Errorf("domains: first hour key %v", k)
		}
		return nil
	})
}

func sortEvents(evs []*model.Event) {
	slices.SortStableFunc(evs, func(a, b *model.Event) int { return a.Time.Compare(b.Time) })
}

// TestStatsRanges checks Stats against a direct count of the events, for
// random ranges in the minute, hour and day regimes.
func TestStatsRanges(t *testing.T) {
	db := openTest(t, Options{MinuteRetention: 24 * time.Hour, HourRetention: 3 * 24 * time.Hour})
	r := rand.New(rand.NewSource(3))
	span := 6 * 24 * time.Hour
	evs := randEvents(r, 20000, t0, span)
	sortEvents(evs)
	for i := 0; i < len(evs); i += 2000 {
		commit(t, db, evs[i:i+2000]...)
	}
	newest := db.Newest()
	seen := map[Granularity]int{}
	for i := 0; i < 1000; i++ {
		// Bias the ends onto and just around hour and day boundaries, where
		// plan switches granularity.
		edge := func(t time.Time) time.Time {
			switch r.Intn(4) {
			case 0:
				return t.Truncate(time.Minute)
			case 1:
				return t.Truncate(time.Hour).Add(time.Duration(r.Intn(3)-1) * time.Minute)
			case 2:
				return t.Truncate(24 * time.Hour).Add(time.Duration(r.Intn(3)-1) * time.Minute)
			}
			return t
		}
		since := edge(t0.Add(time.Duration(r.Int63n(int64(span)))))
		until := edge(since.Add(time.Duration(r.Int63n(int64(2 * 24 * time.Hour)))))
		if i%10 == 0 {
			until = time.Time{}
		}
		q := Query{Since: since, Until: until}
		if i%4 == 0 {
			q.ISP = isps[r.Intn(len(isps))]
		}
		if i%5 == 0 {
			q.Side = model.SideNew
		}
		var g time.Duration
		switch {
		case !since.Before(newest.Add(-24 * time.Hour)):
			g = time.Minute
		case !since.Before(newest.Add(-3 * 24 * time.Hour)):
			g = time.Hour
		default:
			g = 24 * time.Hour
		}
		seen[db.GranularityFor(since)]++
		if want := map[time.Duration]Granularity{time.Minute: Minute, time.Hour: Hour, 24 * time.Hour: Day}[g]; db.GranularityFor(since) != want {
			t.Fatalf("GranularityFor(%v) = %v, want %v", since, db.GranularityFor(since), want)
		}
		var want Counts
		lo := since.Truncate(g)
		first, _ := slices.BinarySearchFunc(evs, lo, func(e *model.Event, t time.Time) int { return e.Time.Compare(t) })
		for _, e := range evs[first:] {
			if !until.IsZero() && !e.Time.Truncate(g).Before(until) {
				break
			}
			if (q.ISP != "" && e.ISP != q.ISP) || (q.Side != 0 && e.Side != q.Side) {
				continue
			}
			want.AddEvent(e)
		}
		rows, err := db.Stats(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := total(rows); got != want {
			t.Fatalf("Stats(%v..%v isp %q side %v, gran %v)\n got %+v\nwant %+v", since, until, q.ISP, q.Side, g, got, want)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("granularities exercised: %v", seen)
	}
}

func TestPlanCovers(t *testing.T) {
	from := t0.Add(7 * time.Minute).Unix()
	end := t0.Add(49*time.Hour + 3*time.Minute).Unix()
	segs := plan(from, end, 0, 2)
	want := []segment{
		{gMinute, from, t0.Add(time.Hour).Unix()},
		{gHour, t0.Add(time.Hour).Unix(), t0.Add(24 * time.Hour).Unix()},
		{gDay, t0.Add(24 * time.Hour).Unix(), t0.Add(48 * time.Hour).Unix()},
		{gHour, t0.Add(48 * time.Hour).Unix(), t0.Add(49 * time.Hour).Unix()},
		{gMinute, t0.Add(49 * time.Hour).Unix(), end},
	}
	if !reflect.DeepEqual(segs, want) {
		t.Fatalf("plan\n got %v\nwant %v", segs, want)
	}
	if segs := plan(from, from+120, 0, 2); len(segs) != 1 || segs[0].g != gMinute {
		t.Fatalf("short range: %v", segs)
	}
}

func TestSeriesZeroFill(t *testing.T) {
	db := openTest(t, Options{})
	commit(t, db,
		mkEv(t0.Add(10*time.Minute+5*time.Second), model.SideOld, "google", "gmail.com", model.Delivered),
		mkEv(t0.Add(12*time.Minute), model.SideOld, "google", "gmail.com", model.Deferred),
		mkEv(t0.Add(40*time.Minute), model.SideNew, "google", "gmail.com", model.Delivered),
		mkEv(t0.Add(41*time.Minute), model.SideNew, "yahoo", "yahoo.com", model.Delivered),
		mkEv(t0.Add(2*time.Hour), model.SideNew, "google", "gmail.com", model.Delivered), // newest
	)
	s, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(time.Hour), Step: 10 * time.Minute, ISP: "google"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 {
		t.Fatalf("series keys %v", s)
	}
	old := s[SeriesKey{model.SideOld, "google"}]
	if len(old) != 6 {
		t.Fatalf("%d points, want 6", len(old))
	}
	for i, p := range old {
		if !p.Start.Equal(t0.Add(time.Duration(i) * 10 * time.Minute)) {
			t.Fatalf("point %d starts %v", i, p.Start)
		}
		want := Counts{}
		if i == 1 {
			want = Counts{Delivered: 1, Deferred: 1}
		}
		if p.Counts != want {
			t.Fatalf("old point %d: %+v", i, p.Counts)
		}
	}
	if nw := s[SeriesKey{model.SideNew, "google"}]; nw[4].Delivered != 1 || nw[4].Total()+nw[0].Total() != 1 {
		t.Fatalf("new series %+v", nw)
	}
	// Empty ISP still gets its zero series; all ISPs gives one per ISP.
	s, _ = db.Series(SeriesQuery{Since: t0, Until: t0.Add(time.Hour), Step: time.Minute, ISP: "apple", Side: model.SideNew})
	if ps := s[SeriesKey{model.SideNew, "apple"}]; len(s) != 1 || len(ps) != 60 || ps[59].Total() != 0 {
		t.Fatalf("empty series %v", s)
	}
	s, _ = db.Series(SeriesQuery{Since: t0, Until: t0.Add(3 * time.Hour), Step: time.Hour})
	if len(s) != 3 || s[SeriesKey{model.SideNew, "google"}][2].Delivered != 1 || s[SeriesKey{model.SideNew, "yahoo"}][0].Delivered != 1 {
		t.Fatalf("all ISPs hourly: %v", s)
	}
	// An unaligned Until: the last step is partial and counts what starts in it.
	s, _ = db.Series(SeriesQuery{Since: t0, Until: t0.Add(40*time.Minute + 30*time.Second), Step: 15 * time.Minute, Side: model.SideNew})
	if ps := s[SeriesKey{model.SideNew, "google"}]; len(ps) != 3 || ps[2].Delivered != 1 {
		t.Fatalf("partial last step: %v", s)
	}
	if _, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(time.Hour)}); err == nil {
		t.Fatal("zero Step accepted")
	}
	if _, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(1000 * time.Hour), Step: time.Second}); err == nil {
		t.Fatal("3.6M points accepted")
	}
}

// Series over an older range reads hour buckets; a step finer than that
// puts each hour in the step holding its start.
func TestSeriesCoarse(t *testing.T) {
	db := openTest(t, Options{})
	commit(t, db,
		mkEv(t0.Add(90*time.Minute), model.SideOld, "google", "", model.Delivered),
		mkEv(t0.Add(10*24*time.Hour), model.SideOld, "google", "", model.Delivered),
	)
	s, err := db.Series(SeriesQuery{Since: t0, Until: t0.Add(3 * time.Hour), Step: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ps := s[SeriesKey{model.SideOld, "google"}]
	if len(ps) != 6 || ps[2].Delivered != 1 || ps[3].Delivered != 0 {
		t.Fatalf("coarse series %+v", ps)
	}
}

func TestTopReasons(t *testing.T) {
	db := openTest(t, Options{})
	var evs []*model.Event
	add := func(n int, at time.Duration, side model.Side, isp, resp string, o model.Outcome) {
		for i := 0; i < n; i++ {
			e := mkEv(t0.Add(at+time.Duration(i)*time.Second), side, isp, "", o)
			e.Response = resp
			evs = append(evs, e)
		}
	}
	add(3, 0, model.SideNew, "google", "421 4.7.28 [192.0.2.1 15] rate limited for <a@b.com>", model.Deferred)
	add(2, time.Hour, model.SideNew, "google", "421 4.7.28 [192.0.2.9 15] rate limited for <c@d.com>", model.Deferred) // same signature
	add(4, 0, model.SideNew, "google", "550 5.7.1 blocked", model.Bounced)
	add(10, 0, model.SideNew, "google", "250 ok", model.Delivered) // never a reason
	add(1, 0, model.SideOld, "google", "550 5.7.1 blocked", model.Bounced)
	add(6, 0, model.SideNew, "yahoo", "421 TSS04 "+strings.Repeat("x", 400), model.Deferred)
	commit(t, db, evs[:7]...)
	commit(t, db, evs[7:]...)

	rs, err := db.TopReasons(model.SideNew, "google", t0, t0.Add(2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("reasons %+v", rs)
	}
	if rs[0].Count != 5 || !strings.HasPrefix(rs[0].Signature, "421 4.7.28") || rs[0].Sample != "421 4.7.28 [192.0.2.1 15] rate limited for <a@b.com>" ||
		!rs[0].Last.Equal(t0.Add(time.Hour+time.Second)) {
		t.Fatalf("top reason %+v", rs[0])
	}
	if rs[1].Count != 4 || rs[1].Signature != "550 5.7.1 blocked" {
		t.Fatalf("second reason %+v", rs[1])
	}
	rs, _ = db.TopReasons(0, "", time.Time{}, time.Time{}, 2)
	if len(rs) != 2 || rs[0].ISP != "yahoo" || rs[0].Count != 6 || len(rs[0].Sample) != reasonSampleMax || rs[1].Count != 5 {
		t.Fatalf("top 2 overall %+v", rs)
	}
	// The second hour alone: its own sample.
	rs, _ = db.TopReasons(model.SideNew, "google", t0.Add(time.Hour), time.Time{}, 1)
	if len(rs) != 1 || rs[0].Count != 2 || !strings.Contains(rs[0].Sample, "192.0.2.9") {
		t.Fatalf("second hour %+v", rs)
	}
	rs, _ = db.TopReasons(model.SideOld, "", time.Time{}, time.Time{}, 0)
	if len(rs) != 1 || rs[0].Count != 1 {
		t.Fatalf("old side %+v", rs)
	}
}

func TestBreakdown(t *testing.T) {
	db := openTest(t, Options{})
	e1 := mkEv(t0, model.SideNew, "google", "", model.Delivered)
	e1.SourceIP, e1.VMTA = "192.0.2.1", "v1"
	e2 := mkEv(t0.Add(time.Minute), model.SideNew, "google", "", model.Deferred)
	e2.SourceIP, e2.Transport = "192.0.2.1", "smtp-google"
	e3 := mkEv(t0, model.SideNew, "yahoo", "", model.Delivered)
	e3.SourceIP = "192.0.2.2"
	commit(t, db, e1, e2, e3)
	rows, err := db.Breakdown("google", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []BreakdownRow{
		{model.SideNew, DimIP, "192.0.2.1", Counts{Delivered: 1, Deferred: 1}},
		{model.SideNew, DimTransport, "smtp-google", Counts{Deferred: 1}},
		{model.SideNew, DimVMTA, "v1", Counts{Delivered: 1}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("breakdown\n got %+v\nwant %+v", rows, want)
	}
	rows, _ = db.Breakdown("", time.Time{}, time.Time{})
	if len(rows) != 4 {
		t.Fatalf("all ISPs %+v", rows)
	}
	rows, _ = db.Breakdown("google", t0.Add(time.Hour), time.Time{})
	if len(rows) != 0 {
		t.Fatalf("later hour %+v", rows)
	}
}

func TestLockHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// bbolt's flock is per open file description: a second Open in this
	// process conflicts like another process would.
	start := time.Now()
	_, err = Open(path, Options{Timeout: 150 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("second open took %v", el)
	}
	msg := err.Error()
	for _, want := range []string{"database " + path + " is locked by pid " + fmt.Sprint(os.Getpid()), "since 20", "stop it or attach to it", filepath.Base(os.Args[0])} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message %q lacks %q", msg, want)
		}
	}
	if _, err := Open(path, Options{Timeout: 100 * time.Millisecond, ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("read-only open while a writer holds it: %v", err)
	}

	o, err := ReadOwner(path)
	if err != nil || o.PID != os.Getpid() || o.Mode != "read-write" {
		t.Fatalf("owner %+v %v", o, err)
	}
	// A pid that is not running: the message says so.
	o.PID = 1 << 30
	writeOwnerFile(t, path, o)
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "is not running") {
		t.Fatalf("stale owner: %v", err)
	}
	os.Remove(OwnerPath(path))
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process; stop it or attach to it") {
		t.Fatalf("no owner file: %v", err)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(OwnerPath(path)); !os.IsNotExist(err) {
		t.Fatalf("owner file after close: %v", err)
	}
	// Two readers share the lock; a writer waits for both.
	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("writer vs readers: %v", err)
	}
	r1.Close()
	r2.Close()
	if _, err := os.Stat(OwnerPath(path)); !os.IsNotExist(err) {
		t.Fatalf("owner file after readers closed: %v", err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func writeOwnerFile(t *testing.T, path string, o *Owner) {
	t.Helper()
	b := fmt.Sprintf(`{"pid":%d,"user":%q,"command":%q,"mode":%q}`, o.PID, o.User, o.Command, o.Mode)
	if err := os.WriteFile(OwnerPath(path), []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyMissing(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open created a database")
	}
}

func TestNetFS(t *testing.T) {
	defer func(f func(string) (int64, error)) { statfsType = f }(statfsType)
	for magic, name := range map[int64]string{0x6969: "NFS", 0x65735546: "FUSE", 0xFF534D42: "CIFS", 0x01021997: "9p"} {
		statfsType = func(string) (int64, error) { return magic, nil }
		dir := t.TempDir()
		path := filepath.Join(dir, "c.db")
		_, err := Open(path, Options{})
		if !errors.Is(err, ErrNetFS) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "local disk") {
			t.Fatalf("%s: %v", name, err)
		}
		if _, serr := os.Stat(path); !os.IsNotExist(serr) {
			t.Fatalf("%s: refused open created the file", name)
		}
		db, err := Open(path, Options{AllowNetFS: true})
		if err != nil {
			t.Fatalf("%s allowed: %v", name, err)
		}
		if w := db.Warnings(); len(w) != 1 || !strings.Contains(w[0], name) {
			t.Fatalf("%s warnings %q", name, w)
		}
		db.Close()
	}
	statfsType = func(string) (int64, error) { return 0xEF53, nil } // ext4
	db := openTest(t, Options{})
	if len(db.Warnings()) != 0 {
		t.Fatal("warning on ext4")
	}
}

func TestParserState(t *testing.T) {
	db := openTest(t, Options{})
	b := NewBatch()
	v := []byte("q1")
	b.SetParserState("postfix", map[string][]byte{"ABC": v, "DEF": []byte("q2"), "GHI": {}})
	v[0] = 'X' // the parser may reuse its buffer
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	b = NewBatch()
	b.SetParserState("postfix", map[string][]byte{"ABC": nil, "JKL": []byte("q3")})
	b.SetParserState("postfix", map[string][]byte{"JKL": []byte("q4")})
	b.SetParserState("exim", map[string][]byte{"x": []byte("1")})
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	st, err := db.ParserState("postfix")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"DEF": []byte("q2"), "GHI": {}, "JKL": []byte("q4")}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("state %q", st)
	}
	if st, _ := db.ParserState("pmta"); len(st) != 0 {
		t.Fatalf("unknown source %q", st)
	}
}

func TestRejects(t *testing.T) {
	db := openTest(t, Options{})
	for round := 0; round < 3; round++ {
		b := NewBatch()
		for i := 0; i < 9; i++ {
			b.AddReject(Reject{Source: "exim", Offset: int64(round*9 + i), Text: strings.Repeat("é", 400), Reason: "no date"})
		}
		b.AddReject(Reject{Source: "postfix", Text: "x"})
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := db.Rejects("exim")
	if len(rs) != rejectSamples {
		t.Fatalf("%d samples kept", len(rs))
	}
	for i, r := range rs {
		if r.Offset != int64(i) || len(r.Text) > rejectTextMax || !strings.HasSuffix(r.Text, "é") {
			t.Fatalf("sample %d: offset %d len %d", i, r.Offset, len(r.Text))
		}
	}
	if n, _ := db.RejectCount("exim"); n != 27 {
		t.Fatalf("count %d, want 27", n)
	}
	if all, _ := db.Rejects(""); len(all) != 23 || all[0].Source != "exim" || all[22].Source != "postfix" {
		t.Fatalf("all rejects: %d", len(all))
	}
	if err := db.ClearRejects("exim"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.RejectCount("exim"); n != 0 {
		t.Fatalf("count after clear %d", n)
	}
	if err := db.ClearRejects("never"); err != nil {
		t.Fatal(err)
	}
}

// Committing the same events in many small batches must leave exactly the
// bytes one big batch leaves, pruning included.
func TestSmallBatchesEqualBigBatch(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewSource(seed))
		evs := randEvents(r, 5000, t0, 4*24*time.Hour)
		if seed%2 == 0 {
			sortEvents(evs) // in order, as followed; odd seeds interleave
		}
		opt := Options{MinuteRetention: 6 * time.Hour, HourRetention: 30 * time.Hour}
		big := openTest(t, opt)
		small := openTest(t, opt)
		commit(t, big, evs...)
		for i := 0; i < len(evs); {
			n := 1 + r.Intn(200)
			commit(t, small, evs[i:min(i+n, len(evs))]...)
			i += n
		}
		a, b := dump(t, big), dump(t, small)
		if !reflect.DeepEqual(a, b) {
			diff := 0
			for k, v := range a {
				if b[k] != v {
					diff++
				}
			}
			t.Fatalf("seed %d: big batch %d keys, small batches %d keys, %d differ", seed, len(a), len(b), diff+len(b)-len(a))
		}
	}
}

func TestFutureEventDoesNotMoveNewest(t *testing.T) {
	db := openTest(t, Options{})
	commit(t, db, mkEv(t0, model.SideOld, "google", "", model.Delivered))
	commit(t, db, mkEv(time.Now().Add(10*365*24*time.Hour), model.SideOld, "google", "", model.Delivered))
	if !db.Newest().Equal(t0) {
		t.Fatalf("Newest %v", db.Newest())
	}
	if rows, _ := db.Stats(Query{Since: t0}); total(rows).Delivered != 2 {
		t.Fatalf("future event not counted: %+v", rows)
	}
}

// A failure inside the transaction (after counters were written) leaves
// nothing behind, and the same batch commits fine once fixed.
func TestCommitAtomic(t *testing.T) {
	db := openTest(t, Options{})
	commit(t, db, mkEv(t0, model.SideOld, "google", "", model.Delivered))
	before := dump(t, db)
	b := NewBatch()
	b.AddEvent(mkEv(t0.Add(time.Hour), model.SideOld, "google", "gmail.com", model.Delivered))
	b.SetCursor(Cursor{Source: "s", Offset: 10})
	b.SetParserState("s", map[string][]byte{"": []byte("bad key")})
	if err := db.Commit(b); err == nil {
		t.Fatal("commit with an empty parser state key succeeded")
	}
	if after := dump(t, db); !reflect.DeepEqual(before, after) {
		t.Fatal("failed commit left data behind")
	}
	if !db.Newest().Equal(t0) {
		t.Fatalf("Newest moved: %v", db.Newest())
	}
	delete(b.pstate["s"], "")
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.Cursors("s"); len(c) != 1 {
		t.Fatalf("cursors after retry %+v", c)
	}
	bad := NewBatch()
	bad.AddReject(Reject{Text: "no source"})
	if err := db.Commit(bad); err == nil {
		t.Fatal("reject without source accepted")
	}
}

func TestISPCache(t *testing.T) {
	db := openTest(t, Options{})
	if _, ok := db.ISPCacheGet("example.com"); ok {
		t.Fatal("hit on empty cache")
	}
	if err := db.ISPCachePut("example.com", "google", time.Hour); err != nil {
		t.Fatal(err)
	}
	if isp, ok := db.ISPCacheGet("example.com"); !ok || isp != "google" {
		t.Fatalf("get %q %v", isp, ok)
	}
	if err := db.ISPCachePut("gone.example", "yahoo", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if _, ok := db.ISPCacheGet("gone.example"); ok {
		t.Fatal("expired entry returned")
	}
	db.lastSweep = time.Time{} // force a sweep
	if err := db.ISPCachePut("x.example", "other", time.Hour); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bktISPCache).Get([]byte("gone.example")) != nil {
			t.Error("expired entry not swept")
		}
		return nil
	})
	if err := db.ISPCachePut("y.example", "other", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktMeta).Put(metaSchema, []byte{0, 0, 0, 99})
	})
	db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "schema 99") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestKeyEncoding(t *testing.T) {
	var a, b [8]byte
	for _, pair := range [][2]int64{{-5, 3}, {-100, -99}, {0, 1}, {1 << 40, 1<<40 + 1}} {
		putTime(a[:], pair[0])
		putTime(b[:], pair[1])
		if bytes.Compare(a[:], b[:]) >= 0 || getTime(a[:]) != pair[0] {
			t.Fatalf("order of %v", pair)
		}
	}
	if floorSec(-1, 60) != -60 || ceilSec(61, 60) != 120 || ceilSec(60, 60) != 60 {
		t.Fatal("floor/ceil")
	}
	if s := cutUTF8("aé", 2); s != "a" {
		t.Fatalf("cutUTF8 %q", s)
	}
	if s := keyPart("a\x00b"); s != "a?b" {
		t.Fatalf("keyPart %q", s)
	}
	// Older (shorter) and newer (longer) counts values decode.
	c := decodeCounts([]byte{0, 0, 0, 0, 0, 0, 0, 7})
	if c.Delivered != 7 {
		t.Fatalf("short value %+v", c)
	}
	long := append(encodeCounts(&Counts{Complaints: 3}), 0, 0, 0, 0, 0, 0, 0, 9)
	if c := decodeCounts(long); c.Complaints != 3 {
		t.Fatalf("long value %+v", c)
	}
}
