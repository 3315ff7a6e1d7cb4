package owner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
	"cutover/ui"
)

// Issue 13.10: a glob that matches nothing shows as a warning naming it in
// the cockpit's sources (liveSources) and in `status` (a WARN reason and
// the source's error), not as a silent "waiting".
func TestUnmatchedGlobWarnsInSourcesAndStatus(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	glob := filepath.Join(dir, "mail.lgo*")
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
		Globs: []string{glob}, Parser: postfix.New(postfix.Options{})}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	live := liveSources(pl, nil)
	want := "warning: no file matches " + glob
	if len(live) != 1 || live[0].Error != want || live[0].State != ui.SourceWaiting {
		t.Fatalf("live sources %+v, want %q", live, want)
	}
	rep, err := BuildStatus(StatusInput{DB: db, Now: time.Now(), Owned: true,
		Sources: func(time.Time) ([]ui.SourceView, error) { return live, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "WARN" || len(rep.Sources) != 1 || rep.Sources[0].Error != want ||
		!strings.Contains(strings.Join(rep.Reasons, "\n"), "source pf: no file matches "+glob) {
		t.Fatalf("status %s, reasons %q, sources %+v", rep.Status, rep.Reasons, rep.Sources)
	}
}
