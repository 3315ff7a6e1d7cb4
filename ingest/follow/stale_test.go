package follow

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// staleFS shows frozen copies of some paths, as an sshfs mount does for up
// to its attribute-cache timeout (20 s by default): the listing shows the
// rotated names already, while the old name still has the old size, and
// the old inode number (sshfs numbers inodes by path).
type staleFS struct {
	OS
	mu     sync.Mutex
	frozen map[string]string      // path -> snapshot file
	stats  map[string]fs.FileInfo // path -> stat shown (open is fresh)
}

// freezeStat keeps showing path's current stat while opening it gives
// what is there now: sshfs with dir_cache=no still has the kernel's
// attribute cache (attr_timeout, 1 s), and its inode numbers follow the
// name, not the file.
func (s *staleFS) freezeStat(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats == nil {
		s.stats = map[string]fs.FileInfo{}
	}
	s.stats[path] = fi
}

func (s *staleFS) freeze(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap")
	if err := os.WriteFile(snap, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen == nil {
		s.frozen = map[string]string{}
	}
	s.frozen[path] = snap
}

func (s *staleFS) thaw() {
	s.mu.Lock()
	s.frozen, s.stats = nil, nil
	s.mu.Unlock()
}

func (s *staleFS) view(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.frozen[name]; ok {
		return p
	}
	return name
}

func (s *staleFS) Stat(name string) (fs.FileInfo, error) {
	s.mu.Lock()
	fi, ok := s.stats[name]
	s.mu.Unlock()
	if ok {
		return fi, nil
	}
	return s.OS.Stat(s.view(name))
}
func (s *staleFS) Open(name string) (File, error) { return s.OS.Open(s.view(name)) }

// Cause found on a real sshfs mount: after logrotate moved mail.log to
// mail.log.1 and gzip made mail.log.1.gz of it, the mount listed the .gz
// while mail.log still showed the old file from the attribute cache. The
// .gz holds the cursor's content and more, the stale mail.log is a prefix
// of it: the .gz was read from 0 as a new file and the first lines counted
// twice (37 lines of 1,454 in one run).
func TestStaleNameNextToItsGzip(t *testing.T) {
	for _, gz := range []bool{true, false} {
		dir := t.TempDir()
		sfs := &staleFS{}
		w := newWriter(t, filepath.Join(dir, "mail.log"))
		s := newSink(t)
		s.strict = true
		opts := testOpts(dir, "mail.log*")
		opts.FS = sfs
		f := New(opts, nil)
		w.add(20)
		s.commit(poll(t, f))
		sfs.freeze(t, w.path) // the mount goes on showing this
		w.add(15)             // read only through the rotated name
		w.rotate()
		w.reopen()
		w.add(5)
		if gz {
			gzipFile(t, w.path+".1")
		}
		for range 3 {
			s.commit(poll(t, f))
		}
		sfs.thaw()
		s.run(f, 5*time.Second)
		s.exactlyOnce(w)
		w.close()
		f.Close()
	}
}

// Cause found on a real sshfs mount with dir_cache=no: mail.log was
// renamed to mail.log.1 and a new, smaller mail.log created; the listing
// showed mail.log.1 while the stat of mail.log was still the old file's
// (attribute cache), so its cursor stayed bound to mail.log. mail.log.1
// holds that cursor's content and more, but the check that the old name's
// file is a prefix of it opened mail.log, found the new file, and gave up:
// mail.log.1 was read from 0 as a new file (up to 891 lines of 2,910
// counted twice).
func TestStaleStatNextToRenamed(t *testing.T) {
	for _, late := range []int{0, 5} {
		dir := t.TempDir()
		sfs := &staleFS{}
		w := newWriter(t, filepath.Join(dir, "mail.log"))
		s := newSink(t)
		s.strict = true
		opts := testOpts(dir, "mail.log*")
		opts.FS = sfs
		f := New(opts, nil)
		w.add(80) // over FPMax
		s.commit(poll(t, f))
		sfs.freezeStat(t, w.path)
		w.add(late)
		w.rotate()
		w.reopen()
		w.add(3)
		for range 3 {
			s.commit(poll(t, f))
		}
		sfs.thaw()
		w.add(2)
		s.run(f, 5*time.Second)
		s.exactlyOnce(w)
		w.close()
		f.Close()
	}
}
