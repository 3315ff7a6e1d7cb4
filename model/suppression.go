package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// x/net/idna is the one non-stdlib import of model: UTS #46 mapping
	// needs Unicode tables that are not in the standard library (the same
	// package is vendored inside net/http). x/text/unicode/norm comes with it.
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// SuppressionType is the kind of a suppression event in the canonical log.
type SuppressionType string

const (
	SuppUnsubscribe SuppressionType = "unsubscribe"
	SuppHardBounce  SuppressionType = "hard_bounce"
	SuppComplaint   SuppressionType = "complaint"
	// SuppManual is an entry added by an operator or a compliance rule
	// rather than by the recipient or a bounce.
	SuppManual SuppressionType = "manual"
	// SuppBlock is SendGrid's "blocks" list (and 4.x rows of its bounces
	// list): reputation or temporary failures. It is kept as evidence, is NOT
	// a hard bounce, and is not exported to an MTA unless asked for.
	SuppBlock SuppressionType = "block"
)

// SuppressionTypes lists every type, in a stable order (index = bit).
var SuppressionTypes = []SuppressionType{SuppUnsubscribe, SuppHardBounce, SuppComplaint, SuppManual, SuppBlock}

// Valid reports whether t is one of SuppressionTypes.
func (t SuppressionType) Valid() bool { return t.Bit() != 0 }

// Bit is t's bit in a type mask (0 for an invalid type).
func (t SuppressionType) Bit() uint8 {
	for i, s := range SuppressionTypes {
		if s == t {
			return 1 << i
		}
	}
	return 0
}

// TypesOf expands a mask built from Bit.
func TypesOf(mask uint8) []SuppressionType {
	var out []SuppressionType
	for i, s := range SuppressionTypes {
		if mask&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// Suppresses reports whether an address with this event must not be mailed.
// Everything but blocks does: a block is a reputation signal, not consent.
func (t SuppressionType) Suppresses() bool { return t.Valid() && t != SuppBlock }

// ParseSuppressionType reads a type from operator input or a generic CSV
// column, accepting the usual spellings (case-insensitive): unsubscribe,
// unsub, unsubscribed, optout; hard_bounce, hardbounce, bounce, bounced,
// invalid; complaint, spam, spam_report, abuse, fbl; manual; block, blocked.
func ParseSuppressionType(s string) (SuppressionType, bool) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.NewReplacer("-", "_", " ", "_").Replace(k)
	switch k {
	case "unsubscribe", "unsubscribes", "unsub", "unsubscribed", "optout", "opt_out", "global_unsubscribe", "list_unsubscribe":
		return SuppUnsubscribe, true
	case "hard_bounce", "hardbounce", "hard", "bounce", "bounces", "bounced", "invalid", "invalid_email":
		return SuppHardBounce, true
	case "complaint", "complaints", "spam", "spam_report", "spamreport", "spam_complaint", "spamcomplaint", "abuse", "fbl":
		return SuppComplaint, true
	case "manual", "manually_added", "manualsuppression", "manual_suppression", "suppressed":
		return SuppManual, true
	case "block", "blocks", "blocked":
		return SuppBlock, true
	}
	return "", false
}

// SuppressionVersion is the "v" of lines this code writes.
const SuppressionVersion = 1

// SuppressionEvent is one line of the canonical suppression log.
type SuppressionEvent struct {
	V    int             // format version, SuppressionVersion
	Seq  uint64          // 1, 2, 3... without gaps
	Type SuppressionType //
	Addr string          // normalised (NormalizeAddress)
	Orig string          // the address as exported, when it differs from Addr
	// TS is when it happened according to the export; zero when the export
	// carries no time (SendGrid per-group lists, plain address lists).
	TS       time.Time
	Recorded time.Time // when cutover logged it
	Source   string    // provider:list, e.g. "sendgrid:spam_reports"
	Scope    string    // account | group:123 | stream:outbound | domain:mg.example.com | ...
	Reason   string    // provider's text, untrusted
	Origin   string    // "<file> sha256:<16 hex>:<row>" (import), "<path> sha256:<hex>" (bounce), "<log file>:<offset>"
	Prev     string    // hex sha256 of the previous line's bytes (without "\n")
}

// GenesisPrev is the Prev of the first line of a log.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// FormatSuppressionTime is the one text form of times in the log (UTC,
// RFC 3339 with as many fraction digits as needed). Dedupe compares events
// by this form, so it must never change for a given instant.
func FormatSuppressionTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// AppendJSON appends e as one JSON line (no newline). Field order is fixed
// so that the bytes, and so the hash chain, depend only on the values; "orig",
// "ts" and "reason" are left out when empty.
func (e *SuppressionEvent) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(e.V), 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, string(e.Type))
	dst = append(dst, `,"addr":`...)
	dst = AppendJSONString(dst, e.Addr)
	if e.Orig != "" {
		dst = append(dst, `,"orig":`...)
		dst = AppendJSONString(dst, e.Orig)
	}
	if !e.TS.IsZero() {
		dst = append(dst, `,"ts":"`...)
		dst = e.TS.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"recorded":"`...)
	dst = e.Recorded.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","source":`...)
	dst = AppendJSONString(dst, e.Source)
	dst = append(dst, `,"scope":`...)
	dst = AppendJSONString(dst, e.Scope)
	if e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendJSONString(dst, e.Reason)
	}
	dst = append(dst, `,"origin":`...)
	dst = AppendJSONString(dst, e.Origin)
	dst = append(dst, `,"prev":`...)
	dst = AppendJSONString(dst, e.Prev)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// jsonPlain8 reports whether none of x's eight bytes needs more than
