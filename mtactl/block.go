package mtactl

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Managed blocks: cutover owns the lines between
//
//	# BEGIN cutover [name]
//	# END cutover [name]
//
// and nothing else in the file. The marker lines themselves stay exactly as
// the operator wrote them (indentation included, e.g. inside a PowerMTA
// <virtual-mta>), so splicing never moves a byte outside the block.

// blockHeader opens every block cutover writes.
const blockHeader = "# Managed by cutover: this block is rewritten on every apply and rollback\n# (see `cutover history`). Edit the lines outside it, not these.\n"

var (
	markerRe  = regexp.MustCompile(`^[ \t]*#[ \t]*(BEGIN|END) cutover(?:[ \t]+([A-Za-z0-9_.-]+))?[ \t]*\r?$`)
	nearMiss  = regexp.MustCompile(`^\s*#\s*(?i:begin|end)\s+cutover\b`)
	blockName = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)
)

// span is one block in a file, as byte offsets.
type span struct {
	name         string
	begin, end   int // marker lines included; end is after the END line's newline
	cBegin, cEnd int // the content between the marker lines
	line         int // 1-based line of the BEGIN marker
}

// findBlocks parses every marker in b. A malformed or unbalanced marker is an
// error: guessing where a block ends could delete operator lines.
func findBlocks(b []byte, file string) ([]span, error) {
	var out []span
	var open *span
	off, lineNo := 0, 0
	for off < len(b) {
		lineNo++
		end := bytes.IndexByte(b[off:], '\n')
		next := len(b)
		if end >= 0 {
			next = off + end + 1
		}
		line := string(bytes.TrimRight(b[off:next], "\n"))
		if m := markerRe.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "BEGIN":
				if open != nil {
					return nil, fmt.Errorf("%s:%d: BEGIN cutover %s inside the block opened at line %d", file, lineNo, m[2], open.line)
				}
				for _, s := range out {
					if s.name == m[2] {
						return nil, fmt.Errorf("%s:%d: second block %q (first at line %d)", file, lineNo, m[2], s.line)
					}
				}
				open = &span{name: m[2], begin: off, cBegin: next, line: lineNo}
			case "END":
				if open == nil {
					return nil, fmt.Errorf("%s:%d: END cutover %s without BEGIN", file, lineNo, m[2])
				}
				if open.name != m[2] {
					return nil, fmt.Errorf("%s:%d: END cutover %s closes BEGIN cutover %s (line %d)", file, lineNo, m[2], open.name, open.line)
				}
				open.cEnd, open.end = off, next
				if end < 0 { // END marker on a last line without newline
					open.end = len(b)
				}
				out = append(out, *open)
				open = nil
			}
		} else if nearMiss.MatchString(line) {
			return nil, fmt.Errorf("%s:%d: malformed cutover marker %q (want \"# BEGIN cutover NAME\" / \"# END cutover NAME\")", file, lineNo, strings.TrimSpace(line))
		}
		off = next
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: BEGIN cutover %s has no END", file, open.line, open.name)
	}
	return out, nil
}

func markerLine(kind, name string) string {
	if name == "" {
		return "# " + kind + " cutover\n"
	}
	return "# " + kind + " cutover " + name + "\n"
}

// withNewline makes non-empty content end in a newline so the END marker
// stays on its own line.
func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// spliceBlocks replaces the content of the named blocks. A block whose
// markers are missing is appended at the end when appendOK, else it is an
// error naming the markers to add. A nil entry in blocks removes that block
// with its markers (rollback to a file that never had one).
func spliceBlocks(b []byte, file string, blocks map[string]*string, appendOK bool) ([]byte, error) {
	return spliceIndented(b, file, blocks, appendOK, false)
}

// spliceIndented is spliceBlocks that, with indent, prefixes every content
// line with the BEGIN marker's indentation (PowerMTA blocks sit inside a
// <virtual-mta>; in Postfix files a leading blank would mean a continuation
// line, so they never get it).
func spliceIndented(b []byte, file string, blocks map[string]*string, appendOK, indent bool) ([]byte, error) {
	spans, err := findBlocks(b, file)
	if err != nil {
		return nil, err
	}
	byName := map[string]span{}
	for _, s := range spans {
		byName[s.name] = s
	}
	var out bytes.Buffer
	pos := 0
	for _, s := range spans {
		content, ok := blocks[s.name]
		if !ok {
			continue // a block this driver does not manage stays as it is
		}
		out.Write(b[pos:s.begin])
		if content != nil {
			out.Write(b[s.begin:s.cBegin])
			c := withNewline(*content)
			if indent {
				c = indentLines(c, leadingBlank(b[s.begin:s.cBegin]))
			}
			out.WriteString(c)
			out.Write(b[s.cEnd:s.end])
		}
		pos = s.end
	}
	out.Write(b[pos:])
	var missing []string
	for _, name := range sortedKeys(blocks) {
		if _, ok := byName[name]; ok || blocks[name] == nil {
			continue
		}
		if !appendOK {
			missing = append(missing, name)
			continue
		}
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		out.WriteString(markerLine("BEGIN", name))
		out.WriteString(withNewline(*blocks[name]))
		out.WriteString(markerLine("END", name))
	}
	if len(missing) > 0 {
		var hint []string
		for _, n := range missing {
			hint = append(hint, strings.TrimSpace(markerLine("BEGIN", n))+" / "+strings.TrimSpace(markerLine("END", n)))
		}
		return nil, fmt.Errorf("%s: add the marker lines %s where cutover's lines belong (cutover never guesses a place in this file)", file, strings.Join(hint, ", "))
	}
	return out.Bytes(), nil
}

func leadingBlank(line []byte) string {
	return string(line[:len(line)-len(bytes.TrimLeft(line, " \t"))])
}

// indentLines prefixes every non-empty line with pre.
func indentLines(s, pre string) string {
	if pre == "" {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "")
}

// blockContents returns the content of every block in b (nil value: absent).
func blockContents(b []byte, file string, names []string) (map[string]*string, error) {
	spans, err := findBlocks(b, file)
	if err != nil {
		return nil, err
	}
	out := map[string]*string{}
	for _, n := range names {
		out[n] = nil
	}
	for _, s := range spans {
		if _, ok := out[s.name]; ok {
			c := string(b[s.cBegin:s.cEnd])
			out[s.name] = &c
		}
	}
	return out, nil
}

// outside is the operator's part of a file: b with the named blocks (markers
// included) cut out. Apply and rollback must never change it.
func outside(b []byte, file string, names []string) ([]byte, error) {
	rm := map[string]*string{}
	for _, n := range names {
		rm[n] = nil
	}
	return spliceBlocks(b, file, rm, false)
}

// outsideLines lists the operator's lines (1-based line numbers kept) for
// conflict checks: the lines not inside one of the blocks.
func outsideLines(b []byte, file string) ([]numberedLine, error) {
	spans, err := findBlocks(b, file)
	if err != nil {
		return nil, err
	}
	var out []numberedLine
	off, n := 0, 0
	for off < len(b) {
		n++
		end := bytes.IndexByte(b[off:], '\n')
		next := len(b)
		if end >= 0 {
			next = off + end + 1
		}
		inside := false
		for _, s := range spans {
			if off >= s.begin && off < s.end {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, numberedLine{n, strings.TrimRight(string(b[off:next]), "\r\n")})
		}
		off = next
	}
	return out, nil
}

type numberedLine struct {
	n    int
	text string
}
