package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/ingest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = f()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Issue 13.10: `cutover sources` (no owner needed) names a glob that
// matched nothing when the source was last followed; the warning goes when
// files appear.
func TestSourcesShowsUnmatchedGlob(t *testing.T) {
	dir := t.TempDir()
	dbp := filepath.Join(dir, "c.db")
	glob := filepath.Join(dir, "mail.log*")
	follow := func() {
		db, err := state.Open(dbp, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
			Globs: []string{glob}, Parser: postfix.New(postfix.Options{})}}, ingest.Options{NoSuppress: true})
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		if _, err := pl.Backfill(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	follow()
	want := "pf: warning: no file matches " + glob
	if out := captureStdout(t, func() error { return sources(dbp, false) }); !strings.Contains(out, want) {
		t.Fatalf("sources lacks %q:\n%s", want, out)
	}
	out := captureStdout(t, func() error { return sources(dbp, true) })
	var views []sourceView
	if err := json.Unmarshal([]byte(out), &views); err != nil || len(views) != 1 || views[0].Warning != "warning: no file matches "+glob {
		t.Fatalf("json %v: %s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "mail.log"), []byte("not a postfix line\n"), 0o644)
	follow()
	if out := captureStdout(t, func() error { return sources(dbp, false) }); strings.Contains(out, "warning") {
		t.Fatalf("warning kept after a file appeared:\n%s", out)
	}
}
