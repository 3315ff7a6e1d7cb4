package suppress

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/unicode"

	"cutover/model"
	"cutover/state"
	ssup "cutover/state/suppress"
)

var testNow = func() time.Time { return time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) }

func openDB(t testing.TB, dir string) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func writeFiles(t testing.TB, dir string, fs []fixture) []string {
	t.Helper()
	var paths []string
	for _, f := range fs {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func callOpts(db *state.DB, c importCall) ImportOptions {
	o := ImportOptions{DB: db, Provider: c.provider, Scope: c.scope, Source: c.source, Now: testNow, BatchSize: 3}
	if c.typ != "" {
		o.Type = model.SuppressionType(c.typ)
	}
	if c.mapping != "" {
		m, err := ParseMap(c.mapping)
		if err != nil {
			panic(err)
		}
		o.Map = m
	}
	return o
}

type logKey struct{ addr, typ, scope, source, ts string }

func readLog(t *testing.T, path string) []model.SuppressionEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.SuppressionEvent
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		e, err := model.ParseSuppressionEvent([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, e)
	}
	return out
}

func TestImportAllProviders(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	var wantAccepted int64
	var allRejects []string
	for ci, c := range calls {
		cdir := filepath.Join(dir, fmt.Sprint("call", ci))
		os.Mkdir(cdir, 0o755)
		paths := writeFiles(t, cdir, c.files)
		var progressDone int
		sum, err := Import(context.Background(), callOpts(db, c), paths, func(p Progress) {
			if p.Done {
				progressDone++
				if p.Bytes != p.Size {
					t.Errorf("%s: done at %d of %d bytes", p.File, p.Bytes, p.Size)
				}
			}
		})
		if err != nil {
			t.Fatalf("call %d (%s): %v", ci, c.provider, err)
		}
		if progressDone != len(paths) {
			t.Errorf("call %d: %d Done progress reports for %d files", ci, progressDone, len(paths))
		}
		for i, fs := range sum.Files {
			want := c.files[i]
			if fs.Rows != want.rows || fs.Rejected != int64(len(want.reject)) || fs.Events != want.events || fs.Accepted != want.accept || fs.Duplicate != want.dup {
				t.Errorf("%s: rows %d rejected %d events %d accepted %d dup %d; want %d %d %d %d %d\nrejects: %+v\nnotes: %q",
					want.name, fs.Rows, fs.Rejected, fs.Events, fs.Accepted, fs.Duplicate,
					want.rows, len(want.reject), want.events, want.accept, want.dup, fs.Rejects, fs.Notes)
			}
			if fs.Events != fs.Accepted+fs.Duplicate {
				t.Errorf("%s: events %d != accepted+dup", want.name, fs.Events)
			}
			var rows []int
			for _, r := range fs.Rejects {
				rows = append(rows, r.Row)
				allRejects = append(allRejects, fmt.Sprintf("%s:%d", want.name, r.Row))
			}
			if !slices.Equal(rows, want.reject) && !(len(rows) == 0 && len(want.reject) == 0) {
				t.Errorf("%s: rejected rows %v, want %v (%+v)", want.name, rows, want.reject, fs.Rejects)
			}
			if want.list != "" && fs.List != want.list {
				t.Errorf("%s: list %q (%s), want %q", want.name, fs.List, fs.ListFrom, want.list)
			}
			wantAccepted += want.accept
		}
	}

	logPath := ssup.DefaultLogPath(db.Path())
	evs := readLog(t, logPath)
	if int64(len(evs)) != wantAccepted {
		t.Fatalf("log has %d events, want %d", len(evs), wantAccepted)
	}
	// every event exactly once
	seen := map[logKey]bool{}
	addrs := map[string]bool{}
	for _, e := range evs {
		k := logKey{e.Addr, string(e.Type), e.Scope, e.Source, model.FormatSuppressionTime(e.TS)}
		if seen[k] {
			t.Fatalf("duplicate in log: %+v", k)
		}
		seen[k] = true
		addrs[e.Addr] = true
	}
	var got []string
	for a := range addrs {
		got = append(got, a)
	}
	slices.Sort(got)
	want := slices.Clone(wantAddrs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("addresses:\n got %q\nwant %q", got, want)
	}

	// rejects file: every rejected row with its file and row
	rf, err := os.Open(logPath + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(rf).ReadAll()
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	var fileRejects []string
	for _, r := range recs[1:] {
		fileRejects = append(fileRejects, filepath.Base(r[1])+":"+r[2])
	}
	if !slices.Equal(fileRejects, allRejects) {
		t.Fatalf("rejects file %q\nwant %q", fileRejects, allRejects)
	}
	if strings.Join(recs[0], ",") != "run,file,row,line,reason,raw" {
		t.Fatalf("rejects header %q", recs[0])
	}

	// spot checks through the index
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(addr string) []model.SuppressionEvent {
		t.Helper()
		evs, err := l.Check(addr)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	alice := check("alice@EXAMPLE.com")
	var srcs []string
	for _, e := range alice {
		srcs = append(srcs, string(e.Type)+"@"+e.Source+"@"+e.Scope)
	}
	wantAlice := []string{
		"hard_bounce@sendgrid:bounces@account", "complaint@sendgrid:spam_reports@account",
		"unsubscribe@sendgrid:global_unsubscribes@account", "hard_bounce@mailgun:bounces@domain:mg.example.com",
		"complaint@mailgun:complaints@account", "complaint@ses:suppressed_destinations@region:eu-west-1",
	}
	if !slices.Equal(srcs, wantAlice) {
		t.Errorf("alice:\n got %q\nwant %q", srcs, wantAlice)
	}
	if alice[0].Orig != "Alice@Example.COM" || !strings.Contains(alice[0].Reason, `"unnecessary" spaces`) ||
		!strings.HasPrefix(alice[0].Origin, "sendgrid_bounces.csv sha256:") || !strings.HasSuffix(alice[0].Origin, ":2") {
		t.Errorf("alice[0] %+v", alice[0])
	}
	// The origin names the file by the first 16 hex digits of its sha256.
	if sum := sha256.Sum256([]byte(sgBounces)); alice[0].Origin != "sendgrid_bounces.csv sha256:"+hex.EncodeToString(sum[:])[:16]+":2" {
		t.Errorf("origin %q", alice[0].Origin)
	}
	if alice[2].TS != time.Date(2014, 12, 6, 8, 34, 48, 0, time.UTC) {
		t.Errorf("naive time read as %v", alice[2].TS)
	}
	if bob := check("bob@example.com"); len(bob) != 2 || bob[0].Type != model.SuppBlock || bob[1].Type != model.SuppBlock {
		t.Errorf("bob (4.x bounce and block): %+v", bob)
	}
	if carol := check("carol@bücher.example"); len(carol) != 2 || carol[0].Orig != "carol@bücher.example" || carol[0].Reason != "5.1.1 multi\nline reason" || carol[1].Source != "list:legacy-postfix" {
		t.Errorf("carol: %+v", carol)
	}
	if mia := check("mia@example.com"); len(mia) != 2 || mia[0].Scope != "tag:newsletter" || mia[1].Scope != "tag:promo" {
		t.Errorf("mia: %+v", mia)
	}
	if ivan := check("ivan@example.com"); len(ivan) != 2 || ivan[0].Scope != "group:42" || ivan[0].Reason != "group Weekly News" || ivan[1].TS != (time.Time{}) {
		t.Errorf("ivan: %+v", ivan)
	}
	if oscar := check("oscar@example.com"); len(oscar) != 1 || oscar[0].TS != time.Unix(1586556479, 141e6).UTC() {
		t.Errorf("oscar: %+v", oscar)
	}
	if pm := check("address@wildbit.com"); len(pm) != 1 || pm[0].Type != model.SuppUnsubscribe || pm[0].Scope != "stream:outbound" {
		t.Errorf("postmark recipient manual: %+v", pm)
	}
	if pm := check("manual@wildbit.com"); len(pm) != 1 || pm[0].Type != model.SuppManual {
		t.Errorf("postmark customer manual: %+v", pm)
	}
	if vic := check("vic@example.com"); len(vic) != 2 || vic[0].Scope != "type:transactional" || vic[1].Scope != "type:non_transactional" || vic[0].Type != model.SuppComplaint {
		t.Errorf("vic: %+v", vic)
	}
	if sam := check("sam@example.com"); len(sam) != 1 || sam[0].Type != model.SuppManual {
		t.Errorf("sam: %+v", sam)
	}
	if bo := check("bo@example.com"); len(bo) != 1 || bo[0].Orig != `"Smith, Bo" <bo@example.com>` || bo[0].Type != model.SuppComplaint || bo[0].Source != "csv:legacy-crm" {
		t.Errorf("bo: %+v", bo)
	}
	if jd := check("john..doe@gmail.com"); len(jd) != 1 || jd[0].Reason != "REJECT" {
		t.Errorf("john..doe: %+v", jd)
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Addresses != uint64(len(wantAddrs)) || st.Events != uint64(wantAccepted) {
		t.Errorf("stats %+v", st)
	}
	if c := st.BySource["sendgrid:blocks"]; c.Addresses != 2 {
		t.Errorf("blocks %+v", c)
	}
	set, _ := l.Set(false)
	if slices.Contains(set, "frank@example.com") || slices.Contains(set, "bob@example.com") || !slices.Contains(set, "#hash@example.com") {
		t.Errorf("block-only addresses exported, or missing: %q", set)
	}
	l.Close()
	if rep, err := ssup.VerifyLog(logPath, db); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep, err)
	}

	// Everything again (from another directory): nothing appended,
	// everything duplicate, rejected rows counted but not written again.
	before, _ := os.ReadFile(logPath)
	rejBefore, _ := os.ReadFile(logPath + ".rejects.csv")
	for ci, c := range calls {
		paths := writeFiles(t, filepath.Join(dir, fmt.Sprint("call", ci)), c.files)
		sum, err := Import(context.Background(), callOpts(db, c), paths, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Accepted != 0 || sum.Duplicate != sum.Events {
			t.Errorf("re-import %s: accepted %d dup %d events %d", c.provider, sum.Accepted, sum.Duplicate, sum.Events)
		}
	}
	after, _ := os.ReadFile(logPath)
	if string(before) != string(after) {
		t.Fatal("re-import changed the log")
	}
	if rejAfter, _ := os.ReadFile(logPath + ".rejects.csv"); string(rejAfter) != string(rejBefore) {
		t.Fatalf("re-import appended to the rejects file: %d bytes, was %d", len(rejAfter), len(rejBefore))
	}
}

func TestImportNotes(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	paths := writeFiles(t, dir, []fixture{
		{name: "x.csv", content: "email,created,status,reason\na@x.com,1,4.2.2,mailbox full\nb@x.com,1443651154,5.1.1,gone\n"},
	})
	sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: SendGrid, Now: testNow}, paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs := sum.Files[0]
	if fs.List != "bounces+blocks" || !strings.Contains(fs.ListFrom, "status per row") {
		t.Errorf("list %q from %q", fs.List, fs.ListFrom)
	}
	if fs.ByType[model.SuppBlock] != 1 || fs.ByType[model.SuppHardBounce] != 1 {
		t.Errorf("by type %v", fs.ByType)
	}
	if !strings.Contains(strings.Join(fs.Notes, "|"), "times not understood") {
		t.Errorf("notes %q", fs.Notes)
	}
	if len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], "NOT hard bounces") {
		t.Errorf("summary notes %q", sum.Notes)
	}
	l, _ := ssup.Open(db, "", ssup.Options{})
	defer l.Close()
	evs, _ := l.Check("a@x.com")
	if len(evs) != 1 || evs[0].Source != "sendgrid:blocks" || !evs[0].TS.IsZero() || !strings.Contains(evs[0].Reason, `(time "1" not understood)`) {
		t.Errorf("a@x.com %+v", evs)
	}
}

