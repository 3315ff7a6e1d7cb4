package suppress

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ssup "cutover/state/suppress"
)

// importOne imports files into a fresh database and returns the summary and
// the log's events as (addr, type, scope, source, ts) keys.
func importOne(t *testing.T, opts ImportOptions, files ...string) (Summary, []logKey, error) {
	t.Helper()
	dir := t.TempDir()
	opts.DB = openDB(t, dir)
	opts.Now = testNow
	sum, err := Import(context.Background(), opts, files, nil)
	var keys []logKey
	if b, _ := os.ReadFile(filepath.Join(dir, "suppressions.jsonl")); len(b) > 0 {
		for _, e := range readLog(t, filepath.Join(dir, "suppressions.jsonl")) {
			keys = append(keys, logKey{e.Addr, string(e.Type), e.Scope, e.Source, e.TS.String()})
		}
	}
	return sum, keys, err
}

func sameImport(t *testing.T, what string, got, want Summary, gk, wk []logKey) {
	t.Helper()
	if got.Rows != want.Rows || got.Rejected != want.Rejected || got.Events != want.Events || got.Accepted != want.Accepted || got.Duplicate != want.Duplicate {
		t.Errorf("%s: rows %d rejected %d events %d accepted %d dup %d; uncompressed gave %d %d %d %d %d", what,
			got.Rows, got.Rejected, got.Events, got.Accepted, got.Duplicate, want.Rows, want.Rejected, want.Events, want.Accepted, want.Duplicate)
	}
	if fmt.Sprint(gk) != fmt.Sprint(wk) {
		t.Errorf("%s: log events differ:\n%v\nwant\n%v", what, gk, wk)
	}
	if len(got.Files) == 1 && len(want.Files) == 1 && got.Files[0].SHA256 != want.Files[0].SHA256 {
		t.Errorf("%s: sha256 %s, want the uncompressed bytes' %s", what, got.Files[0].SHA256, want.Files[0].SHA256)
	}
}

// The case: a SendGrid global_unsubscribes export as .gz (and as
// .zip) gives exactly what the plain file gives; before, gzip bytes were
// read as CSV ("no address column").
func TestImportCompressed(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "export.csv")
	content := "email,created\nheidi@example.com,2015-01-01T01:01:01Z\nAlice@Example.com,2014-12-06 08:34:48\nnot-an-address,1\n"
	if err := os.WriteFile(plain, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := ImportOptions{Provider: SendGrid, List: "global_unsubscribes"}
	want, wk, err := importOne(t, opts, plain)
	if err != nil || want.Accepted != 2 || want.Rejected != 1 {
		t.Fatalf("plain: %+v %v", want, err)
	}

	// gzip as the gzip(1) command writes it when there is one; the Go
	// writer otherwise (and a two-member stream, as `cat a.gz b.gz` makes).
	gz := filepath.Join(dir, "export.csv.gz")
	if p, err := exec.LookPath("gzip"); err == nil {
		out, err := exec.Command(p, "-c", plain).Output()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(gz, out, 0o644)
	} else {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(content))
		zw.Close()
		os.WriteFile(gz, b.Bytes(), 0o644)
	}
	got, gk, err := importOne(t, opts, gz)
	if err != nil {
		t.Fatal(err)
	}
	sameImport(t, "gzip", got, want, gk, wk)
	if !strings.Contains(strings.Join(got.Files[0].Notes, "|"), "gzip") {
		t.Errorf("notes %q do not say gzip", got.Files[0].Notes)
	}
	var two bytes.Buffer
	for _, part := range []string{content[:strings.Index(content, "Alice")], content[strings.Index(content, "Alice"):]} {
		zw := gzip.NewWriter(&two)
		zw.Write([]byte(part))
		zw.Close()
	}
	gz2 := filepath.Join(dir, "two.csv.gz")
	os.WriteFile(gz2, two.Bytes(), 0o644)
	got, gk, err = importOne(t, opts, gz2)
	if err != nil {
		t.Fatal(err)
	}
	sameImport(t, "two-member gzip", got, want, gk, wk)

	zp := filepath.Join(dir, "export.zip")
	writeZip(t, zp, map[string]string{"__MACOSX/._export.csv": "junk", "export.csv": content})
	got, gk, err = importOne(t, opts, zp)
	if err != nil {
		t.Fatal(err)
	}
	sameImport(t, "zip", got, want, gk, wk)

	// Several exports in one zip: refused by name, nothing imported.
	zp2 := filepath.Join(dir, "two.zip")
	writeZip(t, zp2, map[string]string{"a.csv": content, "b.csv": content})
	got, gk, err = importOne(t, opts, zp2)
	if err == nil || !strings.Contains(err.Error(), `"a.csv"`) || !strings.Contains(err.Error(), `"b.csv"`) || got.Accepted != 0 || len(gk) != 0 {
		t.Errorf("two-file zip: err %v, accepted %d", err, got.Accepted)
	}

	// A corrupt gzip stream is an error with the file's name, not rows.
	bad := filepath.Join(dir, "bad.csv.gz")
	b, _ := os.ReadFile(gz)
	b[len(b)/2] ^= 0xff
	os.WriteFile(bad, b[:len(b)-4], 0o644)
	got, _, err = importOne(t, opts, bad)
	if err == nil || !strings.Contains(err.Error(), "bad.csv.gz") || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("corrupt gzip: err %v, summary %+v", err, got)
	}
	// No temporary copy is left behind next to the log or in the input dir.
	left, _ := filepath.Glob(filepath.Join(dir, ".cutover-import-*"))
	if len(left) > 0 {
		t.Errorf("temporary copies left: %q", left)
	}
}

