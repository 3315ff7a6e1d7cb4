package model

import "strings"

// Signature reduces a response text to a stable key so that the same reply
// for many recipients counts as one: tokens holding addresses become <addr>,
// tokens with long digit runs (queue ids, timestamps, IPs) become #, SMTP and
// enhanced status codes stay. The result is cut to 120 bytes.
func Signature(text string) string {
	var b strings.Builder
	for _, tok := range strings.Fields(text) {
		if b.Len() >= 120 {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch {
		case strings.IndexByte(tok, '@') >= 0:
			b.WriteString("<addr>")
		case longDigits(tok):
			b.WriteByte('#')
		default:
			for i := 0; i < len(tok); i++ {
				c := tok[i]
				if c < 0x20 || c == 0x7f {
					c = '?'
				}
				b.WriteByte(c)
			}
		}
	}
	s := b.String()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// longDigits reports a token that is an id, a time or an IP address: five or
// more digits, or three dots with digits. Status codes (5.7.606, 421) and
// provider signatures (S3150, TSS04) stay.
func longDigits(tok string) bool {
	n, dots := 0, 0
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c >= '0' && c <= '9':
			n++
		case c == '.':
			dots++
		}
	}
	return n >= 5 || (dots >= 3 && n >= 4)
}
