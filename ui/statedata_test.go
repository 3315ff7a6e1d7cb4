package ui_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
	"cutover/ui"
)

type planStub struct{ p ui.Plan }

func (s planStub) Plan() ui.Plan { return s.p }

func fillDB(t *testing.T, now time.Time) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := state.NewBatch()
	add := func(n int, side model.Side, isp string, o model.Outcome, status, resp string) {
		for i := range n {
			ev := model.Event{
				Time: now.Add(-time.Duration(i%30+1) * time.Minute), Side: side, MTA: side.String() + "-mta", ISP: isp,
				Domain: isp + ".example", Outcome: o, Status: status, Response: resp,
			}
			ev.Class = model.ClassFor(o, status)
			if side == model.SideNew {
				ev.SourceIP, ev.VMTA = "203.0.113.10", "vmta-new"
			} else {
				ev.Transport = "smtp-old"
			}
			b.AddEvent(&ev)
		}
	}
	add(90, model.SideOld, "google", model.Delivered, "2.0.0", "250 ok")
	add(10, model.SideOld, "google", model.Deferred, "4.7.28", "421 4.7.28 unusual rate \x1b]0;x\x07 from 198.51.100.7")
	add(8, model.SideNew, "google", model.Delivered, "2.0.0", "250 ok")
	add(2, model.SideNew, "google", model.Bounced, "5.1.1", "550 5.1.1 <a@gmail.com> no such user")
	add(5, model.SideNew, "microsoft", model.Delivered, "2.0.0", "250 ok")
	add(3, model.SideOld, "google", model.Held, "4.4.1", "delivery temporarily suspended")
	b.AddSourceStat(state.SourceStat{Source: "pmta-new", Kind: "pmta", Side: "new", Lines: 20, Events: 19, Rejected: 1, LastLine: now.Add(-time.Minute)})
	b.AddReject(state.Reject{Source: "pmta-new", Path: "/x/acct.csv", Offset: 42, Line: 3, Text: "garbage\x1b[2J", Reason: "fields", Seen: now})
	b.SetCursor(state.Cursor{Source: "pmta-new", Path: "/x/acct.csv", FPLen: 10, FPHash: 1, Offset: 100, Size: 150, Updated: now})
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStateData(t *testing.T) {
	now := time.Now().UTC()
	db := fillDB(t, now)
	sd := ui.NewStateData(db)
	sd.Plan = planStub{ui.Plan{RatioNew: 5, Step: 1, Steps: []ui.PlanStep{{Name: "off"}, {Name: "5", RatioNew: 5}}}}
	sd.Live = func() []ui.SourceView {
		return []ui.SourceView{
			{Name: "pmta-new", State: ui.SourceStale, Since: now.Add(-10 * time.Second)},
			{Name: "postfix-old", Kind: "postfix", Side: "old", State: ui.SourceFollowing, Path: "/var/log/mail.log", Offset: 7, Size: 7},
		}
	}

	s, err := sd.Snapshot(ui.Window1h, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != time.Minute || s.Until.Sub(s.Since) != time.Hour || len(s.Providers) != 2 {
		t.Fatalf("snapshot: step %v span %v providers %d", s.Step, s.Until.Sub(s.Since), len(s.Providers))
	}
	g := s.Providers[0]
	if g.ISP != "google" {
		t.Fatalf("providers %+v", s.Providers)
	}
	if want := (model.Tally{Delivered: 90, Deferred: 10, Held: 3}); g.Old.Counts != want {
		t.Errorf("google old = %+v, want %+v", g.Old.Counts, want)
	}
	if want := (model.Tally{Delivered: 8, Bounced: 2, HardBounce: 2}); g.New.Counts != want {
		t.Errorf("google new = %+v, want %+v", g.New.Counts, want)
	}
	var sum model.Tally
	for _, p := range g.Old.Series {
		sum.Add(p)
	}
	if len(g.Old.Series) != 60 || sum != g.Old.Counts {
		t.Errorf("series: %d points summing to %+v", len(g.Old.Series), sum)
	}
	if g.Old.Top.Count != 10 || !strings.Contains(g.Old.Top.Signature, "4.7.28") {
		t.Errorf("google old top = %+v", g.Old.Top)
	}
	if s.Old.Counts.Delivered != 90 || s.New.Counts.Delivered != 13 {
		t.Errorf("totals old %+v new %+v", s.Old.Counts, s.New.Counts)
	}
	if s.Plan.RatioNew != 5 || s.DBPath != db.Path() {
		t.Errorf("plan %+v db %q", s.Plan, s.DBPath)
	}
	if len(s.Sources) != 2 {
		t.Fatalf("sources %+v", s.Sources)
	}
	p := s.Sources[0]
	if p.Name != "pmta-new" || p.State != ui.SourceStale || p.Path != "/x/acct.csv" || p.Offset != 100 || p.Size != 150 || p.Rejected != 1 || p.Kind != "pmta" {
		t.Errorf("pmta-new merged view = %+v", p)
	}
	if len(p.Samples) != 0 {
		t.Errorf("snapshot sources carry no samples")
	}

	det, err := sd.Detail("google", ui.Window1h, now)
	if err != nil {
		t.Fatal(err)
	}
	if det.Old.Counts != g.Old.Counts || len(det.New.Series) != 60 {
		t.Errorf("detail counts %+v, %d points", det.Old.Counts, len(det.New.Series))
	}
	var sawNew, sawOld bool
	for _, r := range det.Reasons {
		sawNew = sawNew || (r.New == 2 && strings.Contains(r.Signature, "5.1.1"))
		sawOld = sawOld || (r.Old == 10 && strings.Contains(r.Signature, "4.7.28"))
	}
	if !sawNew || !sawOld {
		t.Errorf("reasons %+v", det.Reasons)
	}
	var ip, tr bool
	for _, r := range det.Breakdown {
		ip = ip || (r.Dim == "ip" && r.Value == "203.0.113.10" && r.Side == model.SideNew && r.Counts.Attempts() == 10)
		tr = tr || (r.Dim == "transport" && r.Value == "smtp-old" && r.Side == model.SideOld)
	}
	if !ip || !tr {
		t.Errorf("breakdown %+v", det.Breakdown)
	}

	srcs, err := sd.Sources(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs[0].Samples) != 1 || srcs[0].Samples[0].Offset != 42 || srcs[0].Samples[0].Line != 3 {
		t.Errorf("samples %+v", srcs[0].Samples)
	}

	s24, err := sd.Snapshot(ui.Window24h, now)
	if err != nil {
		t.Fatal(err)
	}
	if s24.Step != time.Hour || len(s24.Providers[0].Old.Series) != 24 || s24.Since.Minute() != 0 {
		t.Errorf("24h: step %v, %d points from %v", s24.Step, len(s24.Providers[0].Old.Series), s24.Since)
	}
	// A start before every event: the cutover window has them all (without
	// a start it begins at the first NEW event: TestBackfilledHistory).
	sd.CutoverStart = now.Add(-7 * 24 * time.Hour)
	sc, err := sd.Snapshot(ui.WindowCutover, now)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Providers[0].Old.Counts != g.Old.Counts {
		t.Errorf("cutover window (start 7 days ago) lost counts: %+v", sc.Providers[0].Old.Counts)
	}

	// And the real views over it, hostile response included.
	m := newModel(sd, 120, 30, asciiRenderer())
	for _, v := range []string{m.View(), press(m, "enter").View(), press(m, "s").View()} {
		checkScreen(t, v, 120, 30)
	}
	if v := press(m, "s").View(); !strings.Contains(v, "garbage") || !strings.Contains(v, "stale") || strings.Contains(v, "\x1b") {
		t.Errorf("sources view over the database:\n%s", v)
	}
}