// copying: no control byte (< 0x20), no '"', no '\\', nothing >= 0x80.
// (v-lo)&^v&hi is non-zero exactly when some byte of v is zero, and
// (x-lo*0x20)&^x&hi when some byte is below 0x20.
func jsonPlain8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return (x|(x-lo*0x20)&^x|(q-lo)&^q|(b-lo)&^b)&hi == 0
}

// jsonSafe marks the ASCII bytes that go into a JSON string unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (written raw, so that decoding and re-encoding gives the same bytes), and
// U+2028/U+2029 are escaped so a line stays one line for every JSON Lines
// reader.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time: a million-row import writes
		// hundreds of megabytes of JSON strings, nearly all of it plain.
		for i+8 <= len(s) && jsonPlain8(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// suppressionLine is the JSON shape used to read a line back.
type suppressionLine struct {
	V        *int    `json:"v"`
	Seq      *uint64 `json:"seq"`
	Type     string  `json:"type"`
	Addr     string  `json:"addr"`
	Orig     string  `json:"orig"`
	TS       string  `json:"ts"`
	Recorded string  `json:"recorded"`
	Source   string  `json:"source"`
	Scope    string  `json:"scope"`
	Reason   string  `json:"reason"`
	Origin   string  `json:"origin"`
	Prev     string  `json:"prev"`
}

// ParseSuppressionEvent reads one log line (without its newline) and checks
// that every required field is there and well formed. It does not check the
// chain (that needs the previous line) nor that Addr is normalised.
func ParseSuppressionEvent(line []byte) (SuppressionEvent, error) {
	var l suppressionLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&l); err != nil {
		return SuppressionEvent{}, fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return SuppressionEvent{}, errors.New("bad JSON: more than one value on the line")
	}
	if l.V == nil {
		return SuppressionEvent{}, errors.New(`missing "v"`)
	}
	if *l.V != SuppressionVersion {
		return SuppressionEvent{}, fmt.Errorf("unknown version v=%d", *l.V)
	}
	if l.Seq == nil || *l.Seq == 0 {
		return SuppressionEvent{}, errors.New(`missing or zero "seq"`)
	}
	e := SuppressionEvent{V: *l.V, Seq: *l.Seq, Type: SuppressionType(l.Type), Addr: l.Addr, Orig: l.Orig,
		Source: l.Source, Scope: l.Scope, Reason: l.Reason, Origin: l.Origin, Prev: l.Prev}
	if !e.Type.Valid() {
		return e, fmt.Errorf("unknown type %q", l.Type)
	}
	if e.Addr == "" {
		return e, errors.New(`empty "addr"`)
	}
	if e.Source == "" || e.Scope == "" {
		return e, errors.New(`empty "source" or "scope"`)
	}
	if len(e.Prev) != 64 || strings.Trim(e.Prev, hexDigits) != "" {
		return e, fmt.Errorf(`"prev" %q is not a hex sha256`, e.Prev)
	}
	var err error
	if l.TS != "" {
		if e.TS, err = time.Parse(time.RFC3339Nano, l.TS); err != nil {
			return e, fmt.Errorf(`bad "ts": %v`, err)
		}
	}
	if e.Recorded, err = time.Parse(time.RFC3339Nano, l.Recorded); err != nil {
		return e, fmt.Errorf(`bad "recorded": %v`, err)
	}
	return e, nil
}

