package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// CheckPTR checks forward-confirmed reverse DNS for a NEW IP and that the
// PTR name is one of NEW's HELO names (§5.6): Google and Yahoo require valid
// forward and reverse DNS, so a miss is CRIT.
func CheckPTR(ctx context.Context, r Resolver, ip netip.Addr, helos []string) Findings {
	ip = ip.Unmap()
	rev := ReverseName(ip)
	var fs Findings
	add := func(s Severity, rec, msg string) {
		fs = append(fs, Finding{Severity: s, Check: "ptr", Name: rev, Record: rec, Message: ip.String() + ": " + msg})
	}
	a := r.Lookup(ctx, rev, TypePTR)
	if a.Temporary() {
		add(Unknown, "", "PTR lookup failed: "+a.Describe())
		return fs
	}
	if len(a.RRs) == 0 {
		add(Crit, "", "no PTR record ("+a.Describe()+")")
		return fs
	}
	t := TypeA
	if ip.Is6() {
		t = TypeAAAA
	}
	confirmed := ""
	for _, rr := range a.RRs {
		f := r.Lookup(ctx, rr.Data, t)
		if f.Temporary() {
			add(Unknown, rr.Data, "forward lookup of "+rr.Data+" failed: "+f.Describe())
			return fs
		}
		for _, x := range f.RRs {
			if y, err := netip.ParseAddr(x.Data); err == nil && y.Unmap() == ip {
				confirmed = rr.Data
			}
		}
	}
	if confirmed == "" {
		add(Crit, a.RRs[0].Data, fmt.Sprintf("PTR %s does not resolve back to the IP (no forward-confirmed reverse DNS)", a.RRs[0].Data))
		return fs
	}
	if len(helos) > 0 {
		ok := false
		for _, h := range helos {
			if Canon(h) == confirmed {
				ok = true
			}
		}
		if !ok {
			add(Warn, confirmed, fmt.Sprintf("PTR %s is not among NEW's HELO names (%s)", confirmed, strings.Join(helos, ", ")))
			return fs
		}
	}
	add(OK, confirmed, "PTR "+confirmed+" resolves back to the IP")
	return fs
}

// CheckHELO checks that a HELO name resolves to at least one of NEW's IPs.
func CheckHELO(ctx context.Context, r Resolver, helo string, ips []netip.Addr) Finding {
	f := Finding{Check: "ptr", Name: Canon(helo)}
	a4 := r.Lookup(ctx, helo, TypeA)
	a6 := r.Lookup(ctx, helo, TypeAAAA)
	if a4.Temporary() {
		f.Severity, f.Message = Unknown, "HELO name lookup failed: "+a4.Describe()
		return f
	}
	for _, rr := range append(a4.RRs, a6.RRs...) {
		if y, err := netip.ParseAddr(rr.Data); err == nil {
			for _, ip := range ips {
				if y.Unmap() == ip.Unmap() {
					f.Severity, f.Message, f.Record = OK, "HELO name resolves to NEW IP "+ip.String(), rr.Data
					return f
				}
			}
		}
	}
	f.Severity, f.Message = Crit, "HELO name does not resolve to any NEW IP"
	return f
}

// DNSBL statuses. UNCHECKED is never clean.
const (
	Listed    = "LISTED"
	Clean     = "clean"
	Unchecked = "UNCHECKED"
)

// Listing is one IP on one blocklist zone.
type Listing struct {
	IP      string   `json:"ip"`
	Zone    string   `json:"zone"`
	Status  string   `json:"status"`
	Codes   []string `json:"codes,omitempty"`
	Meaning string   `json:"meaning,omitempty"`
}

// zoneMeanings are the return codes the big lists document.
var zoneMeanings = map[string]map[string]string{
	"zen.spamhaus.org": {
		"127.0.0.2": "SBL (Spamhaus Blocklist)", "127.0.0.3": "SBL CSS (snowshoe)",
		"127.0.0.4": "XBL (exploited host)", "127.0.0.5": "XBL", "127.0.0.6": "XBL", "127.0.0.7": "XBL",
		"127.0.0.9": "SBL DROP", "127.0.0.10": "PBL (ISP policy)", "127.0.0.11": "PBL (Spamhaus policy)",
	},
	"b.barracudacentral.org": {"127.0.0.2": "listed by Barracuda"},
	"bl.spamcop.net":         {"127.0.0.2": "listed by SpamCop"},
}

// refusals are positive answers that are not listings: 127.255.255.252
// (typo in the query), .254 (query through a public/open resolver), .255
// (excessive queries) — Spamhaus's documented error codes.
var refusals = map[string]string{
	"127.255.255.252": "query refused: typing error in the DNSBL name",
	"127.255.255.254": "query refused: sent through a public or open resolver",
	"127.255.255.255": "query refused: too many queries",
}

// CheckDNSBL looks ip up on zone (§5.6).
func CheckDNSBL(ctx context.Context, r Resolver, ip netip.Addr, zone string) Listing {
	ip = ip.Unmap()
	zone = Canon(zone)
	l := Listing{IP: ip.String(), Zone: zone}
	q := strings.TrimSuffix(ReverseName(ip), ".in-addr.arpa")
	q = strings.TrimSuffix(q, ".ip6.arpa") + "." + zone
	a := r.Lookup(ctx, q, TypeA)
	switch {
	case a.Rcode == NXDomain || a.NoData():
		l.Status = Clean
		return l
	case a.Temporary():
		l.Status, l.Meaning = Unchecked, a.Describe()
		return l
	}
	var meanings []string
	for _, rr := range a.RRs {
		if why, ok := refusals[rr.Data]; ok {
			l.Status, l.Codes, l.Meaning = Unchecked, []string{rr.Data}, why
			return l
		}
		l.Codes = append(l.Codes, rr.Data)
		if m, ok := zoneMeanings[zone][rr.Data]; ok {
			meanings = append(meanings, m)
		}
	}
	for _, c := range l.Codes {
		if !strings.HasPrefix(c, "127.") {
			l.Status, l.Meaning = Unchecked, "answer "+c+" is not a 127.0.0.x listing code (wildcarded or hijacked zone?)"
			return l
		}
	}
	l.Status = Listed
	if len(meanings) == 0 {
		meanings = []string{"listed (return code " + strings.Join(l.Codes, ", ") + ")"}
	}
	l.Meaning = strings.Join(meanings, "; ")
	return l
}

// Severity of a listing: LISTED CRIT, UNCHECKED could not tell.
func (l Listing) Severity() Severity {
	switch l.Status {
	case Listed:
		return Crit
	case Unchecked:
		return Unknown
	}
	return OK
}
