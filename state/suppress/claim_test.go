package suppress

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/model"
	"cutover/state"
)

func openDBNamed(t *testing.T, path string) *state.DB {
	t.Helper()
	db, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Issue 13 point 13: after `backfill --db dir/d.db` and `suppress check
// --db dir/s.db ADDR`, the check said "not in the suppression log" for an
// address in it, and verify-log said the index matched at seq 0: both
// databases read one suppressions.jsonl with two indexes. Now the second
// database gets its own log, named after it, and cannot index the first's.
func TestTwoDatabasesOneDirectory(t *testing.T) {
	dir := t.TempDir()
	d := openDBNamed(t, filepath.Join(dir, "d.db"))
	s := openDBNamed(t, filepath.Join(dir, "s.db"))
	shared := filepath.Join(dir, DefaultLogName)

	ld, err := Open(d, "", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, ld, ev("x@example.com", model.SuppHardBounce, "bounce", "account", 1e9))
	if ld.Path() != shared {
		t.Fatalf("first database's log %s, want %s (existing layout)", ld.Path(), shared)
	}
	ld.Close()

	if got := DefaultLogPath(s.Path()); got != filepath.Join(dir, "s."+DefaultLogName) {
		t.Fatalf("second database's default log %s", got)
	}
	ls, err := Open(s, "", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if ns := strings.Join(ls.Notices(), "\n"); !strings.Contains(ns, "belongs to database "+d.Path()) {
		t.Fatalf("no notice that the shared log is d's: %q", ns)
	}
	if ls.LastSeq() != 0 {
		t.Fatalf("s's own log has seq %d", ls.LastSeq())
	}
	ls.Close()
	// Naming d's log explicitly from s is refused, read-write and read-only.
	for _, ro := range []bool{false, true} {
		if _, err := Open(s, shared, Options{ReadOnly: ro}); !errors.Is(err, ErrLogClaimed) || !strings.Contains(err.Error(), d.Path()) {
			t.Fatalf("read-only %v: s opening d's log: %v", ro, err)
		}
	}
	// d still finds its log and its event.
	ld, err = Open(d, "", Options{Now: fixedNow, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Close()
	if _, ok, err := ld.Lookup("x@example.com"); err != nil || !ok || ld.Path() != shared {
		t.Fatalf("d lost its log: %v %v %s", ok, err, ld.Path())
	}
}

// An existing deployment (a log with no claim, indexed by its database)
// keeps working and is claimed; a log whose database was removed is free.
func TestClaimExistingAndOrphanedLogs(t *testing.T) {
	dir := t.TempDir()
	db := openDBNamed(t, filepath.Join(dir, "prod.db"))
	l, err := Open(db, "", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, genEvents(5, 0)...)
	l.Close()
	os.Remove(ClaimPath(l.Path())) // as written before claims existed
	l, err = Open(db, "", Options{Now: fixedNow})
	if err != nil || l.LastSeq() != 5 || filepath.Base(l.Path()) != DefaultLogName {
		t.Fatalf("existing deployment: %v seq %d %s", err, l.LastSeq(), l.Path())
	}
	l.Close()
	if c := claimOf(l.Path()); c != db.Path() {
		t.Fatalf("claim %q", c)
	}
	// The database is removed: a new one in its place takes the log over
	// (the index is rebuilt from the log, as always).
	db.Close()
	os.Remove(db.Path())
	db2 := openDBNamed(t, filepath.Join(dir, "new.db"))
	l2, err := Open(db2, "", Options{Now: fixedNow})
	if err != nil || l2.LastSeq() != 5 || filepath.Base(l2.Path()) != DefaultLogName {
		t.Fatalf("orphaned log: %v %s", err, l2.Path())
	}
	l2.Close()
}

// Issue 13 point 11: a planted symlink is never followed, and a file that
// is not a log (given with --log) is refused before its tail is touched
// (it lost its last line to a .torn copy before).
func TestLogOpenRefusesSymlinkAndNonLog(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	target := filepath.Join(dir, "victim")
	os.WriteFile(target, []byte("keep me\n"), 0o644)
	link := filepath.Join(dir, DefaultLogName)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(db, "", Options{Now: fixedNow}); err == nil {
		t.Fatal("opened a log through a planted symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Fatalf("target changed: %q", b)
	}
	os.Remove(link)

	notes := filepath.Join(dir, "notes.txt")
	body := "first line\nlast line without newline"
	os.WriteFile(notes, []byte(body), 0o600)
	for _, ro := range []bool{false, true} {
		_, err := Open(db, notes, Options{Now: fixedNow, ReadOnly: ro})
		if err == nil || !strings.Contains(err.Error(), "not a suppression log") {
			t.Fatalf("read-only %v: %v", ro, err)
		}
	}
	if b, _ := os.ReadFile(notes); string(b) != body {
		t.Fatalf("non-log file changed: %q", b)
	}
	if m, _ := filepath.Glob(notes + ".torn*"); len(m) > 0 {
		t.Fatalf("torn copy made of a non-log: %v", m)
	}
	// A log whose very first write was cut short is still a log.
	cut := filepath.Join(dir, "cut.jsonl")
	os.WriteFile(cut, []byte(`{"v":1,"se`), 0o600)
	l, err := Open(db, cut, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// Issue 13 point 3: a damaged log (a line or a tail of megabytes without a
// newline) is reported with its position; nothing reads it whole, and the
// tail is not copied into a .torn file.
func TestDamagedLogBounded(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})
	mustAppend(t, l, genEvents(3, 0)...)
	path := l.Path()
	l.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"v":1,"seq":4,"reason":"` + strings.Repeat("x", 3<<20)))
	f.Close()
	if _, err := Open(db, "", Options{Now: fixedNow}); !errors.Is(err, ErrLogCorrupt) || !strings.Contains(err.Error(), "without a newline") {
		t.Fatalf("huge tail: %v", err)
	}
	if m, _ := filepath.Glob(path + ".torn*"); len(m) != 0 {
		t.Fatalf("torn copy of a huge tail: %v", m)
	}
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("\n"))
	f.Close()
	rep, err := VerifyLog(path, nil)
	if err != nil || rep.Bad == nil || rep.Bad.Line != 4 || !strings.Contains(rep.Bad.Reason, "longer than") {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if _, err := Open(db, "", Options{Now: fixedNow, Rebuild: true}); !errors.Is(err, ErrLogCorrupt) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("catch-up over a huge line: %v", err)
	}
}
