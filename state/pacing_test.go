package state

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// Real replies (Google answer 81126, Yahoo postmaster error codes,
// Outlook.com troubleshooting) and one with no named signature.
const (
	replyGmail428 = "421-4.7.28 [203.0.113.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp"
	replyTSS04    = "421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1"
	replyS3150    = "550 5.7.1 Unfortunately, messages from [203.0.113.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	replyPlain    = "451 4.3.0 Temporary local problem"
)

func sigEv(at time.Time, side model.Side, isp string, o model.Outcome, reply string) *model.Event {
	e := mkEv(at, side, isp, "", o)
	e.Response = reply
	return e
}

func TestSigMinCounts(t *testing.T) {
	db := openTest(t, Options{})
	commit(t, db,
		sigEv(t0.Add(10*time.Second), model.SideNew, "google", model.Deferred, replyGmail428),
		sigEv(t0.Add(50*time.Second), model.SideNew, "google", model.Deferred, replyGmail428+" a640c23a62f3a-1"),
		sigEv(t0.Add(70*time.Second), model.SideNew, "google", model.Deferred, replyGmail428),
		sigEv(t0.Add(70*time.Second), model.SideOld, "google", model.Deferred, replyGmail428),
		sigEv(t0.Add(2*time.Minute), model.SideNew, "yahoo", model.Deferred, replyTSS04),
		sigEv(t0.Add(2*time.Minute), model.SideNew, "microsoft", model.Bounced, replyS3150),
		sigEv(t0.Add(2*time.Minute), model.SideNew, "microsoft", model.Deferred, replyPlain),  // no name
		sigEv(t0.Add(2*time.Minute), model.SideNew, "google", model.Held, replyGmail428),      // held: not a reply
		sigEv(t0.Add(2*time.Minute), model.SideNew, "google", model.Delivered, replyGmail428), // delivered
	)
	got, err := db.SigCounts(model.SideNew, "", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[SigKey]uint64{
		{model.SideNew, "google", "gmail-4.7.28-rate"}:     3, // one with its own id: memoised by signature
		{model.SideNew, "yahoo", "yahoo-tss04-deferral"}:   1,
		{model.SideNew, "microsoft", "ms-s3150-blocklist"}: 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	// The window is by minute start: [t0+1m, t0+2m) holds one Gmail deferral.
	got, _ = db.SigCounts(model.SideNew, "google", t0.Add(time.Minute), t0.Add(2*time.Minute))
	if got[SigKey{model.SideNew, "google", "gmail-4.7.28-rate"}] != 1 || len(got) != 1 {
		t.Fatalf("minute window: %v", got)
	}
	both, _ := db.SigCounts(0, "google", t0, time.Time{})
	if both[SigKey{model.SideOld, "google", "gmail-4.7.28-rate"}] != 1 {
		t.Fatalf("old side: %v", both)
	}
}

// Minute signature counts live as long as minute counters.
func TestSigMinPruned(t *testing.T) {
	db := openTest(t, Options{MinuteRetention: 2 * time.Hour})
	commit(t, db, sigEv(t0, model.SideNew, "google", model.Deferred, replyGmail428))
	commit(t, db, sigEv(t0.Add(5*time.Hour), model.SideNew, "google", model.Deferred, replyGmail428))
	got, _ := db.SigCounts(0, "", time.Time{}, time.Time{})
	if n := got[SigKey{model.SideNew, "google", "gmail-4.7.28-rate"}]; n != 1 {
		t.Fatalf("after prune %d, want 1 (the old minute dropped)", n)
	}
}

// A failed commit writes no signature counts either.
func TestSigMinAtomic(t *testing.T) {
	db := openTest(t, Options{})
	b := NewBatch()
	b.AddEvent(sigEv(t0, model.SideNew, "google", model.Deferred, replyGmail428))
	b.SetParserState("s", map[string][]byte{"": []byte("bad key")})
	if err := db.Commit(b); err == nil {
		t.Fatal("bad commit succeeded")
	}
	if got, _ := db.SigCounts(0, "", time.Time{}, time.Time{}); len(got) != 0 {
		t.Fatalf("failed commit left %v", got)
	}
}

// sigEvents is the deterministic event stream of the crash test: event i
// is a NEW deferral with a named reply every third event.
func sigEvents(n int) []*model.Event {
	r := rand.New(rand.NewSource(7))
	replies := []string{replyGmail428, replyTSS04, replyPlain}
	isps := []string{"google", "yahoo", "microsoft"}
	out := make([]*model.Event, n)
	for i := range out {
		o := model.Deferred
		if r.Intn(4) == 0 {
			o = model.Delivered
		}
		out[i] = sigEv(t0.Add(time.Duration(i)*time.Second), model.SideNew, isps[i%3], o, replies[r.Intn(3)])
	}
	return out
}

const sigCrashEvents = 2000

// TestSigMinExactlyOnceAcrossCrash runs a child that follows the event
// stream in batches (counters, signature minutes and the cursor in one
// Commit, like the ingest writer) and is SIGKILLed at random moments; each
// restart replays from the committed cursor. At the end the signature
// counts equal the stream's, and agree with the deferral counters: nothing
// lost, nothing counted twice.
func TestSigMinExactlyOnceAcrossCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	path := filepath.Join(t.TempDir(), "c.db")
	r := rand.New(rand.NewSource(1))
	offset := func() int64 {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if c, _ := db.Cursors("stream"); len(c) == 1 {
			return c[0].Offset
		}
		return 0
	}
	killed := 0
	for run := 0; ; run++ {
		before := offset()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSigMinCrashChild$")
		// Eight runs die by SIGKILL after a random number of commits
		// (sometimes 0); the ninth finishes.
		kill := -1
		if run < 8 {
			kill = r.Intn(40)
		}
		cmd.Env = append(os.Environ(), "CUTOVER_SIGMIN_CHILD="+path, "CUTOVER_SIGMIN_KILL="+strconv.Itoa(kill))
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		ee, ok := err.(*exec.ExitError)
		if ws, ok2 := ee.Sys().(syscall.WaitStatus); !ok || !ok2 || !ws.Signaled() {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if after := offset(); after == before+int64(kill*13) {
			killed++
		} else {
			t.Fatalf("killed after %d commits: cursor %d → %d", kill, before, after)
		}
	}
	if killed < 3 {
		t.Fatalf("only %d kills mid-stream: the test did not exercise a crash", killed)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if c, _ := db.Cursors("stream"); len(c) != 1 || c[0].Offset != sigCrashEvents {
		t.Fatalf("child did not finish: %+v", c)
	}
	want := map[SigKey]uint64{}
	var deferred uint64
	for _, e := range sigEvents(sigCrashEvents) {
		if e.Outcome != model.Deferred {
			continue
		}
		deferred++
		if name, ok := model.NamedSignature(e.Response); ok {
			want[SigKey{e.Side, e.ISP, name}]++
		}
	}
	got, err := db.SigCounts(0, "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after %d kills: sigmin %v, want %v", killed, got, want)
	}
	rows, _ := db.Stats(Query{Since: t0.Add(-time.Hour)})
	if tot := total(rows); tot.Deferred != deferred {
		t.Fatalf("deferred counters %d, want %d", tot.Deferred, deferred)
	}
	// Minute keys hold 8-byte counts only.
	db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktSigMin).ForEach(func(k, v []byte) error {
			if len(v) != 8 || binary.BigEndian.Uint64(v) == 0 {
				t.Errorf("bad value at %q", k)
			}
			return nil
		})
	})
	t.Logf("%d kills", killed)
}

