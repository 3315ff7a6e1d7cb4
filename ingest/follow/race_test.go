package follow

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stepFS makes file-system changes land between the follower's own calls:
// from its at-th call (listing, stat, open, read or fstat) on, every gap-th
// call first applies the next of steps. Enumerating at and gap puts a
// rotation between any two operations of a scan or a read, which a real
// logrotate does now and then.
type stepFS struct {
	OS
	n, at, gap int
	steps      []func()
	logf       func(string, ...any)
}

func (s *stepFS) tick(op string) {
	s.n++
	if s.logf != nil {
		s.logf("call %d %s (%d steps left)", s.n, op, len(s.steps))
	}
	if len(s.steps) > 0 && s.n >= s.at && (s.n-s.at)%s.gap == 0 {
		st := s.steps[0]
		s.steps = s.steps[1:]
		st()
	}
}

// flush applies the steps that have not happened yet.
func (s *stepFS) flush() {
	for len(s.steps) > 0 {
		st := s.steps[0]
		s.steps = s.steps[1:]
		st()
	}
}

func (s *stepFS) ReadDirNames(dir string) ([]string, error) {
	s.tick("readdir " + filepath.Base(dir))
	return s.OS.ReadDirNames(dir)
}

func (s *stepFS) Stat(name string) (fs.FileInfo, error) {
	s.tick("stat " + filepath.Base(name))
	return s.OS.Stat(name)
}

func (s *stepFS) Open(name string) (File, error) {
	s.tick("open " + filepath.Base(name))
	f, err := s.OS.Open(name)
	if err != nil {
		return nil, err
	}
	return &stepFile{File: f, s: s, name: filepath.Base(name)}, nil
}

type stepFile struct {
	File
	s    *stepFS
	name string
}

func (f *stepFile) ReadAt(p []byte, off int64) (int, error) {
	f.s.tick(fmt.Sprintf("read %s @%d", f.name, off))
	return f.File.ReadAt(p, off)
}

func (f *stepFile) Stat() (fs.FileInfo, error) {
	f.s.tick("fstat " + f.name)
	return f.File.Stat()
}

// A rotation that happens between the follower's listing or stat of a name
// and its open of that name must not pair one file's head with another
// file's content. The shape of TestCrashSafety's failure: mail.log.2 (B)
// and mail.log.1 (A, larger, partly read) are shifted up while a restarted
// follower checks mail.log.2 against B's cursor; A, now at mail.log.2, is
// then gzipped (the .gz seen part-written, the plain file removed) and the
// live file is copytruncated or renamed. The check opened mail.log.2 after
// the shift, found A there, so B's marker did not match; the entry, whose
// head was still B's, became a new cursor with B's fingerprint (replacing
// B's committed one, same key) that read A from 0 through the path: A
// counted twice, B's cursor lost. Likewise a copytruncate between the read
// of the live file's head and of its lines made the new lines a cursor of
// the old head. Every line must be committed once whatever call the
// rotation lands on, with restarts before, during and after it.
func TestRotationBetweenStatAndOpen(t *testing.T) {
	gaps := []int{1, 2, 5}
	restarts := []int{-1, 0, 1, 2} // restart after that poll (-1: never); even: its chunks are lost
	maxAt := 100
	switch {
	case os.Getenv("FOLLOW_SEEDS") != "":
		// The long run (as for the randomized tests): every call of the
		// first polls, 4800 runs.
	case testing.Short():
		gaps, restarts, maxAt = gaps[1:2], restarts[1:2], 30
	default:
		gaps, restarts, maxAt = gaps[:2], restarts[:2], 30
	}
	runs := 0
	for _, copytrunc := range []bool{true, false} {
		for _, partly := range []bool{true, false} {
			for _, gap := range gaps {
				for _, restart := range restarts {
					for at := 1; at <= maxAt; at++ {
						name := fmt.Sprintf("copytruncate=%v/partly=%v/gap=%d/restart=%d/at=%d", copytrunc, partly, gap, restart, at)
						ok := t.Run(name, func(t *testing.T) {
							rotateDuringScan(t, copytrunc, partly, gap, restart, at)
						})
						runs++
						if !ok {
							return // one failure tells it all
						}
					}
				}
			}
		}
	}
	t.Logf("%d runs", runs)
}

