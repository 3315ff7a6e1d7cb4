package suppress

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// Format is a target file format.
type Format string

const (
	// FormatPostfix is a check_recipient_access source map for postmap:
	// "key REJECT 5.7.1 text". Keys are the address as Postfix looks it up:
	// the local part in RFC 5322 quotes when it is not a dot-atom
	// ("john..doe"@gmail.com). A key that would start with '#' is a comment
	// to postmap and cannot be written there: such addresses go to the
	// regexp companion map (ExportOptions.PostfixRegexp), or fail the export.
	FormatPostfix Format = "postfix"
	// FormatPostfixRegexp is the companion regexp: table on its own (all
	// addresses), for the rare setup that wants no hash map.
	FormatPostfixRegexp Format = "postfix-regexp"
	// FormatExim is an lsearch file ("key: types"), keys quoted when they
	// contain anything but [a-z0-9._+=@-] or UTF-8. Use it as
	//   deny recipients = lsearch;/etc/exim4/cutover-suppressed
	// (the lookup is case-insensitive), or build a cdb/dbm from it for large
	// lists (lsearch is a linear scan).
	FormatExim Format = "exim"
	// FormatPMTA is one address per line, nothing else: PowerMTA has no
	// suppression store, so this list is for the injector (and for a
	// pattern-list rule file generated from it).
	FormatPMTA Format = "pmta"
	// FormatCSV is addr,types,first_seen,last_seen,sources,scopes,events.
	FormatCSV Format = "csv"
)

// Formats lists the export formats.
var Formats = []Format{FormatPostfix, FormatPostfixRegexp, FormatExim, FormatPMTA, FormatCSV}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("export format %q: want one of postfix, postfix-regexp, exim, pmta, csv", s)
}

// ErrUnrepresentable is returned by a Postfix export that met addresses a
// postmap source file cannot hold and had no PostfixRegexp to put them in.
var ErrUnrepresentable = errors.New("addresses a Postfix hash map cannot hold")

// ExportOptions choose what and how to export.
type ExportOptions struct {
	Format Format
	// IncludeBlocks exports addresses whose only events are SendGrid blocks.
	// Off by default: a block is a reputation signal, not a suppression.
	IncludeBlocks bool
	// RejectText follows REJECT in Postfix maps; default
	// "5.7.1 Recipient address suppressed". The address's types are added in
	// parentheses.
	RejectText string
	// PostfixRegexp receives, for FormatPostfix, regexp: table lines for
	// the addresses the hash map cannot hold (local part starting with '#').
	PostfixRegexp io.Writer
}

// ExportResult describes an export.
type ExportResult struct {
	Format    Format
	Written   int    // addresses written (main output plus PostfixRegexp)
	Regexp    int    // of which to PostfixRegexp
	Skipped   int    // addresses in the index not exported (blocks only)
	LastSeq   uint64 // log position exported
	SHA256    string // of the main output
	Addresses []string
	// Unrepresented are addresses not written anywhere (Postfix, no
	// PostfixRegexp); the error is then ErrUnrepresentable.
	Unrepresented []string
	// Refused are addresses not written to an MTA format because they are
	// not literal addresses (model.CheckLiteralAddress: shell or pattern
	// syntax, e.g. from a log written before importers refused them). A
	// CSV report keeps them.
	Refused []string
}

const defaultRejectText = "5.7.1 Recipient address suppressed"

