package follow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/state"
)

func TestGrowingFilePartialLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	os.WriteFile(p, []byte("a\nb\npart"), 0o644)
	f := New(testOpts(dir, "mail.log"), nil)
	defer f.Close()

	cs := poll(t, f)
	if len(cs) != 1 || string(cs[0].Data) != "a\nb\n" || !cs[0].NewFile || cs[0].Header != nil {
		t.Fatalf("first poll: %+v", cs)
	}
	c1 := cs[0].Cursor
	if c1.Offset != 4 || c1.FPLen != 8 || c1.MarkLen != 4 || c1.Lines != 2 || c1.Path != p {
		t.Fatalf("cursor %+v", c1)
	}
	if cs := poll(t, f); len(cs) != 0 {
		t.Fatalf("partial line delivered: %q", cs[0].Data)
	}
	if !f.CaughtUp() {
		t.Fatal("a partial last line is caught up")
	}
	af, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString("ial\nc\n")
	af.Close()
	cs = poll(t, f)
	if len(cs) != 1 || string(cs[0].Data) != "partial\nc\n" || cs[0].NewFile {
		t.Fatalf("second poll: %+v", cs)
	}
	c2 := cs[0].Cursor
	if c2.Offset != 14 || c2.FPLen != 14 || c2.Lines != 4 {
		t.Fatalf("cursor %+v", c2)
	}
	// The fingerprint grew, so the key changed: the old one must go.
	if cs[0].PrevKey != c1.Key() || c2.Key() == c1.Key() {
		t.Fatalf("PrevKey %q, want %q", cs[0].PrevKey, c1.Key())
	}
	st := f.Status()
	if st.State != Following || len(st.Files) != 1 || st.Files[0].Offset != 14 || st.Files[0].Lag != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestCRLFKept(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.log"), []byte("h1,h2\r\na,b\r\nc,d\r"), 0o644)
	f := New(testOpts(dir, "*.log"), nil)
	cs := poll(t, f)
	if len(cs) != 1 || string(cs[0].Data) != "h1,h2\r\na,b\r\n" {
		t.Fatalf("%q", cs[0].Data)
	}
	// A restart past the first line gets the header without "\r\n".
	f2 := New(testOpts(dir, "*.log"), []state.Cursor{cs[0].Cursor})
	os.WriteFile(filepath.Join(dir, "x.log"), []byte("h1,h2\r\na,b\r\nc,d\r\n"), 0o644)
	cs = poll(t, f2)
	if len(cs) != 1 || string(cs[0].Data) != "c,d\r\n" || string(cs[0].Header) != "h1,h2" {
		t.Fatalf("%+v", cs)
	}
}

// Rename rotation several times, with the writer mid-line at the rename and
// still appending to the old file for a moment (syslog before its HUP).
func TestRenameRotation(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	for round := range 6 {
		w.add(50 + round)
		s.commit(poll(t, f))
		w.add(7)
		w.half() // the writer is mid-line when the file is renamed
		if round%2 == 0 {
			s.commit(poll(t, f))
		}
		w.rotate()
		if round%3 == 1 {
			s.commit(poll(t, f)) // a poll sees the rename before the late lines
		}
		w.finish() // the old descriptor completes the line...
		w.add(3)   // ...and writes late lines to the rotated file
		w.reopen()
		w.add(5)
		if round%2 == 1 {
			s.commit(poll(t, f))
		}
	}
	w.add(10)
	s.run(f, 5*time.Second)
	s.exactlyOnce(w)
}

