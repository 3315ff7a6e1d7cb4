//go:build sshfs

package ingest_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/follow"
	"cutover/ingest/follow/sshfstest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

// TestSSHFSPipelineCounts is issue 11's scenario at the owner's level: the
// pipeline `serve` runs (real Postfix parser, bbolt commits of counters and
// cursors together) follows a Postfix log through a real sshfs mount while
// the test writes it, rotates it by rename with logrotate's numbering and
// delayed gzip, kills sshd for 10 s and unmounts and mounts again. The
// delivered, deferred and bounced counts in the database must equal what
// the test wrote, the pipeline must never stop, and the source must show
// the outage while it lasts.
func TestSSHFSPipelineCounts(t *testing.T) {
	m := sshfstest.New(t, "reconnect,ServerAliveInterval=2,ServerAliveCountMax=3,dir_cache=no")
	db, err := state.Open(filepath.Join(t.TempDir(), "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
		Globs: []string{filepath.Join(m.Mnt, "mail.log*")}, Parser: postfix.New(postfix.Options{Location: time.UTC})}},
		ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- pl.Run(ctx, 250*time.Millisecond) }()

	// What the test wrote: the independent count.
	var want state.Counts
	path := filepath.Join(m.Remote, "mail.log")
	logf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { logf.Close() }()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	n := 0
	write := func(k int) {
		var b []byte
		for range k {
			n++
			ts := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second).Format(time.Stamp)
			qid := fmt.Sprintf("%010X", n)
			rcpt := fmt.Sprintf("u%d@example.com", n)
			var tail string
			switch rng.Intn(10) {
			case 0, 1:
				want.Deferred++
				tail = "dsn=4.2.2, status=deferred (host mx.example.com[192.0.2.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))"
			case 2:
				want.Bounced++
				tail = "dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown (in reply to RCPT TO command))"
			default:
				want.Delivered++
				tail = "dsn=2.0.0, status=sent (250 2.0.0 OK)"
			}
			b = fmt.Appendf(b, "%s mx postfix/smtp[%d]: %s: to=<%s>, relay=mx.example.com[192.0.2.1]:25, delay=1, delays=0/0/0/1, %s\n",
				ts, 1000+n%5000, qid, rcpt, tail)
		}
		if _, err := logf.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	rotate := func() {
		for i := 9; i >= 1; i-- {
			for _, ext := range []string{"", ".gz"} {
				from := fmt.Sprintf("%s.%d%s", path, i, ext)
				if _, err := os.Stat(from); err == nil {
					os.Rename(from, fmt.Sprintf("%s.%d%s", path, i+1, ext))
				}
			}
		}
		os.Rename(path, path+".1")
		write(rng.Intn(5)) // syslog writes to the renamed file until told
		time.Sleep(time.Duration(rng.Intn(800)) * time.Millisecond)
		logf.Close()
		if logf, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			t.Fatal(err)
		}
		if p := path + ".2"; exists(p) { // delaycompress
			b, _ := os.ReadFile(p)
			gz, _ := os.Create(p + ".gz")
			zw := gzip.NewWriter(gz)
			zw.Write(b)
			zw.Close()
			gz.Close()
			os.Remove(p)
		}
	}
	var mu sync.Mutex
	outage, sawOutage, storedOutage := false, false, false
	stopWatch := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, st := range pl.Statuses() {
				mu.Lock()
				if outage && (st.State == follow.Stale || st.State == follow.Unreachable) {
					sawOutage = true
				}
				mu.Unlock()
			}
			// What `sources` and `status` read without the owner.
			if srcs, err := db.Sources(); err == nil {
				for _, s := range srcs {
					mu.Lock()
					if outage && s.LastError != "" {
						storedOutage = true
					}
					mu.Unlock()
				}
			}
		}
	}()
	phase := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			write(5 + rng.Intn(40))
			if rng.Intn(10) == 0 {
				rotate()
			}
			time.Sleep(time.Duration(100+rng.Intn(300)) * time.Millisecond)
		}
	}
	phase(6 * time.Second)
	m.StopSSHD()
	mu.Lock()
	outage = true
	mu.Unlock()
	phase(10 * time.Second)
	mu.Lock()
	outage = false
	mu.Unlock()
	m.StartSSHD()
	phase(6 * time.Second)
	m.Unmount()
	phase(3 * time.Second)
	m.Mount()
	phase(4 * time.Second)
	close(stopWatch)

	var got state.Counts
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-runErr:
			t.Fatalf("the pipeline stopped: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		rows, err := db.Stats(state.Query{})
		if err != nil {
			t.Fatal(err)
		}
		got = state.Counts{}
		for _, r := range rows {
			got.Add(r.Counts)
		}
		if got.Delivered == want.Delivered && got.Deferred == want.Deferred && got.Bounced == want.Bounced {
			time.Sleep(2 * time.Second) // a late double count shows now or never
			rows, _ = db.Stats(state.Query{})
			got = state.Counts{}
			for _, r := range rows {
				got.Add(r.Counts)
			}
			break
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("the pipeline stopped: %v", err)
	}
	t.Logf("%d lines written: delivered %d deferred %d bounced %d; counted delivered %d deferred %d bounced %d",
		n, want.Delivered, want.Deferred, want.Bounced, got.Delivered, got.Deferred, got.Bounced)
	if got.Delivered != want.Delivered || got.Deferred != want.Deferred || got.Bounced != want.Bounced {
		t.Errorf("counts differ from what was written")
	}
	mu.Lock()
	defer mu.Unlock()
	if !sawOutage {
		t.Errorf("the source never showed stale or unreachable while sshd was down")
	}
	if !storedOutage {
		t.Errorf("the database never held the source's error while sshd was down")
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
