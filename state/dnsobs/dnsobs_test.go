package dnsobs

import (
	"path/filepath"
	"testing"
	"time"

	"cutover/model/auth"
	"cutover/state"
)

func TestPutLoadSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	round := func(at time.Time, ttl1, ttl2 uint32) []auth.Obs {
		return []auth.Obs{
			{At: at, NS: "127.0.0.1:53", Rcode: "NOERROR", TTL: ttl1, Data: "h", Serial: 2},
			{At: at, NS: "127.0.0.2:53", Rcode: "NOERROR", TTL: ttl2, Data: "h", Serial: 2},
		}
	}
	if err := Put(db, "Example.test.", "txt", round(now.Add(-10*time.Minute), 3600, 3600), false); err != nil {
		t.Fatal(err)
	}
	if err := Put(db, "example.test", "TXT", round(now, 300, 300), false); err != nil {
		t.Fatal(err)
	}
	// An observation older than the retention is dropped by the next Put.
	if err := Put(db, "example.test", "TXT", round(now.Add(-Retention-time.Hour), 1, 1), false); err != nil {
		t.Fatal(err)
	}
	if err := Put(db, "example.test", "TXT", round(now, 300, 300), false); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	obs, damaged, err := Load(db, "example.test", "TXT")
	if err != nil || damaged != 0 || len(obs) != 4 {
		t.Fatalf("%d observations (%d damaged) %v, want 4", len(obs), damaged, err)
	}
	st := auth.EvalTTL("example.test", "TXT", obs, 300*time.Second, now)
	if !st.LoweredAt.Equal(now) || st.TTLOld != 3600 {
		t.Fatalf("%+v", st)
	}
}
