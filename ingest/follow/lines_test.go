package follow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A 1 MiB line is delivered whole (above MaxChunkBytes, below
// MaxLineBytes); a 5 MiB line is skipped, reported with its offset, and the
// lines around it are delivered, also when it arrives in pieces over many
// polls and when the follower restarts in the middle of it.
func TestLongLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	f1 := strings.Repeat("a", 1<<20)
	f5 := strings.Repeat("b", 5<<20)
	os.WriteFile(p, []byte("first\n"+f1+"\nmiddle\n"), 0o644)
	opts := testOpts(dir, "mail.log")
	opts.MaxChunkBytes = 64 << 10
	opts.MaxLineBytes = 4 << 20
	s := newSink(t)
	f := New(opts, nil)
	s.run(f, 5*time.Second)
	if s.counts[f1] != 1 || s.counts["first"] != 1 || s.counts["middle"] != 1 {
		t.Fatalf("1 MiB line: %d", s.counts[f1])
	}

	// The 5 MiB line arrives in 256 KiB pieces, one per poll.
	w, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	defer w.Close()
	start := int64(6 + len(f1) + 1 + 7)
	for i := 0; i < len(f5); i += 256 << 10 {
		w.WriteString(f5[i:min(i+256<<10, len(f5))])
		s.commit(poll(t, f))
		if i == 3<<20 {
			// crash and restart while skipping
			f.Close()
			f = New(opts, s.cursors())
		}
	}
	w.WriteString("\nafter\n")
	s.run(f, 5*time.Second)
	f.Close()
	if s.counts["after"] != 1 || s.counts[f5] != 0 {
		t.Fatalf("after=%d", s.counts["after"])
	}
	if len(s.long) != 1 || s.long[0].Offset != start || s.long[0].Length != int64(len(f5)+1) {
		t.Fatalf("too long: %+v, want offset %d", s.long, start)
	}
	var c = s.cursors()[0]
	if c.Offset != start+int64(len(f5))+1+6 || c.Lines != 5 || c.Rejected != 1 {
		t.Fatalf("cursor %+v", c)
	}

	// Several too-long lines inside one read, between short ones: each is
	// its own chunk, and Data stays contiguous.
	dir2 := t.TempDir()
	var b bytes.Buffer
	var want []string
	for i := range 20 {
		if i%3 == 1 {
			b.WriteString(strings.Repeat("x", 300) + "\n")
		} else {
			l := fmt.Sprintf("short %d", i)
			want = append(want, l)
			b.WriteString(l + "\r\n")
		}
	}
	os.WriteFile(filepath.Join(dir2, "x.log"), b.Bytes(), 0o644)
	opts2 := testOpts(dir2, "x.log")
	opts2.MaxLineBytes = 200
	opts2.MaxChunkBytes = 1 << 20
	s2 := newSink(t)
	f2 := New(opts2, nil)
	defer f2.Close()
	var data []byte
	s2.t = t
	for _, c := range poll(t, f2) {
		s2.check(c)
		s2.last = c.Path
		if len(c.Data) > 0 {
			off := c.Cursor.Offset - int64(len(c.Data))
			if !bytes.Equal(b.Bytes()[off:c.Cursor.Offset], c.Data) {
				t.Fatalf("chunk data is not the file at [%d,%d)", off, c.Cursor.Offset)
			}
		}
		data = append(data, c.Data...)
		s2.long = append(s2.long, c.TooLong...)
	}
	if got := strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	if len(s2.long) != 7 {
		t.Fatalf("%d too long", len(s2.long))
	}
}

// A line that never ends does not stall the follower or grow memory: it is
// skipped in bounded reads per poll.
func TestEndlessLineBounded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.log")
	os.WriteFile(p, []byte("ok\n"+strings.Repeat("z", 3<<20)), 0o644)
	opts := testOpts(dir, "x.log")
	opts.MaxLineBytes = 1 << 20
	opts.MaxChunkBytes = 128 << 10
	opts.MaxPollBytes = 256 << 10
	f := New(opts, nil)
	defer f.Close()
	n := 0
	for range 40 {
		for _, c := range poll(t, f) {
			n += bytes.Count(c.Data, []byte{'\n'})
		}
	}
	if n != 1 || !f.CaughtUp() {
		t.Fatalf("lines %d caught up %v", n, f.CaughtUp())
	}
	tr := f.tracks[0]
	if !tr.skipping || tr.skipLen != 3<<20 || len(tr.pend) != 0 {
		t.Fatalf("skipping=%v skipLen=%d pend=%d", tr.skipping, tr.skipLen, len(tr.pend))
	}
}

