package follow

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cutover/state"
)

// sink plays the pipeline: it "commits" chunks (lines counted + cursor
// stored under its key) and checks every chunk's invariants on the way.
type sink struct {
	t         testing.TB
	committed map[string]state.Cursor
	counts    map[string]int // line text -> times committed
	order     []string
	chunks    int
	long      []LongLine
	headers   map[string][]byte // path -> header given with NewFile
	last      string            // path of the previous chunk
	strict    bool              // fail at the first line committed twice
	repeated  map[string]bool   // lines every file has (PowerMTA header)
}

func newSink(t testing.TB) *sink {
	return &sink{t: t, committed: map[string]state.Cursor{}, counts: map[string]int{}, headers: map[string][]byte{}}
}

func (s *sink) cursors() []state.Cursor {
	var out []state.Cursor
	for _, c := range s.committed {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// check verifies one chunk without committing it.
func (s *sink) check(c Chunk) {
	s.t.Helper()
	if len(c.Data) > 0 && c.Data[len(c.Data)-1] != '\n' {
		s.t.Fatalf("%s: chunk does not end with a newline: %q", c.Path, tailStr(c.Data))
	}
	if len(c.Data) > 0 && len(c.TooLong) > 0 {
		s.t.Fatalf("%s: chunk with both data and too-long lines", c.Path)
	}
	if c.Cursor.Offset < int64(len(c.Data)) {
		s.t.Fatalf("%s: offset %d < data %d", c.Path, c.Cursor.Offset, len(c.Data))
	}
	if c.Cursor.FPLen <= 0 || c.Cursor.FPLen > FPMax || c.Cursor.MarkLen > MarkMax {
		s.t.Fatalf("%s: bad cursor %+v", c.Path, c.Cursor)
	}
	if c.Cursor.Offset < FPMax && int64(c.Cursor.FPLen) < c.Cursor.Offset {
		s.t.Fatalf("%s: fingerprint %d does not cover offset %d", c.Path, c.Cursor.FPLen, c.Cursor.Offset)
	}
	if !c.NewFile && c.Path != s.last && s.last != "" {
		s.t.Fatalf("chunk of %s follows %s without NewFile", c.Path, s.last)
	}
}

// commit applies a poll's chunks as one transaction.
func (s *sink) commit(cs []Chunk) {
	s.t.Helper()
	for _, c := range cs {
		if os.Getenv("FOLLOW_TRACE") != "" {
			s.t.Logf("%s chunk %s new=%v [%d,%d) fp=%d key=%s prev=%s done=%v long=%v", time.Now().Format("05.000"), filepath.Base(c.Path), c.NewFile,
				c.Cursor.Offset-int64(len(c.Data)), c.Cursor.Offset, c.Cursor.FPLen, c.Cursor.Key()[4:], c.PrevKey, c.Cursor.Done, c.TooLong)
		}
		s.check(c)
		s.last = c.Path
		if c.NewFile {
			s.headers[c.Path] = c.Header
		}
		for _, l := range strings.SplitAfter(string(c.Data), "\n") {
			if l == "" {
				continue
			}
			l = strings.TrimSuffix(l, "\n")
			s.counts[l]++
			if s.strict && s.counts[l] > 1 && !s.repeated[l] {
				s.t.Fatalf("%s: line committed twice: %q (chunk at %d, key %s)", c.Path, short(l), c.Cursor.Offset-int64(len(c.Data)), c.Cursor.Key()[4:])
			}
			s.order = append(s.order, l)
		}
		s.long = append(s.long, c.TooLong...)
		if c.PrevKey != "" {
			delete(s.committed, c.PrevKey)
		}
		s.committed[c.Cursor.Key()] = c.Cursor
		s.chunks++
	}
}

// run polls until the follower is caught up and idle for a few rounds.
func (s *sink) run(f *Follower, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	quiet := 0
	for quiet < 3 {
		cs, err := f.Poll()
		if err != nil {
			s.t.Fatal(err)
		}
		s.commit(cs)
		if len(cs) == 0 && f.CaughtUp() {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not caught up after %v: %+v", within, f.Status())
		}
		time.Sleep(time.Millisecond)
	}
}

// exactlyOnce asserts every written line was committed once and nothing
// else was.
func (s *sink) exactlyOnce(w *writer) {
	s.t.Helper()
	bad := 0
	for _, l := range w.lines {
		if n := s.counts[l]; n != 1 && !(s.repeated[l] && n > 0) {
			if bad < 10 {
				s.t.Errorf("line %q committed %d times", short(l), n)
			}
			bad++
		}
	}
	if len(s.counts) != len(w.lines) {
		for l := range s.counts {
			if !w.has[l] && bad < 20 {
				s.t.Errorf("unexpected line %q", short(l))
				bad++
			}
		}
	}
	if bad > 0 {
		s.t.Fatalf("%d bad lines of %d written, %d distinct committed", bad, len(w.lines), len(s.counts))
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + fmt.Sprintf("...(%d)", len(s))
	}
	return s
}

func tailStr(b []byte) string {
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return string(b)
}

// writer is an MTA writing a log: it keeps its descriptor across renames,
// like syslog until it is told to reopen.
type writer struct {
	t     testing.TB
	path  string
	f     *os.File
	n     int
	lines []string
	has   map[string]bool
	part  string // a started line not yet terminated
	pad   string
}

func newWriter(t testing.TB, path string) *writer {
	w := &writer{t: t, path: path, has: map[string]bool{}, pad: " status=sent (250 2.0.0 OK)"}
	w.reopen()
	return w
}

func (w *writer) reopen() {
	w.t.Helper()
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *writer) next() string {
	w.n++
	return fmt.Sprintf("Nov 27 10:%02d:%02d mx postfix/smtp[%d]: Q%08d: to=<u%d@example.com>%s",
		(w.n/60)%60, w.n%60, 1000+w.n, w.n, w.n, w.pad)
}

func (w *writer) write(s string) {
	w.t.Helper()
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

// add writes n complete lines.
func (w *writer) add(n int) {
	var b strings.Builder
	for range n {
		l := w.next()
		w.record(l)
		b.WriteString(l + "\n")
	}
	w.write(b.String())
}

func (w *writer) record(l string) {
	w.lines = append(w.lines, l)
	w.has[l] = true
}

// half writes the first half of a line; finish writes the rest.
func (w *writer) half() {
	if w.part != "" {
		return
	}
	w.part = w.next()
	w.write(w.part[:len(w.part)/2])
}

func (w *writer) finish() {
	if w.part == "" {
		return
	}
	w.write(w.part[len(w.part)/2:] + "\n")
	w.record(w.part)
	w.part = ""
}

func (w *writer) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

func mustRename(t testing.TB, a, b string) {
	t.Helper()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
}

// shift renames base.N(.gz) to base.N+1(.gz), oldest first, like logrotate.
func shift(t testing.TB, base string) {
	t.Helper()
	top := 0
	for i := 1; ; i++ {
		_, err1 := os.Stat(fmt.Sprintf("%s.%d", base, i))
		_, err2 := os.Stat(fmt.Sprintf("%s.%d.gz", base, i))
		if err1 != nil && err2 != nil {
			break
		}
		top = i
	}
	for i := top; i >= 1; i-- {
		for _, ext := range []string{"", ".gz"} {
			from := fmt.Sprintf("%s.%d%s", base, i, ext)
			if _, err := os.Stat(from); err == nil {
				mustRename(t, from, fmt.Sprintf("%s.%d%s", base, i+1, ext))
			}
		}
	}
}

// rotate is logrotate's default (create): rename, then the writer reopens.
func (w *writer) rotate() {
	shift(w.t, w.path)
	mustRename(w.t, w.path, w.path+".1")
}

// copytruncate is logrotate's copytruncate: copy, then truncate in place;
// the writer keeps its O_APPEND descriptor.
func (w *writer) copytruncate() {
	w.t.Helper()
	shift(w.t, w.path)
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(w.path+".1", b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Truncate(w.path, 0); err != nil {
		w.t.Fatal(err)
	}
}

func gzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipFile compresses path to path.gz and removes path, like gzip(1).
func gzipFile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".gz", gzBytes(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func testOpts(dir string, globs ...string) Options {
	for i, g := range globs {
		globs[i] = filepath.Join(dir, g)
	}
	return Options{Source: "src", Globs: globs, MaxBackoff: 20 * time.Millisecond,
		RotateWait: 50 * time.Millisecond, MaxChunkBytes: 64 << 10}
}

func poll(t testing.TB, f *Follower) []Chunk {
	t.Helper()
	cs, err := f.Poll()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// faultFS injects the errors of a dropped sshfs mount into every call.
type faultFS struct {
	OS
	mu      sync.Mutex
	err     error // returned by every call while set
	readErr error // returned by ReadAt only
}

func (f *faultFS) set(err, readErr error) {
	f.mu.Lock()
	f.err, f.readErr = err, readErr
	f.mu.Unlock()
}

func (f *faultFS) get() (error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err, f.readErr
}

func (f *faultFS) ReadDirNames(dir string) ([]string, error) {
	if err, _ := f.get(); err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return f.OS.ReadDirNames(dir)
}

func (f *faultFS) Stat(name string) (fs.FileInfo, error) {
	if err, _ := f.get(); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return f.OS.Stat(name)
}

func (f *faultFS) Open(name string) (File, error) {
	if err, _ := f.get(); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	of, err := f.OS.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: of, fs: f, name: name}, nil
}

type faultFile struct {
	File
	fs   *faultFS
	name string
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err, rerr := f.fs.get(); err != nil || rerr != nil {
		if err == nil {
			err = rerr
		}
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Stat() (fs.FileInfo, error) {
	if err, _ := f.fs.get(); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	return f.File.Stat()
}

var (
	errNotConn = syscall.ENOTCONN
	errIO      = syscall.EIO
	errStale   = syscall.ESTALE
)

var _ = io.EOF
