//go:build sshfs

package follow

// Exactly-once following through a real sshfs mount: a real OpenSSH sshd on
// 127.0.0.1 with a throw-away key, `sshfs -o reconnect`, files written and
// rotated on the server side while the follower reads them through the
// mount. Needs root, /dev/fuse, sshd, sshfs and fusermount
// (scripts/ci-deps.sh installs them); under CI=true their absence fails.

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/ingest/follow/sshfstest"
)

// settle polls until every written line was committed at least once and the
// follower is caught up, or within passes; sshfs caches attributes, so
// "caught up" alone can be seen before the last bytes show.
func settle(t testing.TB, f *Follower, s *sink, want int, within time.Duration) {
	t.Helper()
	t0 := time.Now()
	for time.Since(t0) < within {
		cs, err := f.Poll()
		if err != nil {
			t.Fatal(err)
		}
		s.commit(cs)
		traceStatus(t, f)
		if len(s.counts) >= want && f.CaughtUp() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A little longer: a late duplicate shows now or never.
	for range 10 {
		cs, _ := f.Poll()
		s.commit(cs)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("settled after %v: %d distinct lines of %d; status %+v", time.Since(t0).Round(time.Millisecond), len(s.counts), want, f.Status())
}

var lastTrace = map[string]string{}

func traceStatus(t testing.TB, f *Follower) {
	if os.Getenv("FOLLOW_TRACE") == "" {
		return
	}
	st := f.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s):", st.State, st.LastError)
	for _, x := range st.Files {
		fmt.Fprintf(&b, " %s=%s@%d/%d", filepath.Base(x.Path), x.State, x.Offset, x.Size)
	}
	if b.String() != lastTrace[st.Source] {
		lastTrace[st.Source] = b.String()
		t.Logf("%s %s %s", time.Now().Format("05.000"), st.Source, b.String())
	}
}

// mtaLog is one MTA's log on the server side, its follower through the
// mount, and what the follower committed.
type mtaLog struct {
	name string
	f    *Follower
	s    *sink
	w    *writer // Postfix and Exim
	// PowerMTA: a new acct file per period, the previous one gzipped.
	pmtaDir  string
	pmtaN    int
	pmtaHdr  string
	pmtaLine int
	lines    []string
	rotate   func(rng *rand.Rand)
	states   map[State]bool // seen while the server was away
}

const pmtaHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

func (l *mtaLog) pmtaPath(n int) string {
	return filepath.Join(l.pmtaDir, fmt.Sprintf("acct-2026-11-27-%04d.csv", n))
}

// add writes n lines.
func (l *mtaLog) add(n int) {
	if l.w != nil {
		l.w.add(n)
		return
	}
	var b strings.Builder
	for range n {
		l.pmtaLine++
		r := fmt.Sprintf("d,2026-11-27 10:%02d:%02d+0000,2026-11-27 10:00:00+0000,bounce@example.net,u%d@gmail.com,,relayed,2.0.0 (success),smtp;250 2.0.0 OK,gmail-smtp-in.l.google.com (142.250.1.27),,smtp,pmta,smtp,10.0.0.1,142.250.1.27,PIPELINING,4321,vmta-new,,,gmail.com/vmta-new,pool",
			l.pmtaLine/60%60, l.pmtaLine%60, l.pmtaLine)
		l.s.t.Helper()
		b.WriteString(r + "\n")
		l.lines = append(l.lines, r)
	}
	fh, err := os.OpenFile(l.pmtaPath(l.pmtaN), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		l.s.t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(b.String()); err != nil {
		l.s.t.Fatal(err)
	}
}

func (l *mtaLog) newPMTAFile() {
	l.pmtaN++
	if err := os.WriteFile(l.pmtaPath(l.pmtaN), []byte(pmtaHeader+"\n"), 0o644); err != nil {
		l.s.t.Fatal(err)
	}
}

// TestSSHFSExactlyOnce follows Postfix (rename rotation with logrotate's
// numbering, the new file created up to 0.8 s after the move, delayed
// gzip), Exim (copytruncate, delayed gzip) and PowerMTA (a new file per
// period, old ones gzipped) through a real sshfs mount while they are
// written; sshd is killed for 10 s and started again, and the mount is
// unmounted and mounted again. Every line must be committed exactly once,
// and the sources must show the outage while it lasts.
func TestSSHFSExactlyOnce(t *testing.T) {
	// What the README tells users to mount with, and sshfs's defaults
	// (20 s attribute and directory cache) for a user who did not.
	for _, v := range []struct {
		name, opts string
		seesOutage bool
	}{
		{"readme", "reconnect,ServerAliveInterval=2,ServerAliveCountMax=3,dir_cache=no", true},
		// sshfs answers listings and stats from its cache during a 10 s
		// outage: the follower cannot tell, it only sees no growth.
		{"defaults", "reconnect,ServerAliveInterval=2,ServerAliveCountMax=3", false},
	} {
		t.Run(v.name, func(t *testing.T) { sshfsScenario(t, v.opts, v.seesOutage) })
	}
}

func sshfsScenario(t *testing.T, mountOpts string, seesOutage bool) {
	m := sshfstest.New(t, mountOpts)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	opts := func(src string, globs ...string) Options {
		for i, g := range globs {
			globs[i] = filepath.Join(m.Mnt, g)
		}
		return Options{Source: src, Globs: globs, MaxBackoff: 2 * time.Second, RotateWait: 3 * time.Second,
			UnreachableAfter: 6 * time.Second}
	}
	pf := &mtaLog{name: "postfix", s: newSink(t), w: newWriter(t, filepath.Join(m.Remote, "mail.log")),
		f: New(opts("pf", "mail.log*"), nil)}
	ex := &mtaLog{name: "exim", s: newSink(t), w: newWriter(t, filepath.Join(m.Remote, "mainlog")),
		f: New(opts("ex", "mainlog*"), nil)}
	ex.w.pad = " => u@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.1] C=\"250 OK\""
	pm := &mtaLog{name: "pmta", s: newSink(t), pmtaDir: m.Remote, f: New(opts("pm", "acct-*.csv*"), nil)}
	pm.s.repeated = map[string]bool{pmtaHeader: true}
	pm.newPMTAFile()
	logs := []*mtaLog{pf, ex, pm}
	for _, l := range logs {
		l.states = map[State]bool{}
	}
	defer pf.w.close()
	defer ex.w.close()

	pf.rotate = func(rng *rand.Rand) {
		pf.w.rotate()
		time.Sleep(time.Duration(rng.Intn(800)) * time.Millisecond) // postrotate: syslog reopens
		pf.w.reopen()
		if p := pf.w.path + ".2"; exists(p) {
			gzipFile(t, p) // delaycompress
		}
	}
	ex.rotate = func(rng *rand.Rand) {
		ex.w.copytruncate()
		if p := ex.w.path + ".2"; exists(p) {
			gzipFile(t, p)
		}
	}
	pm.rotate = func(rng *rand.Rand) {
		prev := pm.pmtaPath(pm.pmtaN)
		pm.newPMTAFile()
		gzipFile(t, prev)
	}

	// The owner: polls every source every 250 ms, like serve.
	var mu sync.Mutex
	outage := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			for _, l := range logs {
				cs, err := l.f.Poll()
				if err != nil {
					t.Error(err)
					return
				}
				l.s.commit(cs)
				mu.Lock()
				if outage {
					l.states[l.f.Status().State] = true
				}
				mu.Unlock()
				traceStatus(t, l.f)
			}
		}
	}()
	phase := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			for _, l := range logs {
				l.add(5 + rng.Intn(40))
				if rng.Intn(12) == 0 {
					l.rotate(rng)
				}
			}
			time.Sleep(time.Duration(100+rng.Intn(300)) * time.Millisecond)
		}
	}
	mark := func(what string) { t.Logf("%s %s", time.Now().Format("05.000"), what) }
	phase(8 * time.Second)
	mark("sshd killed")
	m.StopSSHD()
	mu.Lock()
	outage = true
	mu.Unlock()
	phase(10 * time.Second) // the MTAs go on writing and rotating
	mu.Lock()
	outage = false
	mu.Unlock()
	m.StartSSHD()
	mark("sshd started")
	phase(8 * time.Second)
	m.Unmount()
	mark("unmounted")
	phase(3 * time.Second)
	m.Mount()
	mark("mounted")
	phase(5 * time.Second)
	close(stop)
	wg.Wait()

	for _, l := range logs {
		want := len(l.lines)
		if l.w != nil {
			want = len(l.w.lines)
		}
		t.Logf("%s:", l.name)
		settle(t, l.f, l.s, want, 60*time.Second)
		if l.w != nil {
			l.s.exactlyOnce(l.w)
		} else {
			has := toSet(l.lines)
			has[pmtaHeader] = true // in every file: s.repeated
			l.s.exactlyOnce(&writer{lines: l.lines, has: has})
		}
		if seesOutage && !l.states[Stale] && !l.states[Unreachable] {
			t.Errorf("%s: the outage did not show: states %v", l.name, l.states)
		}
		l.f.Close()
	}
}

func toSet(ls []string) map[string]bool {
	m := map[string]bool{}
	for _, l := range ls {
		m[l] = true
	}
	return m
}
