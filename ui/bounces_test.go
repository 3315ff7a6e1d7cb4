package ui_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/uifake"
)

// bounceFake is uifake's data with a fixed bounce view, hostile text
// included.
type bounceFake struct {
	*uifake.Data
}

func (bounceFake) Bounces(w ui.Window, now time.Time) (*ui.BounceView, error) {
	until := now.UTC().Truncate(time.Minute).Add(time.Minute)
	v := &ui.BounceView{Since: until.Add(-time.Hour), Until: until, LogPath: "/var/lib/cutover/suppressions.jsonl"}
	row := func(side model.Side, isp string, kinds map[model.BounceKind]uint64, hard, cmpl, dlv uint64) {
		r := ui.BounceRow{Side: side, ISP: isp, Hard: hard, Complaints: cmpl, Delivered: dlv}
		for k, n := range kinds {
			r.Kinds[k] = n
		}
		v.Rows = append(v.Rows, r)
	}
	row(model.SideOld, "google", map[model.BounceKind]uint64{model.BounceUserUnknown: 120, model.BounceReputation: 5004, model.BounceMailboxFull: 12}, 120, 4, 52000)
	row(model.SideNew, "google", map[model.BounceKind]uint64{model.BounceUserUnknown: 14, model.BounceReputation: 1893, model.BounceAuth: 30}, 14, 3, 6100)
	row(model.SideOld, "microsoft", map[model.BounceKind]uint64{model.BouncePolicy: 2, model.BounceUserUnknown: 41}, 41, 9, 8600)
	row(model.SideNew, "microsoft", map[model.BounceKind]uint64{model.BouncePolicy: 1893, model.BounceUserUnknown: 7}, 7, 2, 964)
	row(model.SideNew, "yahoo", map[model.BounceKind]uint64{model.BounceReputation: 638, model.BounceInactive: 3}, 3, 11, 722)
	row(model.SideOld, "evil\x1b]0;pwned\x07isp", map[model.BounceKind]uint64{model.BounceOther: 1}, 0, 0, 10)
	t := until.Add(-2 * time.Minute)
	for i := range 40 {
		s := ui.SuppressionRow{Time: t.Add(-time.Duration(i) * 37 * time.Second), Type: "hard_bounce",
			Addr: fmt.Sprintf("user%02d@corp.example", i), Source: "pmta:new-acct", Origin: fmt.Sprintf("/var/log/pmta/acct-2026-11-02-0000.csv:%d", 100000+i*311)}
		switch i % 4 {
		case 1:
			s.Type, s.Source, s.Origin = "complaint", "fbl:arf", "/var/mail/fbl/new/1793600000.M1P2.mx sha256:0123456789abcdef:1"
		case 2:
			s.Addr = "hostile\x1b[2J\r\u202e@x.example"
		}
		v.Suppressions = append(v.Suppressions, s)
	}
	return v, nil
}

func TestBouncesGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		for _, v := range []struct {
			name string
			keys []string
		}{
			{"bounces", []string{"B"}},
			{"bounces_bottom", []string{"B", "G"}},
		} {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, w, h), func(t *testing.T) {
				m := press(newModel(bounceFake{uifake.New(0)}, w, h, asciiRenderer()), v.keys...)
				out := m.View()
				checkScreen(t, out, w, h)
				if strings.Contains(out, "pwned") || strings.Contains(out, "\x1b") {
					t.Errorf("hostile text reached the frame")
				}
				golden.RequireEqual(t, []byte(out))
			})
		}
	}
}