// Address errors. NormalizeAddress wraps one of these in an *AddressError,
// so callers can count rejects by kind with errors.Is.
var (
	ErrAddrEmpty   = errors.New("empty")
	ErrAddrNoAt    = errors.New("not an address (no @)")
	ErrAddrManyAt  = errors.New("more than one @")
	ErrAddrLocal   = errors.New("bad local part")
	ErrAddrDomain  = errors.New("bad domain")
	ErrAddrChars   = errors.New("space, control or invalid character")
	ErrAddrTooLong = errors.New("too long")
	ErrAddrQuoted  = errors.New("bad quoted local part")
	ErrAddrLiteral = errors.New("address literal domain (not supported)")
	ErrAddrPattern = errors.New("shell or pattern character (not a literal address)")
)

// AddressError says why a text is not a usable address.
type AddressError struct {
	Kind   error  // one of the ErrAddr* values
	Detail string // optional
}

func (e *AddressError) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

func (e *AddressError) Unwrap() error { return e.Kind }

func addrErr(kind error, detail string) error { return &AddressError{Kind: kind, Detail: detail} }

// Length limits from RFC 5321 §4.5.3.1 (local part 64 octets, path 256
// octets including the angle brackets, so 254 for the address).
const (
	maxLocal   = 64
	maxAddress = 254
	maxDomain  = 253
	maxLabel   = 63
)

// idnaProfile maps and converts internationalised domains. The Lookup
// profile (UTS #46 non-transitional processing, as browsers and SMTPUTF8
// MTAs do: "ß" stays "ß" and becomes xn--...) is the one meant for matching
// names that someone typed; it also lowercases.
var idnaProfile = idna.Lookup

// NormalizeAddress turns an exported address into the form the log and the
// MTA maps use: trimmed, surrounding <> or quotes and "mailto:" removed, a
// "Name <addr>" form reduced to addr, the WHOLE address lowercased (matching
// is case-insensitive because under-suppressing is the legal risk), the local
// part in Unicode NFC, the domain in ASCII (IDN to punycode) without a
// trailing dot. orig is the input (trimmed) when it differs from norm, else
// "". Anything that is not one address (a bare domain, a date, "#02232014",
// a repeated header, two addresses run together, an empty cell) is an
// *AddressError.
//
// The checks are deliberately lenient where real mail systems are: dots at
// the ends of the local part or doubled ("john..doe") are accepted, because
// rejecting a real suppression would be the worse mistake.
func NormalizeAddress(s string) (norm, orig string, err error) {
	if n, ok := normalizeASCII(s); ok {
		if n != s {
			orig = s
		}
		return n, orig, nil
	}
	return normalizeSlow(s)
}

// normalizeASCII is the fast path for the common case, a plain ASCII
// address with nothing to peel: it gives the same result as normalizeSlow
// (FuzzNormalizeAddress checks it) without allocating when the address is
// already lower case. ok is false when the slow path must decide.
func normalizeASCII(s string) (string, bool) {
	n := len(s)
	if n < 3 || n > maxAddress {
		return "", false
	}
	switch s[0] {
	case '<', '"', '\'', 'm', 'M':
		return "", false // wrappers, quoted local parts, maybe "mailto:"
	}
	switch s[n-1] {
	case '>', '"', '\'', '.':
		return "", false
	}
	at := -1
	upper := false
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c <= 0x20 || c >= 0x7f:
			return "", false
		case c == '@':
			if at >= 0 {
				return "", false
			}
			at = i
		case 'A' <= c && c <= 'Z':
			upper = true
		case at < 0 && strings.IndexByte(`"(),:;<>[\]`, c) >= 0:
			return "", false
		}
	}
	if at <= 0 || at > maxLocal || at == n-1 || s[at+1] == '[' {
		return "", false
	}
	out := s
	if upper {
		b := []byte(s)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 32
			}
		}
		out = string(b)
	}
	if checkASCIIDomain(out[at+1:]) != nil {
		return "", false
	}
	return out, true
}

