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
			ffs := &faultFS{}
			opts.FS = ffs
			down := false
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
				case op < 51:
					// the mount drops (ENOTCONN, EIO on reads) or comes back
					down = !down
					switch {
					case !down:
						ffs.set(nil, nil)
					case rng.IntN(2) == 0:
						ffs.set(errNotConn, nil)
					default:
						ffs.set(nil, errIO)
					}
					logf("down=%v", down)
					ops["outage"]++
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
			ffs.set(nil, nil)
			s.run(f, 10*time.Second)
			f.Close()
			s.exactlyOnce(w)
			t.Logf("%d lines, %d chunks, %d crashes, ops %v, %d cursors", len(w.lines), s.chunks, crashes, ops, len(s.committed))
		})
	}
}

// The PowerMTA shape under crashes: a new acct file per rotation, every
// file starting with the same header, some holding only the header for a
// while, old ones compressed. Every record once.
func TestRestartPowerMTAFiles(t *testing.T) {
	for seed := uint64(1); seed <= uint64(pmtaSeeds()); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			hdr := "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,vmta,jobId,envId,queue,vmtaPool"
			opts := testOpts(dir, "acct-*.csv", "acct-*.csv.gz")
			opts.MaxChunkBytes = 200 + rng.IntN(3000)
			s := newSink(t)
			s.strict = true
			s.repeated = map[string]bool{hdr: true}
			f := New(opts, nil)
			w := &writer{t: t, has: map[string]bool{}}
			file := 0
			var cur *os.File
			open := func() {
				if cur != nil {
					cur.Close()
				}
				file++
				cur, _ = os.Create(filepath.Join(dir, fmt.Sprintf("acct-2026-11-27-%04d.csv", file)))
				cur.WriteString(hdr + "\n")
			}
			open()
			for step := 0; step < 300; step++ {
				switch op := rng.IntN(100); {
				case op < 35:
					for range 1 + rng.IntN(20) {
						w.n++
						l := fmt.Sprintf("d,2026-11-27 10:00:%02d+0000,2026-11-27 10:00:00+0000,b@example.net,u%d@gmail.com,,relayed,2.0.0 (success),smtp;250 OK,mx,,smtp,pmta,smtp,10.0.0.1,142.250.1.27,vmta-new,,,gmail.com/vmta-new,pool", w.n%60, w.n)
						w.record(l)
						cur.WriteString(l + "\n")
					}
				case op < 45:
					open() // rotation: a new file, header only until records come
				case op < 48:
					for i := 1; i < file-1; i++ {
						p := filepath.Join(dir, fmt.Sprintf("acct-2026-11-27-%04d.csv", i))
						if _, err := os.Stat(p); err == nil && rng.IntN(3) == 0 {
							gzipFile(t, p)
						}
					}
				case op < 85:
					s.commit(poll(t, f))
				case op < 95:
					poll(t, f)
					f.Close()
					f = New(opts, s.cursors())
				default:
					f.Close()
					f = New(opts, s.cursors())
				}
			}
			cur.Close()
			s.run(f, 10*time.Second)
			f.Close()
			s.exactlyOnce(&writer{t: t, lines: append(w.lines, hdr), has: mergeHas(w.has, hdr)})
		})
	}
}

func mergeHas(m map[string]bool, extra string) map[string]bool {
	m[extra] = true
	return m
}

func pmtaSeeds() int {
	if n, _ := strconv.Atoi(os.Getenv("FOLLOW_SEEDS")); n > 0 {
		return n
	}
	return 6
}