func rotateDuringScan(t *testing.T, copytrunc, partly bool, gap, restart, at int) {
	t.Helper()
	dir := t.TempDir()
	live := filepath.Join(dir, "mail.log")
	w := newWriter(t, live)
	defer w.close()
	w.pad = " status=sent (250 2.0.0 OK) relay=mx.example.com[192.0.2.1]:25, delay=0.2"
	// B, then A (larger) by rename rotation, then the live file C.
	w.add(150)
	w.rotate()
	w.reopen()
	w.add(170)
	w.rotate()
	w.reopen()
	w.add(40)
	if !copytrunc {
		w.half() // completed in the renamed file (copytruncate would cut it)
	}

	// A first follower reads everything; with partly, only a prefix of the
	// chunks up to the middle of A is committed (a crash) and A is gzipped
	// with its tail unread.
	opts := testOpts(dir, "mail.log*")
	opts.MaxChunkBytes = 2048
	s := newSink(t)
	s.strict = true
	f := New(opts, nil)
	one := live + ".1"
	fi, err := os.Stat(one)
	if err != nil {
		t.Fatal(err)
	}
	cut := false
	for quiet := 0; quiet < 2; {
		cs := poll(t, f)
		if len(cs) == 0 && f.CaughtUp() {
			quiet++
		}
		for _, c := range cs {
			if cut {
				continue
			}
			s.commit([]Chunk{c})
			if partly && c.Path == one && c.Cursor.Offset > fi.Size()/2 {
				cut = true
			}
		}
	}
	f.Close()

	// The rotation, one step at a time: shift, gzip mail.log.2 (written in
	// three goes, then the plain file removed), then copytruncate or rename
	// the live file, then more lines.
	two := live + ".2"
	var z []byte
	steps := []func(){
		func() { mustRename(t, two, live+".3") },
		func() {
			mustRename(t, one, two)
			b, err := os.ReadFile(two)
			if err != nil {
				t.Fatal(err)
			}
			z = gzCached(t, b)
		},
		func() { os.WriteFile(two+".gz", z[:len(z)/3], 0o644) },
		func() { os.WriteFile(two+".gz", z[:2*len(z)/3], 0o644) },
		func() { os.WriteFile(two+".gz", z, 0o644) },
		func() { os.Remove(two) },
	}
	if copytrunc {
		steps = append(steps,
			func() {
				b, err := os.ReadFile(live)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(one, b, 0o644)
			},
			func() { os.Truncate(live, 0) },
			func() { w.add(3) })
	} else {
		steps = append(steps,
			func() { mustRename(t, live, one) },
			func() { w.finish(); w.add(2) }, // late lines to the renamed file
			func() { w.reopen(); w.add(3) })
	}
	sfs := &stepFS{at: at, gap: gap, steps: steps}
	if os.Getenv("FOLLOW_TRACE") != "" {
		sfs.logf = t.Logf
	}
	opts.FS = sfs
	f = New(opts, s.cursors())
	for i := range 6 {
		cs := poll(t, f)
		if i != restart || restart%2 == 1 {
			s.commit(cs)
		}
		if i == restart {
			f.Close()
			f = New(opts, s.cursors())
		}
	}
	sfs.flush()
	w.finish()
	w.add(5)
	s.run(f, 10*time.Second)
	f.Close()
	s.exactlyOnce(w)
}

var gzCache = map[string][]byte{}

// gzCached is gzBytes, once per content: the runs above compress the same
// file thousands of times.
func gzCached(t *testing.T, b []byte) []byte {
	z, ok := gzCache[string(b)]
	if !ok {
		z = gzBytes(t, b)
		gzCache[string(b)] = z
	}
	return z
}
