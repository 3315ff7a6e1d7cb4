package alerts

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

func TestStepAckAndReports(t *testing.T) {
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	ns, err := Step(db, func(open map[string]*model.Alert, newID func() string) ([]*model.Alert, []model.Notice) {
		a := &model.Alert{ID: newID(), Rule: "complaint-crit", Severity: "crit", ISP: "google", Side: "new", State: model.AlertFiring, FiredAt: now, DueBy: now.Add(4 * time.Hour)}
		p := &model.Alert{ID: newID(), Rule: "deferral-warn", ISP: "yahoo", Side: "new", State: model.AlertPending, PendingSince: now}
		return []*model.Alert{a, p}, []model.Notice{{Kind: model.NoticeFiring, Alert: *a}}
	})
	if err != nil || len(ns) != 1 {
		t.Fatalf("%v %v", ns, err)
	}
	// A pending alert dropped (State "") is deleted; open alerts are handed
	// to the next step keyed by instance.
	if _, err := Step(db, func(open map[string]*model.Alert, newID func() string) ([]*model.Alert, []model.Notice) {
		if len(open) != 2 || open["complaint-crit|google|new"] == nil {
			t.Errorf("open %v", open)
		}
		p := open["deferral-warn|yahoo|new"]
		p.State = ""
		return []*model.Alert{p}, nil
	}); err != nil {
		t.Fatal(err)
	}
	all, damaged, err := All(db)
	if err != nil || damaged != 0 || len(all) != 1 || all[0].ID != "1" {
		t.Fatalf("all %+v %d %v", all, damaged, err)
	}
	if _, err := Ack(db, "2", "bob", "", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of a deleted alert: %v", err)
	}
	if _, err := Ack(db, "x; drop", "bob", "", now); err == nil {
		t.Error("non-numeric id accepted")
	}
	a, err := Ack(db, "1", "alice", "on it", now.Add(time.Hour))
	if err != nil || a.AckedBy != "alice" || a.State != model.AlertAcked {
		t.Fatalf("%+v %v", a, err)
	}
	// A damaged value is skipped and counted, never a crash.
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte("\x00\x00\x00\x00\x00\x00\x00\x09"), []byte("{not json"))
	})
	if all, damaged, err := All(db); err != nil || damaged != 1 || len(all) != 1 {
		t.Errorf("with a damaged value: %d alerts, %d damaged, %v", len(all), damaged, err)
	}
	if HasReport(db, "weekly", "2026-W10") {
		t.Error("report before any")
	}
	if err := PutReport(db, Report{Kind: "weekly", Period: "2026-W10", Format: "md", Path: "/r/w.md", SHA256: "ab", Written: now}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := Reports(db); len(rs) != 1 || !HasReport(db, "weekly", "2026-W10") {
		t.Errorf("reports %+v", rs)
	}
}
