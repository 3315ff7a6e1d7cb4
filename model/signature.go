package model

// Signature reduces a response text to a stable key so that the same reply
// for many recipients counts as one: tokens holding addresses become <addr>,
// tokens with long digit runs (queue ids, timestamps, IPs) become #, SMTP and
// enhanced status codes stay. The result is cut to 120 bytes. It runs once
// per failed recipient, so it makes one allocation and no token slice.
func Signature(text string) string { return signature(text, 120) }

// signature is Signature cut to max bytes (at a word boundary).
func signature(text string, max int) string {
	text = unwrapReply(text)
	n := len(text)
	if n > 2*max {
		n = 2 * max // no need to scan a 1 MiB reply
	}
	buf := make([]byte, 0, min(n, max+8))
	first := "" // the reply's first code token, e.g. "550-5.1.1"
	for i := 0; i < len(text) && len(buf) < max; {
		start, j, kind := replyToken(text, i)
		if start == j {
			break
		}
		tok := text[start:j]
		if first == "" && statusLike(tok) {
			first = tok
		} else if tok == first || (len(tok) == 3 && len(first) > 3 && first[:3] == tok) {
			// A multi-line reply repeats its codes on every line
			// ("550-5.1.1 ... 550-5.1.1 ..."): keep the first only.
			i = j
			continue
		}
		if len(buf) > 0 {
			buf = append(buf, ' ')
		}
		switch kind {
		case tokAddr:
			buf = append(buf, "<addr>"...)
		case tokID:
			buf = append(buf, '#')
		default:
			buf = append(buf, tok...)
		}
		i = j
	}
	if len(buf) > max {
		// Cut at a word boundary: a half word reads like a typo.
		cut := max
		for k := max; k > max/2; k-- {
			if buf[k] == ' ' {
				cut = k
				break
			}
		}
		buf = buf[:cut]
	}
	return string(buf)
}

// Kinds of reply tokens, as Signature writes them and the bounce-class
// memo hashes them.
// Status codes (5.7.606, 421) and provider signatures (S3150, TSS04) stay
// plain.
const (
	tokPlain = iota
	tokAddr  // holds an address: <addr>
	tokID    // ids, times and IP addresses: #
)

// replyToken skips white space and control bytes from i and returns the
// next token, text[start:end] (start == end at the end of text), and its
// kind.
func replyToken(text string, i int) (start, end, kind int) {
	for i < len(text) && (text[i] <= ' ' || text[i] == 0x7f) {
		i++
	}
	j := i
	at, digits, dots := false, 0, 0
	for j < len(text) && text[j] > ' ' && text[j] != 0x7f {
		switch c := text[j]; {
		case c == '@':
			at = true
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		}
		j++
	}
	switch {
	case at:
		kind = tokAddr
	case (digits >= 5 && !statusLike(text[i:j])) || (dots >= 3 && digits >= 4):
		kind = tokID
	}
	return i, j, kind
}

// statusLike reports an enhanced status code such as 5.7.606 (RFC 3463:
// class.subject.detail, up to 3 digits each), possibly followed by
// punctuation.
func statusLike(tok string) bool {
	// A multi-line reply's continuation form: "550-5.1.1".
	if len(tok) > 4 && tok[3] == '-' && tok[0] >= '2' && tok[0] <= '5' {
		tok = tok[4:]
	}
	if len(tok) < 5 || (tok[0] != '2' && tok[0] != '4' && tok[0] != '5') || tok[1] != '.' {
		return false
	}
	dots, run := 1, 0
	for k := 2; k < len(tok); k++ {
		switch c := tok[k]; {
		case c >= '0' && c <= '9':
			run++
			if run > 3 {
				return false
			}
		case c == '.' && run > 0:
			dots++
			run = 0
		default:
			return dots == 2 && run > 0
		}
	}
	return dots == 2 && run > 0
}

// unwrapReply strips what the sending MTA wrapped around the remote reply, so
// that the same reply logged by Postfix, Exim and PowerMTA gets one signature:
// Postfix "host mx.example[192.0.2.1] said: ... (in reply to RCPT TO command)",
// Exim "SMTP error from remote mail server after RCPT TO:<a@b>: ...".
func unwrapReply(text string) string {
	const said = " said: "
	if len(text) > 5 && text[:5] == "host " {
		if k := indexWithin(text, said, 200); k >= 0 {
			text = text[k+len(said):]
		}
	}
	const exim = "SMTP error from remote mail server after "
	if len(text) > len(exim) && text[:len(exim)] == exim {
		// The command part ends at ": " (after RCPT TO:<addr>, end of data, ...).
		rest := text[len(exim):]
		if k := indexWithin(rest, ": ", 300); k >= 0 {
			text = rest[k+2:]
		}
	}
	if k := lastIndex(text, " (in reply to "); k >= 0 && text[len(text)-1] == ')' {
		text = text[:k]
	}
	return text
}

func indexWithin(s, sub string, max int) int {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func lastIndex(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
