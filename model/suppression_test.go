package model

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalizeAddress(t *testing.T) {
	ok := []struct{ in, norm, orig string }{
		{"user@example.com", "user@example.com", ""},
		{"  User@Example.COM \r", "user@example.com", "User@Example.COM"},
		{"<John.Doe@Example.com>", "john.doe@example.com", "<John.Doe@Example.com>"},
		{`"a@b.com"`, "a@b.com", `"a@b.com"`},
		{"'a@b.com'", "a@b.com", "'a@b.com'"},
		{"John Doe <JD@b.com>", "jd@b.com", "John Doe <JD@b.com>"},
		{"mailto:X@b.com", "x@b.com", "mailto:X@b.com"},
		{"\ufeffa@b.com", "a@b.com", ""}, // BOM stuck to the first cell is trimmed, not "original"
		{"a@b.com.", "a@b.com", "a@b.com."},
		{"Ünïcode@Bücher.example", "ünïcode@xn--bcher-kva.example", "Ünïcode@Bücher.example"},
		{"user@MÜNCHEN.de", "user@xn--mnchen-3ya.de", "user@MÜNCHEN.de"},
		{"user@straße.de", "user@xn--strae-oqa.de", "user@straße.de"}, // non-transitional: ß kept
		{"user@xn--mnchen-3ya.de", "user@xn--mnchen-3ya.de", ""},
		{"john..doe@gmail.com", "john..doe@gmail.com", ""}, // real, lenient
		{"a+tag@sub.b-c.co.uk", "a+tag@sub.b-c.co.uk", ""},
		{"#hash@b.com", "#hash@b.com", ""},
		// RFC 5321 quoted local parts stay quoted (RCPT TO carries them so),
		// unless the content is a dot-atom (then it is the same mailbox).
		{`"neko..nyaan"@example.org`, `"neko..nyaan"@example.org`, ""},
		{`"Neko..Nyaan"@Example.ORG`, `"neko..nyaan"@example.org`, `"Neko..Nyaan"@Example.ORG`},
		{`"a b"@c.com`, `"a b"@c.com`, ""},
		{`"abc@def"@c.com`, `"abc@def"@c.com`, ""},
		{`"a\"q"@c.com`, `"a\"q"@c.com`, ""},
		{`"abc"@c.com`, "abc@c.com", `"abc"@c.com`},
		{`<"x y"@c.com>`, `"x y"@c.com`, `<"x y"@c.com>`},
		{"x@my_host.example.com", "x@my_host.example.com", ""},
		// NFD local part becomes NFC (e + combining acute -> é)
		{"re\u0301sume\u0301@b.com", "résumé@b.com", "re\u0301sume\u0301@b.com"},
	}
	for _, c := range ok {
		n, o, err := NormalizeAddress(c.in)
		if err != nil || n != c.norm || o != c.orig {
			t.Errorf("NormalizeAddress(%q) = %q, %q, %v; want %q, %q", c.in, n, o, err, c.norm, c.orig)
		}
	}
	bad := []struct {
		in   string
		kind error
	}{
		{"", ErrAddrEmpty},
		{"   ", ErrAddrEmpty},
		{"<>", ErrAddrEmpty},
		{"gmail.com", ErrAddrNoAt},
		{"#02232014", ErrAddrNoAt},
		{"To", ErrAddrNoAt},
		{"8/27/2015", ErrAddrNoAt},
		{"email", ErrAddrNoAt},
		{"name@yahoo.comett@domain.com", ErrAddrManyAt},
		{"@b.com", ErrAddrLocal},
		{"a@", ErrAddrDomain},
		{"a@localhost", ErrAddrDomain},
		{"a@1.2.3.4", ErrAddrDomain},
		{"a@[1.2.3.4]", ErrAddrLiteral},
		{"a b@c.com", ErrAddrChars},
		{"a@b.com\x00x", ErrAddrChars},
		{"a\u200b@b.com", ErrAddrChars},
		{"a@b..com", ErrAddrDomain},
		{"a@-b.com", ErrAddrDomain},
		{"a,b@c.com", ErrAddrLocal},
		{`"a b@c.com`, ErrAddrQuoted},
		{`"a"b@c.com`, ErrAddrQuoted},
		{`"a\` + "\x01" + `"@c.com`, ErrAddrQuoted},
		{strings.Repeat("x", 65) + "@b.com", ErrAddrTooLong},
		{"x@" + strings.Repeat("a", 64) + ".com", ErrAddrDomain},
		{"x@" + strings.Repeat(strings.Repeat("a", 60)+".", 5) + "com", ErrAddrTooLong},
		{"a@b.com\xff", ErrAddrChars},
		{"a@xn--.com", ErrAddrDomain},
	}
	for _, c := range bad {
		n, _, err := NormalizeAddress(c.in)
		if err == nil || !errors.Is(err, c.kind) {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want error %v", c.in, n, err, c.kind)
		}
		var ae *AddressError
		if err != nil && !errors.As(err, &ae) {
			t.Errorf("NormalizeAddress(%q): error %T is not *AddressError", c.in, err)
		}
	}
}

// Normalising a normalised address must give it back unchanged: the log
// stores norm, and VerifyLog re-checks it.
func TestNormalizeIdempotent(t *testing.T) {
	for _, in := range []string{"A@B.com", "Ünïcode@Bücher.example", "x@MÜNCHEN.de", "re\u0301@b.com"} {
		n, _, err := NormalizeAddress(in)
		if err != nil {
			t.Fatal(err)
		}
		n2, o2, err := NormalizeAddress(n)
		if err != nil || n2 != n || o2 != "" {
			t.Errorf("%q: second pass %q %q %v", n, n2, o2, err)
		}
	}
}

func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"a@b.com", "A.B+c@Sub.Example.COM", "a@b_c.d-e.f", "a@-b.com", "a@b.1", "<A@B.com>", "gmail.com", "#02232014", "x@Bücher.de", `"a"@b`, "a@[1.2.3.4]", "\ufeffa@b.c", `"abc@def"@x.example`, `"a\"b"@x.example`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fast, ok := normalizeASCII(s); ok {
			slow, _, err := normalizeSlow(s)
			if err != nil || slow != fast {
				t.Fatalf("%q: fast path %q, slow path %q %v", s, fast, slow, err)
			}
		}
		n, o, err := NormalizeAddress(s)
		if err != nil {
			return
		}
		// One '@' outside a quoted local part ("abc@def"@x holds two).
		at := strings.LastIndexByte(n, '@')
		if n == "" || at <= 0 || (strings.Count(n, "@") != 1 && n[0] != '"') || !utf8.ValidString(n) || len(n) > maxAddress {
			t.Fatalf("%q -> bad norm %q", s, n)
		}
		if n != strings.ToLower(n) {
			t.Fatalf("%q -> not lowercase %q", s, n)
		}
		if o != "" && o == n {
			t.Fatalf("orig equals norm")
		}
		n2, o2, err := NormalizeAddress(n)
		if err != nil || n2 != n || o2 != "" {
			t.Fatalf("%q -> %q not stable: %q %q %v", s, n, n2, o2, err)
		}
	})
}

