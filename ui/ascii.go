package ui

import (
	"os"
	"strings"
	"unicode/utf8"
)

// ASCIILocale reports whether the locale the environment selects is not
// UTF-8 (LC_ALL, then LC_CTYPE, then LANG, as setlocale(3) reads them; unset
// or "C"/"POSIX" is ASCII): such a terminal shows braille and box drawing as
// garbage, so the cockpit draws in ASCII (Options.ASCII).
func ASCIILocale() bool {
	for _, v := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if s := os.Getenv(v); s != "" {
			u := strings.ToUpper(s)
			return !strings.Contains(u, "UTF-8") && !strings.Contains(u, "UTF8")
		}
	}
	return true
}

// asciiFor maps every glyph the UI draws to ASCII: sparks keep their eight
// levels, bars and borders their shape, marks their meaning.
var asciiFor = func() map[rune]string {
	m := map[rune]string{
		'░': "-", '▸': ">", '▲': "^", '▼': "v", '✓': "ok", '✗': "x", '→': "->", '←': "<-", '↑': "^", '↓': "v",
		'⇧': "S-", '·': ".", '•': "|", '─': "-", '│': "|", '╭': "+", '╮': "+", '╰': "+", '╯': "+", '┌': "+",
		'┐': "+", '└': "`", '┘': "+", '…': "~", '–': "-", '—': "-", '⟳': "*", '×': "x", '≥': ">=", '≤': "<=",
		'█': "#", '▏': "|",
	}
	for i, r := range []rune("▁▂▃▄▅▆▇") {
		m[r] = string(".,-~=+*"[i])
	}
	for i, r := range []rune("⢀⣀⣠⣤⣴⣶⣾⣿") {
		m[r] = string(".,-~=+*#"[i])
	}
	return m
}()

// toASCII rewrites a rendered line (SGR sequences pass through untouched)
// for a non-UTF-8 terminal; a rune without a mapping becomes '?'.
func toASCII(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case asciiFor[r] != "":
			b.WriteString(asciiFor[r])
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
