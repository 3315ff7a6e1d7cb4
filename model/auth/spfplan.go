package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// SPFAlternative is another way to authorize NEW, with its cost.
type SPFAlternative struct {
	Name    string `json:"name"`
	Record  string `json:"record"`
	Lookups int    `json:"lookups"`
	Why     string `json:"why"`
}

// SPFProposal is the dual-MTA SPF change for one MAIL FROM domain (§5.3.11).
type SPFProposal struct {
	Domain   string `json:"domain"`
	Current  string `json:"current,omitempty"`
	Proposed string `json:"proposed"`
	// Name receives Proposed (Domain, or NEW's own MAIL FROM domain).
	Name     string   `json:"name"`
	Lookups  int      `json:"lookups_rfc"`
	Strict   int      `json:"lookups_strict"`
	Severity Severity `json:"severity"`
	// NewLookups is what a receiver spends on NEW's first IP with Proposed;
	// AppendedLookups with NEW's terms appended at the end instead.
	NewLookups      int              `json:"new_ip_lookups"`
	AppendedLookups int              `json:"appended_lookups"`
	Alternatives    []SPFAlternative `json:"alternatives,omitempty"`
	Notes           []string         `json:"notes,omitempty"`
}

// IPTerms renders ip4:/ip6: terms for addresses.
func IPTerms(ips []netip.Addr) []string {
	var out []string
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is4() {
			out = append(out, "ip4:"+ip.String())
		} else {
			out = append(out, "ip6:"+ip.String())
		}
	}
	return out
}

// InsertBeforeLookups puts terms before the record's first term that costs a
// lookup (else before all, else at the end), so the IPs they list are decided
// with 0 lookups whatever the includes after them do.
func InsertBeforeLookups(record string, terms []string) string {
	f := strings.Fields(record)
	if len(f) == 0 {
		return record
	}
	at := len(f)
	for i := 1; i < len(f); i++ {
		t, err := parseTerm(f[i])
		if err != nil {
			continue
		}
		if t.Lookup() || (!t.Modifier && t.Name == "all") {
			at = i
			break
		}
	}
	out := append([]string{}, f[:at]...)
	out = append(out, terms...)
	return strings.Join(append(out, f[at:]...), " ")
}

// overlay answers one name's TXT with a proposed record, everything else from
// the real resolver: the proposal is evaluated on live data.
type overlay struct {
	Resolver
	name, txt string
}

func (o overlay) Lookup(ctx context.Context, name string, t Type) Answer {
	if t == TypeTXT && Canon(name) == o.name {
		return Answer{Rcode: NoError, RRs: []RR{{Name: o.name, Type: TypeTXT, Data: o.txt, Strings: []string{o.txt}}}}
	}
	return o.Resolver.Lookup(ctx, name, t)
}

// WithRecord returns r with name's TXT replaced by txt (for what-if checks).
func WithRecord(r Resolver, name, txt string) Resolver {
	return overlay{Resolver: r, name: Canon(name), txt: txt}
}

// ProposeDualSPF proposes the SPF change that authorizes NEW's IPs for MAIL
// FROM domain while OLD keeps sending. newMailFrom, when it differs from
// domain, is NEW's own MAIL FROM domain: it gets its own record and domain's
// record stays untouched. It never flattens (see Flatten).
func ProposeDualSPF(ctx context.Context, r Resolver, domain, newMailFrom string, newIPs []netip.Addr) *SPFProposal {
	domain, newMailFrom = Canon(domain), Canon(newMailFrom)
	p := &SPFProposal{Domain: domain}
	own := "v=spf1 " + strings.Join(IPTerms(newIPs), " ") + " -all"
	if newMailFrom != "" && newMailFrom != domain {
		p.Name, p.Proposed = newMailFrom, own
		p.Notes = append(p.Notes, fmt.Sprintf("NEW uses its own MAIL FROM domain %s: %s keeps its record unchanged", newMailFrom, domain))
		p.Severity = OK
		if len(newIPs) > 0 {
			p.NewLookups = Evaluate(ctx, WithRecord(r, newMailFrom, own), newIPs[0], newMailFrom, "", "").Lookups
		}
		return p
	}
	cur := AnalyzeSPF(ctx, r, domain)
	p.Current, p.Name = cur.Record, domain
	base := cur.Record
	if base == "" {
		base = "v=spf1 -all"
		p.Notes = append(p.Notes, domain+" has no SPF record today: the proposal starts from v=spf1 -all")
	}
	p.Proposed = InsertBeforeLookups(base, IPTerms(newIPs))
	after := AnalyzeSPF(ctx, WithRecord(r, domain, p.Proposed), domain)
	p.Lookups, p.Strict, p.Severity = after.RFC, after.Strict, after.Severity
	if len(newIPs) > 0 {
		p.NewLookups = Evaluate(ctx, WithRecord(r, domain, p.Proposed), newIPs[0], domain, "", "").Lookups
		appended := appendBeforeAll(base, IPTerms(newIPs))
		p.AppendedLookups = Evaluate(ctx, WithRecord(r, domain, appended), newIPs[0], domain, "", "").Lookups
		p.Notes = append(p.Notes, fmt.Sprintf("NEW's ip4/ip6 terms come before every lookup term: %s passes with %d lookups (appended at the end it would use %d, and any upstream include growth would permerror NEW first)",
			newIPs[0], p.NewLookups, p.AppendedLookups))
	}
	p.Alternatives = append(p.Alternatives, SPFAlternative{
		Name: "bounce." + domain, Record: own, Lookups: 0,
		Why: "a dedicated MAIL FROM subdomain for NEW: its own record, 0 lookups, OLD's record untouched (still aligned under relaxed DMARC)",
	})
	if p.Lookups > MaxLookups {
		p.Notes = append(p.Notes, fmt.Sprintf("the record needs %d lookups (> %d): use the MAIL FROM subdomain, replace a/mx of own hosts by ip4, drop includes of ESPs that use their own bounce domain, or flatten named includes with --flatten", p.Lookups, MaxLookups))
	}
	return p
}

func appendBeforeAll(record string, terms []string) string {
	f := strings.Fields(record)
	at := len(f)
	for i := 1; i < len(f); i++ {
		if t, err := parseTerm(f[i]); err == nil && !t.Modifier && t.Name == "all" {
			at = i
			break
		}
	}
	out := append([]string{}, f[:at]...)
	out = append(out, terms...)
	return strings.Join(append(out, f[at:]...), " ")
}
