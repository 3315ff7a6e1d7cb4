package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Flattened is one include replaced by the addresses it resolves to today.
type Flattened struct {
	Include string   `json:"include"`
	Terms   []string `json:"terms"`
	Saved   int      `json:"lookups_saved"`
	Hash    string   `json:"answers_sha256"` // of the sorted terms: dns check compares it later
	Chain   []RR     `json:"chain,omitempty"`
	Cost    string   `json:"cost"`
}

// Flatten replaces the include:NAME terms of record named in names by the
// ip4/ip6 terms they resolve to, only on request (--flatten NAME). It keeps
// the include's qualifier and refuses a tree whose meaning flattening would
// change: a -, ~ or ? mechanism before the end (an exception the ip list
// cannot express), +all, ptr, exists or macros. When the result would pass
// 450 octets the terms go to chained _spfN.<domain> records of at most 255
// octets, one lookup each.
func Flatten(ctx context.Context, r Resolver, domain, record string, names []string) (string, []Flattened, error) {
	domain = Canon(domain)
	rec, err := ParseSPF(record)
	if err != nil {
		return "", nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[Canon(n)] = true
	}
	var out []string
	var flat []Flattened
	chainN := 0
	for _, t := range rec.Terms {
		if t.Modifier || t.Name != "include" || !want[Canon(t.Arg)] {
			out = append(out, t.Raw)
			continue
		}
		name := Canon(t.Arg)
		delete(want, name)
		f := &flattener{r: r}
		prefixes, err := f.collect(ctx, name, 0)
		if err != nil {
			return "", nil, fmt.Errorf("cannot flatten include:%s: %v", name, err)
		}
		q := ""
		if t.Qualifier != '+' {
			q = string(t.Qualifier)
		}
		terms := IPTermsPrefixes(prefixes, q)
		h := sha256.Sum256([]byte(strings.Join(terms, " ")))
		fl := Flattened{Include: name, Terms: terms, Saved: f.lookups, Hash: hex.EncodeToString(h[:]),
			Cost: fmt.Sprintf("saves %d lookup(s); %s's changes are no longer followed: when it adds an address, NEW or OLD mail from it fails SPF until cutover dns check reports the drift and the record is re-flattened", f.lookups, name)}
		out = append(out, terms...)
		flat = append(flat, fl)
	}
	for n := range want {
		return "", nil, fmt.Errorf("--flatten %s: the record has no include:%s", n, n)
	}
	result := strings.Join(append([]string{"v=spf1"}, out...), " ")
	if len(result) <= 450 {
		return result, flat, nil
	}
	// Chain: keep the non-flattened terms, move the flattened ones out.
	moved := map[string]bool{}
	var all []string
	for _, fl := range flat {
		for _, t := range fl.Terms {
			moved[t] = true
			all = append(all, t)
		}
	}
	var keep []string
	inserted := false
	var chain []RR
	for _, t := range out {
		if !moved[t] {
			keep = append(keep, t)
			continue
		}
		if inserted {
			continue
		}
		inserted = true
		cur := "v=spf1"
		flush := func() {
			chainN++
			n := fmt.Sprintf("_spf%d.%s", chainN, domain)
			chain = append(chain, RR{Name: n, Type: TypeTXT, Data: cur, Strings: []string{cur}})
			keep = append(keep, "include:"+n)
			cur = "v=spf1"
		}
		for _, x := range all {
			if len(cur)+1+len(x) > 255 {
				flush()
			}
			cur += " " + x
		}
		flush()
	}
	if len(flat) > 0 {
		flat[len(flat)-1].Chain = chain
		flat[len(flat)-1].Cost += fmt.Sprintf("; the addresses need %d chained record(s), one lookup each", len(chain))
	}
	return strings.Join(append([]string{"v=spf1"}, keep...), " "), flat, nil
}

