package follow

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A crash at arbitrary points: the chunks of the poll in flight are lost
// (not committed) and a new Follower starts from the committed cursors,
// while the log rotates by rename, by copytruncate and gets compressed.
// Every line must be committed exactly once.
func TestRestartAtArbitraryPoints(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if testing.Short() {
		seeds = seeds[:2]
	}
	if n, _ := strconv.Atoi(os.Getenv("FOLLOW_SEEDS")); n > 0 {
		seeds = seeds[:0]
		for i := range n {
			seeds = append(seeds, uint64(100+i))
		}
		if one, _ := strconv.Atoi(os.Getenv("FOLLOW_SEED")); one > 0 {
			seeds = []uint64{uint64(one)}
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			dir := t.TempDir()
			w := newWriter(t, filepath.Join(dir, "mail.log"))
			defer w.close()
			opts := testOpts(dir, "mail.log*")
			opts.MaxChunkBytes = 1 + rng.IntN(3000)
			opts.MaxPollBytes = opts.MaxChunkBytes * (1 + rng.IntN(4))
			s := newSink(t)
			s.strict = true
			trace := os.Getenv("FOLLOW_TRACE") != ""
			logf := func(format string, a ...any) {
				if trace {
					t.Logf(format, a...)
				}
			}
			f := New(opts, nil)
			crashes, ops := 0, map[string]int{}
			for step := 0; step < 400; step++ {
				switch op := rng.IntN(100); {
				case op < 30:
					w.finish()
					n := 1 + rng.IntN(40)
					w.add(n)
					logf("add %d (to line %d)", n, w.n)
					ops["add"]++
				case op < 38:
					w.half()
					logf("half")
					ops["half"]++
				case op < 42:
					// rename rotation; the old descriptor completes its line
					// and writes a few late lines before the reopen
					w.rotate()
					w.finish()
					w.add(rng.IntN(3))
					w.reopen()
					logf("rotate")
					ops["rotate"]++
				case op < 45:
					if w.part == "" {
						w.copytruncate()
						logf("copytruncate")
						ops["copytruncate"]++
					}
				case op < 48:
					for i := 2; i < 30; i++ {
						p := fmt.Sprintf("%s.%d", w.path, i)
						if _, err := os.Stat(p); err == nil {
							gzipFile(t, p)
							logf("gzip %s", filepath.Base(p))
							ops["gzip"]++
							break
						}
					}
				case op < 85:
					logf("poll")
					s.commit(poll(t, f))
					ops["poll"]++
				case op < 95:
					logf("poll+crash")
					poll(t, f) // read, then crash before the commit
					f.Close()
					f = New(opts, s.cursors())
					crashes++
				default:
					logf("crash")
					f.Close()
					f = New(opts, s.cursors())
					crashes++
				}
			}
			w.finish()
			s.run(f, 10*time.Second)
			f.Close()
			s.exactlyOnce(w)
			t.Logf("%d lines, %d chunks, %d crashes, ops %v, %d cursors", len(w.lines), s.chunks, crashes, ops, len(s.committed))
		})
	}
}
