package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cutover/owner/ownertest"
)

// The commands: `suppress import ... export.csv.gz` counts what the
// plain file counts (it read gzip bytes as CSV: "no address column"); an
// export piped to /dev/stdin is imported (it imported 0 rows and exited 0);
// an empty pipe is an error; a re-import leaves the log and the rejects
// file as they were.
func TestSuppressImportGzipAndPipe(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(csvPath, []byte("email,created\nheidi@example.com,2015-01-01T01:01:01Z\nAlice@Example.com,2014-12-06 08:34:48\nnot-an-address,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := csvPath + ".gz"
	out, err := exec.Command("gzip", "-k", csvPath).CombinedOutput()
	if err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	args := func(db string, file string) []string {
		return []string{"suppress", "import", "--db", db, "--provider", "sendgrid", "--list", "global_unsubscribes", file}
	}
	totals := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "total: ") {
				return l[:strings.LastIndex(l, " (")]
			}
		}
		t.Fatalf("no total line in:\n%s", s)
		return ""
	}
	plain := totals(string(runCutover(t, args(filepath.Join(dir, "a", "c.db"), csvPath)...)))
	if plain != "total: rows 3, rejected 1, events 2: accepted 2, duplicate 0" {
		t.Fatalf("plain file: %q", plain)
	}
	gzDB := filepath.Join(dir, "b", "c.db")
	if got := totals(string(runCutover(t, args(gzDB, gz)...))); got != plain {
		t.Errorf(".gz: %q, plain file: %q", got, plain)
	}
	logPath := filepath.Join(dir, "b", "suppressions.jsonl")
	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	l0, r0 := size(logPath), size(logPath+".rejects.csv")
	again := string(runCutover(t, args(gzDB, gz)...))
	if l, r := size(logPath), size(logPath+".rejects.csv"); l != l0 || r != r0 || !strings.Contains(again, "accepted 0, duplicate 2") {
		t.Errorf("re-import: log %d→%d, rejects %d→%d bytes\n%s", l0, l, r0, r, again)
	}

	data, _ := os.ReadFile(csvPath)
	cmd := cutoverCmd(args(filepath.Join(dir, "c", "c.db"), "/dev/stdin")...)
	cmd.Stdin = bytes.NewReader(data) // exec gives the child a pipe
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("pipe: %v\n%s%s", err, so.String(), se.String())
	}
	if got := totals(so.String()); got != plain {
		t.Errorf("pipe: %q, plain file: %q", got, plain)
	}

	cmd = cutoverCmd(args(filepath.Join(dir, "d", "c.db"), "/dev/stdin")...)
	cmd.Stdin = bytes.NewReader(nil)
	so.Reset()
	se.Reset()
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err == nil || !strings.Contains(se.String(), "nothing was piped in") {
		t.Errorf("empty pipe: err %v\n%s%s", err, so.String(), se.String())
	}
}

// While an owner holds the database, a pipe is refused with a clear error:
// the owner reads the files itself and cannot read the client's pipe.
func TestSuppressImportPipeThroughOwnerRefused(t *testing.T) {
	exports := t.TempDir()
	file := filepath.Join(exports, "sendgrid_bounces.csv")
	ownertest.WriteSendGridBounces(t, file, 20)
	data, _ := os.ReadFile(file)
	e := newEnv(t, "")
	startServe(t, e)
	cmd := cutoverCmd("suppress", "import", "--db", e.db, "--provider", "sendgrid", "/dev/stdin")
	cmd.Stdin = bytes.NewReader(data)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err == nil || !strings.Contains(se.String(), "not a regular file") {
		t.Errorf("pipe through the owner: err %v\n%s%s", err, so.String(), se.String())
	}
}
