package follow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/state"
)

// Issue 11.3: after rotations every stored cursor names the file where its
// content is now (mainlog.3.gz, not the mainlog.2.gz it was read under),
// even when nothing was left to read in it.
func TestCursorPathFollowsRenames(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mainlog"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mainlog*"), nil)
	defer f.Close()
	for round := range 5 {
		w.add(40 + round)
		s.run(f, 5*time.Second)
		w.rotate()
		if p := w.path + ".2"; exists(p) {
			gzipFile(t, p)
		}
		w.reopen()
		s.run(f, 5*time.Second)
		if round == 2 { // a restart in between: loaded cursors too
			f.Close()
			f = New(testOpts(dir, "mainlog*"), s.cursors())
		}
	}
	w.add(3)
	s.run(f, 5*time.Second)
	s.exactlyOnce(w)
	seen := map[string]bool{}
	for _, c := range s.cursors() {
		if seen[c.Path] {
			t.Fatalf("two cursors name %s", c.Path)
		}
		seen[c.Path] = true
		r, err := openReader(OS{}, c.Path)
		if err != nil {
			t.Fatalf("cursor names %s: %v", c.Path, err)
		}
		head := make([]byte, c.FPLen)
		n, _ := r.readAt(head, 0)
		r.close()
		if n != c.FPLen || fnv64(head) != c.FPHash {
			t.Fatalf("cursor names %s, which holds other content", c.Path)
		}
	}
	if len(seen) != 6 {
		t.Fatalf("%d cursors, want 6: %v", len(seen), seen)
	}
}

// Issue 11.3: LAST LINE is the log's clock. The follower never stamps a
// cursor with the time it read it; LogTime carries the newest log time to
// later cursors of the file, through restarts.
func TestLastLineIsTheLogsClock(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	opts := testOpts(dir, "mail.log")
	f := New(opts, nil)
	w.add(3)
	cs := poll(t, f)
	if len(cs) != 1 || !cs[0].Cursor.LastLine.IsZero() {
		t.Fatalf("the follower's clock in a cursor: %+v", cs)
	}
	logT := time.Date(2026, 11, 27, 10, 0, 3, 0, time.UTC)
	f.LogTime(&cs[0], logT)
	f.LogTime(&cs[0], time.Time{})
	if !cs[0].Cursor.LastLine.Equal(logT) {
		t.Fatalf("LastLine %v", cs[0].Cursor.LastLine)
	}
	w.add(2) // lines without a time (rejected): the log time stays
	cs2 := poll(t, f)
	if len(cs2) != 1 || !cs2[0].Cursor.LastLine.Equal(logT) {
		t.Fatalf("next cursor %+v", cs2)
	}
	f.Close()
	f = New(opts, []state.Cursor{cs2[0].Cursor})
	defer f.Close()
	w.add(1)
	cs3 := poll(t, f)
	if len(cs3) != 1 || !cs3[0].Cursor.LastLine.Equal(logT) {
		t.Fatalf("after restart %+v", cs3)
	}
}

// Issue 13.10: a glob that matches nothing is a warning naming it, not a
// silent "waiting"; it goes away when a file appears.
func TestUnmatchedGlobWarns(t *testing.T) {
	dir := t.TempDir()
	f := New(testOpts(dir, "mail.log", "mail.lgo*"), nil)
	defer f.Close()
	poll(t, f)
	st := f.Status()
	want := "no file matches " + filepath.Join(dir, "mail.log") + ", " + filepath.Join(dir, "mail.lgo*")
	if st.State != Waiting || st.Warning != want {
		t.Fatalf("status %+v, want warning %q", st, want)
	}
	os.WriteFile(filepath.Join(dir, "mail.log"), []byte("x\n"), 0o644)
	poll(t, f)
	st = f.Status()
	if !strings.HasSuffix(st.Warning, "no file matches "+filepath.Join(dir, "mail.lgo*")) || strings.Contains(st.Warning, "mail.log,") {
		t.Fatalf("warning %q", st.Warning)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
