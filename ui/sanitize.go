package ui

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Sanitize turns untrusted text (SMTP replies, DSN text, addresses, paths)
// into one line that is safe to hand to a terminal, at most width cells wide
// (width < 0: no limit). Remote parties write SMTP replies; without this a
// reply could retitle the terminal, clear the screen or reorder text with
// bidi overrides (see style-reliability.md §5).
//
//  1. invalid UTF-8 becomes U+FFFD (a raw 0x9b byte would otherwise be CSI);
//  2. ansi.Strip removes CSI, OSC, DCS... sequences;
//  3. what Strip keeps (C0 such as CR, BS, BEL; DEL; C1 such as U+009B) and
//     format characters (bidi overrides, zero-width) become visible text:
//     C0 and DEL as control pictures (␛ ␍ ␇ ␡), a tab as a space, the rest as
//     \uXXXX;
//  4. the result is cut to width display cells, ending with … when cut.
func Sanitize(s string, width int) string {
	if width == 0 || s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = ansi.Strip(s)
	// Strip can drop the lead byte of a rune inside a sequence it removes.
	s = strings.ToValidUTF8(s, "\uFFFD")
	if needsEscape(s) {
		var b strings.Builder
		b.Grow(len(s) + 8)
		for _, r := range s {
			writeSafe(&b, r)
		}
		s = b.String()
	}
	if width > 0 && ansi.StringWidth(s) > width {
		s = ansi.Truncate(s, width, "…")
	}
	return s
}

// needsEscape is the fast path: most reply text is plain ASCII.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			if c >= utf8.RuneSelf {
				for _, r := range s[i:] {
					if unsafeRune(r) {
						return true
					}
				}
				return false
			}
			return true
		}
	}
	return false
}

func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
		r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

func writeSafe(b *strings.Builder, r rune) {
	switch {
	case r == '\t':
		b.WriteByte(' ')
	case r < 0x20:
		b.WriteRune(0x2400 + r) // ␀ … ␟ (␛ for ESC, ␍ for CR)
	case r == 0x7f:
		b.WriteRune('␡')
	case unsafeRune(r):
		// C1, bidi controls, zero-width and line/paragraph separators.
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		b.WriteRune(r)
	}
}

// SanitizePath is Sanitize for file paths: when too wide it keeps the end
// (the file name) and cuts the start.
func SanitizePath(s string, width int) string {
	s = Sanitize(s, -1)
	if w := ansi.StringWidth(s); width >= 0 && w > width {
		if width == 0 {
			return ""
		}
		s = ansi.TruncateLeft(s, w-width+1, "…")
	}
	return s
}

// Fit pads or cuts already-safe text to exactly width cells, for aligned
// columns. It does not sanitize: use Sanitize first on untrusted text.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// FitRight is Fit aligned to the right (numbers).
func FitRight(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s = strings.Repeat(" ", width-w) + s
	}
	return s
}
