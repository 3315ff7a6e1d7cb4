package bounce

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// The MIME layer is hand-written on purpose: bounces are written by every
// MTA ever shipped, and a strict parser (net/mail, mime/multipart) gives up
// on things real reports do (a header line without a colon, a missing
// closing boundary, a truncated base64 part). This one takes what it can
// and never fails; the report layer decides whether what it got is enough.

const (
	maxDepth = 8   // nested entities (multipart in message/rfc822 in ...)
	maxParts = 200 // parts in one message, all levels
)

// field is one header field, unfolded.
type field struct{ name, value string }

// header keeps fields in order; lookups are case-insensitive.
type header []field

func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

func (h header) all(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

func (h header) has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// splitHeader reads a header block up to the first empty line and returns
// it with the rest. Lines that are not fields (no colon, a space in the
// name) are skipped; an mbox "From " line at the top is skipped too.
func splitHeader(raw []byte) (header, []byte) {
	var h header
	rest := raw
	first := true
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(bytes.TrimRight(line, "\r")) == 0 {
			return h, next
		}
		rest = next
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 {
			// Continuation: unfold with one space.
			f := &h[len(h)-1]
			f.value = strings.TrimSpace(f.value + " " + strings.TrimSpace(string(line)))
			continue
		}
		if first && bytes.HasPrefix(line, []byte("From ")) {
			first = false
			continue
		}
		first = false
		i := bytes.IndexByte(line, ':')
		if i <= 0 || bytes.ContainsAny(line[:i], " \t") {
			continue
		}
		h = append(h, field{name: string(line[:i]), value: strings.TrimSpace(string(bytes.TrimRight(line[i+1:], "\r")))})
	}
	return h, nil
}

// cutLine returns the first line (without "\n") and what follows.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// entity is one MIME entity: its header, media type, decoded body and, for
// multiparts and message/rfc822, its children.
type entity struct {
	h        header
	typ      string // lower-case media type, "text/plain" when absent
	params   map[string]string
	body     []byte // after Content-Transfer-Encoding
	children []*entity
}

// parseEntity parses raw (header + body) into an entity tree.
func parseEntity(raw []byte) *entity {
	count := 0
	return parseAt(raw, 0, &count)
}

func parseAt(raw []byte, depth int, count *int) *entity {
	h, body := splitHeader(raw)
	return build(h, body, depth, count)
}

func build(h header, body []byte, depth int, count *int) *entity {
	*count++
	e := &entity{h: h, typ: "text/plain"}
	if ct := h.get("Content-Type"); ct != "" {
		typ, params, err := mime.ParseMediaType(ct)
		if err != nil {
			typ, params = lenientMediaType(ct)
		}
		if typ != "" {
			e.typ, e.params = strings.ToLower(typ), params
		}
	}
	e.body = decodeCTE(h.get("Content-Transfer-Encoding"), body)
	if depth >= maxDepth || *count >= maxParts {
		return e
	}
	switch {
	case strings.HasPrefix(e.typ, "multipart/"):
		b := e.params["boundary"]
		parts := splitMultipart(e.body, b)
		if len(parts) == 0 {
			// The declared boundary matches nothing: use the one the
			// parts actually have.
			if g := guessBoundary(e.body); g != "" && g != b {
				parts = splitMultipart(e.body, g)
			}
		}
		if len(parts) > 0 {
			for _, p := range parts {
				if *count >= maxParts {
					break
				}
				e.children = append(e.children, parseAt(p, depth+1, count))
			}
		}
	case e.typ == "message/rfc822" || e.typ == "message/global":
		e.children = append(e.children, parseAt(e.body, depth+1, count))
	}
	return e
}

// lenientMediaType takes the type and a boundary out of a Content-Type that
// mime.ParseMediaType refuses (duplicate or malformed parameters).
func lenientMediaType(ct string) (string, map[string]string) {
	typ := ct
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		typ = ct[:i]
	}
	typ = strings.ToLower(strings.TrimSpace(typ))
	if strings.Count(typ, "/") != 1 || strings.ContainsAny(typ, " \t\"") {
		return "", nil
	}
	params := map[string]string{}
	for _, p := range strings.Split(ct, ";")[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if _, dup := params[k]; !dup && k != "" {
			params[k] = v
		}
	}
	return typ, params
}

// guessBoundary finds the boundary of a multipart whose Content-Type lost
// it: the first "--X" line that appears again as "--X" or "--X--".
func guessBoundary(body []byte) string {
	rest := body
	for n := 0; len(rest) > 0 && n < 200; n++ {
		line, next := cutLine(rest)
		rest = next
		l := strings.TrimRight(string(line), "\r \t")
		if len(l) > 2 && strings.HasPrefix(l, "--") && !strings.HasSuffix(l, "--") {
			b := l[2:]
			if bytes.Contains(next, []byte("\n--"+b)) {
				return b
			}
		}
	}
	return ""
}

// splitMultipart returns the raw parts between boundary lines. A missing
// closing boundary (a truncated report) ends the last part at the end.
func splitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	in := false
	start := 0
	rest := body
	pos := 0
	for len(rest) > 0 {
		line, next := cutLine(rest)
		lineLen := len(rest) - len(next)
		t := bytes.TrimRight(line, "\r \t")
		if bytes.HasPrefix(t, delim) {
			tail := t[len(delim):]
			closing := bytes.Equal(tail, []byte("--"))
			if len(tail) == 0 || closing {
				if in {
					parts = append(parts, trimPartEnd(body[start:pos]))
				}
				if closing {
					return parts
				}
				in = true
				start = pos + lineLen
			}
		}
		pos += lineLen
		rest = next
	}
	if in && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

// trimPartEnd drops the line break that belongs to the next boundary.
func trimPartEnd(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// decodeCTE undoes base64 and quoted-printable; what does not decode is
// kept (a truncated base64 part still gives its first lines).
func decodeCTE(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c > ' ' && c != '=' {
				clean = append(clean, c)
			}
		}
		clean = clean[:len(clean)/4*4+keepTail(len(clean)%4)]
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil && n == 0 {
			return body
		}
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil && len(out) == 0 {
			return body
		}
		return out
	}
	return body
}

// keepTail keeps a 2- or 3-character base64 tail (1 or 2 bytes); a single
// leftover character carries no whole byte.
func keepTail(n int) int {
	if n == 1 {
		return 0
	}
	return n
}

var wordDecoder = mime.WordDecoder{}

// decodeWords decodes RFC 2047 encoded words (utf-8, us-ascii and
// iso-8859-1; other charsets stay encoded).
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// walk calls fn for e and every descendant, depth first.
func (e *entity) walk(fn func(*entity)) {
	fn(e)
	for _, c := range e.children {
		c.walk(fn)
	}
}

// text is the body as a string with CRLF turned into LF.
func (e *entity) text() string {
	return strings.ReplaceAll(string(e.body), "\r\n", "\n")
}
