package suppress

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cutover/model"
)

// nested is n objects inside each other: {"a":{"a":...}}.
func nested(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

// hostileJSON are exports built to exhaust a recursive decoder or encoder,
// or to make one value hold the whole file, each between two good items.
// Before the bound, the first one (a 6 MB file of a million nested objects)
// ended in "fatal error: stack overflow" in json.Marshal after 1.6 GB.
func hostileJSON() map[string]struct {
	content string
	kind    string // the reject reason of the bad item; "" for a read error
} {
	good1 := `{"email":"good1@example.com","created":1443651154,"reason":"x"}`
	good2 := `{"email":"good2@example.com","created":1443651155,"reason":"y"}`
	deepArr := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	huge := `{"email":"big@example.com","reason":"` + strings.Repeat("x", 3<<19) + `"}`
	var flat strings.Builder
	flat.WriteString(`{"email":"flat@example.com"`)
	for i := 0; flat.Len() < 3<<19; i++ {
		flat.WriteString(`,"k`)
		flat.WriteString(strings.Repeat("9", 1+i%7))
		flat.WriteString(`":1`)
	}
	flat.WriteString("}")
	deepKey := `{"email":"k@example.com","x":` + nested(200) + `}`
	return map[string]struct {
		content string
		kind    string
	}{
		"lines_deep.jsonl":   {good1 + "\n" + nested(1_000_000) + "\n" + good2 + "\n", "nested too deep"},
		"array_deep.json":    {"[" + good1 + "," + nested(100_000) + "," + good2 + "]", "nested too deep"},
		"array_deeparr.json": {"[" + good1 + "," + deepArr + "," + good2 + "]", "nested too deep"},
		"wrapper_deep.json":  {`{"result":[` + good1 + "," + nested(100_000) + "," + good2 + `],"paging":` + nested(10_000) + "}", "nested too deep"},
		"lines_member.jsonl": {good1 + "\n" + deepKey + "\n" + good2 + "\n", "nested too deep"},
		"array_huge.json":    {"[" + good1 + "," + huge + "," + good2 + "]", "item too large"},
		"lines_huge.jsonl":   {good1 + "\n" + huge + "\n" + good2 + "\n", "item too large"},
		"lines_flat.jsonl":   {good1 + "\n" + flat.String() + "\n" + good2 + "\n", "item too large"},
		// never closed: the stream ends with an error after good1
		"array_open.json": {"[" + good1 + "," + strings.Repeat(`{"a":[`, 50_000), ""},
	}
}

// TestHostileJSONImport runs each hostile export through a real import into
// a real log: the process survives, the bad item is rejected with its line
// and byte offset, the good items around it are appended once, and the heap
// stays far below the file's blow-up factor.
func TestHostileJSONImport(t *testing.T) {
	for name, hc := range hostileJSON() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(hc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			opts := ImportOptions{DB: db, Provider: SendGrid, List: "bounces", Now: testNow}
			sum, err := Import(context.Background(), opts, []string{p}, nil)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20+20*uint64(len(hc.content)) {
				t.Errorf("allocated %d MB for a %d MB file", grew>>20, len(hc.content)>>20)
			}
			fs := sum.Files[0]
			if hc.kind == "" {
				if err == nil || !strings.Contains(fs.Err, "line 1") {
					t.Fatalf("unterminated file: err %v, file err %q", err, fs.Err)
				}
				if fs.Accepted != 1 {
					t.Fatalf("accepted %d, want the 1 item before the error", fs.Accepted)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fs.Rows != 3 || fs.Rejected != 1 || fs.Accepted != 2 || fs.Duplicate != 0 {
				t.Fatalf("rows %d rejected %d accepted %d dup %d, want 3/1/2/0", fs.Rows, fs.Rejected, fs.Accepted, fs.Duplicate)
			}
			if fs.RejectReasons[hc.kind] != 1 {
				t.Fatalf("reject reasons %v, want one %q", fs.RejectReasons, hc.kind)
			}
			rj := fs.Rejects[0]
			if rj.Row != 2 || rj.Line == 0 || !strings.Contains(rj.Raw, "byte ") {
				t.Fatalf("reject %+v: want row 2 with its line and byte offset", rj)
			}
			var addrs []string
			for _, e := range readLog(t, sum.LogPath) {
				addrs = append(addrs, e.Addr)
			}
			if strings.Join(addrs, " ") != "good1@example.com good2@example.com" {
				t.Fatalf("log holds %v", addrs)
			}
			// Importing again adds nothing: nothing doubled.
			sum2, err := Import(context.Background(), opts, []string{p}, nil)
			if err != nil || sum2.Accepted != 0 || sum2.Duplicate != 2 {
				t.Fatalf("re-import: %v accepted %d dup %d", err, sum2.Accepted, sum2.Duplicate)
			}
		})
	}
}

// TestHostileJSONEveryProvider: the bound is in the one JSON reader every
// JSON importer uses; SES and Postmark wrappers and arrays reject the same.
func TestHostileJSONEveryProvider(t *testing.T) {
	for _, c := range []struct {
		p    Provider
		body string
	}{
		{SES, `{"SuppressedDestinationSummaries":[{"EmailAddress":"a@example.com","Reason":"BOUNCE"},` + nested(100_000) + `]}`},
		{Postmark, `{"Suppressions":[{"EmailAddress":"a@example.com","SuppressionReason":"HardBounce"},` + nested(100_000) + `]}`},
		{Mailgun, `{"items":[{"address":"a@example.com","code":"550","error":"x"},` + nested(100_000) + `]}`},
		{SparkPost, `{"results":[{"recipient":"a@example.com","source":"Bounce Rule","type":"transactional"},` + nested(100_000) + `]}`},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.json")
		os.WriteFile(p, []byte(c.body), 0o600)
		sum, err := Import(context.Background(), ImportOptions{DB: openDB(t, dir), Provider: c.p, Now: testNow}, []string{p}, nil)
		if err != nil || sum.Accepted != 1 || sum.Rejected != 1 || sum.Files[0].RejectReasons["nested too deep"] != 1 {
			t.Fatalf("%s: err %v accepted %d rejected %d %v", c.p, err, sum.Accepted, sum.Rejected, sum.Files[0].RejectReasons)
		}
	}
}

// FuzzJSONStreamBounded: any bytes give items or one error, never a panic, and
// every item either decodes or carries its reason.
func FuzzJSONStreamBounded(f *testing.F) {
	for _, hc := range hostileJSON() {
		if len(hc.content) < 1<<16 {
			f.Add([]byte(hc.content))
		}
	}
	f.Add([]byte(nested(100) + "\n" + nested(65) + "\n" + nested(64)))
	f.Add([]byte(`{"result":[{"a":1}],"paging":{"x":[1,2,{"y":"\"]}"}]}}[1,"a",{}]`))
	f.Add([]byte(`[{"a":1}}],:{`))
	f.Add([]byte(`{"a" 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		js := newJSONStream(strings.NewReader(string(data)))
		for i := 0; ; i++ {
			it, ok, err := js.next()
			if err != nil || !ok {
				return
			}
			if it.err == "" && it.obj == nil && !it.isStr {
				t.Fatalf("item %d with neither value nor reason: %q", it.num, it.raw)
			}
			if i > len(data) {
				t.Fatalf("more items than bytes")
			}
		}
	})
}

// TestHostileLongLines: a CSV or plain-list line of megabytes (or a file
// with no line end at all) is one rejected row with its line number; the
// reader never holds it whole and the rows after it are read.
func TestHostileLongLines(t *testing.T) {
	long := strings.Repeat("y", 3<<19)
	for _, c := range []struct {
		name string
		opts ImportOptions
		body string
	}{
		{"sg.csv", ImportOptions{Provider: SendGrid, List: "bounces"}, "email,created\na@example.com,1443651154\n" + long + "@example.com,1\nb@example.com,1443651155\n"},
		{"sg_quoted.csv", ImportOptions{Provider: SendGrid, List: "bounces"}, "email,created\na@example.com,1443651154\n\"" + long + "\nb@example.com,1443651155\n"},
		{"list.txt", ImportOptions{Provider: PlainList, Type: model.SuppManual}, "a@example.com\n" + long + "\nb@example.com\n"},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.body), 0o600)
		c.opts.DB, c.opts.Now = openDB(t, dir), testNow
		sum, err := Import(context.Background(), c.opts, []string{p}, nil)
		if err != nil || sum.Accepted != 2 || sum.Rejected != 1 {
			t.Fatalf("%s: err %v accepted %d rejected %d %v", c.name, err, sum.Accepted, sum.Rejected, sum.Files[0].RejectReasons)
		}
		if rj := sum.Files[0].Rejects[0]; rj.Line != 3 && rj.Line != 2 || len(rj.Raw) > maxRaw+10 {
			t.Fatalf("%s: reject %d %q (%d bytes)", c.name, rj.Line, rj.Reason, len(rj.Raw))
		}
	}
}
