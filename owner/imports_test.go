package owner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"cutover/owner/ownertest"
	ssup "cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// TestOwnerImportsStates: a file that fails midway is "failed" with its
// error and what it read, the good one "done" with a full bar; the view
// keeps the last keepImportFiles files, and a finished import's summary
// stays available to its status request.
func TestOwnerImportsStates(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(filepath.Join(dir, "c.db"), true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	good := filepath.Join(dir, "bounces.csv")
	ownertest.WriteSendGridBounces(t, good, 300)
	bad := filepath.Join(dir, "blocks.json")
	os.WriteFile(bad, []byte(`[{"email":"a@example.com","created":1443651154,"status":"4.0.0","reason":"x"}, {"email": oops`), 0o644)
	var pushes atomic.Int32
	im := &imports{db: db, log: func() (*ssup.Log, error) { return l, nil }, notify: func() { pushes.Add(1) }}
	defer im.Close()

	wait := func(id string) ImportStatus {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			st, err := im.status(id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Done {
				return st
			}
		}
		t.Fatal("import did not finish")
		return ImportStatus{}
	}
	never := make(chan struct{})
	id, err := im.start(ImportRequest{Provider: "sendgrid", Files: []string{good, bad}}, "alice", never)
	if err != nil {
		t.Fatal(err)
	}
	st := wait(id.ID)
	if st.Err == "" || st.Summary == nil || st.Summary.Accepted != 295 {
		t.Fatalf("status: err %q, summary %+v", st.Err, st.Summary)
	}
	f0, f1 := st.Files[0], st.Files[1]
	if f0.State != ui.ImportDone || f0.Elapsed <= 0 || f0.Fraction() != 1 || f0.Rows != 300 || f0.Accepted != 294 || f0.Rejected != 3 || f0.Duplicate != 3 || f0.By != "alice" {
		t.Errorf("good file: %+v", f0)
	}
	if f1.State != ui.ImportFailed || f1.Err == "" || f1.Accepted != 1 {
		t.Errorf("bad file: %+v", f1)
	}
	if n := pushes.Load(); n < 2 {
		t.Errorf("%d pushes, want one at the start and one at the end at least", n)
	}

	// Six more runs of two files: the view keeps the newest ten files.
	for i := 0; i < 6; i++ {
		id, err := im.start(ImportRequest{Provider: "sendgrid", Files: []string{good, good}}, "bob", never)
		if err != nil {
			t.Fatal(err)
		}
		wait(id.ID)
	}
	files := im.Files()
	if len(files) != keepImportFiles || files[0].By != "bob" || files[0].Duplicate != 297 {
		t.Errorf("view keeps %d files, first %+v", len(files), files[0])
	}
	if _, err := im.status(id.ID); !errors.Is(err, attach.ErrNotFound) {
		t.Errorf("status of an import older than %d runs: %v", keepImportRuns, err)
	}
	// Relative paths and a foreign log are refused before anything runs.
	if _, err := im.start(ImportRequest{Provider: "sendgrid", Files: []string{"bounces.csv"}}, "bob", never); !errors.Is(err, attach.ErrBadRequest) {
		t.Errorf("relative path: %v", err)
	}
	if _, err := im.start(ImportRequest{Provider: "sendgrid", Log: filepath.Join(dir, "other.jsonl"), Files: []string{good}}, "bob", never); !errors.Is(err, attach.ErrBadRequest) {
		t.Errorf("another log: %v", err)
	}
}

// A client's /dev/stdin names the owner's own standard input: the owner
// refuses a file that is not regular (a pipe, a device) before starting,
// instead of importing 0 rows from /dev/null or reading its terminal.
func TestOwnerImportRefusesPipes(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(filepath.Join(dir, "c.db"), true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	im := &imports{db: db, log: func() (*ssup.Log, error) { return l, nil }, notify: func() {}}
	defer im.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, f := range []string{os.DevNull, "/dev/fd/" + itoa(int(r.Fd()))} {
		_, err := im.start(ImportRequest{Provider: "sendgrid", Files: []string{f}}, "alice", make(chan struct{}))
		if !errors.Is(err, attach.ErrBadRequest) {
			t.Errorf("%s: %v, want a bad request", f, err)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
