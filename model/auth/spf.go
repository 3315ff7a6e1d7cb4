package auth

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// RFC 7208 §4.6.4 limits.
const (
	MaxLookups     = 10
	MaxVoidLookups = 2
	MaxMXHosts     = 10
)

// SPF results (RFC 7208 §2.6).
const (
	ResNone      = "none"
	ResNeutral   = "neutral"
	ResPass      = "pass"
	ResFail      = "fail"
	ResSoftfail  = "softfail"
	ResTemperror = "temperror"
	ResPermerror = "permerror"
)

// SelectSPF picks the SPF record among a name's TXT records (§4.5). It
// returns the joined text and the strings of the record; found is false for
// "none"; err is a permerror (more than one record).
func SelectSPF(rrs []RR) (rec RR, found bool, err error) {
	n := 0
	for _, rr := range rrs {
		if rr.Type == TypeTXT && IsSPF(rr.Data) {
			n++
			rec = rr
		}
	}
	switch {
	case n == 0:
		return RR{}, false, nil
	case n > 1:
		return rec, true, fmt.Errorf("%d SPF records published (exactly one allowed)", n)
	}
	return rec, true, nil
}

// Eval is a receiver's result for one IP: what check_host() returns and
// how many of the 10 lookups it used before it stopped.
type Eval struct {
	IP      string `json:"ip"`
	Result  string `json:"result"`
	Lookups int    `json:"lookups"`
	Void    int    `json:"void"`
	Matched string `json:"matched,omitempty"` // the term that decided, with the record's name
	Reason  string `json:"reason,omitempty"`
}

// Evaluate runs check_host(ip, domain, sender) as a receiver would (§4),
// short-circuiting at the first match.
func Evaluate(ctx context.Context, r Resolver, ip netip.Addr, domain, sender, helo string) Eval {
	if sender == "" {
		sender = "postmaster@" + Canon(domain)
	}
	e := &evaluator{r: r, ip: ip.Unmap(), sender: sender, helo: helo}
	res := e.checkHost(ctx, Canon(domain), 0)
	return Eval{IP: ip.String(), Result: res.result, Lookups: e.lookups, Void: e.voids, Matched: res.matched, Reason: res.reason}
}

type evaluator struct {
	r              Resolver
	ip             netip.Addr
	sender, helo   string
	lookups, voids int
}

type evalRes struct{ result, matched, reason string }

func perm(format string, a ...any) evalRes {
	return evalRes{result: ResPermerror, reason: fmt.Sprintf(format, a...)}
}

func temp(name string, a Answer) evalRes {
	return evalRes{result: ResTemperror, reason: fmt.Sprintf("%s: %s", name, a.Describe())}
}

func (e *evaluator) count() bool {
	e.lookups++
	return e.lookups <= MaxLookups
}

func (e *evaluator) void(a Answer) bool {
	if a.Void() {
		e.voids++
	}
	return e.voids <= MaxVoidLookups
}

func (e *evaluator) checkHost(ctx context.Context, domain string, depth int) evalRes {
	if depth > 2*MaxLookups { // only reachable through loops the lookup limit stops first
		return perm("include nesting too deep")
	}
	if err := checkDomainSpec(domain); err != nil || len(domain) > 253 {
		return evalRes{result: ResNone, reason: "invalid domain " + domain}
	}
	a := e.r.Lookup(ctx, domain, TypeTXT)
	if a.Temporary() {
		return temp(domain, a)
	}
	rr, found, err := SelectSPF(a.RRs)
	if err != nil {
		return perm("%s: %v", domain, err)
	}
	if !found {
		return evalRes{result: ResNone, reason: domain + ": no SPF record"}
	}
	rec, err := ParseSPF(rr.Data)
	if err != nil {
		return perm("%s: %v", domain, err)
	}
	for _, t := range rec.Terms {
		if t.Modifier {
			continue
		}
		if t.Lookup() && !e.count() {
			return perm("%s: more than %d DNS lookups (at %q)", domain, MaxLookups, t.Raw)
		}
		target := domain
		if t.Arg != "" {
			target = Canon(expandMacros(t.Arg, e.ip, domain, e.sender, e.helo))
		}
		match := false
		switch t.Name {
		case "all":
			match = true
		case "ip4", "ip6":
			match = t.Prefix.Contains(e.ip)
		case "include":
			sub := e.checkHost(ctx, target, depth+1)
			switch sub.result {
			case ResPass:
				match = true
			case ResTemperror:
				return sub
			case ResPermerror:
				return sub
			case ResNone:
				return perm("%s: include:%s has no SPF record", domain, target)
			}
		case "a":
			var ok bool
			var res evalRes
			match, ok, res = e.matchHost(ctx, target, t)
			if !ok {
				return res
			}
		case "mx":
			a := e.r.Lookup(ctx, target, TypeMX)
			if a.Temporary() {
				return temp(target, a)
			}
			if !e.void(a) {
				return perm("%s: more than %d void lookups (at %q)", domain, MaxVoidLookups, t.Raw)
			}
			hosts := mxHosts(a.RRs)
			if len(hosts) > MaxMXHosts {
				return perm("%s: %s has %d MX hosts (at most %d)", domain, target, len(hosts), MaxMXHosts)
			}
			for _, h := range hosts {
				addrs := e.r.Lookup(ctx, h, e.addrType())
				if addrs.Temporary() {
					return temp(h, addrs)
				}
				if e.inAddrs(addrs.RRs, t) {
					match = true
					break
				}
			}
		case "ptr":
			match = e.matchPTR(ctx, target)
		case "exists":
			a := e.r.Lookup(ctx, target, TypeA)
			if a.Temporary() {
				return temp(target, a)
			}
			if !e.void(a) {
				return perm("%s: more than %d void lookups (at %q)", domain, MaxVoidLookups, t.Raw)
			}
			match = len(a.RRs) > 0
		}
		if match {
			return evalRes{result: qualResult(t.Qualifier), matched: domain + ": " + t.Raw}
		}
	}
	if red, ok := rec.Redirect(); ok && !rec.HasAll {
		if !e.count() {
			return perm("%s: more than %d DNS lookups (at %q)", domain, MaxLookups, red.Raw)
		}
		target := Canon(expandMacros(red.Arg, e.ip, domain, e.sender, e.helo))
		sub := e.checkHost(ctx, target, depth+1)
		if sub.result == ResNone {
			return perm("%s: redirect=%s has no SPF record", domain, target)
		}
		return sub
	}
	return evalRes{result: ResNeutral, reason: domain + ": no term matched"}
}

