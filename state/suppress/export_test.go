package suppress

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cutover/model"
)

var exportAddrs = []string{
	"plain@example.com",
	"john..doe@gmail.com", // not a dot-atom: Postfix looks it up quoted
	".lead@example.com",
	"#hash@example.com", // a postmap comment if written bare
	"a#b@example.com",
	"colon:@example.com",       // rejected by NormalizeAddress? ':' is a special: yes, never here
	"x!y%&'+-/=_~@example.com", // every atext special CheckLiteralAddress keeps
	"ünïcode@xn--bcher-kva.example",
	patternAddr,
}

// patternAddr is a valid address by RFC 5322 syntax that reads as a
// pattern: MTA formats refuse it (ExportResult.Refused), CSV keeps it.
const patternAddr = "/^.*$/@example.com"

func exportLog(t *testing.T) *Log {
	t.Helper()
	dir := t.TempDir()
	db := openDB(t, dir)
	t.Cleanup(func() { db.Close() })
	l := openLog(t, db, Options{})
	t.Cleanup(func() { l.Close() })
	var evs []model.SuppressionEvent
	for _, a := range exportAddrs {
		if n, _, err := model.NormalizeAddress(a); err != nil || n != a {
			continue
		}
		evs = append(evs, ev(a, model.SuppUnsubscribe, "t:list", "account", 0))
	}
	evs = append(evs, ev("blocked@example.com", model.SuppBlock, "sendgrid:blocks", "account", 0),
		ev("both@example.com", model.SuppBlock, "sendgrid:blocks", "account", 0),
		ev("both@example.com", model.SuppComplaint, "sendgrid:spam_reports", "account", 0))
	mustAppend(t, l, evs...)
	return l
}

func wantSet(includeBlocks bool) []string {
	var out []string
	for _, a := range exportAddrs {
		if n, _, err := model.NormalizeAddress(a); err == nil && n == a && a != patternAddr {
			out = append(out, a)
		}
	}
	out = append(out, "both@example.com")
	if includeBlocks {
		out = append(out, "blocked@example.com")
	}
	slices.Sort(out)
	return out
}

func TestExportRoundTrip(t *testing.T) {
	l := exportLog(t)
	for _, f := range Formats {
		for _, blocks := range []bool{false, true} {
			var main, extra bytes.Buffer
			opt := ExportOptions{Format: f, IncludeBlocks: blocks}
			if f == FormatPostfix {
				opt.PostfixRegexp = &extra
			}
			res, err := l.Export(&main, opt)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			got, err := ParseTarget(f, &main)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if f == FormatPostfix {
				more, err := ParseTarget(FormatPostfix, &extra)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, more...)
				if res.Regexp != 1 {
					t.Errorf("postfix regexp entries %d, want 1 (#hash)", res.Regexp)
				}
			}
			want := wantSet(blocks)
			if f == FormatCSV {
				want = append(want, patternAddr)
				slices.Sort(want)
			}
			if missing, extraA := Verify(want, got); len(missing)+len(extraA) != 0 {
				t.Errorf("%s blocks=%v: missing %q extra %q\n%s", f, blocks, missing, extraA, main.String())
			}
			if f != FormatCSV && !slices.Equal(res.Refused, []string{patternAddr}) {
				t.Errorf("%s: refused %q, want the pattern address", f, res.Refused)
			}
			if res.Written != len(want) || !slices.Equal(res.Addresses, want) {
				t.Errorf("%s: written %d %q", f, res.Written, res.Addresses)
			}
		}
	}
}

func TestExportPostfixUnrepresentable(t *testing.T) {
	l := exportLog(t)
	var main bytes.Buffer
	res, err := l.Export(&main, ExportOptions{Format: FormatPostfix})
	if !errors.Is(err, ErrUnrepresentable) || len(res.Unrepresented) != 1 || res.Unrepresented[0] != "#hash@example.com" {
		t.Fatalf("%v %q", err, res.Unrepresented)
	}
	if strings.Contains(main.String(), "\n#hash@") {
		t.Fatal("wrote a line postmap would take as a comment")
	}
}

func TestExportShapes(t *testing.T) {
	l := exportLog(t)
	var b, x bytes.Buffer
	if _, err := l.Export(&b, ExportOptions{Format: FormatPostfix, PostfixRegexp: &x}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nplain@example.com REJECT 5.7.1 Recipient address suppressed (unsubscribe)\n",
		"\n\"john..doe\"@gmail.com REJECT ",
		"\n\".lead\"@example.com REJECT ",
		"\nboth@example.com REJECT 5.7.1 Recipient address suppressed (complaint)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("postfix map lacks %q:\n%s", want, b.String())
		}
	}
	if !strings.Contains(x.String(), "\n/^[#]hash@example[.]com$/ REJECT ") {
		t.Errorf("regexp:\n%s", x.String())
	}
	b.Reset()
	l.Export(&b, ExportOptions{Format: FormatExim})
	for _, want := range []string{"\nplain@example.com: unsubscribe\n", "\n\"#hash@example.com\": unsubscribe\n", "\n\"x!y%&'+-/=_~@example.com\": "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exim lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	l.Export(&b, ExportOptions{Format: FormatPMTA})
	if b.String() != strings.Join(wantSet(false), "\n")+"\n" {
		t.Errorf("pmta:\n%s", b.String())
	}
	// same index, same bytes
	var b1, b2 bytes.Buffer
	r1, _ := l.Export(&b1, ExportOptions{Format: FormatCSV})
	r2, _ := l.Export(&b2, ExportOptions{Format: FormatCSV})
	if b1.String() != b2.String() || r1.SHA256 != r2.SHA256 || !strings.HasPrefix(b1.String(), "addr,types,first_seen") {
		t.Error("csv export not deterministic")
	}
}

