package suppress

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// fileInfo is what a first pass over the bytes tells: identity, encoding,
// shape and hints.
type fileInfo struct {
	sha256   string
	size     int64
	encoding string // utf-8, utf-8-bom, utf-16le, utf-16be
	crOnly   bool   // classic Mac line ends: '\r' and never '\n'
	json     bool   // first significant byte is '[' or '{'
	// mgDomain and mgList come from Mailgun paging URLs
	// (https://api.mailgun.net/v3/<domain>/<list>?...) seen in the file.
	mgDomain, mgList string
}

var mailgunURL = regexp.MustCompile(`/v3/([A-Za-z0-9._-]+)/(bounces|complaints|unsubscribes)\b`)

// prepass reads the whole file once: sha256 of its bytes (the origin of
// every event names it), encoding from the BOM, JSON or text from the first
// significant byte, Mailgun paging hints from its head and tail.
func prepass(path string) (fileInfo, error) {
	var fi fileInfo
	f, err := os.Open(path)
	if err != nil {
		return fi, err
	}
	defer f.Close()
	h := sha256.New()
	const keep = 1 << 20
	var head []byte
	tail := make([]byte, 0, 2*keep)
	sawLF, sawCR := false, false
	buf := make([]byte, 256<<10)
	for {
		n, err := f.Read(buf)
		b := buf[:n]
		h.Write(b)
		fi.size += int64(n)
		if len(head) < keep {
			head = append(head, b[:min(len(b), keep-len(head))]...)
		}
		if !sawLF && bytes.IndexByte(b, '\n') >= 0 {
			sawLF = true
		}
		if !sawCR && bytes.IndexByte(b, '\r') >= 0 {
			sawCR = true
		}
		tail = append(tail, b...)
		if len(tail) > keep {
			tail = append(tail[:0], tail[len(tail)-keep:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fi, err
		}
	}
	fi.sha256 = hex.EncodeToString(h.Sum(nil))
	fi.crOnly = sawCR && !sawLF
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		fi.encoding = "utf-8-bom"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		fi.encoding = "utf-16le"
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		fi.encoding = "utf-16be"
	default:
		fi.encoding = "utf-8"
	}
	dh := head
	if strings.HasPrefix(fi.encoding, "utf-16") {
		dh, _, _ = transform.Bytes(decoderFor(fi.encoding), head)
	}
	dh = bytes.TrimPrefix(dh, []byte{0xEF, 0xBB, 0xBF})
	if t := bytes.TrimLeft(dh, " \t\r\n"); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		fi.json = true
		for _, b := range [][]byte{head, tail} {
			if m := mailgunURL.FindSubmatch(b); m != nil {
				fi.mgDomain, fi.mgList = strings.ToLower(string(m[1])), string(m[2])
				break
			}
		}
	}
	return fi, nil
}

func decoderFor(enc string) transform.Transformer {
	switch enc {
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()
	}
	return unicode.UTF8BOM.NewDecoder() // strips a UTF-8 BOM, passes the rest
}

// countingReader counts bytes read from the file, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// crToLF turns classic-Mac '\r' line ends into '\n'.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := range p[:n] {
		if p[i] == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// textReader wraps a file as UTF-8 text without BOM.
func textReader(f io.Reader, fi fileInfo) io.Reader {
	var r io.Reader
	switch fi.encoding {
	case "utf-8":
		r = f // no transform: it would copy every byte once more
	case "utf-8-bom":
		r = &skipReader{r: f, n: 3}
	default:
		r = transform.NewReader(f, decoderFor(fi.encoding))
	}
	if fi.crOnly {
		r = crToLF{r}
	}
	return r
}

// skipReader drops the first n bytes (a UTF-8 BOM).
type skipReader struct {
	r io.Reader
	n int
}

func (s *skipReader) Read(p []byte) (int, error) {
	for s.n > 0 {
		var b [3]byte
		k, err := s.r.Read(b[:s.n])
		s.n -= k
		if err != nil {
			return 0, err
		}
	}
	return s.r.Read(p)
}

