package ui

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

func TestSanitize(t *testing.T) {
	cases := []struct {
		name, in string
		width    int
		want     string
	}{
		{"plain", "550 5.1.1 user unknown", -1, "550 5.1.1 user unknown"},
		{"osc title", "421 \x1b]0;pwned\x07try later", -1, "421 try later"},
		{"clear screen", "\x1b[2J\x1b[Hdeferred", -1, "deferred"},
		{"carriage return", "ok\rFAKE", -1, "ok␍FAKE"},
		{"backspace bell del", "a\bb\ac\x7f", -1, "a␈b␇c␡"},
		{"tab", "a\tb", -1, "a b"},
		{"newline", "line1\nline2", -1, "line1␊line2"},
		{"raw 0x9b byte", "x\x9b31my", -1, "x\uFFFD31my"},
		{"utf-8 C1 CSI", "x\u009b31my", -1, `x\u009b31my`},
		{"bidi override", "abc\u202edcba\u202c", -1, `abc\u202edcba\u202c`},
		{"bidi isolate", "\u2066x\u2069", -1, `\u2066x\u2069`},
		{"zero width", "g\u200bmail", -1, `g\u200bmail`},
		{"bom", "\ufeffhello", -1, `\ufeffhello`},
		{"esc sequence", "a\x1bbc", -1, "ac"}, // ESC b is a complete sequence
		{"truncate", "550 5.1.1 user unknown", 10, "550 5.1.1…"},
		{"fits exactly", "abcdef", 6, "abcdef"},
		{"wide", "日本語のテキスト", 7, "日本語…"},
		{"zero width budget", "anything", 0, ""},
		{"escape grows then cut", "\u202e\u202e\u202e", 8, `\u202e\…`},
	}
	for _, tc := range cases {
		got := Sanitize(tc.in, tc.width)
		if got != tc.want {
			t.Errorf("%s: Sanitize(%q, %d) = %q, want %q", tc.name, tc.in, tc.width, got, tc.want)
		}
		checkSafe(t, tc.in, got, tc.width)
	}
}

func checkSafe(t *testing.T, in, out string, width int) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("Sanitize(%q) = %q: invalid UTF-8", in, out)
	}
	for i := 0; i < len(out); i++ {
		if c := out[i]; c < 0x20 || c == 0x7f {
			t.Fatalf("Sanitize(%q) = %q: control byte %#x", in, out, c)
		}
	}
	for _, r := range out {
		if (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			t.Fatalf("Sanitize(%q) = %q: unsafe rune %U", in, out, r)
		}
	}
	if width >= 0 && ansi.StringWidth(out) > width {
		t.Fatalf("Sanitize(%q, %d) = %q: width %d", in, width, out, ansi.StringWidth(out))
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"", "plain", "\x1b]0;title\x07", "\x1b[2J", "a\rb", "\x9b31m", "\u009b31m",
		"\u202e\u2066\u200b\ufeff", "日本語", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
		"\x1bP\xe6\x97\xa5\x1b\\", "e\u0301\u0301", "👩\u200d👩\u200d👧",
	} {
		f.Add(s, 20)
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, s string, width int) {
		width %= 200
		out := Sanitize(s, width)
		checkSafe(t, s, out, width)
		if strings.ContainsRune(out, '\x1b') {
			t.Fatalf("ESC survived: %q", out)
		}
	})
}

func TestSanitizePath(t *testing.T) {
	if got := SanitizePath("/var/lib/cutover/cutover.db", 14); got != "…/cutover.db" && ansi.StringWidth(got) != 14 {
		t.Errorf("SanitizePath = %q", got)
	}
	if got := SanitizePath("/var/lib/cutover/cutover.db", 14); !strings.HasSuffix(got, "cutover.db") || ansi.StringWidth(got) > 14 {
		t.Errorf("SanitizePath keeps the file name: %q", got)
	}
	if got := SanitizePath("/tmp/\x1b]0;x\x07a", -1); strings.ContainsRune(got, 0x1b) {
		t.Errorf("SanitizePath did not sanitize: %q", got)
	}
}

func TestFit(t *testing.T) {
	if got := Fit("abc", 5); got != "abc  " {
		t.Errorf("Fit pad = %q", got)
	}
	if got := Fit("abcdef", 4); got != "abc…" {
		t.Errorf("Fit cut = %q", got)
	}
	if got := FitRight("42", 5); got != "   42" {
		t.Errorf("FitRight = %q", got)
	}
	if got := Fit("日本語", 4); ansi.StringWidth(got) != 4 {
		t.Errorf("Fit wide = %q (width %d)", got, ansi.StringWidth(got))
	}
}
