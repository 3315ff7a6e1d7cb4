package mtactl

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestApplyFiles: whole files go through the transaction (audit entry,
// reload), a failing check restores the previous bytes, and the applied
// split state is left alone.
func TestApplyFiles(t *testing.T) {
	dir := t.TempDir()
	fk := newFake(t)
	conf := filepath.Join(dir, "pmta", "config")
	mustWrite(t, conf, "# operator's config\n")
	db := openDB(t, filepath.Join(dir, "cutover.db"))
	c, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", Test: fk.argv("test", "config"), Reload: fk.argv("reload")}}, db)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.SuppressTarget("", "")
	if err != nil || tg.Name != "pmta" || tg.Path != filepath.Join(dir, "pmta", "cutover-suppressed.txt") {
		t.Fatalf("target %+v, %v", tg, err)
	}
	list := tg.Path
	e, err := c.ApplyFiles(t0ctx(), "pmta", "suppress-export", []WholeFile{{Path: list, Data: []byte("a@example.com\n")}}, CurrentWho("test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Result != ResultOK || len(e.Reloaded) != 1 || mustRead(t, list) != "a@example.com\n" {
		t.Fatalf("entry %+v", e)
	}
	fk.failOn(t, "test", "error in line 3")
	_, err = c.ApplyFiles(t0ctx(), "pmta", "suppress-export", []WholeFile{{Path: list, Data: []byte("b@example.com\n")}}, CurrentWho("test"), nil)
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored {
		t.Fatalf("failing check: %v", err)
	}
	if got := mustRead(t, list); got != "a@example.com\n" {
		t.Errorf("after a failed apply the list is %q", got)
	}
	if a, _ := c.st.applied(); a != nil {
		t.Errorf("ApplyFiles changed the applied split state: %+v", a)
	}
	if _, err := c.ApplyFiles(t0ctx(), "exim", "x", nil, CurrentWho("test"), nil); err == nil {
		t.Error("an unconfigured driver was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "pmta", LockFileName)); err == nil {
		t.Error("lock file left behind")
	}
}
