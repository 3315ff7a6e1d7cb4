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
	frozen map[string]string // path -> snapshot file
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
	s.frozen = nil
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

func (s *staleFS) Stat(name string) (fs.FileInfo, error) { return s.OS.Stat(s.view(name)) }
func (s *staleFS) Open(name string) (File, error)        { return s.OS.Open(s.view(name)) }

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
