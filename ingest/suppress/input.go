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
	long bool // longer than maxLine: text is its start, the rest was skipped
}

const (
	maxQuotedLines = 20
	maxQuotedBytes = 64 << 10
	maxRaw         = 500
	// maxLine bounds one physical line held in memory: export rows are
	// short, and a file with no line end must not be read whole.
	maxLine = 1 << 20
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
	long := false
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = c.br.ReadSlice('\n')
			if len(c.long)+len(b) > maxLine {
				long = true // skip to the line end, keeping only its start
				c.long = c.long[:min(len(c.long), maxRaw*4)]
				continue
			}
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
	return physLine{text: string(b), n: c.line, long: long}, true, nil
}

// next returns the next record; ok is false at the end.
func (c *csvReader) next() (rec csvRecord, ok bool, err error) {
	pl, ok, err := c.physical()
	if !ok || err != nil {
		return rec, ok, err
	}
	rec.line = pl.n
	line := pl.text
	if pl.long {
		rec.err = fmt.Sprintf("line longer than %d bytes", maxLine)
		rec.raw = cut(line, maxRaw)
		return rec, true, nil
	}
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
					if !more || nl.long || len(consumed) >= maxQuotedLines || len(c.f) > maxQuotedBytes {
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
	// detail says more than err (where a value over the bounds starts).
	detail string
}

// wrapperKeys name the array of items in the wrapper objects providers
// return ({"result":[...]}, {"items":[...],"paging":...} ...). Matched
// case-insensitively. Other arrays (Mailgun "tags") are item fields.
var wrapperKeys = map[string]bool{
	"result": true, "results": true, "items": true, "data": true, "suppressions": true,
	"suppresseddestinationsummaries": true, "bounces": true, "complaints": true,
	"unsubscribes": true, "records": true, "recipients": true,
}

// Bounds on one JSON value, checked while its bytes are read and before
// anything decodes or encodes it: encoding/json recurses per nesting level
// (a 6 MB file of a million nested objects overflowed the stack in
// json.Marshal after 1.6 GB), and a value is held whole while decoded.
// Provider exports nest a few levels and items are well under a kilobyte.
const (
	maxJSONDepth = 64
	maxJSONItem  = 1 << 20
)

// jsonLimitError is a value over a bound; the value was skipped to its end.
type jsonLimitError struct {
	kind string // "nested too deep", "item too large"
	line int
	off  int64
}

func (e *jsonLimitError) Error() string {
	if e.kind == "nested too deep" {
		return fmt.Sprintf("value nested deeper than %d levels (line %d, byte %d); skipped", maxJSONDepth, e.line, e.off)
	}
	return fmt.Sprintf("value larger than %d bytes (line %d, byte %d); skipped", maxJSONItem, e.line, e.off)
}

// jsonScan reads JSON text byte by byte with an explicit depth counter, so
// no input can make it recurse or hold more than maxJSONItem bytes of one
// value. It only finds where values start and end; encoding/json decodes a
// value's bytes once they are known to be within the bounds.
type jsonScan struct {
	br   *bufio.Reader
	off  int64 // bytes consumed
	line int   // line of the next byte (1-based)
	buf  []byte
}

func (s *jsonScan) readByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.off++
	if c == '\n' {
		s.line++
	}
	return c, nil
}

// peek skips whitespace and returns the next byte without consuming it.
func (s *jsonScan) peek() (byte, error) {
	for {
		b, err := s.br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			s.readByte()
			continue
		}
		return b[0], nil
	}
}

// value reads the next value (after whitespace) and returns its bytes. A
// value deeper than maxJSONDepth or longer than max bytes is read to its
// end without keeping it and returned as a *jsonLimitError. The end of the
// input inside a value is io.ErrUnexpectedEOF.
func (s *jsonScan) value(max int) ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	startLine, startOff := s.line, s.off
	s.buf = s.buf[:0]
	var over *jsonLimitError
	seen := 0
	keep := func(c byte) {
		seen++
		if over != nil {
			return
		}
		if len(s.buf) >= max {
			over = &jsonLimitError{kind: "item too large", line: startLine, off: startOff}
			return
		}
		s.buf = append(s.buf, c)
	}
	depth, inStr, esc := 0, false, false
	scalar := c != '{' && c != '[' && c != '"'
	for {
		if scalar {
			b, err := s.br.Peek(1)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			switch b[0] {
			case ',', ']', '}', ' ', '\t', '\r', '\n', '{', '[', '"', ':':
				if seen == 0 { // a stray structural byte: let decoding say what is wrong
					s.readByte()
					keep(b[0])
				}
				goto done
			}
		}
		c, err := s.readByte()
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		keep(c)
		if scalar {
			continue
		}
		switch {
		case esc:
			esc = false
		case inStr:
			switch c {
			case '\\':
				esc = true
			case '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth && over == nil {
				over = &jsonLimitError{kind: "nested too deep", line: startLine, off: startOff}
			}
		case c == '}' || c == ']':
			depth--
		}
		if !inStr && depth <= 0 {
			break
		}
	}
