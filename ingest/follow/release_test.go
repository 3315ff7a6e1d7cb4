package follow

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Released buffers are reused by later reads, so no chunk may share a
// buffer with another one that is released before it is done with: every
// chunk's Data must still hold the file's bytes after the following polls
// (which reuse whatever was released), across partial lines, too-long lines
// inside a read, and reads appended into one chunk.
func TestReleaseReuse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	rng := rand.New(rand.NewPCG(5, 6))
	var content []byte
	w, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	opts := testOpts(dir, "mail.log")
	opts.MaxChunkBytes = 4 << 10
	opts.MaxLineBytes = 3 << 10
	opts.MaxPollBytes = 16 << 10
	f := New(opts, nil)
	defer f.Close()
	type held struct {
		c          Chunk
		start, end int64
	}
	var pending []held
	longSeen := 0
	for round := 0; round < 300; round++ {
		// Append lines of random sizes (some too long), sometimes a
		// partial last line.
		var add []byte
		for i := rng.IntN(20); i > 0; i-- {
			n := 20 + rng.IntN(400)
			if rng.IntN(25) == 0 {
				n = 3<<10 + rng.IntN(5000) // too long
			}
			add = append(add, bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n)...)
			add = append(add, fmt.Sprintf(" %d\n", len(content)+len(add))...)
		}
		if rng.IntN(3) == 0 {
			add = append(add, "partial"...)
		}
		w.Write(add)
		content = append(content, add...)
		// The chunks of the previous poll are checked after this one
		// has read (reusing released buffers), then released.
		cs := poll(t, f)
		for _, h := range pending {
			if !bytes.Equal(h.c.Data, content[h.start:h.end]) {
				t.Fatalf("round %d: chunk [%d,%d) changed after a later read", round, h.start, h.end)
			}
			f.Release(&h.c)
		}
		pending = pending[:0]
		for _, c := range cs {
			longSeen += len(c.TooLong)
			if len(c.Data) == 0 {
				f.Release(&c)
				continue
			}
			end := c.Cursor.Offset
			start := end - int64(len(c.Data))
			if !bytes.Equal(c.Data, content[start:end]) {
				t.Fatalf("round %d: chunk [%d,%d) is not the file's bytes", round, start, end)
			}
			pending = append(pending, held{c, start, end})
		}
	}
	if longSeen < 5 {
		t.Fatalf("only %d too-long lines exercised", longSeen)
	}
}