// ---- CSV ----

// csvRecord is one logical record.
type csvRecord struct {
	fields []string
	line   int    // physical line where it starts (1-based)
	raw    string // its text, for rejects
	err    string // set when the record could not be parsed (unterminated quote)
	blank  bool
}

// csvReader is a small RFC 4180 reader that keeps physical line numbers,
// accepts sloppy quoting (a quote inside an unquoted field is text, text
// after a closing quote is kept) and never lets one unterminated quote
// swallow the rest of the file: a quoted field may span at most
// maxQuotedLines lines, else its first line is a rejected record and
// reading resumes on the next line.
type csvReader struct {
	br      *bufio.Reader
	delim   byte
	line    int // physical lines read
	pushed  []physLine
	long    []byte
	f       []byte
	scratch []string
}

type physLine struct {
	text string
	n    int
}

const (
	maxQuotedLines = 20
	maxQuotedBytes = 64 << 10
	maxRaw         = 500
)

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 256<<10), delim: ','}
}

// physical returns the next physical line without its line end.
func (c *csvReader) physical() (physLine, bool, error) {
	if len(c.pushed) > 0 {
		p := c.pushed[0]
		c.pushed = c.pushed[1:]
		return p, true, nil
	}
	b, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = c.br.ReadSlice('\n')
			c.long = append(c.long, b...)
		}
		b = c.long
	}
	if len(b) == 0 && err == io.EOF {
		return physLine{}, false, nil
	}
	if err != nil && err != io.EOF {
		return physLine{}, false, err
	}
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	c.line++
	return physLine{text: string(b), n: c.line}, true, nil
}

// next returns the next record; ok is false at the end.
func (c *csvReader) next() (rec csvRecord, ok bool, err error) {
	pl, ok, err := c.physical()
	if !ok || err != nil {
		return rec, ok, err
	}
	rec.line = pl.n
	line := pl.text
	if strings.TrimSpace(line) == "" {
		rec.blank = true
		rec.raw = line
		return rec, true, nil
	}
	if strings.IndexByte(line, '"') < 0 {
		// fast path: no quotes, fields are substrings of the line
		c.scratch = c.scratch[:0]
		for {
			i := strings.IndexByte(line, c.delim)
			if i < 0 {
				c.scratch = append(c.scratch, line)
				break
			}
			c.scratch = append(c.scratch, line[:i])
			line = line[i+1:]
		}
		rec.fields = c.scratch
		rec.raw = pl.text
		return rec, true, nil
	}
	var consumed []physLine // lines after the first, if a quote spans lines
	fields := c.scratch[:0]
	raw := pl.text
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			i++
			c.f = c.f[:0]
			for {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					c.f = append(c.f, line[i:]...)
					c.f = append(c.f, '\n')
					nl, more, err := c.physical()
					if err != nil {
						return rec, false, err
					}
					if !more || len(consumed) >= maxQuotedLines || len(c.f) > maxQuotedBytes {
						// Unterminated: reject the first line, re-read the rest.
						if more {
							consumed = append(consumed, nl)
						}
						c.pushed = append(consumed, c.pushed...)
						rec.err = "unterminated quoted field"
						rec.raw = cut(pl.text, maxRaw)
						return rec, true, nil
					}
					consumed = append(consumed, nl)
					raw += "\n" + nl.text
					line, i = nl.text, 0
					continue
				}
				c.f = append(c.f, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					c.f = append(c.f, '"')
					i++
					continue
				}
				break
			}
			for i < len(line) && line[i] != c.delim { // text after the closing quote
				c.f = append(c.f, line[i])
				i++
			}
			fields = append(fields, string(c.f))
		} else {
			j := strings.IndexByte(line[i:], c.delim)
			if j < 0 {
				fields = append(fields, line[i:])
				i = len(line)
			} else {
				fields = append(fields, line[i:i+j])
				i += j
			}
		}
		if i >= len(line) {
			break
		}
		i++ // delimiter
		if i == len(line) {
			fields = append(fields, "")
			break
		}
	}
	c.scratch = fields
	rec.fields = fields
	rec.raw = cut(raw, maxRaw)
	return rec, true, nil
}