done:
	if over != nil {
		return nil, over
	}
	return s.buf, nil
}

// expect consumes the byte c (after whitespace).
func (s *jsonScan) expect(c byte) error {
	b, err := s.peek()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if b != c {
		return fmt.Errorf("invalid character %q, want %q", b, c)
	}
	s.readByte()
	return nil
}

// key reads an object key.
func (s *jsonScan) key() (string, error) {
	raw, err := s.value(maxJSONItem)
	if err != nil {
		return "", err
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", fmt.Errorf("object key: %v", err)
	}
	return k, s.expect(':')
}

// decodeBounded decodes a value already known to be within the bounds.
func decodeBounded(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}

// jsonStream yields the items of a JSON export: one array, one wrapper
// object, JSON Lines (one object per line), or several of those
// concatenated (pages saved one after another).
type jsonStream struct {
	sc    *jsonScan
	num   int
	stack []int  // 1 = inside an items array; 2 = inside a wrapper object
	obj   []byte // the top-level object being read, until it is a wrapper
}

func newJSONStream(r io.Reader) *jsonStream {
	return &jsonStream{sc: &jsonScan{br: bufio.NewReaderSize(r, 64<<10), line: 1}}
}

// next returns the next item; ok is false at the end. A syntax error in the
// structure ends the stream with an error that says where; a bad item, or
// one over the bounds, is an item with err set and the stream goes on.
func (s *jsonStream) next() (it jsonItem, ok bool, err error) {
	sc := s.sc
	for {
		if len(s.stack) > 0 { // in an items array
			c, err := sc.peek()
			if err != nil {
				return it, false, s.syntax(eofUnexpected(err))
			}
			switch c {
			case ']':
				sc.readByte()
				s.stack = s.stack[:len(s.stack)-1]
				if len(s.stack) > 0 && s.stack[len(s.stack)-1] == 2 {
					if err := s.finishWrapper(); err != nil {
						return it, false, err
					}
				}
				continue
			case ',':
				sc.readByte()
				continue
			}
			return s.item()
		}
		// top level
		c, err := sc.peek()
		if err == io.EOF {
			return it, false, nil
		}
		if err != nil {
			return it, false, s.syntax(err)
		}
		switch c {
		case '[':
			sc.readByte()
			s.stack = append(s.stack, 1)
			continue
		case '{':
			it, wrapper, err := s.topObject()
			if err != nil || wrapper {
				if err != nil {
					return it, false, err
				}
				continue // entered the items array of a wrapper
			}
			return it, true, nil
		}
		return s.item()
	}
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// item reads one value as an item.
func (s *jsonStream) item() (jsonItem, bool, error) {
	line := s.sc.line
	raw, err := s.sc.value(maxJSONItem)
	var le *jsonLimitError
	if errors.As(err, &le) {
		s.num++
		return jsonItem{num: s.num, line: line, err: le.kind, detail: le.Error(), raw: []byte(le.Error())}, true, nil
	}
	if err != nil {
		return jsonItem{}, false, fmt.Errorf("JSON syntax error in item %d, which starts on line %d: %v; it and the items after it were not read", s.num+1, line, eofUnexpected(err))
	}
	s.num++
	it := jsonItem{raw: append([]byte(nil), raw...), num: s.num, line: line}
	switch raw[0] {
	case '{':
		if err := decodeBounded(raw, &it.obj); err != nil {
			it.err = "bad object: " + err.Error()
		}
	case '"':
		if err := json.Unmarshal(raw, &it.str); err != nil {
			it.err = "bad string"
		}
		it.isStr = true
	default:
		var v any
		if err := json.Unmarshal(raw, &v); err != nil && len(s.stack) == 0 {
			return jsonItem{}, false, s.syntax(err)
		}
		it.err = "not an object or a string"
	}
	return it, true, nil
}

// topObject reads an object at the top level: a wrapper (it has an items
// array under one of wrapperKeys; the stream enters it) or an item of JSON
// Lines. The bytes are kept until it is known which, within maxJSONItem.
func (s *jsonStream) topObject() (it jsonItem, wrapper bool, err error) {
	sc := s.sc
	line, off := sc.line, sc.off
	sc.readByte() // '{'
	s.obj = append(s.obj[:0], '{')
	for {
		c, err := sc.peek()
		if err != nil {
			return it, false, s.syntax(eofUnexpected(err))
		}
		if c == '}' {
			sc.readByte()
			break
		}
		if c == ',' {
			sc.readByte()
			s.obj = append(s.obj, ',')
			continue
		}
		kraw, err := sc.value(maxJSONItem)
		if err == nil {
			var k string
			if err = json.Unmarshal(kraw, &k); err == nil {
				s.obj = append(s.obj, kraw...)
				s.obj = append(s.obj, ':')
				if err = sc.expect(':'); err == nil {
					if vc, perr := sc.peek(); perr == nil && vc == '[' && wrapperKeys[strings.ToLower(k)] {
						s.stack = append(s.stack, 2, 1)
						sc.readByte()
						return it, true, nil
					}
					var vraw []byte
					if vraw, err = sc.value(maxJSONItem); err == nil {
						s.obj = append(s.obj, vraw...)
					}
				}
			}
		}
		var le *jsonLimitError
		if errors.As(err, &le) || (err == nil && len(s.obj) > maxJSONItem) {
			if le == nil {
				le = &jsonLimitError{kind: "item too large"}
			}
			le.line, le.off = line, off // where the item starts, not the member
			// skip the rest of the object; its members are bounded too
			if serr := s.skipMembers(); serr != nil {
				return it, false, serr
			}
			s.num++
			return jsonItem{num: s.num, line: line, err: le.kind, detail: le.Error(), raw: []byte(le.Error())}, false, nil
		}
		if err != nil {
			return it, false, s.syntax(eofUnexpected(err))
		}
	}
	s.num++
	s.obj = append(s.obj, '}')
	it = jsonItem{raw: append([]byte(nil), s.obj...), num: s.num, line: line}
	if err := decodeBounded(it.raw, &it.obj); err != nil {
		it.err = "bad object: " + err.Error()
	}
	return it, false, nil
}

// skipMembers reads the rest of an object, through its '}', keeping nothing.
func (s *jsonStream) skipMembers() error {
	for {
		c, err := s.sc.peek()
		if err != nil {
			return s.syntax(eofUnexpected(err))
		}
		s.sc.readByte()
		switch c {
		case '}':
			return nil
		case ',', ':':
			continue
		}
		s.sc.br.UnreadByte()
		s.sc.off--
		if _, err := s.sc.value(0); err != nil {
			var le *jsonLimitError
			if !errors.As(err, &le) {
				return s.syntax(eofUnexpected(err))
			}
		}
	}
}

// finishWrapper reads the rest of a wrapper object after its items array
// (paging, NextToken...).
func (s *jsonStream) finishWrapper() error {
	sc := s.sc
	for {
		c, err := sc.peek()
		if err != nil {
			return s.syntax(eofUnexpected(err))
		}
		if c == '}' {
			sc.readByte()
			break
		}
		if c == ',' {
			sc.readByte()
			continue
		}
		if _, err := sc.key(); err != nil {
			return s.syntax(eofUnexpected(err))
		}
		// paging data: checked to be JSON within the bounds, not kept
		raw, err := sc.value(maxJSONItem)
		var le *jsonLimitError
		if errors.As(err, &le) {
			continue
		}
		if err != nil {
			return s.syntax(eofUnexpected(err))
		}
		var v any
		if err := decodeBounded(raw, &v); err != nil {
			return s.syntax(err)
		}
	}
	s.stack = s.stack[:len(s.stack)-1]
	return nil
}

func (s *jsonStream) syntax(err error) error {
	return fmt.Errorf("JSON syntax error near line %d (byte %d): %v; items after it were not read", s.sc.line, s.sc.off, err)
}

var errNoAddressColumn = errors.New("no address column")