func normalizeSlow(s string) (norm, orig string, err error) {
	in := strings.TrimFunc(s, isTrimmable)
	a := in
	for range 3 { // peel at most a few layers: "<a@b>", '"a@b"', "mailto:a@b"
		before := a
		if len(a) >= 7 && strings.EqualFold(a[:7], "mailto:") {
			a = a[7:]
		}
		if strings.HasSuffix(a, ">") {
			if i := strings.LastIndexByte(a, '<'); i >= 0 {
				a = a[i+1 : len(a)-1] // "<a@b>" or "Name <a@b>"
			}
		}
		if len(a) >= 2 && (a[0] == '"' && a[len(a)-1] == '"' || a[0] == '\'' && a[len(a)-1] == '\'') {
			a = a[1 : len(a)-1]
		}
		a = strings.TrimFunc(a, isTrimmable)
		if a == before {
			break
		}
	}
	if a == "" {
		return "", "", addrErr(ErrAddrEmpty, "")
	}
	if !utf8.ValidString(a) {
		return "", "", addrErr(ErrAddrChars, "invalid UTF-8")
	}
	if a[0] == '"' {
		return normalizeQuoted(in, a)
	}
	at := -1
	for i, r := range a {
		switch {
		case r == '@':
			if at >= 0 {
				return "", "", addrErr(ErrAddrManyAt, "")
			}
			at = i
		case r < 0x21 || r == 0x7f, r >= 0x80 && (unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)):
			return "", "", addrErr(ErrAddrChars, fmt.Sprintf("%U", r))
		}
	}
	if at < 0 {
		return "", "", addrErr(ErrAddrNoAt, "")
	}
	local, domain := a[:at], a[at+1:]
	if local == "" {
		return "", "", addrErr(ErrAddrLocal, "empty")
	}
	if i := strings.IndexAny(local, `"(),:;<>[\]`); i >= 0 {
		return "", "", addrErr(ErrAddrLocal, fmt.Sprintf("character %q", local[i]))
	}
	if len(local) > maxLocal {
		return "", "", addrErr(ErrAddrTooLong, "local part over 64 octets")
	}
	local = lowerLocal(local)
	d, err := normalizeDomain(domain)
	if err != nil {
		return "", "", err
	}
	norm = local + "@" + d
	if len(norm) > maxAddress {
		return "", "", addrErr(ErrAddrTooLong, "address over 254 octets")
	}
	if norm != in {
		orig = in
	}
	return norm, orig, nil
}

// CheckLiteralAddress refuses a normalized address that an MTA map, a
// lookup command or a remote shell could read as something other than one
// literal mailbox: shell metacharacters (` $ |), glob and regular
// expression syntax (* ? { } ^), and a leading / ! ~ - (an Exim file name or
// negation, an option). NormalizeAddress refuses " ( ) , : ; < > [ \ and
// white space outside a quoted local part; a quoted one ("a b"@x) is kept
// in the log but refused here. ' & # % = + stay allowed: real mailboxes use them
// (o'brien@, r&d@, SRS and tags), and commands get them as argv, quoted for
// ssh. `/^.*$/@x.com` is refused. Existing log lines are not re-judged
// (NormalizeAddress alone decides what a log holds); importers and exports
// to MTAs call this.
func CheckLiteralAddress(addr string) error {
	local, _, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return addrErr(ErrAddrNoAt, "")
	}
	if strings.ContainsRune("/!~-", rune(local[0])) {
		return addrErr(ErrAddrPattern, fmt.Sprintf("leading %q", local[0]))
	}
	if i := strings.IndexAny(addr, "`$|*?{}^\\\"()<>;,: "); i >= 0 {
		return addrErr(ErrAddrPattern, fmt.Sprintf("character %q", addr[i]))
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] < 0x21 || addr[i] == 0x7f {
			return addrErr(ErrAddrChars, fmt.Sprintf("byte 0x%02x", addr[i]))
		}
	}
	return nil
}

func isTrimmable(r rune) bool {
	return unicode.IsSpace(r) || r == '\ufeff' || r == '\u200b' || r == 0
}

func lowerLocal(local string) string {
	upper := false
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c >= utf8.RuneSelf {
			return strings.ToLower(norm.NFC.String(local))
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if upper {
		return asciiLower(local)
	}
	return local
}

// normalizeDomain lowercases, converts IDN to punycode and validates a
// domain as a mail host name: at least two labels, labels of 1-63 octets of
// letters, digits, '-' and '_' (seen in the wild), a top-level label that is
// not all digits (so "1.2.3.4" and dates are refused).
func normalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", addrErr(ErrAddrDomain, "empty")
	}
	if d[0] == '[' {
		return "", addrErr(ErrAddrLiteral, "")
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		d = asciiLower(d)
	} else {
		a, err := idnaProfile.ToASCII(d)
		if err != nil {
			return "", addrErr(ErrAddrDomain, "IDN: "+err.Error())
		}
		d = a
	}
	if err := checkASCIIDomain(d); err != nil {
		return "", err
	}
	return d, nil
}

