package follow

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pollUntil polls (committing) until cond holds.
func (s *sink) pollUntil(f *Follower, within time.Duration, what string, cond func(SourceStatus) bool) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s.commit(poll(s.t, f))
		if st := f.Status(); cond(st) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not reached in %v: %+v", what, within, f.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isStale(st SourceStatus) bool {
	return st.State == Stale && st.LastError != "" && !st.Since.IsZero()
}

// The sshfs fault, simulated by moving the directory away and back: the
// source goes stale with the error, nothing is read twice, and reading
// resumes where it was once the files are back.
func TestDirectoryVanishesAndReturns(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	os.Mkdir(dir, 0o755)
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	w.add(40)
	w.half()
	s.run(f, time.Second)

	for round, fault := range []string{"moved", "replaced by a file", "moved"} {
		away := filepath.Join(root, "away")
		mustRename(t, dir, away)
		if fault == "replaced by a file" {
			os.WriteFile(dir, []byte("not a directory\n"), 0o644) // ENOTDIR, like a dead mount point
		}
		w.finish()
		w.add(10) // written while we cannot see it
		s.pollUntil(f, time.Second, "stale", isStale)
		st := f.Status()
		if !strings.Contains(st.LastError, "logs") || st.CaughtUp {
			t.Fatalf("round %d: %+v", round, st)
		}
		w.add(5)
		if round == 1 {
			// rotated while unreachable: found again by fingerprint
			mustRename(t, filepath.Join(away, "mail.log"), filepath.Join(away, "mail.log.1"))
			w.add(3)
			w.path = filepath.Join(away, "mail.log")
			w.reopen()
			w.add(4)
			w.path = filepath.Join(dir, "mail.log")
		}
		w.half()
		os.Remove(dir)
		mustRename(t, away, dir)
		w.finish()
		s.pollUntil(f, 2*time.Second, "recovered", func(st SourceStatus) bool { return st.LastError == "" && st.CaughtUp })
	}
	w.reopen()
	w.add(7)
	s.run(f, 2*time.Second)
	s.exactlyOnce(w)
}

// chmod 000 on the directory: the EACCES path. Root ignores permissions,
// so it is skipped there (the injected faults below cover the same code).
func TestDirectoryPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses chmod 000; see TestInjectedFaults")
	}
	dir := t.TempDir()
	w := newWriter(t, filepath.Join(dir, "mail.log"))
	defer w.close()
	s := newSink(t)
	f := New(testOpts(dir, "mail.log*"), nil)
	defer f.Close()
	w.add(20)
	s.run(f, time.Second)
	os.Chmod(dir, 0)
	defer os.Chmod(dir, 0o755)
	w.add(5)
	s.pollUntil(f, time.Second, "stale", isStale)
	if !strings.Contains(f.Status().LastError, "permission denied") {
		t.Fatalf("%+v", f.Status())
	}
	os.Chmod(dir, 0o755)
	s.run(f, 2*time.Second)
	s.exactlyOnce(w)
}

// ENOTCONN, EIO and ESTALE injected through the FS seam into listing, stat,
// open and read, with rotation while the mount is down.
func TestInjectedFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err, read error
	}{
		{"ENOTCONN everywhere", syscall.ENOTCONN, nil},
		{"ESTALE everywhere", syscall.ESTALE, nil},
		{"EIO on read only", nil, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newWriter(t, filepath.Join(dir, "mail.log"))
			defer w.close()
			ffs := &faultFS{}
			opts := testOpts(dir, "mail.log*")
			opts.FS = ffs
			s := newSink(t)
			f := New(opts, nil)
			defer f.Close()
			w.add(30)
			w.half()
			s.run(f, time.Second)
			want := tc.err
			if want == nil {
				want = tc.read
			}
			for round := range 3 {
				ffs.set(tc.err, tc.read)
				w.finish()
				w.add(10)
				s.pollUntil(f, time.Second, "stale", isStale)
				st := f.Status()
				if !strings.Contains(st.LastError, want.Error()) {
					t.Fatalf("error %q does not say %q", st.LastError, want)
				}
				if tc.read == nil && st.NextRetry.Before(st.Since) {
					t.Fatalf("no retry scheduled: %+v", st)
				}
				// Backoff: polls during it do no I/O and change nothing.
				for range 5 {
					s.commit(poll(t, f))
				}
				if round == 1 {
					w.rotate()
					w.add(2)
					w.reopen()
				}
				w.add(5)
				w.half()
				ffs.set(nil, nil)
				s.pollUntil(f, 2*time.Second, "recovered", func(st SourceStatus) bool { return st.LastError == "" && st.CaughtUp })
			}
			w.finish()
			s.run(f, 2*time.Second)
			s.exactlyOnce(w)
		})
	}
}

// Listing errors must reach Status, not disappear the way filepath.Glob
// swallows them.
func TestGlobErrorNotSwallowed(t *testing.T) {
	f := New(Options{Source: "x", Globs: []string{"/nonexistent-dir-for-follow-test/*.log"}, MaxBackoff: time.Millisecond}, nil)
	poll(t, f)
	st := f.Status()
	if st.State != Stale || !strings.Contains(st.LastError, "no such file") {
		t.Fatalf("%+v", st)
	}
	if _, err := New(Options{Source: "x", Globs: []string{"/tmp/[a"}}, nil).Poll(); err == nil {
		t.Fatal("bad pattern accepted")
	}
	if _, err := New(Options{Source: "x"}, nil).Poll(); err == nil {
		t.Fatal("no globs accepted")
	}
}

func TestBackoffCapped(t *testing.T) {
	var prev time.Duration
	for n := 1; n < 20; n++ {
		d := backoff(n, 5*time.Second)
		if d < prev || d > 5*time.Second {
			t.Fatalf("backoff(%d) = %v after %v", n, d, prev)
		}
		prev = d
	}
	if prev != 5*time.Second || backoff(1, 5*time.Second) != 250*time.Millisecond {
		t.Fatalf("cap %v", prev)
	}
}

// Unreachable once the listing has failed for UnreachableAfter.
func TestUnreachableAfter(t *testing.T) {
	now := time.Unix(1e9, 0)
	f := New(Options{Source: "x", Globs: []string{"/nonexistent-dir-for-follow-test/*.log"},
		Now: func() time.Time { return now }, UnreachableAfter: time.Minute}, nil)
	poll(t, f)
	if st := f.Status(); st.State != Stale {
		t.Fatalf("%+v", st)
	}
	now = now.Add(2 * time.Minute)
	poll(t, f)
	if st := f.Status(); st.State != Unreachable || st.Since != time.Unix(1e9, 0) {
		t.Fatalf("%+v", st)
	}
}