// Rotation to a name the globs do not match: the open descriptor is drained,
// then closed after RotateWait with its cursor marked Done.
func TestRenameOutOfGlobDrains(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mainlog"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mainlog"), nil)
	defer f.Close()
	for round := range 3 {
		w.add(20)
		w.half()
		s.commit(poll(t, f))
		mustRename(t, w.path, filepath.Join(dir, fmt.Sprintf("mainlog-2026112%d", round)))
		s.commit(poll(t, f))
		if st := f.Status(); !hasFileState(st, "draining") {
			t.Fatalf("round %d: no draining file: %+v", round, st.Files)
		}
		w.finish()
		w.add(4) // late lines, only reachable through the old descriptor
		w.reopen()
		w.add(2)
		s.commit(poll(t, f))
	}
	time.Sleep(60 * time.Millisecond)
	s.run(f, 5*time.Second)
	s.exactlyOnce(w)
	done := 0
	for _, c := range s.committed {
		if c.Done {
			done++
		}
	}
	if done != 3 {
		t.Fatalf("%d cursors done, want 3: %+v", done, s.cursors())
	}
	if st := f.Status(); hasFileState(st, "draining") {
		t.Fatalf("still draining: %+v", st.Files)
	}
}

func hasFileState(st SourceStatus, state string) bool {
	for _, f := range st.Files {
		if f.State == state {
			return true
		}
	}
	return false
}

// copytruncate several times, with polls at every point of the dance.
func TestCopytruncate(t *testing.T) {
	for _, pollBetween := range []bool{false, true} {
		t.Run(fmt.Sprint("pollBetween=", pollBetween), func(t *testing.T) {
			dir := t.TempDir()
			w := newWriter(t, filepath.Join(dir, "mail.log"))
			defer w.close()
			s := newSink(t)
			f := New(testOpts(dir, "mail.log*"), nil)
			defer f.Close()
			for round := range 6 {
				w.add(40 + round*30) // crosses 4 KiB after a few rounds
				if round%2 == 0 {
					s.commit(poll(t, f))
				}
				w.add(5)
				// copy, (poll: both copies identical), truncate
				shift(t, w.path)
				b, _ := os.ReadFile(w.path)
				os.WriteFile(w.path+".1", b, 0o644)
				if pollBetween {
					s.commit(poll(t, f))
					w.add(3) // read now, before the truncation loses them
					s.commit(poll(t, f))
				}
				os.Truncate(w.path, 0)
				if round%3 == 2 {
					s.commit(poll(t, f))
				}
				w.add(4)
			}
			s.run(f, 5*time.Second)
			s.exactlyOnce(w)
		})
	}
}

// Truncated and refilled past the old offset between two polls: the marker
// and fingerprint catch it, the file starts at 0.
func TestTruncateRefillPastOffset(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mail.log"), nil)
	w.add(30)
	s.run(f, time.Second)
	os.Truncate(w.path, 0)
	w.add(60)
	s.run(f, time.Second)
	s.exactlyOnce(w)
	// The same while stopped: a restart from the committed cursors.
	f.Close()
	os.Truncate(w.path, 0)
	w.add(90)
	f = New(testOpts(dir, "mail.log"), s.cursors())
	defer f.Close()
	s.run(f, time.Second)
	s.exactlyOnce(w)
}

// The same first 4 KiB but different bytes before the saved offset (a
// rewrite while stopped): the marker says it is another file.
func TestMarkerMismatchRestartsAtZero(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	head := strings.Repeat("H", 5000) + "\n"
	os.WriteFile(p, []byte(head+"one\ntwo\n"), 0o644)
	s := newSink(t)
	f := New(testOpts(dir, "mail.log"), nil)
	s.run(f, time.Second)
	f.Close()
	os.WriteFile(p, []byte(head+"uno\ndos\ntres\n"), 0o644)
	f = New(testOpts(dir, "mail.log"), s.cursors())
	defer f.Close()
	s.run(f, time.Second)
	for _, l := range []string{"uno", "dos", "tres", "one", "two"} {
		if s.counts[l] != 1 {
			t.Errorf("%s: %d", l, s.counts[l])
		}
	}
	if s.counts[head[:5000]] != 2 {
		t.Errorf("the rewritten file was not read from 0")
	}
}