// sniffDelim picks ',', ';' or '\t' from a header line: the one that occurs
// most outside quotes (European spreadsheets write ';').
func sniffDelim(line string) byte {
	counts := map[byte]int{}
	in := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			in = !in
		case !in && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best, n := byte(','), counts[',']
	for _, c := range []byte{';', '\t'} {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return best
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ---- JSON ----

// jsonItem is one element of an export: an object, or a bare string (the
// SendGrid per-group list is an array of addresses).
type jsonItem struct {
	obj   map[string]any
	str   string
	isStr bool
	raw   []byte
	num   int // 1-based item number in the file
	line  int
	err   string // set when the element is neither an object nor a string
}

// wrapperKeys name the array of items in the wrapper objects providers
// return ({"result":[...]}, {"items":[...],"paging":...} ...). Matched
// case-insensitively. Other arrays (Mailgun "tags") are item fields.
var wrapperKeys = map[string]bool{
	"result": true, "results": true, "items": true, "data": true, "suppressions": true,
	"suppresseddestinationsummaries": true, "bounces": true, "complaints": true,
	"unsubscribes": true, "records": true, "recipients": true,
}

// lineTracker maps decoder offsets to line numbers: it keeps the chunks
// the decoder has read until their newlines are counted. Offsets asked for
// only grow, so memory stays at the decoder's read-ahead.
type lineTracker struct {
	r      io.Reader
	chunks [][]byte
	base   int64 // offset of chunks[0][0]
	line   int   // line number at base
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.chunks = append(t.chunks, append([]byte(nil), p[:n]...))
	}
	return n, err
}

func (t *lineTracker) lineAt(off int64) int {
	for len(t.chunks) > 0 && t.base < off {
		c := t.chunks[0]
		k := int(min(int64(len(c)), off-t.base))
		t.line += bytes.Count(c[:k], []byte{'\n'})
		t.base += int64(k)
		if k == len(c) {
			t.chunks = t.chunks[1:]
		} else {
			t.chunks[0] = c[k:]
		}
	}
	return t.line
}

// jsonStream yields the items of a JSON export: one array, one wrapper
// object, JSON Lines (one object per line), or several of those
// concatenated (pages saved one after another).
type jsonStream struct {
	dec   *json.Decoder
	lt    *lineTracker
	num   int
	stack []int // 0 = top level; 1 = inside an items array
	extra map[string]any
}

func newJSONStream(r io.Reader) *jsonStream {
	lt := &lineTracker{r: r, line: 1}
	dec := json.NewDecoder(lt)
	dec.UseNumber()
	return &jsonStream{dec: dec, lt: lt}
}

// itemLine gives the line where the next value starts (after whitespace
// and a separating comma, which the decoder skips).
func (s *jsonStream) itemLine() int {
	off := s.dec.InputOffset()
	// The decoder is positioned before any whitespace/comma; count what
	// precedes the value proper.
	line := s.lt.lineAt(off)
	for _, c := range s.lt.chunks {
		for _, b := range c {
			switch b {
			case '\n':
				line++
				continue
			case ' ', '\t', '\r', ',':
				continue
			}
			return line
		}
	}
	return line
}

// next returns the next item; ok is false at the end. A syntax error ends
// the stream with an error that says where.
func (s *jsonStream) next() (it jsonItem, ok bool, err error) {
	for {
		inArray := len(s.stack) > 0
		if inArray {
			if !s.dec.More() {
				if _, err := s.dec.Token(); err != nil { // ']'
					return it, false, s.syntax(err)
				}
				s.stack = s.stack[:len(s.stack)-1]
				if len(s.stack) > 0 && s.stack[len(s.stack)-1] == 2 {
					// the array was inside a wrapper object: finish it
					if err := s.finishWrapper(); err != nil {
						return it, false, err
					}
				}
				continue
			}
			return s.decodeItem()
		}
		// top level
		line := s.itemLine()
		tok, err := s.dec.Token()
		if err == io.EOF {
			return it, false, nil
		}
		if err != nil {
			return it, false, s.syntax(err)
		}
		switch tok {
		case json.Delim('['):
			s.stack = append(s.stack, 1)
		case json.Delim('{'):
			// a wrapper, or an item of JSON Lines: read keys until an items
			// array (wrapper) or the end (item)
			obj := map[string]any{}
			for s.dec.More() {
				kt, err := s.dec.Token()
				if err != nil {
					return it, false, s.syntax(err)
				}
				key, _ := kt.(string)
				vt, err := s.dec.Token()
				if err != nil {
					return it, false, s.syntax(err)
				}
				if vt == json.Delim('[') && wrapperKeys[strings.ToLower(key)] {
					s.extra = obj
					s.stack = append(s.stack, 2, 1)
					break
				}
				v, err := s.valueFrom(vt)
				if err != nil {
					return it, false, s.syntax(err)
				}
				obj[key] = v
			}
			if len(s.stack) > 0 {
				continue // entered the items array of a wrapper
			}
			if _, err := s.dec.Token(); err != nil { // '}'
				return it, false, s.syntax(err)
			}
			s.num++
			raw, _ := json.Marshal(obj)
			return jsonItem{obj: obj, raw: raw, num: s.num, line: line}, true, nil
		default:
			s.num++
			if str, isStr := tok.(string); isStr {
				return jsonItem{str: str, isStr: true, raw: []byte(fmt.Sprintf("%q", str)), num: s.num, line: line}, true, nil
			}
			return jsonItem{raw: []byte(fmt.Sprint(tok)), num: s.num, line: line, err: "not an object or a string"}, true, nil
		}
	}
}

// valueFrom builds the value that starts with token first (objects and
// arrays token by token).
func (s *jsonStream) valueFrom(first json.Token) (any, error) {
	switch first {
	case json.Delim('{'):
		m := map[string]any{}
		for s.dec.More() {
			kt, err := s.dec.Token()
			if err != nil {
				return nil, err
			}
			vt, err := s.dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := s.valueFrom(vt)
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			m[k] = v
		}
		_, err := s.dec.Token()
		return m, err
	case json.Delim('['):
		var a []any
		for s.dec.More() {
			vt, err := s.dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := s.valueFrom(vt)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := s.dec.Token()
		return a, err
	}
	return first, nil
}

// finishWrapper reads the rest of a wrapper object after its items array
// (paging, NextToken...).
func (s *jsonStream) finishWrapper() error {
	for s.dec.More() {
		kt, err := s.dec.Token()
		if err != nil {
			return s.syntax(err)
		}
		var v any
		if err := s.dec.Decode(&v); err != nil {
			return s.syntax(err)
		}
		if key, ok := kt.(string); ok && s.extra != nil {
			s.extra[key] = v
		}
	}
	if _, err := s.dec.Token(); err != nil { // '}'
		return s.syntax(err)
	}
	s.stack = s.stack[:len(s.stack)-1]
	return nil
}

func (s *jsonStream) decodeItem() (jsonItem, bool, error) {
	line := s.itemLine()
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return jsonItem{}, false, fmt.Errorf("JSON syntax error in item %d, which starts on line %d: %v; it and the items after it were not read", s.num+1, line, err)
	}
	s.num++
	it := jsonItem{raw: raw, num: s.num, line: line}
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) > 0 && t[0] == '{':
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		if err := d.Decode(&it.obj); err != nil {
			it.err = "bad object: " + err.Error()
		}
	case len(t) > 0 && t[0] == '"':
		if err := json.Unmarshal(t, &it.str); err != nil {
			it.err = "bad string"
		}
		it.isStr = true
	default:
		it.err = "not an object or a string"
	}
	return it, true, nil
}

func (s *jsonStream) syntax(err error) error {
	off := s.dec.InputOffset()
	return fmt.Errorf("JSON syntax error near line %d (byte %d): %v; items after it were not read", s.lt.lineAt(off), off, err)
}

var errNoAddressColumn = errors.New("no address column")