// Export writes the target file for every suppressed address, sorted by
// address (byte order), so the same index always gives the same bytes.
// All scopes are exported as global suppressions: an MTA cannot tell a
// SendGrid group or a Mailgun tag from the message, and failing closed is the
// safe side.
func (l *Log) Export(w io.Writer, opt ExportOptions) (ExportResult, error) {
	if _, err := ParseFormat(string(opt.Format)); err != nil {
		return ExportResult{}, err
	}
	if opt.RejectText == "" {
		opt.RejectText = defaultRejectText
	}
	res := ExportResult{Format: opt.Format, LastSeq: l.LastSeq()}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	var rw *bufio.Writer
	if opt.PostfixRegexp != nil {
		rw = bufio.NewWriter(opt.PostfixRegexp)
	}
	var cw *csv.Writer
	switch opt.Format {
	case FormatPostfix, FormatPostfixRegexp:
		fmt.Fprintf(bw, "# cutover suppression map for Postfix check_recipient_access, log seq %d. Generated: do not edit.\n", res.LastSeq)
		if rw != nil && opt.Format == FormatPostfix {
			fmt.Fprintf(rw, "# cutover suppression map (regexp part) for Postfix check_recipient_access, log seq %d. Generated: do not edit.\n", res.LastSeq)
		}
	case FormatExim:
		fmt.Fprintf(bw, "# cutover suppression list for Exim (lsearch), log seq %d. Generated: do not edit.\n", res.LastSeq)
	case FormatCSV:
		cw = csv.NewWriter(bw)
		cw.Write([]string{"addr", "types", "first_seen", "last_seen", "sources", "scopes", "events"})
	}
	err := l.Entries(func(e Entry) error {
		if !e.Suppressed(opt.IncludeBlocks) {
			res.Skipped++
			return nil
		}
		if opt.Format != FormatCSV && model.CheckLiteralAddress(e.Addr) != nil {
			res.Refused = append(res.Refused, e.Addr)
			return nil
		}
		types := typeList(e.Types, opt.IncludeBlocks)
		switch opt.Format {
		case FormatPostfix:
			key := PostfixKey(e.Addr)
			if key[0] == '#' {
				if rw == nil {
					res.Unrepresented = append(res.Unrepresented, e.Addr)
					return nil
				}
				fmt.Fprintf(rw, "%s REJECT %s (%s)\n", postfixRegexp(key), opt.RejectText, types)
				res.Regexp++
			} else {
				fmt.Fprintf(bw, "%s REJECT %s (%s)\n", key, opt.RejectText, types)
			}
		case FormatPostfixRegexp:
			fmt.Fprintf(bw, "%s REJECT %s (%s)\n", postfixRegexp(PostfixKey(e.Addr)), opt.RejectText, types)
		case FormatExim:
			fmt.Fprintf(bw, "%s: %s\n", eximKey(e.Addr), types)
		case FormatPMTA:
			bw.WriteString(e.Addr)
			bw.WriteByte('\n')
		case FormatCSV:
			cw.Write([]string{e.Addr, types, fmtTime(e.First), fmtTime(e.Last),
				strings.Join(e.Sources, "|"), strings.Join(e.Scopes, "|"), strconv.Itoa(e.Events)})
		}
		res.Written++
		res.Addresses = append(res.Addresses, e.Addr)
		return nil
	})
	if cw != nil {
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if rw != nil {
		if ferr := rw.Flush(); err == nil {
			err = ferr
		}
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err == nil && len(res.Unrepresented) > 0 {
		err = fmt.Errorf("%w: %d (first %s); give a regexp companion map", ErrUnrepresentable, len(res.Unrepresented), res.Unrepresented[0])
	}
	return res, err
}

func typeList(ts []model.SuppressionType, blocks bool) string {
	var parts []string
	for _, t := range ts {
		if t.Suppresses() || blocks {
			parts = append(parts, string(t))
		}
	}
	return strings.Join(parts, ",")
}

func fmtTime(t time.Time) string { return model.FormatSuppressionTime(t) }

// Set returns the sorted addresses an export with these options writes:
// the "log side" of Verify.
func (l *Log) Set(includeBlocks bool) ([]string, error) {
	var out []string
	err := l.Entries(func(e Entry) error {
		if e.Suppressed(includeBlocks) {
			out = append(out, e.Addr)
		}
		return nil
	})
	return out, err
}

const atext = "!#$%&'*+-/=?^_`{|}~"

// isDotAtom reports whether a local part can stand unquoted (RFC 5322
// dot-atom; RFC 6532 lets UTF-8 in).
func isDotAtom(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= 0x80, c == '.', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(atext, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// PostfixKey is the form in which Postfix looks an address up in an access
// table: the local part quoted when it is not a dot-atom (postmap(1): "the
// localpart should be enclosed with double quotes if required by RFC 5322").
func PostfixKey(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	local := addr[:at]
	if isDotAtom(local) {
		return addr
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(local) + `"` + addr[at:]
}

// postfixRegexp writes an anchored pattern that matches exactly key: every
// character but letters, digits, '@' and UTF-8 bytes in brackets, '^' and
// '/' (the delimiter) escaped with a backslash.
func postfixRegexp(key string) string {
	var b strings.Builder
	b.WriteString("/^")
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '@':
			b.WriteByte(c)
		case c == '^', c == '/', c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte('[')
			b.WriteByte(c)
			b.WriteByte(']')
		}
	}
	b.WriteString("$/")
	return b.String()
}

func eximSafe(c byte) bool {
	return c >= 0x80 || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("._+=@-", c) >= 0
}

// eximKey quotes an lsearch key that has a character lsearch would stop at
// (':', space), take as a comment ('#' first) or treat specially.
func eximKey(addr string) string {
	for i := 0; i < len(addr); i++ {
		if !eximSafe(addr[i]) {
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
			return `"` + r.Replace(addr) + `"`
		}
	}
	return addr
}

// ParseTarget reads back the addresses of a target file in one of the
// export formats, the way the MTA will read it: comment and blank lines are
// skipped (so an address whose line became a comment is NOT in the set),
// Postfix quoted local parts and Exim quoted keys are unquoted, regexp lines
// written by Export are turned back into addresses, everything is
// lowercased (both MTAs fold case). It is the "target side" of Verify.
func ParseTarget(format Format, r io.Reader) ([]string, error) {
	var out []string
	var cr *csv.Reader
	if format == FormatCSV {
		cr = csv.NewReader(r)
		cr.FieldsPerRecord = -1
		first := true
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if first {
				first = false
				if len(rec) > 0 && rec[0] == "addr" {
					continue
				}
			}
			if len(rec) > 0 && rec[0] != "" {
				out = append(out, strings.ToLower(rec[0]))
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		switch format {
		case FormatPMTA:
			if s := strings.TrimSpace(line); s != "" {
				out = append(out, strings.ToLower(s))
			}
			continue
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' { // blank or continuation
			continue
		}
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		switch format {
		case FormatPostfix, FormatPostfixRegexp:
			if line[0] == '/' {
				a, err := unRegexp(line)
				if err != nil {
					return nil, fmt.Errorf("line %d: %v", n, err)
				}
				out = append(out, a)
				continue
			}
			key := line
			if i := strings.IndexAny(line, " \t"); i >= 0 {
				key = line[:i]
			}
			out = append(out, strings.ToLower(unquotePostfix(key)))
		case FormatExim:
			key, err := eximKeyOf(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			out = append(out, strings.ToLower(key))
		default:
			return nil, fmt.Errorf("unknown format %q", format)
		}
	}
	return out, sc.Err()
}

func unquotePostfix(key string) string {
	if !strings.HasPrefix(key, `"`) {
		return key
	}
	at := strings.LastIndex(key, `"@`)
	if at <= 0 {
		return key
	}
	local := key[1:at]
	var b strings.Builder
	for i := 0; i < len(local); i++ {
		if local[i] == '\\' && i+1 < len(local) {
			i++
		}
		b.WriteByte(local[i])
	}
	return b.String() + key[at+1:]
}

func unRegexp(line string) (string, error) {
	end := -1
	for i := 1; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == '/' {
			end = i
			break
		}
	}
	if end < 0 || !strings.HasPrefix(line, "/^") || line[end-1] != '$' {
		return "", errors.New("not an anchored /^...$/ pattern")
	}
	p := line[2 : end-1]
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			b.WriteByte(p[i+1])
			i++
		case p[i] == '[' && i+2 < len(p) && p[i+2] == ']':
			b.WriteByte(p[i+1])
			i += 2
		case strings.IndexByte("[]().*+?{}|$", p[i]) >= 0:
			return "", fmt.Errorf("pattern %q is not a literal address", p)
		default:
			b.WriteByte(p[i])
		}
	}
	return strings.ToLower(unquotePostfix(b.String())), nil
}

func eximKeyOf(line string) (string, error) {
	if line[0] != '"' {
		i := strings.IndexAny(line, ": \t")
		if i < 0 {
			return line, nil
		}
		return line[:i], nil
	}
	var b strings.Builder
	for i := 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			if i+1 < len(line) {
				i++
				b.WriteByte(line[i])
			}
		case '"':
			return b.String(), nil
		default:
			b.WriteByte(line[i])
		}
	}
	return "", errors.New("unterminated quoted key")
}

