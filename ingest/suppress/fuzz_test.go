package suppress

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/model"
)

// readBytes runs the file reader of a provider over data with a sink in
// place of the log, and checks what every reader promises: no panic, every
// event valid for the log, events = accepted + duplicate, and every row
// either rejected or turned into events.
func readBytes(t *testing.T, opts ImportOptions, name string, data []byte) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = testNow
	}
	dir := t.TempDir()
	opts.RejectsPath = filepath.Join(dir, "rejects.csv")
	im, err := newImporter(opts)
	if err != nil {
		t.Fatal(err)
	}
	var events []model.SuppressionEvent
	im.appendFn = func(evs []model.SuppressionEvent) (int, error) {
		for i := range evs {
			evs[i].Seq = uint64(len(events) + 1)
			events = append(events, evs[i])
		}
		return len(evs), nil
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fs, _ := im.file(context.Background(), p, 0, 1) // a read error is fine; a panic is not
	im.closeRejects()
	if fs.Events != fs.Accepted+fs.Duplicate || int64(len(events)) != fs.Accepted {
		t.Fatalf("events %d accepted %d dup %d sink %d", fs.Events, fs.Accepted, fs.Duplicate, len(events))
	}
	if fs.Rejected > fs.Rows || fs.Events < fs.Rows-fs.Rejected {
		t.Fatalf("rows %d rejected %d events %d: a row vanished", fs.Rows, fs.Rejected, fs.Events)
	}
	for _, e := range events {
		if n, _, err := model.NormalizeAddress(e.Addr); err != nil || n != e.Addr {
			t.Fatalf("event with address %q not in normal form", e.Addr)
		}
		if !e.Type.Valid() || e.Source == "" || e.Scope == "" || e.Origin == "" {
			t.Fatalf("incomplete event %+v", e)
		}
		if len(e.Reason) > maxReason+4 {
			t.Fatalf("reason of %d bytes", len(e.Reason))
		}
	}
}

func seedFixtures(f *testing.F, p Provider) {
	for _, c := range calls {
		if c.provider != p {
			continue
		}
		for _, fx := range c.files {
			f.Add(fx.name, []byte(fx.content))
		}
	}
}

func fuzzProvider(f *testing.F, opts ImportOptions) {
	seedFixtures(f, opts.Provider)
	f.Add("x.csv", []byte("email\n\"a@b.com\n"))
	f.Add("x.json", []byte(`{"items":[{"address":"a@b.com","tags":["*",1,null]}]`))
	f.Add("x.json", []byte("[\"a@b.com\", 3, {\"email\": [\"x\"]}]"))
	f.Add("x.csv", []byte("\xff\xfee\x00m\x00a\x00i\x00l\x00\n\x00"))
	// over the bounds (issue 13): nesting past maxJSONDepth, in an array, a
	// wrapper and JSON Lines
	f.Add("x.json", []byte(`[{"email":"a@b.com"},`+nested(maxJSONDepth+1)+`]`))
	f.Add("x.json", []byte(`{"result":[`+nested(200)+`,"a@b.com"]}`))
	f.Add("x.jsonl", []byte(nested(maxJSONDepth)+"\n"+nested(maxJSONDepth+1)+"\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		// the name only feeds the list hint: keep it a short, plain file name
		name = strings.Map(func(r rune) rune {
			if r < 0x20 || r == '/' || r == '\\' || r > 0x7e {
				return '_'
			}
			return r
		}, name)
		if len(name) > 40 {
			name = name[:40]
		}
		if name == "" || name == "." || name == ".." {
			name = "f"
		}
		readBytes(t, opts, name, data)
	})
}

func FuzzSendGrid(f *testing.F)  { fuzzProvider(f, ImportOptions{Provider: SendGrid}) }
func FuzzMailgun(f *testing.F)   { fuzzProvider(f, ImportOptions{Provider: Mailgun}) }
func FuzzSES(f *testing.F)       { fuzzProvider(f, ImportOptions{Provider: SES, Scope: "eu-west-1"}) }
func FuzzPostmark(f *testing.F)  { fuzzProvider(f, ImportOptions{Provider: Postmark}) }
func FuzzSparkPost(f *testing.F) { fuzzProvider(f, ImportOptions{Provider: SparkPost}) }
func FuzzPlainList(f *testing.F) {
	fuzzProvider(f, ImportOptions{Provider: PlainList, Type: model.SuppUnsubscribe})
}

func FuzzGenericCSV(f *testing.F) {
	m, _ := ParseMap("email=E-Mail Address,type=Status,ts=Date")
	fuzzProvider(f, ImportOptions{Provider: GenericCSV, Map: m, Type: model.SuppManual})
}

func FuzzGenericCSVByNumber(f *testing.F) {
	m, _ := ParseMap("email=2,type=1")
	fuzzProvider(f, ImportOptions{Provider: GenericCSV, Map: m})
}

// The CSV reader alone: every physical line is accounted for.
func FuzzCSVReader(f *testing.F) {
	f.Add(sgBounces)
	f.Add("a,\"b\nc\",d\n\"never")
	f.Fuzz(func(t *testing.T, s string) {
		cr := newCSVReader(strings.NewReader(s))
		last := 0
		for i := 0; ; i++ {
			rec, ok, err := cr.next()
			if err != nil || !ok {
				break
			}
			if rec.line <= last {
				t.Fatalf("line %d after %d", rec.line, last)
			}
			last = rec.line
			if i > len(s)+1 {
				t.Fatal("more records than bytes")
			}
		}
	})
}

// The JSON stream alone: it ends (with an error or not) and numbers items
// in order.
func FuzzJSONStream(f *testing.F) {
	for _, c := range calls {
		for _, fx := range c.files {
			if strings.HasSuffix(fx.name, "json") || strings.HasSuffix(fx.name, "jsonl") {
				f.Add(fx.content)
			}
		}
	}
	f.Add(`{"a":{"b":[{"c":1}]},"items":[1,"x",{}],"z":[]}[]`)
	f.Fuzz(func(t *testing.T, s string) {
		js := newJSONStream(strings.NewReader(s))
		for i := 1; ; i++ {
			it, ok, err := js.next()
			if err != nil || !ok {
				return
			}
			if it.num != i {
				t.Fatalf("item %d numbered %d", i, it.num)
			}
			if i > len(s)+1 {
				t.Fatal("more items than bytes")
			}
		}
	})
}
