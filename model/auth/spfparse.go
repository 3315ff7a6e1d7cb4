package auth

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Term is one parsed SPF term (RFC 7208 §4.6.1).
type Term struct {
	Raw       string
	Qualifier byte   // '+', '-', '~', '?' (mechanisms only)
	Name      string // lower case: all, include, a, mx, ptr, ip4, ip6, exists; or the modifier name
	Modifier  bool   // name=value
	Arg       string // domain-spec or modifier value ("" when absent)
	Prefix    netip.Prefix
	Mask4     int // a/mx dual-cidr; -1 when absent
	Mask6     int
}

// Lookup reports whether evaluating the term costs one of the 10 DNS lookups.
func (t Term) Lookup() bool {
	if t.Modifier {
		return t.Name == "redirect"
	}
	switch t.Name {
	case "include", "a", "mx", "ptr", "exists":
		return true
	}
	return false
}

// HasMacro reports a macro in the term's target (not expanded statically).
func (t Term) HasMacro() bool { return strings.Contains(t.Arg, "%") }

// Record is a parsed SPF record.
type Record struct {
	Text   string
	Terms  []Term
	HasAll bool
}

// Redirect is the redirect= modifier, if any.
func (r Record) Redirect() (Term, bool) {
	for _, t := range r.Terms {
		if t.Modifier && t.Name == "redirect" {
			return t, true
		}
	}
	return Term{}, false
}

// IsSPF reports whether a TXT text is an SPF version 1 record (§4.5: exactly
// "v=spf1" or starting with "v=spf1 ", case-insensitively).
func IsSPF(txt string) bool {
	l := strings.ToLower(txt)
	return l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ")
}

// ParseSPF parses a record text. An error is a permerror (§4.6).
func ParseSPF(txt string) (Record, error) {
	rec := Record{Text: txt}
	if !IsSPF(txt) {
		return rec, fmt.Errorf("not an SPF record (must start with \"v=spf1\")")
	}
	seenMod := map[string]bool{}
	for _, raw := range strings.Split(txt[len("v=spf1"):], " ") {
		if raw == "" {
			continue
		}
		t, err := parseTerm(raw)
		if err != nil {
			return rec, err
		}
		if t.Modifier {
			if (t.Name == "redirect" || t.Name == "exp") && seenMod[t.Name] {
				return rec, fmt.Errorf("modifier %q appears twice", t.Name)
			}
			seenMod[t.Name] = true
		}
		if !t.Modifier && t.Name == "all" {
			rec.HasAll = true
		}
		rec.Terms = append(rec.Terms, t)
	}
	return rec, nil
}

func parseTerm(raw string) (Term, error) {
	t := Term{Raw: raw, Qualifier: '+', Mask4: -1, Mask6: -1}
	// A modifier is name "=" ...; a name is ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
	if i := strings.IndexByte(raw, '='); i > 0 && isModName(raw[:i]) {
		t.Modifier = true
		t.Name = strings.ToLower(raw[:i])
		t.Arg = raw[i+1:]
		if (t.Name == "redirect" || t.Name == "exp") && t.Arg == "" {
			return t, fmt.Errorf("term %q: empty %s target", raw, t.Name)
		}
		if t.Name == "redirect" {
			if err := checkDomainSpec(t.Arg); err != nil {
				return t, fmt.Errorf("term %q: %v", raw, err)
			}
		}
		return t, nil
	}
	s := raw
	if strings.ContainsRune("+-~?", rune(s[0])) {
		t.Qualifier = s[0]
		s = s[1:]
	}
	name, rest := s, ""
	if i := strings.IndexAny(s, ":/"); i >= 0 {
		name, rest = s[:i], s[i:]
	}
	t.Name = strings.ToLower(name)
	bad := func(why string) (Term, error) { return t, fmt.Errorf("term %q: %s", raw, why) }
	switch t.Name {
	case "all":
		if rest != "" {
			return bad("all takes no argument")
		}
	case "include", "exists":
		if !strings.HasPrefix(rest, ":") || len(rest) < 2 {
			return bad(t.Name + " needs a domain")
		}
		t.Arg = rest[1:]
		if err := checkDomainSpec(t.Arg); err != nil {
			return bad(err.Error())
		}
	case "a", "mx", "ptr":
		if strings.HasPrefix(rest, ":") {
			rest = rest[1:]
			end := len(rest)
			if t.Name != "ptr" {
				if i := strings.IndexByte(rest, '/'); i >= 0 {
					end = i
				}
			}
			t.Arg, rest = rest[:end], rest[end:]
			if err := checkDomainSpec(t.Arg); err != nil {
				return bad(err.Error())
			}
		}
		if rest != "" {
			if t.Name == "ptr" {
				return bad("ptr takes no cidr")
			}
			if err := parseDualCIDR(rest, &t); err != nil {
				return bad(err.Error())
			}
		}
	case "ip4", "ip6":
		if !strings.HasPrefix(rest, ":") {
			return bad(t.Name + " needs an address")
		}
		addr, bits := rest[1:], ""
		if i := strings.IndexByte(addr, '/'); i >= 0 {
			addr, bits = addr[:i], addr[i+1:]
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil || (t.Name == "ip4") != ip.Is4() || ip.Zone() != "" {
			return bad("invalid address")
		}
		n := ip.BitLen()
		if bits != "" {
			v, err := strconv.Atoi(bits)
			if err != nil || v < 0 || v > ip.BitLen() || (len(bits) > 1 && bits[0] == '0') {
				return bad("invalid prefix length")
			}
			n = v
		}
		t.Prefix = netip.PrefixFrom(ip, n).Masked()
	default:
		return bad("unknown mechanism")
	}
	return t, nil
}

func parseDualCIDR(s string, t *Term) error {
	// "/n", "//m" or "/n//m"
	four, six := s, ""
	if i := strings.Index(s, "//"); i >= 0 {
		four, six = s[:i], s[i+1:]
	}
	parse := func(p string, max int) (int, error) {
		if !strings.HasPrefix(p, "/") || len(p) < 2 {
			return 0, fmt.Errorf("invalid cidr %q", s)
		}
		v, err := strconv.Atoi(p[1:])
		if err != nil || v < 0 || v > max || (len(p) > 2 && p[1] == '0') {
			return 0, fmt.Errorf("invalid cidr %q", s)
		}
		return v, nil
	}
	var err error
	if four != "" {
		if t.Mask4, err = parse(four, 32); err != nil {
			return err
		}
	}
	if six != "" {
		if t.Mask6, err = parse(six, 128); err != nil {
			return err
		}
	}
	return nil
}

func isModName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// checkDomainSpec applies §7.1's domain-spec: visible characters, and when
// there is no macro, a final label that is not all digits.
func checkDomainSpec(s string) error {
	if s == "" {
		return fmt.Errorf("empty domain")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Errorf("invalid character in domain %q", s)
		}
	}
	if strings.Contains(s, "%") {
		return checkMacros(s)
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has no top label", s)
	}
	top := labels[len(labels)-1]
	digits := true
	for i := 0; i < len(top); i++ {
		if !(top[i] >= '0' && top[i] <= '9') {
			digits = false
		}
	}
	if top == "" || digits {
		return fmt.Errorf("domain %q has an invalid top label", s)
	}
	return nil
}