// PowerMTA: many acct files share their first line (the header), and some
// hold only the header for a while. Fingerprints must not collide, every
// record is read once, and a resumed file gets its header.
func TestPowerMTAHeaders(t *testing.T) {
	dir := t.TempDir()
	hdr := "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"
	var all []string
	rec := func(file, i int) string {
		l := fmt.Sprintf("d,2026-11-27 10:%02d:%02d+0000,2026-11-27 10:00:00+0000,bounce@example.net,u%d.%d@gmail.com,,relayed,2.0.0 (success),smtp;250 2.0.0 OK,gmail-smtp-in.l.google.com (142.250.1.27),,smtp,pmta,smtp,10.0.0.%d,142.250.1.27,PIPELINING,4321,vmta-new-%d,,,gmail.com/vmta-new,pool", i/60%60, i%60, file, i, file%250, file%4)
		all = append(all, l)
		return l
	}
	path := func(i int) string { return filepath.Join(dir, fmt.Sprintf("acct-2026-11-27-%04d.csv", i)) }
	s := newSink(t)
	opts := testOpts(dir, "acct-*.csv")
	f := New(opts, nil)
	writers := map[int]*os.File{}
	for i := range 40 {
		w, _ := os.Create(path(i))
		writers[i] = w
		w.WriteString(hdr + "\n")
		if i%5 == 4 {
			continue // header only, for now
		}
		var b strings.Builder
		for j := range 3 + i%7 {
			b.WriteString(rec(i, j) + "\n")
		}
		w.WriteString(b.String())
		if i%4 == 0 {
			s.commit(poll(t, f))
		}
		if i%9 == 3 { // restart
			f.Close()
			f = New(opts, s.cursors())
		}
	}
	s.run(f, 5*time.Second)
	// the header-only files get records later
	for i := 4; i < 40; i += 5 {
		writers[i].WriteString(rec(i, 100) + "\n" + rec(i, 101) + "\n")
	}
	f.Close()
	f = New(opts, s.cursors())
	defer f.Close()
	s.run(f, 5*time.Second)
	for _, w := range writers {
		w.Close()
	}
	for _, l := range all {
		if s.counts[l] != 1 {
			t.Fatalf("%q: %d", short(l), s.counts[l])
		}
	}
	if s.counts[hdr] < 40 {
		t.Fatalf("header lines %d", s.counts[hdr])
	}
	keys := map[string]string{}
	for _, c := range s.cursors() {
		if p, ok := keys[c.Key()]; ok {
			t.Fatalf("%s and %s share key %s", p, c.Path, c.Key())
		}
		keys[c.Key()] = c.Path
	}
	// Files resumed past offset 0 were given the header.
	for p, h := range s.headers {
		if h != nil && string(h) != hdr {
			t.Fatalf("%s: header %q", p, h)
		}
	}
}

// StartAtEnd: a first run on a big existing file starts at its last
// complete line and commits that position at once; a restart (cursors
// given) does not skip again, and files created later start at 0.
func TestStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	old := strings.Repeat("old line\n", 100000) + "partial"
	os.WriteFile(p, []byte(old), 0o644)
	os.WriteFile(p+".2.gz", gzBytes(t, []byte("gz old\ngz old2\n")), 0o644)
	opts := testOpts(dir, "mail.log*")
	opts.StartAtEnd = true
	s := newSink(t)
	f := New(opts, nil)
	cs := poll(t, f)
	s.commit(cs)
	if len(cs) != 2 || len(cs[0].Data)+len(cs[1].Data) != 0 {
		t.Fatalf("%+v", cs)
	}
	if s.counts["old line"] != 0 {
		t.Fatal("old lines read")
	}
	for _, c := range cs {
		if c.Path == p && c.Cursor.Offset != int64(len(old)-len("partial")) {
			t.Fatalf("offset %d", c.Cursor.Offset)
		}
	}
	af, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString(" done\nnew\n")
	af.Close()
	s.run(f, time.Second)
	f.Close()
	os.WriteFile(filepath.Join(dir, "mail.log.1"), []byte("later file\n"), 0o644)
	af, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString("after restart\n")
	af.Close()
	f = New(opts, s.cursors())
	defer f.Close()
	s.run(f, time.Second)
	for _, l := range []string{"partial done", "new", "after restart", "later file"} {
		if s.counts[l] != 1 {
			t.Fatalf("%q: %d", l, s.counts[l])
		}
	}
	if s.counts["old line"]+s.counts["gz old"] != 0 {
		t.Fatal("old content read")
	}
}
