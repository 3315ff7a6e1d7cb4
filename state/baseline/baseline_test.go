package baseline

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

func TestPutTwiceAddsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rows := []Row{
		{Source: "sendgrid", Name: "Gmail", ISP: "google", Start: day, Counts: model.Tally{Delivered: 90, Deferred: 10}},
		{Source: "sendgrid", Name: "Hotmail", ISP: "microsoft", Start: day, Counts: model.Tally{Delivered: 5}},
		{Source: "mailgun", Name: "gmail", ISP: "google", Start: day.Add(time.Hour), Hour: true, Dim: "ip", DimValue: "192.0.2.1", Counts: model.Tally{Delivered: 3}},
	}
	f := File{SHA256: "abc", Path: "x.json", Source: "sendgrid", Imported: day}
	res, err := Put(db, f, rows)
	if err != nil || res.Added != 3 || res.KnownFile {
		t.Fatalf("first: %+v %v", res, err)
	}
	res, err = Put(db, f, rows)
	if err != nil || res.Added != 0 || res.Unchanged != 3 || !res.KnownFile {
		t.Fatalf("second: %+v %v", res, err)
	}
	rows[0].Counts.Delivered = 91 // a newer export of the same day replaces it
	if res, _ = Put(db, File{SHA256: "def", Imported: day.Add(time.Hour)}, rows[:1]); res.Replaced != 1 || res.Added != 0 {
		t.Fatalf("newer export: %+v", res)
	}
	got, err := ReadRows(db, day, day.Add(time.Hour))
	if err != nil || len(got) != 2 || got[0].Name != "Gmail" || got[0].Counts.Delivered != 91 || got[1].ISP != "microsoft" {
		t.Fatalf("rows %+v %v", got, err)
	}
	all, _ := ReadRows(db, time.Time{}, time.Time{})
	if len(all) != 3 || !all[2].Hour || all[2].DimValue != "192.0.2.1" || !all[2].Start.Equal(day.Add(time.Hour)) {
		t.Fatalf("all %+v", all)
	}
	if _, err := PutReputation(db, []model.ReputationRecord{{Kind: model.RepTalos, Subject: "192.0.2.1", Verdict: "Poor"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := PutReputation(db, []model.ReputationRecord{{Kind: model.RepTalos, Subject: "192.0.2.1", Verdict: "Good"}}); n != 0 {
		t.Fatal("same key added again")
	}
	db.Close()
	// a read-only open reads both buckets
	ro, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var reps []model.ReputationRecord
	err = ro.View(func(tx *bbolt.Tx) (err error) { reps, err = Reputation(tx); return })
	if err != nil || len(reps) != 1 || reps[0].Verdict != "Good" {
		t.Fatalf("reputation %+v %v", reps, err)
	}
	fs, _ := func() (fs []File, err error) {
		err = ro.View(func(tx *bbolt.Tx) error { fs, err = Files(tx); return err })
		return
	}()
	if len(fs) != 2 || fs[0].Rows != 3 {
		t.Fatalf("files %+v", fs)
	}
}

func TestEmptyDatabase(t *testing.T) {
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r, err := ReadReputation(db); err != nil || r != nil {
		t.Fatal(r, err)
	}
	if r, err := ReadRows(db, time.Time{}, time.Time{}); err != nil || r != nil {
		t.Fatal(r, err)
	}
}
