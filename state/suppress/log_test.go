package suppress

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
)

func openDB(t testing.TB, dir string) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) }

func openLog(t testing.TB, db *state.DB, opt Options) *Log {
	t.Helper()
	if opt.Now == nil {
		opt.Now = fixedNow
	}
	l, err := Open(db, "", opt)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ev(addr string, typ model.SuppressionType, source, scope string, ts int64) model.SuppressionEvent {
	e := model.SuppressionEvent{Addr: addr, Type: typ, Source: source, Scope: scope, Origin: "test"}
	if ts != 0 {
		e.TS = time.Unix(ts, 0)
	}
	return e
}

func mustAppend(t testing.TB, l *Log, evs ...model.SuppressionEvent) int {
	t.Helper()
	n, err := l.Append(evs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func logLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func verifyOK(t testing.TB, path string, db *state.DB) *VerifyReport {
	t.Helper()
	rep, err := VerifyLog(path, db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %s", rep)
	}
	return rep
}

func TestAppendDedupeAndIndex(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})

	batch := []model.SuppressionEvent{
		ev("a@x.com", model.SuppUnsubscribe, "sendgrid:global_unsubscribes", "account", 1000),
		ev("b@x.com", model.SuppComplaint, "sendgrid:spam_reports", "account", 1001),
		ev("a@x.com", model.SuppUnsubscribe, "sendgrid:global_unsubscribes", "account", 1000), // dup inside the batch
		ev("a@x.com", model.SuppUnsubscribe, "mailgun:unsubscribes", "domain:mg.x.com", 900),  // other provider
		ev("c@x.com", model.SuppBlock, "sendgrid:blocks", "account", 0),                       // no ts
	}
	if n := mustAppend(t, l, batch...); n != 4 {
		t.Fatalf("appended %d, want 4", n)
	}
	if batch[2].Seq != 0 || batch[0].Seq != 1 || batch[3].Seq != 3 || batch[4].Seq != 4 {
		t.Fatalf("seqs %d %d %d %d %d", batch[0].Seq, batch[1].Seq, batch[2].Seq, batch[3].Seq, batch[4].Seq)
	}
	// Same events again, in another batch and after a flush: nothing.
	again := []model.SuppressionEvent{batch[0], batch[1], batch[3], batch[4]}
	if n := mustAppend(t, l, again...); n != 0 {
		t.Fatalf("re-append appended %d", n)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := mustAppend(t, l, again...); n != 0 {
		t.Fatalf("re-append after flush appended %d", n)
	}
	// A later re-suppression (new ts) is a new event; so is another scope.
	if n := mustAppend(t, l, ev("a@x.com", model.SuppUnsubscribe, "sendgrid:global_unsubscribes", "account", 2000),
		ev("a@x.com", model.SuppUnsubscribe, "sendgrid:global_unsubscribes", "group:7", 1000)); n != 2 {
		t.Fatalf("appended %d, want 2", n)
	}

	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Addresses != 3 || st.Events != 6 || st.Suppressed != 2 || st.LastSeq != 6 {
		t.Fatalf("stats %+v", st)
	}
	if c := st.ByType["unsubscribe"]; c.Addresses != 1 || c.Events != 4 {
		t.Fatalf("unsubscribe %+v", c)
	}
	if c := st.BySource["sendgrid:global_unsubscribes"]; c.Addresses != 1 || c.Events != 3 {
		t.Fatalf("sg unsub %+v", c)
	}
	if c := st.BySource["mailgun:unsubscribes"]; c.Addresses != 1 || c.Events != 1 {
		t.Fatalf("mg %+v", c)
	}
	if c := st.ByType["block"]; c.Addresses != 1 {
		t.Fatalf("block %+v", c)
	}

	evs, err := l.Check("  A@X.COM ")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].Seq != 1 || evs[1].Source != "mailgun:unsubscribes" || evs[1].Scope != "domain:mg.x.com" || evs[3].Scope != "group:7" {
		t.Fatalf("check: %+v", evs)
	}
	if evs, err := l.Check("nobody@x.com"); err != nil || len(evs) != 0 {
		t.Fatalf("check nobody: %v %v", evs, err)
	}
	e, ok, err := l.Lookup("a@x.com")
	if err != nil || !ok || e.First != time.Unix(900, 0).UTC() || e.Last != time.Unix(2000, 0).UTC() || len(e.Sources) != 2 || len(e.Scopes) != 3 {
		t.Fatalf("lookup %+v %v %v", e, ok, err)
	}
	if _, err := l.Check("not-an-address"); err == nil {
		t.Fatal("bad address accepted by Check")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyOK(t, DefaultLogPath(db.Path()), db)
	if rep.Valid != 6 || rep.LastSeq != 6 {
		t.Fatalf("%s", rep)
	}
	if fi, err := os.Stat(DefaultLogPath(db.Path())); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v %v", fi.Mode(), err)
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})
	defer l.Close()
	for _, e := range []model.SuppressionEvent{
		ev("A@x.com", model.SuppManual, "s", "account", 0),
		ev("a@x.com", "soft", "s", "account", 0),
		ev("a@x.com", model.SuppManual, "", "account", 0),
		ev("a@x.com", model.SuppManual, "s", "", 0),
	} {
		if _, err := l.Append([]model.SuppressionEvent{e}); err == nil {
			t.Errorf("accepted %+v", e)
		}
	}
	if l.LastSeq() != 0 {
		t.Fatal("something was written")
	}
}

