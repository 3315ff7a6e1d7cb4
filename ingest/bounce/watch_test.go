package bounce

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
)

var testNow = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// expected is what the whole corpus must leave in the canonical log.
func expected() map[string]model.SuppressionType {
	out := map[string]model.SuppressionType{}
	for _, c := range corpus {
		for _, r := range c.rcpts {
			switch {
			case c.complaint:
				out[r.addr] = model.SuppComplaint
			case r.hard:
				out[r.addr] = model.SuppHardBounce
			}
		}
	}
	return out
}

// complaintsWanted counts the complaint events the corpus gives: one per
// recipient of a complaint, one for a fully redacted report.
func complaintsWanted() int {
	n := 0
	for _, c := range corpus {
		if c.complaint {
			n += max(len(c.rcpts), 1)
		}
	}
	return n
}

type env struct {
	db  *state.DB
	log *suppress.Log
	dir string
}

func openEnv(t testing.TB, dir string) *env {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := suppress.Open(db, "", suppress.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return &env{db: db, log: l, dir: dir}
}

func (e *env) close() {
	e.log.Close()
	e.db.Close()
}

func (e *env) watcher(t testing.TB, batch int) *Watcher {
	t.Helper()
	sm, err := ingest.ParseSideMap("203.0.113.10=old,203.0.113.0/24=new")
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{DB: e.db, Log: e.log, SideMap: sm, Side: model.SideNew, Now: func() time.Time { return testNow }, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// logEvents reads the canonical log back (it must verify).
func logEvents(t testing.TB, e *env) []model.SuppressionEvent {
	t.Helper()
	if err := e.log.Flush(); err != nil {
		t.Fatal(err)
	}
	return readLogFile(t, e.log.Path(), e.db)
}

func readLogFile(t testing.TB, path string, db *state.DB) []model.SuppressionEvent {
	t.Helper()
	rep, err := suppress.VerifyLog(path, db)
	if err != nil || !rep.OK() {
		t.Fatalf("log does not verify: %v %v", err, rep)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.SuppressionEvent
	for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		ev, err := model.ParseSuppressionEvent(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// checkLog: every expected address exactly once with its type, nothing
// else (no soft bounce, deferral or policy block).
func checkLog(t testing.TB, evs []model.SuppressionEvent) {
	t.Helper()
	want := expected()
	got := map[string]int{}
	for _, e := range evs {
		got[e.Addr]++
		if want[e.Addr] != e.Type {
			t.Errorf("%s logged as %s (%s), want %q", e.Addr, e.Type, e.Reason, want[e.Addr])
		}
	}
	for a := range want {
		if got[a] != 1 {
			t.Errorf("%s logged %d times", a, got[a])
		}
	}
}

func complaintCounts(t testing.TB, db *state.DB) (total uint64, bySide map[model.Side]uint64, byISP map[string]uint64) {
	t.Helper()
	rows, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	bySide, byISP = map[model.Side]uint64{}, map[string]uint64{}
	for _, r := range rows {
		total += r.Complaints
		bySide[r.Side] += r.Complaints
		byISP[r.ISP] += r.Complaints
	}
	return total, bySide, byISP
}

func fillMaildir(t testing.TB, dir string) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o700)
	}
	i := 0
	for _, src := range []string{"testdata/corpus", "testdata/malformed"} {
		files, _ := filepath.Glob(filepath.Join(src, "*.eml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			i++
			name := fmt.Sprintf("17936%05d.M%dP1.mx,S=%d", i, i, len(b))
			if err := os.WriteFile(filepath.Join(dir, "new", name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestMaildir(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	fillMaildir(t, md)
	e := openEnv(t, dir)
	defer e.close()
	w := e.watcher(t, 7)
	st, err := w.Maildir(md)
	if err != nil {
		t.Fatal(err)
	}
	nMal, _ := filepath.Glob("testdata/malformed/*.eml")
	if st.Messages != len(corpus)+len(nMal) || st.Failed != len(nMal) || st.AutoReplies != 1 || st.Reports != len(corpus)-1 {
		t.Errorf("stats %+v", st)
	}
	if st.Complaints != complaintsWanted() || st.Appended != len(expected()) {
		t.Errorf("stats %+v: want %d complaints, %d appended", st, complaintsWanted(), len(expected()))
	}
	checkLog(t, logEvents(t, e))
	// Every message left new/: reports to cur/ (seen), the rest to failed/
	// with a reason.
	left, _ := os.ReadDir(filepath.Join(md, "new"))
	cur, _ := os.ReadDir(filepath.Join(md, "cur"))
	failed, _ := filepath.Glob(filepath.Join(md, "failed", "*.reason"))
	if len(left) != 0 || len(cur) != len(corpus) || len(failed) != len(nMal) {
		t.Errorf("new %d, cur %d, failed %d", len(left), len(cur), len(failed))
	}
	for _, c := range cur {
		if !strings.HasSuffix(c.Name(), ":2,S") {
			t.Errorf("cur/%s not flagged seen", c.Name())
		}
	}
	for _, r := range failed {
		b, _ := os.ReadFile(r)
		msg := strings.TrimSuffix(r, ".reason")
		if _, err := os.Stat(msg); err != nil || !strings.Contains(string(b), "reason: ") {
			t.Errorf("failed %s: %v %q", msg, err, b)
		}
	}
	// Complaints are counted for the provider and the side the source IP
	// maps to.
	total, bySide, byISP := complaintCounts(t, e.db)
	if total != uint64(complaintsWanted()) || bySide[model.SideOld] != 2 || byISP["microsoft"] != 2 || byISP["yahoo"] < 2 {
		t.Errorf("complaints %d by side %v by ISP %v", total, bySide, byISP)
	}

	// The same messages again (an MTA delivering twice, a restore): skipped
	// by their markers, moved, nothing appended or counted.
	fillMaildir(t, md)
	st, err = w.Maildir(md)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != len(corpus) || st.Appended != 0 || st.Complaints != 0 {
		t.Errorf("second pass %+v", st)
	}
	// A fresh watcher (a restart) knows the markers too.
	fillMaildir(t, md)
	st, err = e.watcher(t, 50).Maildir(md)
	if err != nil || st.Skipped != len(corpus) || st.Appended != 0 {
		t.Errorf("after restart %+v %v", st, err)
	}
	if total2, _, _ := complaintCounts(t, e.db); total2 != total {
		t.Errorf("complaints %d after replays, want %d", total2, total)
	}
	checkLog(t, logEvents(t, e))
}

func mboxOf(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, src := range []string{"testdata/corpus", "testdata/malformed"} {
		files, _ := filepath.Glob(filepath.Join(src, "*.eml"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
			fmt.Fprintf(&b, "From MAILER-DAEMON Mon Nov  2 10:00:00 2026\n")
			// mboxrd: quote body lines that start with "From ".
			for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
				if bytes.HasPrefix(bytes.TrimLeft(l, ">"), []byte("From ")) {
					b.WriteByte('>')
				}
				b.Write(l)
			}
			if !bytes.HasSuffix(raw, []byte("\n")) {
				b.WriteByte('\n')
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestMbox(t *testing.T) {
	dir := t.TempDir()
	mb := filepath.Join(dir, "bounces.mbox")
	data := mboxOf(t)
	// Deliver in two steps, the second cut in the middle of a message.
	cut := bytes.Index(data[len(data)/2:], []byte("\n\nFrom ")) + len(data)/2 + 2
	if err := os.WriteFile(mb, data[:cut+100], 0o600); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, dir)
	defer e.close()
	w := e.watcher(t, 5)
	st1, err := w.Mbox(mb, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mb, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st2, err := w.Mbox(mb, false) // grown since the last pass: the last message waits
	if err != nil {
		t.Fatal(err)
	}
	st3, err := w.Mbox(mb, false) // unchanged: complete
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	st.Add(st1)
	st.Add(st2)
	st.Add(st3)
	nMal, _ := filepath.Glob("testdata/malformed/*.eml")
	if st.Messages != len(corpus)+len(nMal) || st.Complaints != complaintsWanted() || st.Failed != len(nMal) {
		t.Errorf("stats %+v (passes %+v / %+v / %+v)", st, st1, st2, st3)
	}
	if st3.Messages != 1 {
		t.Errorf("third pass took %d messages, want the last one", st3.Messages)
	}
	checkLog(t, logEvents(t, e))
	failed, _ := filepath.Glob(mb + ".failed/*.reason")
	if len(failed) != len(nMal) {
		t.Errorf("%d failed reasons, want %d", len(failed), len(nMal))
	}
	// Nothing new: nothing done.
	if st, err := w.Mbox(mb, true); err != nil || st.Messages != 0 {
		t.Errorf("idle pass %+v %v", st, err)
	}
	// A restart resumes at the committed cursor.
	if st, err := e.watcher(t, 5).Mbox(mb, true); err != nil || st.Messages != 0 {
		t.Errorf("restart pass %+v %v", st, err)
	}
	// A mail client rewrites the file (one message deleted at the top):
	// the cursor no longer fits, the watcher starts over, and nothing is
	// appended or counted twice.
	first := bytes.Index(data[1:], []byte("\n\nFrom ")) + 3
	if err := os.WriteFile(mb, data[first:], 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = w.Mbox(mb, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Appended != 0 || st.Complaints != 0 || st.Skipped == 0 {
		t.Errorf("rewritten mbox %+v", st)
	}
	total, _, _ := complaintCounts(t, e.db)
	if total != uint64(complaintsWanted()) {
		t.Errorf("complaints %d, want %d", total, complaintsWanted())
	}
	checkLog(t, logEvents(t, e))
}

func TestMessageFromPipe(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	defer e.close()
	w := e.watcher(t, 0)
	raw, _ := os.ReadFile("testdata/corpus/01-postfix-user-unknown.eml")
	st, err := w.Message(raw, "stdin")
	if err != nil || st.Hard != 1 || st.Appended != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	// The MTA retries the pipe (it did not see our exit status): nothing
	// new.
	if st, err := w.Message(raw, "stdin"); err != nil || st.Skipped != 1 || st.Appended != 0 {
		t.Fatalf("retry %+v %v", st, err)
	}
	bad, _ := os.ReadFile("testdata/malformed/not-a-report.eml")
	st, err = w.Message(bad, "stdin")
	if err != nil || st.Failed != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "bounces-failed", "*.eml"))
	reasons, _ := filepath.Glob(filepath.Join(dir, "bounces-failed", "*.reason"))
	if len(saved) != 1 || len(reasons) != 1 {
		t.Fatalf("failed dir: %v %v", saved, reasons)
	}
	if b, _ := os.ReadFile(saved[0]); !bytes.Equal(b, bad) {
		t.Error("saved copy differs")
	}
	if r, _ := os.ReadFile(reasons[0]); !strings.Contains(string(r), ErrNotReport.Error()) {
		t.Errorf("reason %q", r)
	}
}

// TestMarkersExpire: markers older than MarkerTTL are dropped at start.
func TestMarkersExpire(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	defer e.close()
	b := state.NewBatch()
	b.SetParserState(StateSource, map[string][]byte{
		"msg:old": []byte(testNow.Add(-MarkerTTL - time.Hour).Format(time.RFC3339)),
		"msg:new": []byte(testNow.Add(-time.Hour).Format(time.RFC3339)),
	})
	if err := e.db.Commit(b); err != nil {
		t.Fatal(err)
	}
	w := e.watcher(t, 0)
	if w.seen["old"] || !w.seen["new"] {
		t.Errorf("seen %v", w.seen)
	}
	ps, _ := e.db.ParserState(StateSource)
	if _, ok := ps["msg:old"]; ok {
		t.Error("expired marker still stored")
	}
}

// TestMaildirSIGKILL kills a child watcher right after a batch's log
// append, or right after its commit (before the moves), again and again:
// at the end every address is in the log once, complaints are counted
// once, and every message left new/.
func TestMaildirSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	for _, point := range []string{"append", "commit"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			md := filepath.Join(dir, "Maildir")
			fillMaildir(t, md)
			kills := 0
			for run := 0; run < 100; run++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestMaildirChild$")
				cmd.Env = append(os.Environ(), "BOUNCE_CHILD_DIR="+dir, "BOUNCE_CHILD_KILL="+point)
				out, err := cmd.CombinedOutput()
				if err == nil {
					break
				}
				if ee, ok := err.(*exec.ExitError); ok {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						kills++
						continue
					}
				}
				t.Fatalf("child: %v\n%s", err, out)
			}
			if kills < 3 {
				t.Fatalf("%d kills: the crash window was not exercised", kills)
			}
			e := openEnv(t, dir)
			defer e.close()
			checkLog(t, logEvents(t, e))
			total, _, _ := complaintCounts(t, e.db)
			if total != uint64(complaintsWanted()) {
				t.Errorf("complaints %d after %d kills, want %d", total, kills, complaintsWanted())
			}
			left, _ := os.ReadDir(filepath.Join(md, "new"))
			cur, _ := os.ReadDir(filepath.Join(md, "cur"))
			if len(left) != 0 || len(cur) != len(corpus) {
				var names []string
				for _, l := range left {
					names = append(names, l.Name())
				}
				sort.Strings(names)
				t.Errorf("new %v, cur %d", names, len(cur))
			}
			t.Logf("%d kills after %s", kills, point)
		})
	}
}

// TestMaildirChild is the child process of TestMaildirSIGKILL: batches of
// 4, killed at the second batch's crash point.
func TestMaildirChild(t *testing.T) {
	dir := os.Getenv("BOUNCE_CHILD_DIR")
	if dir == "" {
		t.Skip("child of TestMaildirSIGKILL")
	}
	n := 0
	kill := func() {
		if n++; n == 2 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	switch os.Getenv("BOUNCE_CHILD_KILL") {
	case "append":
		TestHookAfterAppend = kill
	case "commit":
		TestHookAfterCommit = kill
	}
	e := openEnv(t, dir)
	defer e.close()
	if _, err := e.watcher(t, 4).Maildir(filepath.Join(dir, "Maildir")); err != nil {
		t.Fatal(err)
	}
}
