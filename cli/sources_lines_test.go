package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/state"
)

// `cutover sources` names a rejected line by file and line number, with
// its byte offset, and lists events that had no usable domain.
func TestSourcesNamesRejectedLines(t *testing.T) {
	dir := t.TempDir()
	dbp := filepath.Join(dir, "c.db")
	db, err := state.Open(dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := state.NewBatch()
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	b.AddReject(state.Reject{Source: "pmta-new", Path: "/var/log/pmta/acct.csv", Offset: 1811, Line: 4, Text: "d,2026-11-02,torn", Reason: "29 fields where the header has 23 (torn or truncated record)", Seen: now})
	b.AddReject(state.Reject{Source: "pmta-new", Path: "/var/log/pmta/acct.csv", Offset: 99, Text: "x", Reason: "line too long", Seen: now})
	b.AddSourceStat(state.SourceStat{Source: "pmta-new", Kind: "pmta", Side: "new", Lines: 9, Events: 5, Rejected: 2, NoDomain: 1, Updated: now})
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = sources(dbp, false)
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  /var/log/pmta/acct.csv:4 (byte 1811): 29 fields where the header has 23 (torn or truncated record): d,2026-11-02,torn",
		"  /var/log/pmta/acct.csv: byte 99: line too long: x",
		"pmta-new: 1 events without a usable domain",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