// Backfill of rotated, compressed files: everything once, oldest first.
func TestGzipBackfill(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	w.pad = strings.Repeat("x", 300) // several chunks per file
	base := time.Now().Add(-time.Hour)
	for i := 4; i >= 1; i-- {
		w.add(400)
		w.close()
		mustRename(t, w.path, fmt.Sprintf("%s.%d", w.path, i))
		if i >= 2 {
			gzipFile(t, fmt.Sprintf("%s.%d", w.path, i))
			os.Chtimes(fmt.Sprintf("%s.%d.gz", w.path, i), base, base.Add(time.Duration(4-i)*time.Minute))
		} else {
			os.Chtimes(w.path+".1", base, base.Add(3*time.Minute))
		}
		w.reopen()
	}
	w.add(400)
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	s.run(f, 10*time.Second)
	s.exactlyOnce(w)
	for i, l := range s.order {
		if l != w.lines[i] {
			t.Fatalf("line %d out of order: %q, want %q", i, short(l), short(w.lines[i]))
		}
	}
	var done int
	for _, c := range s.committed {
		if c.Done {
			done++
		}
	}
	if done != 3 {
		t.Fatalf("%d .gz cursors done, want 3", done)
	}
}

// mail.log.1 read, then compressed (delaycompress): the .gz matches the
// cursor of the plain file, the gzip in progress is neither an error nor a
// new file, and lines the plain file still had unread come from the .gz.
func TestGzipAfterRead(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	for round := range 3 {
		w.add(300)
		s.commit(poll(t, f))
		w.add(20 * round) // unread when compressed (none in round 0)
		w.rotate()
		w.reopen()
		w.add(10)
		one := w.path + ".1"
		b, _ := os.ReadFile(one)
		z := gzBytes(t, b)
		// gzip writes the .gz progressively while the plain file is there
		os.WriteFile(one+".gz", z[:len(z)/3], 0o644)
		for _, c := range poll(t, f) {
			if c.Path == one+".gz" {
				t.Fatalf("read a .gz in progress next to its source: %+v", c)
			}
			s.commit([]Chunk{c})
		}
		os.WriteFile(one+".gz", z[:2*len(z)/3], 0o644)
		s.commit(poll(t, f))
		os.WriteFile(one+".gz", z, 0o644)
		os.Remove(one)
		s.commit(poll(t, f))
		if st := f.Status(); st.LastError != "" {
			t.Fatalf("error: %+v", st)
		}
		if round < 2 {
			shift(t, w.path)
		}
	}
	s.run(f, 5*time.Second)
	s.exactlyOnce(w)
}

// A new .gz still being written (cut-off stream) yields no partial line and
// no error; the rest comes when it is complete.
func TestGzipInProgressNewFile(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "old.log"))
	w.pad = strings.Repeat("y", 200)
	w.add(3000)
	w.close()
	b, _ := os.ReadFile(w.path)
	os.Remove(w.path)
	z := gzBytes(t, b)
	gz := filepath.Join(dir, "old.log.1.gz")
	s := newSink(t)
	f := New(testOpts(dir, "*.gz"), nil)
	defer f.Close()
	for _, frac := range []int{1, 2, 3, 5, 7, 9} {
		os.WriteFile(gz, z[:len(z)*frac/10], 0o644)
		for range 3 {
			s.commit(poll(t, f))
		}
		if st := f.Status(); st.LastError != "" {
			t.Fatalf("error on a cut-off .gz: %+v", st)
		}
	}
	if len(s.counts) == 0 {
		t.Fatal("nothing read from a partial .gz")
	}
	os.WriteFile(gz, z, 0o644)
	s.run(f, 5*time.Second)
	s.exactlyOnce(w)
}

func TestCRLFLongHeaderNotInHead(t *testing.T) {
	dir := t.TempDir()
	hdr := "type," + strings.Repeat("col,", 2000) + "end"
	p := filepath.Join(dir, "acct.csv")
	os.WriteFile(p, []byte(hdr+"\r\nd,1\r\n"), 0o644)
	s := newSink(t)
	f := New(testOpts(dir, "*.csv"), nil)
	s.run(f, time.Second)
	f.Close()
	af, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString("d,2\r\n")
	af.Close()
	f = New(testOpts(dir, "*.csv"), s.cursors())
	defer f.Close()
	cs := poll(t, f)
	if len(cs) != 1 || !bytes.Equal(cs[0].Header, []byte(hdr)) || string(cs[0].Data) != "d,2\r\n" {
		t.Fatalf("%d chunks, header %d bytes", len(cs), len(cs[0].Header))
	}
}

