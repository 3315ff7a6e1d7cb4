package suppress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Target files may have been edited by hand: reading them back must not
// panic, whatever they hold.
func FuzzParseTarget(f *testing.F) {
	f.Add("postfix", "a@b.com REJECT x\n\"j..d\"@b.com REJECT\n/^[#]a@b[.]com$/ REJECT\n#c\n  cont\n")
	f.Add("exim", "\"#a@b.com\": x\na@b.com: y\n\"unterminated\n")
	f.Add("postfix-regexp", "/^\\^a\\/b@c$/ x\n/^a.*$/ y\n/")
	f.Add("csv", "addr,types\n\"a@b.com\",x\n")
	f.Add("pmta", "a@b.com\n\n")
	f.Fuzz(func(t *testing.T, format, s string) {
		fm, err := ParseFormat(format)
		if err != nil {
			fm = FormatPostfix
		}
		ParseTarget(fm, strings.NewReader(s))
	})
}

// VerifyLog reads any bytes and either verifies them or names a bad line;
// it never panics.
func FuzzVerifyLog(f *testing.F) {
	f.Add(`{"v":1,"seq":1,"type":"manual","addr":"a@b.com","recorded":"2026-01-01T00:00:00Z","source":"s","scope":"account","origin":"o","prev":"0000000000000000000000000000000000000000000000000000000000000000"}` + "\n")
	f.Add("{}\n{\n")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "log")
		os.WriteFile(p, []byte(s), 0o600)
		rep, err := VerifyLog(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bad == nil && rep.Valid != rep.Lines {
			t.Fatalf("%s", rep)
		}
	})
}
