package follow

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 11.2: an NFS or sshfs client can show a file's new size before its
// bytes, the gap reading as NULs. A NUL run at the end is "not written
// yet": no line is made of it, the fingerprint does not include it, and
// when the real bytes arrive they are read once. Before, a file under
// 4 KiB got a fingerprint with NULs in it and was read again from 0 (lines
// doubled), and a larger one kept the NULs as the start of its partial line
// (the real line lost).
func TestNULTailNotYetWritten(t *testing.T) {
	for _, lines := range []int{5, 80} { // under and over FPMax
		dir := t.TempDir()
		p := filepath.Join(dir, "mail.log")
		w := newWriter(t, p)
		s := newSink(t)
		s.strict = true
		f := New(testOpts(dir, "mail.log*"), nil)
		w.add(lines)
		s.commit(poll(t, f))
		for round := range 3 {
			// The size grows first, the bytes come later.
			var next strings.Builder
			var recs []string
			for range 3 {
				l := w.next()
				recs = append(recs, l)
				next.WriteString(l + "\n")
			}
			fi, _ := os.Stat(p)
			at := fi.Size()
			h, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			cut := next.Len() - 20 - round // part of the last line is still NULs
			h.WriteAt(make([]byte, next.Len()), at)
			s.commit(poll(t, f))
			h.WriteAt([]byte(next.String()[:cut]), at)
			s.commit(poll(t, f))
			h.WriteAt([]byte(next.String()[cut:]), at+int64(cut))
			h.Close()
			for _, l := range recs {
				w.record(l)
			}
			s.commit(poll(t, f))
		}
		w.add(2)
		s.run(f, 5*time.Second)
		s.exactlyOnce(w)
		for l := range s.counts {
			if strings.IndexByte(l, 0) >= 0 {
				t.Fatalf("a line with NULs: %q", l)
			}
		}
		for _, c := range s.cursors() {
			if b, _ := os.ReadFile(p); bytes.IndexByte(b[:c.FPLen], 0) >= 0 || fnv64(b[:c.FPLen]) != c.FPHash {
				t.Fatalf("fingerprint is not the file's first %d bytes", c.FPLen)
			}
		}
		w.close()
		f.Close()
	}
}