// A corrupt .gz is one stale file, not a stale source: the others are read.
func TestCorruptGzipIsOneStaleFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mail.log.2.gz"), []byte("this is not gzip data at all\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "mail.log"), []byte("fine\n"), 0o644)
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	for range 5 {
		s.commit(poll(t, f))
	}
	st := f.Status()
	if s.counts["fine"] != 1 || st.State != Stale || !strings.Contains(st.LastError, "gzip") || st.CaughtUp {
		t.Fatalf("%v %+v", s.counts, st)
	}
	if !hasFileState(st, "stale") {
		t.Fatalf("%+v", st.Files)
	}
}

// Account carries the caller's counts into later cursors of the file.
func TestAccount(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	os.WriteFile(p, []byte("a\nb\n"), 0o644)
	f := New(testOpts(dir, "mail.log"), nil)
	defer f.Close()
	cs := poll(t, f)
	f.Account(&cs[0], 2, 1)
	if cs[0].Cursor.Events != 2 || cs[0].Cursor.Rejected != 1 {
		t.Fatalf("%+v", cs[0].Cursor)
	}
	af, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString("c\n")
	af.Close()
	cs = poll(t, f)
	if c := cs[0].Cursor; c.Events != 2 || c.Rejected != 1 || c.Lines != 3 {
		t.Fatalf("%+v", c)
	}
}

// Status: lag while a backlog is read in bounded polls, then caught up and
// idle once nothing has come for a while.
func TestStatusLagAndIdle(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	os.WriteFile(p, []byte(strings.Repeat("0123456789\n", 10000)), 0o644)
	now := time.Now()
	opts := testOpts(dir, "mail.log")
	opts.MaxChunkBytes, opts.MaxPollBytes = 10000, 20000
	opts.Now = func() time.Time { return now }
	f := New(opts, nil)
	defer f.Close()
	if st := f.Status(); st.State != Waiting {
		t.Fatalf("%+v", st)
	}
	cs := poll(t, f)
	if len(cs) != 2 {
		t.Fatalf("%d chunks", len(cs))
	}
	st := f.Status()
	if st.State != Following || st.CaughtUp || st.Files[0].Lag != 110000-cs[1].Cursor.Offset || st.Files[0].State != "reading" {
		t.Fatalf("%+v", st)
	}
	for !f.CaughtUp() {
		poll(t, f)
	}
	now = now.Add(time.Minute)
	poll(t, f)
	if st := f.Status(); st.State != Idle || st.Files[0].Lag != 0 || st.Files[0].State != "caught up" {
		t.Fatalf("%+v", st)
	}
}

// A chunk accounted after the next one was made (the pipeline finishes a
// chunk on the writer while the reader polls on): each cursor still carries
// the totals of every chunk up to its own, and no later one's.
func TestAccountLate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	os.WriteFile(p, []byte("a\nb\n"), 0o644)
	f := New(testOpts(dir, "mail.log"), nil)
	defer f.Close()
	first := poll(t, f)
	af, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString("c\n")
	af.Close()
	second := poll(t, f)
	f.Account(&first[0], 2, 1)
	f.Account(&second[0], 5, 0)
	if c := first[0].Cursor; c.Events != 2 || c.Rejected != 1 {
		t.Fatalf("first %+v", c)
	}
	if c := second[0].Cursor; c.Events != 7 || c.Rejected != 1 || c.Lines != 3 {
		t.Fatalf("second %+v", c)
	}
	if _, err := f.Poll(); err != nil { // status is made by Poll
		t.Fatal(err)
	}
	if st := f.Status(); len(st.Files) != 1 || st.Files[0].Rejected != 1 {
		t.Fatalf("status %+v", st.Files)
	}
}