// Verify compares the addresses that must be suppressed (from the log) with
// the addresses the target holds, both in any order and case: missing are
// in the log but not in the target (each one a person who could be
// mailed), extra are in the target but not in the log. Both are sorted.
func Verify(logSet, targetSet []string) (missing, extra []string) {
	a := normSet(logSet)
	b := normSet(targetSet)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			missing = append(missing, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			extra = append(extra, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}

func normSet(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToLower(strings.TrimSpace(x))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Sample picks n addresses at random (all of them when n >= len), for probes
// against a running MTA (postmap -q, exim -bt, RCPT TO). seed makes a run
// repeatable.
func Sample(set []string, n int, seed uint64) []string {
	if n >= len(set) {
		return slices.Clone(set)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	idx := r.Perm(len(set))[:n]
	slices.Sort(idx)
	out := make([]string, n)
	for i, k := range idx {
		out[i] = set[k]
	}
	return out
}

// PowerMTA has no suppression store: besides the injector list (FormatPMTA)
// cutover can write a rule file, one <pattern-list> block the main config
// includes, of one rule per suppressed address,
//
//	rcpt-to /^a\.b\+tag@example\.com$/ virtual-mta=VMTA
//
// routing the recipient to a discard VirtualMTA. PowerMTA's PCRE is
// case-insensitive and the first match wins (shared/reference/mta-formats.md
// §2.3), so every rule is anchored and every metacharacter escaped: an
// unescaped '.' or an unanchored pattern would discard mail of people who
// never asked.

// PMTARcptPattern is the /^...$/ pattern matching exactly addr (case
// folded by PowerMTA). The PCRE metacharacters .+*?()[]{}|^$ get a
// backslash; '#' (a config comment), '/' (the delimiter), '\', quotes, '<',
// '>', whitespace and control bytes are written \xHH so no config tokenizer
// can split or cut the rule; everything else stands as it is.
func PMTARcptPattern(addr string) string {
	var b strings.Builder
	b.WriteString("/^")
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c <= ' ', c == 0x7f, strings.IndexByte("#/\\\"'<>", c) >= 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case strings.IndexByte(".+*?()[]{}|^$", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("$/")
	return b.String()
}

// PMTAPatternOptions name the pattern list and the VirtualMTA of the rules.
type PMTAPatternOptions struct {
	Name   string // the <pattern-list NAME> the <source> refers to
	VMTA   string // where suppressed recipients are routed (a discard VirtualMTA)
	LogSeq uint64 // written in the header
}

// WritePMTAPatternList writes the rule file for addrs (the addresses of an
// export, in its order, so the same log gives the same bytes).
func WritePMTAPatternList(w io.Writer, addrs []string, o PMTAPatternOptions) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(bw, "# cutover suppression rules for PowerMTA: suppressed recipients go to virtual-mta %s, log seq %d. Generated: do not edit.\n", o.VMTA, o.LogSeq)
	fmt.Fprintf(bw, "<pattern-list %s>\n", o.Name)
	for _, a := range addrs {
		fmt.Fprintf(bw, "rcpt-to %s virtual-mta=%s\n", PMTARcptPattern(a), o.VMTA)
	}
	bw.WriteString("</pattern-list>\n")
	return bw.Flush()
}

// PMTARule is one rule read back from a rule file.
type PMTARule struct {
	Line int
	Addr string // lowercased
	VMTA string
}

// PMTAPatternList is a rule file read back: the rules that are anchored
// literal addresses, and every other line (comments and blanks aside) as
// Bad ("line N: why: text"), since cutover writes nothing else.
type PMTAPatternList struct {
	Names []string // names of the <pattern-list> blocks, in order
	Rules []PMTARule
	Bad   []string
}

// ParsePMTAPatternList reads a rule file back the way PowerMTA would use it
// for cutover: a rule outside a <pattern-list> block, or whose pattern is
// not one anchored literal address (any unescaped metacharacter, a class
// escape like \d), is Bad, never an address.
func ParsePMTAPatternList(r io.Reader) (PMTAPatternList, error) {
	var out PMTAPatternList
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n, in := 0, false
	bad := func(why, line string) {
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		out.Bad = append(out.Bad, fmt.Sprintf("line %d: %s: %q", n, why, line))
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		low := strings.ToLower(line)
		switch {
		case strings.HasPrefix(low, "<pattern-list ") && strings.HasSuffix(line, ">"):
			if in {
				bad("nested <pattern-list>", line)
			}
			in = true
			out.Names = append(out.Names, strings.TrimSpace(line[len("<pattern-list "):len(line)-1]))
			continue
		case low == "</pattern-list>":
			if !in {
				bad("</pattern-list> without its start", line)
			}
			in = false
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || strings.ToLower(f[0]) != "rcpt-to" || !strings.HasPrefix(strings.ToLower(f[2]), "virtual-mta=") {
			bad("not a rcpt-to rule of cutover's", line)
			continue
		}
		if !in {
			bad("rule outside a <pattern-list> block", line)
			continue
		}
		addr, err := unPMTAPattern(f[1])
		if err != nil {
			bad(err.Error(), line)
			continue
		}
		out.Rules = append(out.Rules, PMTARule{Line: n, Addr: addr, VMTA: f[2][len("virtual-mta="):]})
	}
	if in {
		out.Bad = append(out.Bad, "end of file: <pattern-list> not closed")
	}
	return out, sc.Err()
}

// unPMTAPattern turns a pattern written by PMTARcptPattern (or any pattern
// that is one anchored literal) back into its address.
func unPMTAPattern(p string) (string, error) {
	if len(p) < 5 || !strings.HasPrefix(p, "/^") || !strings.HasSuffix(p, "$/") || strings.HasSuffix(p, `\$/`) {
		return "", errors.New("not an anchored /^...$/ pattern")
	}
	p = p[2 : len(p)-2]
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p) && p[i+1] == 'x':
			if i+3 >= len(p) {
				return "", errors.New(`short \x escape`)
			}
			v, err := strconv.ParseUint(p[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`bad \x escape %q`, p[i:i+4])
			}
			b.WriteByte(byte(v))
			i += 3
		case c == '\\' && i+1 < len(p):
			d := p[i+1]
			if 'a' <= d && d <= 'z' || 'A' <= d && d <= 'Z' || '0' <= d && d <= '9' {
				return "", fmt.Errorf(`escape \%c is not a literal character`, d)
			}
			b.WriteByte(d)
			i++
		case strings.IndexByte(`\.[]()*+?{}|^$/#`, c) >= 0:
			return "", fmt.Errorf("pattern %q is not a literal address", p)
		default:
			b.WriteByte(c)
		}
	}
	a := b.String()
	if !strings.Contains(a, "@") {
		return "", fmt.Errorf("pattern %q is not an address", p)
	}
	return strings.ToLower(a), nil
}