// IPTermsPrefixes renders prefixes as ip4:/ip6: terms with a qualifier.
func IPTermsPrefixes(ps []netip.Prefix, q string) []string {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Addr() != ps[j].Addr() {
			return ps[i].Addr().Less(ps[j].Addr())
		}
		return ps[i].Bits() < ps[j].Bits()
	})
	var out []string
	seen := map[netip.Prefix]bool{}
	for _, p := range ps {
		if seen[p] {
			continue
		}
		seen[p] = true
		s := p.String()
		if p.IsSingleIP() {
			s = p.Addr().String()
		}
		if p.Addr().Is4() {
			out = append(out, q+"ip4:"+s)
		} else {
			out = append(out, q+"ip6:"+s)
		}
	}
	return out
}

type flattener struct {
	r       Resolver
	lookups int
}

func (f *flattener) collect(ctx context.Context, name string, depth int) ([]netip.Prefix, error) {
	if depth > MaxLookups {
		return nil, fmt.Errorf("nesting deeper than %d", MaxLookups)
	}
	a := f.r.Lookup(ctx, name, TypeTXT)
	if a.Temporary() {
		return nil, fmt.Errorf("%s: %s", name, a.Describe())
	}
	rr, found, err := SelectSPF(a.RRs)
	if err != nil || !found {
		return nil, fmt.Errorf("%s: no single SPF record", name)
	}
	rec, err := ParseSPF(rr.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var out []netip.Prefix
	for i, t := range rec.Terms {
		if t.Modifier {
			if t.Name == "redirect" && !rec.HasAll {
				f.lookups++
				sub, err := f.collect(ctx, Canon(t.Arg), depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			}
			continue
		}
		if t.Name == "all" {
			if t.Qualifier == '+' {
				return nil, fmt.Errorf("%s: +all", name)
			}
			if i != len(rec.Terms)-1 && hasMechanismAfter(rec.Terms, i) {
				return nil, fmt.Errorf("%s: terms after all", name)
			}
			break
		}
		if t.Qualifier != '+' {
			return nil, fmt.Errorf("%s: %q is %c-qualified: flattening would lose the exception", name, t.Raw, t.Qualifier)
		}
		if t.HasMacro() {
			return nil, fmt.Errorf("%s: %q has a macro", name, t.Raw)
		}
		target := name
		if t.Arg != "" {
			target = Canon(t.Arg)
		}
		switch t.Name {
		case "ip4", "ip6":
			out = append(out, t.Prefix)
		case "include":
			f.lookups++
			sub, err := f.collect(ctx, target, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case "a":
			f.lookups++
			ps, err := f.addrs(ctx, target, t)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		case "mx":
			f.lookups++
			m := f.r.Lookup(ctx, target, TypeMX)
			if m.Temporary() {
				return nil, fmt.Errorf("%s MX: %s", target, m.Describe())
			}
			for _, h := range mxHosts(m.RRs) {
				ps, err := f.addrs(ctx, h, t)
				if err != nil {
					return nil, err
				}
				out = append(out, ps...)
			}
		default:
			return nil, fmt.Errorf("%s: %q cannot be flattened", name, t.Raw)
		}
	}
	return out, nil
}

func hasMechanismAfter(ts []Term, i int) bool {
	for _, t := range ts[i+1:] {
		if !t.Modifier {
			return true
		}
	}
	return false
}

func (f *flattener) addrs(ctx context.Context, host string, t Term) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, typ := range []Type{TypeA, TypeAAAA} {
		a := f.r.Lookup(ctx, host, typ)
		if a.Temporary() {
			return nil, fmt.Errorf("%s %s: %s", host, typ, a.Describe())
		}
		for _, rr := range a.RRs {
			ip, err := netip.ParseAddr(rr.Data)
			if err != nil {
				continue
			}
			ip = ip.Unmap()
			bits := ip.BitLen()
			if ip.Is4() && t.Mask4 >= 0 {
				bits = t.Mask4
			}
			if ip.Is6() && t.Mask6 >= 0 {
				bits = t.Mask6
			}
			out = append(out, netip.PrefixFrom(ip, bits).Masked())
		}
	}
	return out, nil
}
