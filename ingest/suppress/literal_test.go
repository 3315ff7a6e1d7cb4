package suppress

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/model"
	ssup "cutover/state/suppress"
)

// Issue 13 point 7: an address that is a pattern (or shell syntax) is
// refused at import with its line, counted as rejected; a real address
// with an apostrophe is kept.
func TestImportRefusesPatternAddresses(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	p := filepath.Join(dir, "list.txt")
	os.WriteFile(p, []byte("ok@x.com\n/^.*$/@x.com\no'brien@x.com\n*@x.com\n"), 0o644)
	sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: PlainList, Type: model.SuppManual, Now: testNow}, []string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := sum.Files[0]
	if sum.Accepted != 2 || f.Rejected != 2 || f.RejectReasons[model.ErrAddrPattern.Error()] != 2 {
		t.Fatalf("%+v", f)
	}
	if len(f.Rejects) != 2 || !strings.Contains(f.Rejects[0].Raw+f.Rejects[0].Reason, "/^.*$/@x.com") || f.Rejects[0].Line != 2 {
		t.Fatalf("rejects %+v", f.Rejects)
	}
	for _, e := range readLog(t, ssup.DefaultLogPath(db.Path())) {
		if model.CheckLiteralAddress(e.Addr) != nil {
			t.Fatalf("%q reached the log", e.Addr)
		}
	}
}