func TestParseSuppressionType(t *testing.T) {
	for in, want := range map[string]SuppressionType{
		"Unsubscribe": SuppUnsubscribe, "UNSUB": SuppUnsubscribe, "hard-bounce": SuppHardBounce,
		"Bounce": SuppHardBounce, "spam report": SuppComplaint, "FBL": SuppComplaint, "manual": SuppManual, "blocks": SuppBlock,
	} {
		if got, ok := ParseSuppressionType(in); !ok || got != want {
			t.Errorf("%q -> %q %v", in, got, ok)
		}
	}
	if _, ok := ParseSuppressionType("soft"); ok {
		t.Error("soft accepted")
	}
	if SuppBlock.Suppresses() || !SuppManual.Suppresses() || SuppressionType("x").Suppresses() {
		t.Error("Suppresses")
	}
	mask := SuppHardBounce.Bit() | SuppBlock.Bit()
	if got := TypesOf(mask); len(got) != 2 || got[0] != SuppHardBounce || got[1] != SuppBlock {
		t.Errorf("TypesOf %v", got)
	}
}

func TestSuppressionEventJSON(t *testing.T) {
	e := SuppressionEvent{V: 1, Seq: 7, Type: SuppComplaint, Addr: "a@b.com", Orig: "A@B.com",
		TS: time.Unix(1586556479, 141e6), Recorded: time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC),
		Source: "ses:suppressed_destinations", Scope: "region:eu-west-1",
		Reason: "tab\there \"quoted\" \x01 \u2028 bad\xff", Origin: "f.json sha256:ab:3", Prev: GenesisPrev}
	line := e.AppendJSON(nil)
	if !json.Valid(line) {
		t.Fatalf("not JSON: %s", line)
	}
	if strings.ContainsAny(string(line), "\n\r\u2028") {
		t.Fatalf("line breaks inside: %q", line)
	}
	want := `{"v":1,"seq":7,"type":"complaint","addr":"a@b.com","orig":"A@B.com","ts":"2020-04-10T22:07:59.141Z","recorded":"2026-11-02T03:04:05Z","source":"ses:suppressed_destinations","scope":"region:eu-west-1","reason":"tab\there \"quoted\" \u0001 \u2028 bad�","origin":"f.json sha256:ab:3","prev":"` + GenesisPrev + `"}`
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
	back, err := ParseSuppressionEvent(line)
	if err != nil {
		t.Fatal(err)
	}
	if !back.TS.Equal(e.TS) || back.Addr != e.Addr || back.Reason != "tab\there \"quoted\" \x01 \u2028 bad\ufffd" || back.Seq != 7 {
		t.Fatalf("round trip: %+v", back)
	}
	// and the bytes are a fixed point
	if again := back.AppendJSON(nil); string(again) != string(line) {
		t.Fatalf("re-encode differs:\n%s\n%s", again, line)
	}
	// no ts: field left out, read back as zero
	e.TS = time.Time{}
	e.Orig, e.Reason = "", ""
	line = e.AppendJSON(nil)
	if strings.Contains(string(line), `"ts"`) || strings.Contains(string(line), `"orig"`) || strings.Contains(string(line), `"reason"`) {
		t.Fatalf("empty optional fields written: %s", line)
	}
	if back, err = ParseSuppressionEvent(line); err != nil || !back.TS.IsZero() {
		t.Fatalf("%v %v", back.TS, err)
	}
	for _, bad := range []string{`{`, `{"v":2,"seq":1}`, `{"v":1}`, `{"v":1,"seq":1,"type":"x"}`,
		`{"v":1,"seq":1,"type":"manual","addr":"a@b.c","recorded":"2026-01-01T00:00:00Z","source":"s","scope":"account","origin":"o","prev":"zz"}`,
		`{"v":1,"seq":1,"type":"manual","addr":"a@b.c","recorded":"2026-01-01T00:00:00Z","source":"s","scope":"account","origin":"o","prev":"` + GenesisPrev + `"} {}`,
	} {
		if _, err := ParseSuppressionEvent([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// jsonPlain8 agrees with the byte table for every byte at every position,
// and for every pair of bytes side by side (where a borrow could hide one).
func TestJSONPlain8(t *testing.T) {
	word := func(b [8]byte) uint64 {
		var x uint64
		for i := 7; i >= 0; i-- {
			x = x<<8 | uint64(b[i])
		}
		return x
	}
	safe := func(c byte) bool { return c < utf8.RuneSelf && jsonSafe[c] }
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(c)
			if got := jsonPlain8(word(b)); got != safe(byte(c)) {
				t.Fatalf("byte %#x at %d: plain %v", c, pos, got)
			}
		}
	}
	for pos := 0; pos < 7; pos++ {
		for c := 0; c < 256; c++ {
			for d := 0; d < 256; d++ {
				b := [8]byte{'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'}
				b[pos], b[pos+1] = byte(c), byte(d)
				if got := jsonPlain8(word(b)); got != (safe(byte(c)) && safe(byte(d))) {
					t.Fatalf("bytes %#x %#x at %d: plain %v", c, d, pos, got)
				}
			}
		}
	}
}
