package follow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 13.1: a line of about 8.4 MB (over twice MaxLineBytes, with the
// defaults) panicked in readTrack (index out of range) at the same offset
// after every restart. It is skipped, counted and reported, the cursor
// moves past it, and the lines after it are read, with default options,
// whether it is the first line or comes after others, and whether it is
// written at once or grows across polls.
func TestHugeLineDefaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string
		size   int
		pieces int
	}{
		{"first-8.4MB", "", 8400000, 1},
		{"first-10MB", "", 10 << 20, 1},
		{"after-lines-8.4MB", "one\ntwo\n", 8400000, 1},
		{"grows-8.4MB", "one\n", 8400000, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "mail.log")
			os.WriteFile(p, []byte(tc.before), 0o644)
			opts := Options{Source: "src", Globs: []string{filepath.Join(dir, "mail.log")}}
			s := newSink(t)
			f := New(opts, nil)
			defer func() { f.Close() }()
			w, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			defer w.Close()
			huge := strings.Repeat("h", tc.size)
			step := (tc.size + tc.pieces - 1) / tc.pieces
			for i := 0; i < tc.size; i += step {
				w.WriteString(huge[i:min(i+step, tc.size)])
				s.commit(poll(t, f))
			}
			w.WriteString("\nafter\n")
			s.run(f, 10*time.Second)
			// a restart at the committed cursor reads nothing again
			f.Close()
			f = New(opts, s.cursors())
			s.run(f, 10*time.Second)
			if s.counts["after"] != 1 || (tc.before != "" && s.counts["one"] != 1) {
				t.Fatalf("after=%d one=%d", s.counts["after"], s.counts["one"])
			}
			if len(s.long) != 1 || s.long[0].Offset != int64(len(tc.before)) || s.long[0].Length != int64(tc.size+1) ||
				s.long[0].Line != int64(strings.Count(tc.before, "\n"))+1 {
				t.Fatalf("too long: %+v", s.long)
			}
			c := s.cursors()[0]
			lines := int64(strings.Count(tc.before, "\n")) + 2
			if c.Offset != int64(len(tc.before)+tc.size+1+6) || c.Rejected != 1 || c.Lines != lines {
				t.Fatalf("cursor %+v", c)
			}
		})
	}
}