func (e *evaluator) addrType() Type {
	if e.ip.Is4() {
		return TypeA
	}
	return TypeAAAA
}

// matchHost is the a mechanism. ok false: stop with res.
func (e *evaluator) matchHost(ctx context.Context, target string, t Term) (match, ok bool, res evalRes) {
	a := e.r.Lookup(ctx, target, e.addrType())
	if a.Temporary() {
		return false, false, temp(target, a)
	}
	if !e.void(a) {
		return false, false, perm("more than %d void lookups (at %q)", MaxVoidLookups, t.Raw)
	}
	return e.inAddrs(a.RRs, t), true, evalRes{}
}

func (e *evaluator) inAddrs(rrs []RR, t Term) bool {
	for _, rr := range rrs {
		addr, err := netip.ParseAddr(rr.Data)
		if err != nil {
			continue
		}
		addr = addr.Unmap()
		if addr.Is4() != e.ip.Is4() {
			continue
		}
		bits := addr.BitLen()
		if addr.Is4() && t.Mask4 >= 0 {
			bits = t.Mask4
		}
		if addr.Is6() && t.Mask6 >= 0 {
			bits = t.Mask6
		}
		if netip.PrefixFrom(addr, bits).Masked().Contains(e.ip) {
			return true
		}
	}
	return false
}

// matchPTR is the ptr mechanism (§5.5): validated names of the IP ending in
// target; names beyond the 10th are ignored, lookup errors are no match.
func (e *evaluator) matchPTR(ctx context.Context, target string) bool {
	a := e.r.Lookup(ctx, ReverseName(e.ip), TypePTR)
	for i, rr := range a.RRs {
		if i >= 10 {
			break
		}
		name := Canon(rr.Data)
		if name != target && !strings.HasSuffix(name, "."+target) {
			continue
		}
		f := e.r.Lookup(ctx, name, e.addrType())
		for _, x := range f.RRs {
			if ip, err := netip.ParseAddr(x.Data); err == nil && ip.Unmap() == e.ip {
				return true
			}
		}
	}
	return false
}

func qualResult(q byte) string {
	switch q {
	case '-':
		return ResFail
	case '~':
		return ResSoftfail
	case '?':
		return ResNeutral
	}
	return ResPass
}

func mxHosts(rrs []RR) []string {
	s := append([]RR(nil), rrs...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Pref < s[j].Pref })
	var out []string
	for _, rr := range s {
		if rr.Type == TypeMX && rr.Data != "" && rr.Data != "." {
			out = append(out, Canon(rr.Data))
		}
	}
	return out
}

// ReverseName is the in-addr.arpa / ip6.arpa name of an address.
func ReverseName(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", b[3], b[2], b[1], b[0])
	}
	h := fmt.Sprintf("%032x", ip.As16())
	var sb strings.Builder
	for i := len(h) - 1; i >= 0; i-- {
		sb.WriteByte(h[i])
		sb.WriteByte('.')
	}
	sb.WriteString("ip6.arpa")
	return sb.String()
}