func TestVerifySets(t *testing.T) {
	missing, extra := Verify([]string{"b@x.com", "a@x.com", "c@x.com", "a@x.com"}, []string{"C@X.com", "d@x.com", "a@x.com "})
	if !slices.Equal(missing, []string{"b@x.com"}) || !slices.Equal(extra, []string{"d@x.com"}) {
		t.Fatalf("%q %q", missing, extra)
	}
	if m, e := Verify(nil, nil); m != nil || e != nil {
		t.Fatal("empty")
	}
	if m, _ := Verify([]string{"a@x.com"}, nil); len(m) != 1 {
		t.Fatal("all missing")
	}
	// an entry commented out by hand is missing
	got, _ := ParseTarget(FormatPostfix, strings.NewReader("a@x.com REJECT x\n#b@x.com REJECT x\n  continued\n\n"))
	if m, _ := Verify([]string{"a@x.com", "b@x.com"}, got); !slices.Equal(m, []string{"b@x.com"}) {
		t.Fatalf("%q", m)
	}
	s := Sample([]string{"a", "b", "c", "d", "e"}, 2, 1)
	if len(s) != 2 || !slices.Equal(s, Sample([]string{"a", "b", "c", "d", "e"}, 2, 1)) {
		t.Fatalf("sample %q", s)
	}
}

// The Postfix map, compiled by the real postmap, answers for every address
// in the form smtpd looks it up (PostfixKey), including quoted local parts;
// the regexp companion answers for the '#' one.
func TestExportRealPostmap(t *testing.T) {
	postmap, err := exec.LookPath("postmap")
	if err != nil {
		t.Skip("postmap not installed (scripts/real-mta.sh install)")
	}
	l := exportLog(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644)
	var b, x bytes.Buffer
	if _, err := l.Export(&b, ExportOptions{Format: FormatPostfix, PostfixRegexp: &x}); err != nil {
		t.Fatal(err)
	}
	mapPath := filepath.Join(dir, "suppress")
	rePath := filepath.Join(dir, "suppress.regexp")
	os.WriteFile(mapPath, b.Bytes(), 0o644)
	os.WriteFile(rePath, x.Bytes(), 0o644)
	if out, err := exec.Command(postmap, "-c", dir, "hash:"+mapPath).CombinedOutput(); err != nil {
		t.Fatalf("postmap: %v %s", err, out)
	}
	for _, a := range wantSet(false) {
		key := PostfixKey(a)
		table := "hash:" + mapPath
		if key[0] == '#' {
			table = "regexp:" + rePath
		}
		out, err := exec.Command(postmap, "-c", dir, "-q", key, table).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "REJECT 5.7.1") {
			t.Errorf("postmap -q %q %s: %v %q", key, table, err, out)
		}
		// upper case in the query still matches (Postfix folds case)
		if out, err := exec.Command(postmap, "-c", dir, "-q", strings.ToUpper(key), table).CombinedOutput(); err != nil && !strings.ContainsAny(key, "ü") {
			t.Errorf("upper-case query %q: %v %q", strings.ToUpper(key), err, out)
		}
	}
	if out, err := exec.Command(postmap, "-c", dir, "-q", "blocked@example.com", "hash:"+mapPath).CombinedOutput(); err == nil {
		t.Errorf("block-only address exported: %q", out)
	}
}

// The Exim file matches every address through a real Exim's lsearch, as an
// ACL "recipients = lsearch;FILE" would.
func TestExportRealExim(t *testing.T) {
	exim := "/opt/cutover-realmta/exim-root/usr/sbin/exim4"
	conf := "/opt/cutover-realmta/exim.conf"
	if _, err := os.Stat(exim); err != nil {
		t.Skip("exim not unpacked (scripts/real-mta.sh install)")
	}
	if _, err := os.Stat(conf); err != nil {
		t.Skip("no exim config")
	}
	l := exportLog(t)
	var b bytes.Buffer
	if _, err := l.Export(&b, ExportOptions{Format: FormatExim}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "suppressed")
	os.WriteFile(file, b.Bytes(), 0o644)
	for _, a := range append(wantSet(false), "blocked@example.com") {
		// ${lookup} quotes nothing; the key goes in as is (braces would need
		// escaping, so skip the one address that has them).
		if strings.ContainsAny(a, "{}$\\") {
			continue
		}
		expr := "${lookup{" + a + "}lsearch{" + file + "}{found}{notfound}}"
		out, err := exec.Command(exim, "-C", conf, "-be", expr).CombinedOutput()
		want := "found"
		if a == "blocked@example.com" {
			want = "notfound"
		}
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("exim lookup %q: %v %q, want %s", a, err, out, want)
		}
	}
}

