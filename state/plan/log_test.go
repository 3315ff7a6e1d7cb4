package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
)

func openDB(t *testing.T, dir string) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func schedule(t *testing.T) *model.Schedule {
	t.Helper()
	s, err := model.NewSchedule("p1", t0, nil, 7, model.SparkPostSchedule(), 2)
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// writeEvents makes a log of a plan, a PASS gate, its signoff and an advance.
func writeEvents(t *testing.T, dir string) (signoff string) {
	t.Helper()
	db := openDB(t, dir)
	defer db.Close()
	now := t0
	l, err := Open(db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	must := func(ev Event) string {
		h, err := l.Append(ev)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		return h
	}
	must(Event{Type: EvCreated, Schedule: schedule(t), Who: "alice"})
	must(Event{Type: EvGate, Report: strings.Repeat("a", 64), Verdict: "PASS", Window: "72h"})
	signoff = must(Event{Type: EvSignoff, Report: strings.Repeat("a", 64), By: "Carol <carol@customer.example>", DKIM: "unverified"})
	must(Event{Type: EvAdvance, FromStep: 0, Step: 1, Ratio: 5, Signoff: signoff, AuditID: "1"})
	return signoff
}

func TestLogChainAndFold(t *testing.T) {
	dir := t.TempDir()
	signoff := writeEvents(t, dir)
	path := filepath.Join(dir, LogName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	// The chain, computed here from the bytes: prev of line n+1 is the
	// sha256 of line n; line 1's is 64 zeros.
	if !bytes.Contains(lines[0], []byte(`"prev":"`+strings.Repeat("0", 64)+`"`)) {
		t.Errorf("line 1: %s", lines[0])
	}
	for i := 1; i < len(lines); i++ {
		h := sha256.Sum256(lines[i-1])
		if !bytes.Contains(lines[i], []byte(`"prev":"`+hex.EncodeToString(h[:])+`"`)) {
			t.Errorf("line %d does not chain to line %d", i+1, i)
		}
	}
	h := sha256.Sum256(lines[2])
	if signoff != hex.EncodeToString(h[:]) {
		t.Errorf("signoff hash %s is not the sha256 of its line", signoff)
	}

	db := openDB(t, dir)
	defer db.Close()
	l, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := l.State()
	if st.Step != 1 || st.Ratio != 5 || st.Signoff == nil || st.Signoff.Hash != signoff || st.Audit["1"] != 4 {
		t.Errorf("fold: %+v", st)
	}
	if cached, err := ReadState(db); err != nil || cached.Seq != 4 || cached.Step != 1 {
		t.Errorf("bucket state: %+v %v", cached, err)
	}
	rep, err := Verify(path, db)
	if err != nil || !rep.OK() || rep.Lines != 4 {
		t.Errorf("verify: %v %v", rep, err)
	}
}

func TestVerifyNamesEditedLine(t *testing.T) {
	for line := 1; line <= 4; line++ {
		dir := t.TempDir()
		writeEvents(t, dir)
		path := filepath.Join(dir, LogName)
		b, _ := os.ReadFile(path)
		ls := strings.SplitAfter(string(b), "\n")
		// One character of a past line changes: who signed off, a ratio.
		ls[line-1] = strings.Replace(ls[line-1], `"ts":"2026`, `"ts":"2025`, 1)
		os.WriteFile(path, []byte(strings.Join(ls, "")), 0o600)
		db := openDB(t, dir)
		rep, err := Verify(path, db)
		if err != nil {
			t.Fatal(err)
		}
		// An edit breaks the chain at the next line; the last line has no
		// next: the anchor in the database names it.
		s := rep.String()
		want := "LINE " + map[bool]string{true: "4", false: string(rune('1' + line))}[line == 4]
		if rep.OK() || !strings.Contains(s, want) {
			t.Errorf("edit of line %d: %s (want %q)", line, s, want)
		}
		if _, err := Open(db, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("edit of line %d: Open %v, want ErrCorrupt", line, err)
		}
		db.Close()
	}
}

func TestVerifyDetectsTruncation(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, dir)
	path := filepath.Join(dir, LogName)
	b, _ := os.ReadFile(path)

	// Mid-line: a torn tail.
	os.WriteFile(path, b[:len(b)-10], 0o600)
	rep, err := Verify(path, nil)
	if err != nil || rep.OK() || rep.TornTail == 0 || !strings.Contains(rep.String(), "TRUNCATED TAIL") {
		t.Errorf("cut mid-line: %v %v", rep, err)
	}
	// Whole last line gone: the chain holds, the anchor does not.
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	os.WriteFile(path, b[:i+1], 0o600)
	db := openDB(t, dir)
	defer db.Close()
	rep, err = Verify(path, db)
	if err != nil || rep.OK() || !strings.Contains(rep.String(), "TRUNCATED: the database recorded 4 lines") {
		t.Errorf("last line removed: %v %v", rep, err)
	}
	if _, err := Open(db, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open after truncation: %v", err)
	}
}

func TestOpenCutsTornTailNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, dir)
	path := filepath.Join(dir, LogName)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"seq":5,"type":"hold"`) // a crash mid-append
	f.Close()
	db := openDB(t, dir)
	defer db.Close()
	l, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(l.Notices) != 1 || !strings.Contains(l.Notices[0], "incomplete last line") {
		t.Errorf("notices %v", l.Notices)
	}
	if _, err := l.Append(Event{Type: EvHold, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := Verify(path, db); !rep.OK() || rep.Lines != 5 {
		t.Errorf("after repair: %v", rep)
	}
	m, _ := filepath.Glob(path + ".torn-*")
	if len(m) != 1 {
		t.Errorf("torn bytes not saved: %v", m)
	}
}

func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	os.WriteFile(target, nil, 0o644)
	os.Symlink(target, filepath.Join(dir, LogName))
	db := openDB(t, dir)
	defer db.Close()
	if l, err := Open(db, nil); err == nil {
		l.Close()
		t.Fatal("opened a planted symlink")
	}
}

func TestAdvanceBlockers(t *testing.T) {
	now := t0.Add(8 * 24 * time.Hour)
	st := State{Schedule: schedule(t), Step: 1, Ratio: 5}
	has := func(bs []string, s string) bool {
		for _, b := range bs {
			if strings.Contains(b, s) {
				return true
			}
		}
		return false
	}
	st.Gate = &GateRef{Report: "r2", Verdict: "PASS", Step: 1, At: now.Add(-10 * time.Minute)}
	if bs := st.AdvanceBlockers(now); !has(bs, "missing signoff") || len(bs) != 1 {
		t.Errorf("no signoff: %v", bs)
	}
	st.Signoff = &SignoffRef{Report: "r1"}
	if bs := st.AdvanceBlockers(now); !has(bs, "stale signoff") {
		t.Errorf("signoff of an older report: %v", bs)
	}
	st.Signoff.Report = "r2"
	if bs := st.AdvanceBlockers(now); len(bs) != 0 {
		t.Errorf("valid: %v", bs)
	}
	if bs := st.AdvanceBlockers(now.Add(51 * time.Minute)); !has(bs, "old (max 1h0m0s)") {
		t.Errorf("gate 61 min old: %v", bs)
	}
	st.Hold = &Hold{Reason: "holiday"}
	if bs := st.AdvanceBlockers(now); !has(bs, "on hold") {
		t.Errorf("hold: %v", bs)
	}
	st.Hold = nil
	st.Gate.Verdict = "HOLD"
	if bs := st.AdvanceBlockers(now); !has(bs, "is HOLD, not PASS") {
		t.Errorf("HOLD gate: %v", bs)
	}
}

func TestReportWriteLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cutover.db")
	r := &Report{Version: 1, Plan: "p1", At: t0, Step: 1, Steps: 6, Ratio: 5, Verdict: "PASS"}
	sha, path, err := WriteReport(db, r, "# report\n")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != sha || filepath.Base(path) != "checkpoint-"+sha+".json" {
		t.Errorf("name %s, sha %s", path, sha)
	}
	got, full, err := LoadReport(db, sha[:10])
	if err != nil || full != sha || got.Verdict != "PASS" {
		t.Errorf("load: %+v %s %v", got, full, err)
	}
	os.WriteFile(path, bytes.Replace(b, []byte("PASS"), []byte("FAIL"), 1), 0o640)
	if _, _, err := LoadReport(db, sha); err == nil || !strings.Contains(err.Error(), "was changed") {
		t.Errorf("tampered report: %v", err)
	}
}
