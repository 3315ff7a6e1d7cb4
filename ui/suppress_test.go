package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	ssup "cutover/state/suppress"
)

func TestSuppressionInfo(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]model.SuppressionEvent{{Type: model.SuppressionType("unsubscribe"), Addr: "a@example.com", Source: "sendgrid:global_unsubscribes", Scope: "account"}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sd := &SuppressionData{DB: db, Now: func() time.Time { return now }}
	var _ SuppressionProvider = sd
	v, err := sd.SuppressionInfo()
	if err != nil {
		t.Fatal(err)
	}
	if w := v.HeaderWarning(0); w != "" {
		t.Errorf("warning at 0%% NEW: %q", w)
	}
	if w := v.HeaderWarning(30); !strings.Contains(w, "NOT VERIFIED") {
		t.Errorf("warning without verification: %q", w)
	}
	out := RenderSuppression(v, 100)
	if !strings.Contains(out, "sendgrid:global_unsubscribes") || !strings.Contains(out, "no target verified") {
		t.Errorf("view:\n%s", out)
	}
	ver := &mtactl.SuppressVerification{Target: "postfix-delivery", Time: now, LogSeq: 1, Count: 1, InTarget: 1, OK: true}
	if err := mtactl.RecordSuppressVerification(db, ver); err != nil {
		t.Fatal(err)
	}
	v, _ = sd.SuppressionInfo()
	if w := v.HeaderWarning(30); w != "" {
		t.Errorf("warning with a fresh verification: %q", w)
	}
	if out := RenderSuppression(v, 100); !strings.Contains(out, "verified at 2026-03-01 12:00Z with 1 addresses") {
		t.Errorf("view:\n%s", out)
	}
	now = now.Add(48 * time.Hour)
	v, _ = sd.SuppressionInfo()
	if w := v.HeaderWarning(30); !strings.Contains(w, "STALE") {
		t.Errorf("stale verification: %q", w)
	}
	ver.OK, ver.MissingCount, ver.Time = false, 1, now
	mtactl.RecordSuppressVerification(db, ver)
	v, _ = sd.SuppressionInfo()
	if w := v.HeaderWarning(30); !strings.Contains(w, "FAILED") || !strings.Contains(w, "1 of 1 missing") {
		t.Errorf("failed verification: %q", w)
	}
}