// TestPMTAPatternList: every rule matches exactly its address (Go's regexp
// stands in for PowerMTA's case-insensitive PCRE: both read a backslash
// before punctuation and \xHH as the literal byte), the file parses back to
// the same addresses, and anything that is not an anchored literal rule
// inside the block is reported, never taken as an address.
func TestPMTAPatternList(t *testing.T) {
	addrs := []string{
		"a.b+tag@example.com",
		"x!y$z%&'*+-/=?^_`{|}~@example.com",
		"#hash@example.com",
		"user@xn--bcher-kva.example", // IDN domain in punycode
		"ünïcode@xn--bcher-kva.example",
		`"john doe"@example.com`,
		"(paren)[br]{c}|p@example.com",
	}
	for _, a := range addrs {
		p := PMTARcptPattern(a)
		if !strings.HasPrefix(p, "/^") || !strings.HasSuffix(p, "$/") {
			t.Errorf("%s: pattern %s is not anchored", a, p)
		}
		if strings.ContainsAny(p[1:len(p)-1], "#/ \"'<>") {
			t.Errorf("%s: pattern %s holds a byte a config tokenizer may cut at", a, p)
		}
		re, err := regexp.Compile("(?i)" + p[1:len(p)-1])
		if err != nil {
			t.Fatalf("%s: %s does not compile: %v", a, p, err)
		}
		if !re.MatchString(a) || !re.MatchString(strings.ToUpper(a)) {
			t.Errorf("%s: %s does not match it (or its upper case)", a, p)
		}
		for _, other := range []string{"x" + a, a + "x", a + ".evil", strings.Replace(a, ".", "x", 1), strings.Replace(a, "+", "", 1), strings.Replace(a, "+", "++", 1)} {
			if other != a && re.MatchString(other) {
				t.Errorf("%s: %s also matches %q", a, p, other)
			}
		}
	}
	if got := PMTARcptPattern("a.b+tag@example.com"); got != `/^a\.b\+tag@example\.com$/` {
		t.Errorf("pattern %s", got)
	}
	if got := PMTARcptPattern("#x@e.com"); got != `/^\x23x@e\.com$/` {
		t.Errorf("pattern %s", got)
	}

	var buf bytes.Buffer
	if err := WritePMTAPatternList(&buf, addrs, PMTAPatternOptions{Name: "cutover-suppressed", VMTA: "blackhole", LogSeq: 9}); err != nil {
		t.Fatal(err)
	}
	pl, err := ParsePMTAPatternList(bytes.NewReader(buf.Bytes()))
	if err != nil || len(pl.Bad) > 0 || !slices.Equal(pl.Names, []string{"cutover-suppressed"}) {
		t.Fatalf("parse: %+v, %v\n%s", pl, err, buf.String())
	}
	var back []string
	for _, r := range pl.Rules {
		if r.VMTA != "blackhole" {
			t.Errorf("rule %+v", r)
		}
		back = append(back, r.Addr)
	}
	if !slices.Equal(back, addrs) {
		t.Errorf("read back %q, want %q", back, addrs)
	}

	for _, tc := range []struct{ line, why string }{
		{`rcpt-to /a\.b@example\.com/ virtual-mta=blackhole`, "not an anchored"},
		{`rcpt-to /^a.b@example\.com$/ virtual-mta=blackhole`, "not a literal"},
		{`rcpt-to /^a\db@example\.com$/ virtual-mta=blackhole`, `\d is not a literal`},
		{`rcpt-to /^.*@example\.com$/ virtual-mta=blackhole`, "not a literal"},
		{`rcpt-to /^a@example\.com\$/ virtual-mta=blackhole`, "not an anchored"},
		{`mail-from /^a@example\.com$/ virtual-mta=blackhole`, "not a rcpt-to rule"},
		{`rcpt-to /^a@example\.com$/ virtual-mta=blackhole bounce`, "not a rcpt-to rule"},
	} {
		pl, err := ParsePMTAPatternList(strings.NewReader("<pattern-list x>\n" + tc.line + "\n</pattern-list>\n"))
		if err != nil || len(pl.Rules) != 0 || len(pl.Bad) != 1 || !strings.Contains(pl.Bad[0], tc.why) {
			t.Errorf("%s: %+v, %v", tc.line, pl, err)
		}
	}
	pl, _ = ParsePMTAPatternList(strings.NewReader("rcpt-to /^a@b\\.c$/ virtual-mta=x\n<pattern-list y>\n"))
	if len(pl.Rules) != 0 || len(pl.Bad) != 2 {
		t.Errorf("rule outside the block, unclosed block: %+v", pl)
	}
}