func TestBouncesKeys(t *testing.T) {
	m := newModel(bounceFake{uifake.New(0)}, 120, 40, asciiRenderer())
	cockpit := m.View()
	b := press(m, "B").View()
	if !strings.Contains(b, "newest suppressions") || !strings.Contains(b, "user00@corp.example") {
		t.Fatalf("bounce view:\n%s", b)
	}
	if press(m, "B", "esc").View() != cockpit || press(m, "B", "B").View() != cockpit {
		t.Error("esc or B again does not return to the cockpit")
	}
	// A Data without the bounce view says so instead of failing.
	plain := press(newModel(uifake.New(0), 120, 40, asciiRenderer()), "B").View()
	if !strings.Contains(plain, "no bounce view") {
		t.Errorf("plain data:\n%s", plain)
	}
}

// TestNamedSignatureInLists: the cockpit and the detail show provider
// signatures by name.
func TestNamedSignatureInLists(t *testing.T) {
	m := newModel(uifake.New(0), 200, 60, asciiRenderer())
	if v := m.View(); !strings.Contains(v, "[yahoo-tss04-deferral]") || !strings.Contains(v, "[ms-") {
		t.Errorf("cockpit lacks named signatures:\n%s", v)
	}
	det := press(m, "enter").View()
	if !strings.Contains(det, "[gmail-4.7.28-rate]") {
		t.Errorf("detail lacks the gmail name:\n%s", det)
	}
}

func TestStateDataBounces(t *testing.T) {
	now := time.Now().UTC()
	db := fillDB(t, now) // google: 10 deferred 4.7.28, 2 bounced 5.1.1, 3 held
	b := state.NewBatch()
	for i := range 4 {
		ev := model.Event{Time: now.Add(-time.Duration(i+1) * time.Minute), Side: model.SideNew, MTA: "fbl", ISP: "yahoo",
			Domain: "yahoo.com", Outcome: model.Complaint, Response: "abuse"}
		b.AddEvent(&ev)
		ev = model.Event{Time: now.Add(-time.Duration(i+1) * time.Minute), Side: model.SideNew, MTA: "pmta", ISP: "microsoft",
			Domain: "outlook.com", Outcome: model.Bounced, Status: "5.7.1", Response: "550 5.7.1 ... on our block list (S3150)."}
		ev.Class = model.EventClass(&ev)
		b.AddEvent(&ev)
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	l, err := suppress.Open(db, "", suppress.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Append([]model.SuppressionEvent{
		{Type: model.SuppHardBounce, Addr: "a@gmail.com", TS: now.Add(-3 * time.Minute), Source: "pmta:new", Scope: "account", Origin: "/x/acct.csv:100"},
		{Type: model.SuppComplaint, Addr: "c@yahoo.com", TS: now.Add(-2 * time.Minute), Source: "fbl:arf", Scope: "account", Origin: "/m/new/1 sha256:ab:1"},
	})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	v, err := ui.NewStateData(db).Bounces(ui.Window1h, now)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]ui.BounceRow{}
	for _, r := range v.Rows {
		rows[r.Side.String()+" "+r.ISP] = r
	}
	g, gn, ms, y := rows["old google"], rows["new google"], rows["new microsoft"], rows["new yahoo"]
	if g.Kinds[model.BounceReputation] != 10 || g.Kinds[model.BounceOther] != 3 || gn.Kinds[model.BounceUserUnknown] != 2 || gn.Hard != 2 {
		t.Errorf("google rows %+v / %+v", g, gn)
	}
	if ms.Kinds[model.BouncePolicy] != 4 || ms.Hard != 0 {
		t.Errorf("microsoft row %+v: a 5.7.1 block is policy, never hard", ms)
	}
	if y.Complaints != 4 || y.Failed() != 0 {
		t.Errorf("yahoo row %+v: complaints are counted, their feedback type is not a failure class", y)
	}
	if len(v.Suppressions) != 2 || v.Suppressions[0].Addr != "c@yahoo.com" || v.Suppressions[1].Origin != "/x/acct.csv:100" ||
		v.LogPath != filepath.Join(filepath.Dir(db.Path()), suppress.DefaultLogName) {
		t.Errorf("suppressions %+v in %s", v.Suppressions, v.LogPath)
	}
}