func writeZip(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"__MACOSX/._export.csv", "export.csv", "a.csv", "b.csv"} {
		c, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(c))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A pipe (`... | cutover suppress import ... /dev/stdin`) is read once into
// a private copy and imported like the file; an empty pipe is an error, not
// "0 rows" and success; an owner (RegularOnly) refuses pipes.
func TestImportPipe(t *testing.T) {
	content := "email,created\nheidi@example.com,2015-01-01T01:01:01Z\nAlice@Example.com,2014-12-06 08:34:48\nnot-an-address,1\n"
	dir := t.TempDir()
	plain := filepath.Join(dir, "export.csv")
	os.WriteFile(plain, []byte(content), 0o644)
	opts := ImportOptions{Provider: SendGrid, List: "global_unsubscribes"}
	want, wk, err := importOne(t, opts, plain)
	if err != nil {
		t.Fatal(err)
	}
	pipe := func(data []byte) string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		go func() {
			w.Write(data)
			w.Close()
		}()
		return fmt.Sprintf("/dev/fd/%d", r.Fd())
	}
	got, gk, err := importOne(t, opts, pipe([]byte(content)))
	if err != nil {
		t.Fatal(err)
	}
	sameImport(t, "pipe", got, want, gk, wk)

	var gzb bytes.Buffer
	zw := gzip.NewWriter(&gzb)
	zw.Write([]byte(content))
	zw.Close()
	got, gk, err = importOne(t, opts, pipe(gzb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sameImport(t, "gzip through a pipe", got, want, gk, wk)

	if _, _, err := importOne(t, opts, pipe(nil)); !errors.Is(err, ErrEmptyPipe) {
		t.Errorf("empty pipe: %v, want ErrEmptyPipe", err)
	}
	ro := opts
	ro.RegularOnly = true
	if _, _, err := importOne(t, ro, pipe([]byte(content))); !errors.Is(err, ErrNotRegular) {
		t.Errorf("RegularOnly pipe: %v, want ErrNotRegular", err)
	}
}

// A re-import of a file with rejected rows leaves the log and the rejects
// file as they were (the issue: 1 KB grew to 16 KB over re-imports); a
// different file's rejects are still written.
func TestReimportRejectsOnce(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	p := filepath.Join(dir, "bounces.csv")
	os.WriteFile(p, []byte(sgBounces), 0o644)
	opts := ImportOptions{DB: db, Provider: SendGrid, Now: testNow}
	first, err := Import(context.Background(), opts, []string{p}, nil)
	if err != nil || first.Rejected == 0 {
		t.Fatalf("%v rejected %d", err, first.Rejected)
	}
	logPath := filepath.Join(dir, "suppressions.jsonl")
	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	l0, r0 := size(logPath), size(first.RejectsPath)
	for i := 0; i < 3; i++ {
		sum, err := Import(context.Background(), opts, []string{p}, nil)
		if err != nil || sum.Rejected != first.Rejected || sum.Accepted != 0 {
			t.Fatalf("re-import %d: %v rejected %d accepted %d", i, err, sum.Rejected, sum.Accepted)
		}
	}
	if l, r := size(logPath), size(first.RejectsPath); l != l0 || r != r0 {
		t.Fatalf("after re-imports: log %d rejects %d bytes, were %d %d", l, r, l0, r0)
	}
	other := filepath.Join(dir, "other.csv")
	os.WriteFile(other, []byte("email,created,status,reason\n#junk,1,5.1.1,x\n"), 0o644)
	if _, err := Import(context.Background(), opts, []string{other}, nil); !errors.Is(err, ErrAllRejected) {
		t.Fatalf("an import of only rejected rows: %v", err) // issue 13 point 14: not a success
	}
	if r := size(first.RejectsPath); r <= r0 {
		t.Fatalf("another file's rejected row not written (%d bytes)", r)
	}
	if _, err := ssup.VerifyLog(logPath, db); err != nil {
		t.Fatal(err)
	}
}