// abandon drops the Log like a crash would: no index flush, lock released.
func (l *Log) abandon() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.closeFile()
}

func genEvents(n, from int) []model.SuppressionEvent {
	out := make([]model.SuppressionEvent, n)
	for i := range out {
		k := from + i
		out[i] = ev(fmt.Sprintf("user%d@d%d.example", k, k%7), model.SuppressionTypes[k%4], fmt.Sprintf("p%d:list", k%3), "account", int64(1e9+k))
	}
	return out
}

func TestCrashBetweenLogAndIndex(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{IndexBatch: 100})
	mustAppend(t, l, genEvents(250, 0)...) // index flushed at 250 (>=100)
	mustAppend(t, l, genEvents(50, 250)...)
	l.abandon() // 50 events in the log only

	a, _ := readAnchor(db)
	if a.seq != 250 {
		t.Fatalf("anchor seq %d, want 250", a.seq)
	}
	rep := verifyOK(t, DefaultLogPath(db.Path()), db)
	if rep.Index.Behind == 0 {
		t.Fatalf("index not behind: %s", rep)
	}

	l = openLog(t, db, Options{IndexBatch: 100})
	if ns := l.Notices(); len(ns) != 1 || !strings.Contains(ns[0], "caught up with 50") {
		t.Fatalf("notices %q", ns)
	}
	// The rerun appends nothing it already has, and the rest.
	if n := mustAppend(t, l, genEvents(400, 0)...); n != 100 {
		t.Fatalf("rerun appended %d, want 100", n)
	}
	st, _ := l.Stats()
	if st.Events != 400 || st.Addresses != 400 {
		t.Fatalf("stats %+v", st)
	}
	l.Close()
	verifyOK(t, DefaultLogPath(db.Path()), db)
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	path := DefaultLogPath(db.Path())
	l := openLog(t, db, Options{})
	mustAppend(t, l, genEvents(10, 0)...)
	l.Close()

	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"v":1,"seq":11,"type":"unsub`)
	f.Close()
	rep, err := VerifyLog(path, db)
	if err != nil || !rep.OK() || rep.TornTail != 29 || rep.Valid != 10 {
		t.Fatalf("verify torn: %s %v", rep, err)
	}

	l = openLog(t, db, Options{})
	ns := l.Notices()
	if len(ns) != 1 || !strings.Contains(ns[0], "incomplete line (29 bytes") {
		t.Fatalf("notices %q", ns)
	}
	torn, _ := filepath.Glob(path + ".torn-*")
	if len(torn) != 1 {
		t.Fatalf("torn files %v", torn)
	}
	if b, _ := os.ReadFile(torn[0]); string(b) != `{"v":1,"seq":11,"type":"unsub` {
		t.Fatalf("torn content %q", b)
	}
	if n := mustAppend(t, l, genEvents(12, 0)...); n != 2 {
		t.Fatalf("appended %d", n)
	}
	l.Close()
	if rep := verifyOK(t, path, db); rep.Valid != 12 || rep.TornTail != 0 {
		t.Fatalf("%s", rep)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	path := DefaultLogPath(db.Path())
	l := openLog(t, db, Options{})
	mustAppend(t, l, genEvents(20, 0)...)
	l.Close()
	orig, _ := os.ReadFile(path)
	lines := logLines(t, path)

	write := func(ls []string) {
		if err := os.WriteFile(path, []byte(strings.Join(ls, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, wantLine int64, wantReason string, withDB bool) {
		t.Helper()
		var d *state.DB
		if withDB {
			d = db
		}
		rep, err := VerifyLog(path, d)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() {
			t.Fatalf("%s: not detected: %s", name, rep)
		}
		if wantLine > 0 && (rep.Bad == nil || rep.Bad.Line != wantLine || !strings.Contains(rep.Bad.Reason, wantReason)) {
			t.Fatalf("%s: %s", name, rep)
		}
		if wantLine == 0 && (rep.Index == nil || rep.Index.OK || !strings.Contains(rep.Index.Reason, wantReason)) {
			t.Fatalf("%s: %s", name, rep)
		}
	}

	// edit a field of line 5: the chain breaks at line 6
	ed := append([]string(nil), lines...)
	ed[4] = strings.Replace(ed[4], "user4@", "userX@", 1)
	write(ed)
	check("edit", 6, "broken chain", false)
	// remove line 8: seq gap at the new line 8
	write(append(append([]string(nil), lines[:7]...), lines[8:]...))
	check("remove", 8, "1 line(s) missing", false)
	// duplicate line 3
	write(append(append(append([]string(nil), lines[:3]...), lines[2]), lines[3:]...))
	check("repeat", 4, "repeated", false)
	// not JSON
	ed = append([]string(nil), lines...)
	ed[9] = ed[9][:40]
	write(ed)
	check("truncated line", 10, "bad JSON", false)
	// first line removed
	write(lines[1:])
	check("head removed", 1, "seq 2 where 1", false)
	// last line edited: invisible to the chain, caught by the index anchor
	ed = append([]string(nil), lines...)
	ed[19] = strings.Replace(ed[19], "user19@", "userzz@", 1)
	write(ed)
	if rep, _ := VerifyLog(path, nil); !rep.OK() {
		t.Fatalf("chain alone should pass: %s", rep)
	}
	check("last edited", 0, "is not the one the index saw", true)
	if _, err := Open(db, path, Options{}); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("open after last-line edit: %v", err)
	}
	// last two lines removed: caught by the anchor
	write(lines[:18])
	check("tail removed", 0, "2 event(s) were lost", true)
	if _, err := Open(db, path, Options{}); !errors.Is(err, ErrIndexAhead) {
		t.Fatalf("open after tail removal: %v", err)
	}
	// log deleted altogether
	os.Remove(path)
	if _, err := Open(db, path, Options{}); !errors.Is(err, ErrIndexAhead) {
		t.Fatalf("open after deletion: %v", err)
	}
	// the operator accepts the shorter log: rebuild
	write(lines[:18])
	n, _, err := RebuildIndex(db, path)
	if err != nil || n != 18 {
		t.Fatalf("rebuild: %d %v", n, err)
	}
	verifyOK(t, path, db)
	// a corrupt middle line refuses the rebuild
	ed = append([]string(nil), lines...)
	ed[4] = strings.Replace(ed[4], "user4@", "userX@", 1)
	write(ed)
	if _, _, err := RebuildIndex(db, path); !errors.Is(err, ErrLogCorrupt) || !strings.Contains(err.Error(), "line 6") {
		t.Fatalf("rebuild of corrupt log: %v", err)
	}
	os.WriteFile(path, orig, 0o600)
}

func TestRebuildMatchesIncremental(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{IndexBatch: 64})
	for i := 0; i < 10; i++ {
		evs := genEvents(100, i*37) // overlapping ranges: duplicates
		evs = append(evs, ev(fmt.Sprintf("user%d@d%d.example", i, i%7), model.SuppManual, "other:src", "account", 0))
		mustAppend(t, l, evs...)
	}
	before, _ := l.Stats()
	var entries []Entry
	l.Entries(func(e Entry) error { entries = append(entries, e); return nil })
	l.Close()

	if _, _, err := RebuildIndex(db, ""); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, db, Options{})
	defer l.Close()
	after, _ := l.Stats()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("stats differ:\n%+v\n%+v", before, after)
	}
	var entries2 []Entry
	l.Entries(func(e Entry) error { entries2 = append(entries2, e); return nil })
	if fmt.Sprint(entries) != fmt.Sprint(entries2) {
		t.Fatal("entries differ after rebuild")
	}
	if len(entries) != int(before.Addresses) {
		t.Fatalf("%d entries, %d addresses", len(entries), before.Addresses)
	}
}

