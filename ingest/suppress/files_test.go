package suppress

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13 point 11: the rejects file is appended, never through a planted
// symlink; `suppress import --log FILE` with a FILE that is not a log is
// refused before its last line is cut into a .torn copy.
func TestImportFilesNoFollowAndLogCheck(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	exp := filepath.Join(dir, "sg.csv")
	os.WriteFile(exp, []byte("email,created\nnot-an-address,1\nok@example.com,1443651154\n"), 0o600)

	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	rej := filepath.Join(dir, "rejects.csv")
	if err := os.Symlink(victim, rej); err != nil {
		t.Fatal(err)
	}
	opts := ImportOptions{DB: db, Provider: SendGrid, List: "bounces", Now: testNow, RejectsPath: rej}
	if _, err := Import(context.Background(), opts, []string{exp}, nil); err == nil || !strings.Contains(err.Error(), "rejects file") {
		t.Fatalf("import through a symlinked rejects file: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("symlink target appended to: %q", b)
	}

	notes := filepath.Join(dir, "notes.txt")
	body := "meeting notes\nlast line, no newline"
	os.WriteFile(notes, []byte(body), 0o600)
	opts = ImportOptions{DB: db, Provider: SendGrid, List: "bounces", Now: testNow, LogPath: notes, RejectsPath: filepath.Join(dir, "r2.csv")}
	if _, err := Import(context.Background(), opts, []string{exp}, nil); err == nil || !strings.Contains(err.Error(), "not a suppression log") {
		t.Fatalf("import into a non-log: %v", err)
	}
	if b, _ := os.ReadFile(notes); string(b) != body {
		t.Fatalf("non-log changed: %q", b)
	}
	if m, _ := filepath.Glob(notes + ".torn*"); len(m) != 0 {
		t.Fatalf("torn copies: %v", m)
	}
}

// Issue 13 point 14: an import that rejects every row (here: a SendGrid
// export given as Postmark) is an error, with the count; one good row is not.
func TestImportAllRejectedFails(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	p := filepath.Join(dir, "x.json")
	os.WriteFile(p, []byte(`[{"created":1,"reason":"x"},{"created":2,"reason":"y"}]`), 0o600)
	sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: SendGrid, List: "bounces", Now: testNow}, []string{p}, nil)
	if !errors.Is(err, ErrAllRejected) || sum.Rejected != 2 || !strings.Contains(err.Error(), "all 2 rows") {
		t.Fatalf("all rejected: %v (rejected %d)", err, sum.Rejected)
	}
	os.WriteFile(p, []byte(`[{"created":1,"reason":"x"},{"email":"a@example.com","created":2}]`), 0o600)
	if _, err := Import(context.Background(), ImportOptions{DB: db, Provider: SendGrid, List: "bounces", Now: testNow}, []string{p}, nil); err != nil {
		t.Fatal(err)
	}
}