func TestImportOptionsChecked(t *testing.T) {
	db := openDB(t, t.TempDir())
	for _, o := range []ImportOptions{
		{DB: db, Provider: "nope"},
		{DB: db, Provider: PlainList},
		{DB: db, Provider: GenericCSV, Type: model.SuppUnsubscribe},
		{DB: db, Provider: GenericCSV, Map: map[string]string{"email": "e"}},
		{DB: db, Provider: SendGrid, List: "complaints-ish"},
		{DB: db, Provider: SendGrid, Type: "soft"},
	} {
		if _, err := Import(context.Background(), o, nil, nil); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
	for _, m := range []string{"", "type=X", "email=A,email=B", "foo=1", "email"} {
		if _, err := ParseMap(m); err == nil {
			t.Errorf("ParseMap(%q) accepted", m)
		}
	}
	m, err := ParseMap("addr=3, type=Status ,date=1")
	if err != nil || m["email"] != "3" || m["type"] != "Status" || m["ts"] != "1" {
		t.Errorf("%v %v", m, err)
	}
}

// A UTF-16 (Excel "Unicode text") list with CRLF and an IDN domain.
func TestImportUTF16(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	enc := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	b, err := enc.Bytes([]byte("ella@Bücher.example\r\nfinn@example.com\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "list16.txt")
	os.WriteFile(p, b, 0o644)
	sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: PlainList, Type: model.SuppHardBounce, Now: testNow}, []string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 2 || sum.Files[0].Encoding != "utf-16le" {
		t.Fatalf("%+v", sum.Files[0])
	}
	evs := readLog(t, ssup.DefaultLogPath(db.Path()))
	if evs[0].Addr != "ella@xn--bcher-kva.example" || evs[0].Source != "list:import" || evs[0].Type != model.SuppHardBounce {
		t.Fatalf("%+v", evs[0])
	}
}

// A JSON file cut in the middle: what was read is kept, the file is
// reported failed with where, the next file is still read.
func TestImportBrokenJSON(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	paths := writeFiles(t, dir, []fixture{
		{name: "cut.json", content: "[\n{\"email\":\"a@x.com\",\"created\":1},\n{\"email\":\"b@x.com\",\n\"created\":"},
		{name: "ok.json", content: `[{"email":"c@x.com","created":1443651154}]`},
	})
	sum, err := Import(context.Background(), ImportOptions{DB: db, Provider: SendGrid, List: "global_unsubscribes", Now: testNow}, paths, nil)
	if err == nil || !strings.Contains(err.Error(), "cut.json") || !strings.Contains(sum.Files[0].Err, "item 2, which starts on line 3") {
		t.Fatalf("err %v; file err %q", err, sum.Files[0].Err)
	}
	if sum.Files[0].Accepted != 1 || sum.Files[1].Accepted != 1 {
		t.Fatalf("%+v", sum.Files)
	}
}

func TestImportCancel(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	var b strings.Builder
	b.WriteString("email,created\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "u%d@x.com,%d\n", i, 1443651154+i)
	}
	paths := writeFiles(t, dir, []fixture{{name: "unsub.csv", content: b.String()}})
	ctx, cancel := context.WithCancel(context.Background())
	o := ImportOptions{DB: db, Provider: SendGrid, BatchSize: 100, Now: testNow}
	sum, err := Import(ctx, o, paths, func(p Progress) {
		if p.Rows >= 100 {
			cancel()
		}
	})
	if err == nil || sum.Accepted == 0 || sum.Accepted >= 5000 {
		t.Fatalf("cancel: %v, accepted %d", err, sum.Accepted)
	}
	// the rerun completes it
	sum2, err := Import(context.Background(), o, paths, nil)
	if err != nil || sum2.Accepted+sum.Accepted != 5000 || sum2.Duplicate != sum.Accepted {
		t.Fatalf("rerun: %v %+v", err, sum2)
	}
}

func TestParseTime(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	cases := []struct {
		in    string
		tz    *time.Location
		want  time.Time
		naive bool
	}{
		{"1443651154", nil, time.Unix(1443651154, 0), false},
		{"1586556479.141", nil, time.Unix(1586556479, 141e6), false},
		{"1586556479141", nil, time.Unix(1586556479, 141e6), false},
		{"2019-12-17T08:58:33-05:00", nil, time.Date(2019, 12, 17, 13, 58, 33, 0, time.UTC), false},
		{"2020-04-10T22:07:59.141000+00:00", nil, time.Unix(1586556479, 141e6), false},
		{"Thu, 13 Oct 2011 18:02:00 GMT", nil, time.Date(2011, 10, 13, 18, 2, 0, 0, time.UTC), false},
		{"Thu, 13 Oct 2011 18:02:00 +0000", nil, time.Date(2011, 10, 13, 18, 2, 0, 0, time.UTC), false},
		{"Fri, 14 Oct 2011 20:02:00 +0200", nil, time.Date(2011, 10, 14, 18, 2, 0, 0, time.UTC), false},
		{"2014-12-06 08:34:48", la, time.Date(2014, 12, 6, 16, 34, 48, 0, time.UTC), true},
		{"2020-01-01", nil, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"8/27/2015", nil, time.Date(2015, 8, 27, 0, 0, 0, 0, time.UTC), true},
	}
	for _, c := range cases {
		got, naive, ok := parseTime(c.in, c.tz)
		if !ok || !got.Equal(c.want) || naive != c.naive {
			t.Errorf("parseTime(%q) = %v %v %v, want %v %v", c.in, got, naive, ok, c.want.UTC(), c.naive)
		}
	}
	for _, bad := range []string{"yesterday", "1", "99999999999999999999999", "3000-01-01T00:00:00Z", "1.2.3"} {
		if _, _, ok := parseTime(bad, nil); ok {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	if tm, _, ok := parseTime("  ", nil); !ok || !tm.IsZero() {
		t.Error("empty")
	}
}

func TestListKey(t *testing.T) {
	for in, want := range map[string][2]string{
		"a@b.com":                       {"a@b.com", ""},
		"a@b.com REJECT 5.7.1 go away":  {"a@b.com", "REJECT 5.7.1 go away"},
		"a@b.com\tDISCARD":              {"a@b.com", "DISCARD"},
		"a@b.com: unsub":                {"a@b.com", "unsub"},
		"a@b.com:":                      {"a@b.com", ""},
		`"#a@b.com": x`:                 {"#a@b.com", "x"},
		`"john..doe"@gmail.com REJECT`:  {"john..doe@gmail.com", "REJECT"},
		`"a\"q"@b.com`:                  {`a"q@b.com`, ""},
		`"unterminated@b.com REJECT`:    {`"unterminated@b.com`, "REJECT"},
		"example.org REJECT whole site": {"example.org", "REJECT whole site"},
	} {
		k, v := listKey(in)
		if k != want[0] || v != want[1] {
			t.Errorf("listKey(%q) = %q, %q; want %q", in, k, v, want)
		}
	}
}

// The JSON reader sees the same items in every shape a provider ships.
func TestJSONShapes(t *testing.T) {
	items := `{"email":"a@x.com","n":1},{"email":"b@x.com","tags":["*"],"n":2}`
	shapes := map[string]string{
		"array":      "[" + items + "]",
		"wrapper":    `{"result":[` + items + `],"paging":{"next":"x"}}`,
		"wrapper2":   `{"meta":{"a":[1,2]},"items":[` + items + `]}`,
		"jsonl":      `{"email":"a@x.com","n":1}` + "\n" + `{"email":"b@x.com","tags":["*"],"n":2}` + "\n",
		"pages":      `{"items":[{"email":"a@x.com","n":1}]}` + "\n" + `{"items":[{"email":"b@x.com","tags":["*"],"n":2}]}`,
		"pretty":     "[\n  {\n    \"email\": \"a@x.com\", \"n\": 1\n  },\n  {\n    \"email\": \"b@x.com\", \"tags\": [\"*\"], \"n\": 2\n  }\n]\n",
		"two arrays": `[{"email":"a@x.com","n":1}]` + "\n" + `[{"email":"b@x.com","tags":["*"],"n":2}]`,
	}
	for name, s := range shapes {
		js := newJSONStream(strings.NewReader(s))
		var got []string
		for {
			it, ok, err := js.next()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !ok {
				break
			}
			raw, _ := json.Marshal(it.obj)
			got = append(got, string(raw)+"@"+strconv.Itoa(it.num))
		}
		want := []string{`{"email":"a@x.com","n":1}@1`, `{"email":"b@x.com","n":2,"tags":["*"]}@2`}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q", name, got)
		}
	}
	// line numbers of items in a pretty-printed array
	js := newJSONStream(strings.NewReader(shapes["pretty"]))
	var lines []int
	for {
		it, ok, _ := js.next()
		if !ok {
			break
		}
		lines = append(lines, it.line)
	}
	if !slices.Equal(lines, []int{2, 5}) {
		t.Errorf("item lines %v, want [2 5]", lines)
	}
}

func TestCSVReader(t *testing.T) {
	in := "a,b,c\r\n" + // 1
		`"x,1","y""q",z` + "\n" + // 2
		`"multi` + "\n" + `line",2,` + "\n" + // 3-4
		`bare"quote,after"close"x,3` + "\n" + // 5
		`"never closed,4` + "\n" + // 6
		"next,5\n" + // 7
		"\n" + // 8
		"last,6" // 9, no newline
	cr := newCSVReader(strings.NewReader(in))
	var got []string
	for {
		rec, ok, err := cr.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%d:%q:%s:%v", rec.line, rec.fields, rec.err, rec.blank))
	}
	want := []string{
		`1:["a" "b" "c"]::false`,
		`2:["x,1" "y\"q" "z"]::false`,
		`3:["multi\nline" "2" ""]::false`,
		`5:["bare\"quote" "after\"close\"x" "3"]::false`,
		`6:[]:unterminated quoted field:false`,
		`7:["next" "5"]::false`,
		`8:[]::true`,
		`9:["last" "6"]::false`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := sniffDelim(`recipient;type;"a;b";c`); d != ';' {
		t.Errorf("sniff %q", d)
	}
	if d := sniffDelim("a\tb\tc"); d != '\t' {
		t.Errorf("sniff %q", d)
	}
}

// The UI passes its open log; the summary text names what happened.
func TestImportWithOpenLogAndText(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	l, err := ssup.Open(db, "", ssup.Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	paths := writeFiles(t, dir, calls[0].files[:1])
	var last Progress
	sum, err := Import(context.Background(), ImportOptions{Log: l, Provider: SendGrid, Now: testNow}, paths, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if l.LastSeq() != 4 || !last.Done || !strings.Contains(last.String(), "[1/1] sendgrid_bounces.csv 100% rows 13 accepted 4 duplicate 1 rejected 8") {
		t.Fatalf("seq %d, progress %q", l.LastSeq(), last.String())
	}
	var b strings.Builder
	sum.WriteText(&b)
	for _, want := range []string{"rows 13: rejected 8; events 5: accepted 4, duplicate 1", "+ 3 hard_bounce", "+ 1 block",
		"rejected row 4 (line 4): address \"#02232014\": not an address (no @)", "rejected row 9 (line 9): repeated header row",
		"rejected row 14 (line 14): unterminated quoted field", "log ", "seq 1..4", "NOT hard bounces"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