func checkMacros(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 >= len(s) {
			return fmt.Errorf("dangling %% in %q", s)
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
		case '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 || j < 3 || !strings.ContainsRune("slodiphcrtvSLODIPHCRTV", rune(s[i+2])) {
				return fmt.Errorf("invalid macro in %q", s)
			}
			i += j
		default:
			return fmt.Errorf("invalid macro in %q", s)
		}
	}
	return nil
}

// expandMacros expands §7 macros for an evaluation. %{p} expands to
// "unknown" (validated PTR names are discouraged and cost lookups).
func expandMacros(s string, ip netip.Addr, domain, sender, helo string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	local, dom := "postmaster", sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		local, dom = sender[:i], sender[i+1:]
		if local == "" {
			local = "postmaster"
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '%':
			b.WriteByte('%')
			i++
			continue
		case '_':
			b.WriteByte(' ')
			i++
			continue
		case '-':
			b.WriteString("%20")
			i++
			continue
		case '{':
		default:
			b.WriteByte(s[i])
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+j]
		i += j
		if body == "" {
			continue
		}
		var v string
		switch body[0] | 0x20 {
		case 's':
			v = sender
		case 'l':
			v = local
		case 'o':
			v = dom
		case 'd':
			v = domain
		case 'i':
			v = macroIP(ip)
		case 'p':
			v = "unknown"
		case 'v':
			v = "in-addr"
			if ip.Is6() && !ip.Is4In6() {
				v = "ip6"
			}
		case 'h':
			v = helo
		case 'c', 'r', 't':
			v = ""
		}
		rest := body[1:]
		digits := 0
		for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			digits = digits*10 + int(rest[0]-'0')
			rest = rest[1:]
		}
		reverse := false
		if len(rest) > 0 && (rest[0]|0x20) == 'r' {
			reverse = true
			rest = rest[1:]
		}
		delims := rest
		if delims == "" {
			delims = "."
		}
		parts := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(delims, r) })
		if reverse {
			for a, z := 0, len(parts)-1; a < z; a, z = a+1, z-1 {
				parts[a], parts[z] = parts[z], parts[a]
			}
		}
		if digits > 0 && digits < len(parts) {
			parts = parts[len(parts)-digits:]
		}
		b.WriteString(strings.Join(parts, "."))
	}
	return b.String()
}

func macroIP(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	h := fmt.Sprintf("%x", ip.As16())
	return strings.Join(strings.Split(h, ""), ".")
}

// SplitInsideToken finds TXT string boundaries that fall inside a token
// (§3.3: strings are joined without separators, so a publisher who split a
// record in the middle of a term changed its meaning). It returns a
// description per such boundary.
func SplitInsideToken(strs []string) []string {
	var out []string
	joined := strings.Join(strs, "")
	off := 0
	for i := 0; i < len(strs)-1; i++ {
		off += len(strs[i])
		if off == 0 || off >= len(joined) {
			continue
		}
		if joined[off-1] != ' ' && joined[off] != ' ' {
			l := strings.LastIndexByte(joined[:off], ' ') + 1
			r := strings.IndexByte(joined[off:], ' ')
			if r < 0 {
				r = len(joined)
			} else {
				r += off
			}
			out = append(out, fmt.Sprintf("TXT strings %d and %d are joined inside a token at octet %d: %q (%q + %q)",
				i+1, i+2, off, joined[l:r], joined[l:off], joined[off:r]))
		}
	}
	return out
}