func TestIndexBuiltFromExistingLog(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	l := openLog(t, db, Options{})
	mustAppend(t, l, genEvents(30, 0)...)
	l.Close()
	db.Close()
	os.Remove(filepath.Join(dir, "cutover.db")) // lose the database, keep the log

	db = openDB(t, dir)
	defer db.Close()
	l = openLog(t, db, Options{})
	defer l.Close()
	if ns := l.Notices(); len(ns) != 1 || !strings.Contains(ns[0], "building it from") {
		t.Fatalf("notices %q", ns)
	}
	if st, _ := l.Stats(); st.Events != 30 {
		t.Fatalf("%+v", st)
	}
	if n := mustAppend(t, l, genEvents(30, 0)...); n != 0 {
		t.Fatalf("appended %d", n)
	}
}

func TestLogLocked(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})
	defer l.Close()
	dir2 := t.TempDir()
	db2 := openDB(t, dir2)
	defer db2.Close()
	if _, err := Open(db2, l.Path(), Options{}); !errors.Is(err, ErrLogClaimed) {
		t.Fatalf("second database: %v", err)
	}
	// Without the claim, the lock still stops a second writer.
	os.Remove(ClaimPath(l.Path()))
	if _, err := Open(db2, l.Path(), Options{}); !errors.Is(err, ErrLogLocked) {
		t.Fatalf("second writer: %v", err)
	}
}

func TestReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	l := openLog(t, db, Options{IndexBatch: 1000})
	mustAppend(t, l, genEvents(5, 0)...)
	l.Flush()
	mustAppend(t, l, genEvents(5, 5)...)
	l.abandon()
	db.Close()
	path := DefaultLogPath(filepath.Join(dir, "cutover.db"))
	before, _ := os.ReadFile(path)

	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l = openLog(t, db, Options{ReadOnly: true})
	defer l.Close()
	if ns := l.Notices(); len(ns) != 1 || !strings.Contains(ns[0], "behind the log") {
		t.Fatalf("notices %q", ns)
	}
	if _, err := l.Append(genEvents(1, 99)); err == nil {
		t.Fatal("read-only append")
	}
	if evs, err := l.Check("user1@d1.example"); err != nil || len(evs) != 1 {
		t.Fatalf("check %v %v", evs, err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("read-only open changed the log")
	}
}

// A reader next to a live writer (metrics in the process that follows the
// logs) neither waits nor fails: it sees the index as committed.
func TestReadOnlyBesideWriter(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	w := openLog(t, db, Options{IndexBatch: 1000})
	defer w.Close()
	mustAppend(t, w, genEvents(10, 0)...)
	w.Flush()
	mustAppend(t, w, genEvents(5, 10)...) // pending, not committed
	r, err := Open(db, "", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Stats()
	if err != nil || st.Events != 10 || st.LastSeq != 10 {
		t.Fatalf("reader stats %+v %v", st, err)
	}
	if ns := r.Notices(); len(ns) != 1 || !strings.Contains(ns[0], "behind the log") {
		t.Fatalf("notices %q", ns)
	}
	if st, _ := w.Stats(); st.Events != 15 {
		t.Fatalf("writer stats %+v", st)
	}
}