// checkASCIIDomain validates a lower-case ASCII domain.
func checkASCIIDomain(d string) error {
	if len(d) > maxDomain {
		return addrErr(ErrAddrTooLong, "domain over 253 octets")
	}
	labels := 0
	allDigits := true
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return addrErr(ErrAddrDomain, fmt.Sprintf("character %q", c))
			}
			continue
		}
		n := i - start
		if n == 0 {
			return addrErr(ErrAddrDomain, "empty label")
		}
		if n > maxLabel {
			return addrErr(ErrAddrDomain, "label over 63 octets")
		}
		if d[start] == '-' || d[i-1] == '-' {
			return addrErr(ErrAddrDomain, "label starts or ends with '-'")
		}
		allDigits = true
		for j := start; j < i; j++ {
			if c := d[j]; c < '0' || c > '9' {
				allDigits = false
				break
			}
		}
		labels++
		start = i + 1
	}
	if labels < 2 {
		return addrErr(ErrAddrDomain, "no dot")
	}
	if allDigits { // of the last label
		return addrErr(ErrAddrDomain, "numeric top-level label")
	}
	return nil
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// DomainKey is the domain of addr as the counters key it: a host name in
// lower case, an IDN as its A-labels (punycode), or "" when the address has
// no usable domain (a pipe command, an address literal, garbage run into the
// field). Such an event still counts, without a domain: a key with spaces,
// brackets, quotes, commas, colons or control bytes would be a new pane.
func DomainKey(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return HostKey(addr[i+1:])
}

// HostKey is DomainKey for a bare domain.
func HostKey(d string) string {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 4*maxDomain {
		return ""
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		a, err := idnaProfile.ToASCII(d)
		if err != nil {
			return ""
		}
		d = strings.ToLower(a)
	} else {
		d = asciiLower(d)
	}
	if !hostName(d) {
		return ""
	}
	return d
}

// hostName checks a lower-case ASCII host name: labels of 1-63 letters,
// digits, '-' (not at either end) and '_' (seen in the wild), at most 253
// octets, a top-level label that is not all digits (an IP address is not a
// mail domain). One label is allowed: local deliveries use such names.
func hostName(d string) bool {
	if len(d) == 0 || len(d) > maxDomain {
		return false
	}
	start, digitsOnly := 0, true
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
			digitsOnly = digitsOnly && '0' <= c && c <= '9'
			continue
		}
		if n := i - start; n == 0 || n > maxLabel || d[start] == '-' || d[i-1] == '-' {
			return false
		}
		if i < len(d) {
			start, digitsOnly = i+1, true
		}
	}
	return !digitsOnly
}

// normalizeQuoted handles an RFC 5321 quoted local part ("neko..nyaan"@x):
// the canonical address keeps it quoted, because that is the mailbox the
// MTAs see in RCPT TO (an unquoted neko..nyaan@x matches nothing there),
// unless its content is a plain dot-atom, which RFC 5321 §4.1.2 makes the
// same mailbox as the unquoted form ("abc"@x is abc@x). The content is
// lowercased like every address; only '"' and '\' stay escaped.
func normalizeQuoted(in, a string) (norm, orig string, err error) {
	var content strings.Builder
	end := -1
	for i := 1; i < len(a); i++ {
		c := a[i]
		switch {
		case c == '\\':
			if i+1 >= len(a) || a[i+1] < 0x20 || a[i+1] == 0x7f {
				return "", "", addrErr(ErrAddrQuoted, "bad quoted pair")
			}
			i++
			content.WriteByte(a[i])
		case c == '"':
			end = i
		case c < 0x20 || c == 0x7f:
			return "", "", addrErr(ErrAddrChars, fmt.Sprintf("%U", rune(c)))
		default:
			content.WriteByte(c)
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 || end+1 >= len(a) || a[end+1] != '@' {
		return "", "", addrErr(ErrAddrQuoted, "no closing quote before '@'")
	}
	local := content.String()
	if local == "" {
		return "", "", addrErr(ErrAddrLocal, "empty")
	}
	for _, r := range local {
		if r >= 0x80 && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return "", "", addrErr(ErrAddrChars, fmt.Sprintf("%U", r))
		}
	}
	local = lowerLocal(local)
	if !dotAtom(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	if len(local) > maxLocal+2 {
		return "", "", addrErr(ErrAddrTooLong, "local part over 64 octets")
	}
	d, err := normalizeDomain(a[end+2:])
	if err != nil {
		return "", "", err
	}
	norm = local + "@" + d
	if len(norm) > maxAddress {
		return "", "", addrErr(ErrAddrTooLong, "address over 254 octets")
	}
	if norm != in {
		orig = in
	}
	return norm, orig, nil
}

// dotAtom reports an RFC 5322 dot-atom local part (UTF-8 allowed, RFC 6531).
func dotAtom(l string) bool {
	if l == "" || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