// TestSigMinCrashChild is the child of TestSigMinExactlyOnceAcrossCrash.
func TestSigMinCrashChild(t *testing.T) {
	path := os.Getenv("CUTOVER_SIGMIN_CHILD")
	if path == "" {
		t.Skip("child of TestSigMinExactlyOnceAcrossCrash")
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := int64(0)
	if c, _ := db.Cursors("stream"); len(c) == 1 {
		start = c[0].Offset
	}
	evs := sigEvents(sigCrashEvents)
	kill, _ := strconv.Atoi(os.Getenv("CUTOVER_SIGMIN_KILL"))
	for i, commits := int(start), 0; i < len(evs); commits++ {
		if commits == kill {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		b := NewBatch()
		n := min(len(evs)-i, 13)
		for _, e := range evs[i : i+n] {
			b.AddEvent(e)
		}
		i += n
		b.SetCursor(Cursor{Source: "stream", Path: "stream", Offset: int64(i)})
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverlayStore(t *testing.T) {
	db := openTest(t, Options{})
	a := model.Overlay{ID: "google.gmail-rate.1", Rule: "gmail-rate", ISP: "google", State: model.OverlayActive, Created: t0}
	b := model.Overlay{ID: "yahoo.yahoo-tss04.2", Rule: "yahoo-tss04", ISP: "yahoo", State: model.OverlayEnded, Created: t0.Add(time.Minute), Ended: t0.Add(2 * time.Hour)}
	for _, o := range []model.Overlay{b, a} {
		if err := db.PutOverlay(o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Overlays()
	if err != nil || len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Fatalf("%v %+v", err, got)
	}
	if n, _ := db.DeleteOverlaysBefore(t0.Add(3 * time.Hour)); n != 1 {
		t.Fatalf("deleted %d, want the ended one", n)
	}
	if got, _ := db.Overlays(); len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("after delete %+v", got)
	}
	if err := db.PutOverlay(model.Overlay{}); err == nil {
		t.Fatal("overlay without id stored")
	}
	db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bktOverlays).Put([]byte("bad"), []byte("{")) })
	if _, err := db.Overlays(); err == nil {
		t.Fatal("a broken entry was skipped silently")
	}
}
