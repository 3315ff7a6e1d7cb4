package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// SPFNode is one record of the include/redirect tree.
type SPFNode struct {
	Name     string     `json:"name"`
	Via      string     `json:"via,omitempty"` // the term that led here
	Record   string     `json:"record,omitempty"`
	Strings  []string   `json:"strings,omitempty"`
	Answer   string     `json:"answer"`  // NOERROR, NXDOMAIN, NODATA, SERVFAIL, TIMEOUT, none
	Lookups  int        `json:"lookups"` // terms of this record that count (RFC)
	MXHosts  int        `json:"mx_hosts,omitempty"`
	Children []*SPFNode `json:"children,omitempty"`
}

// SPFReport is the static worst case of a domain's SPF tree (§5.3): every
// counted term wherever it occurs, unlike a receiver that stops at a match.
type SPFReport struct {
	Domain   string   `json:"domain"`
	Record   string   `json:"record"`
	Tree     *SPFNode `json:"tree"`
	RFC      int      `json:"lookups_rfc"`    // include, a, mx, ptr, exists, redirect
	Strict   int      `json:"lookups_strict"` // RFC + one per MX host (as checkdmarc counts)
	Void     int      `json:"void_lookups"`
	Findings Findings `json:"findings"`
	Evals    []Eval   `json:"evaluations,omitempty"`
	Severity Severity `json:"severity"`
}

// AnalyzeSPF walks domain's SPF tree and applies the rules of §5.3.
func AnalyzeSPF(ctx context.Context, r Resolver, domain string) *SPFReport {
	domain = Canon(domain)
	w := &walker{r: r, rep: &SPFReport{Domain: domain}}
	w.rep.Tree = w.walk(ctx, domain, "", nil, 0)
	if w.rep.Tree != nil {
		w.rep.Record = w.rep.Tree.Record
	}
	rep := w.rep
	switch {
	case rep.RFC > MaxLookups:
		w.add(Crit, domain, rep.Record, fmt.Sprintf("%d DNS lookups (RFC count; %d strict, as checkdmarc counts): over the limit of %d, receivers return permerror", rep.RFC, rep.Strict, MaxLookups))
	case rep.RFC >= MaxLookups-1:
		w.add(Warn, domain, rep.Record, fmt.Sprintf("%d DNS lookups (RFC count; %d strict, as checkdmarc counts): one ESP change away from the limit of %d", rep.RFC, rep.Strict, MaxLookups))
	default:
		w.add(OK, domain, rep.Record, fmt.Sprintf("lookups: %d (RFC), %d (strict, as checkdmarc counts)", rep.RFC, rep.Strict))
	}
	if rep.Void > MaxVoidLookups {
		w.add(Crit, domain, rep.Record, fmt.Sprintf("%d void lookups (limit %d): receivers return permerror", rep.Void, MaxVoidLookups))
	}
	rep.Severity = rep.Findings.Worst()
	return rep
}

type walker struct {
	r   Resolver
	rep *SPFReport
}

func (w *walker) add(s Severity, name, rec, msg string) {
	w.rep.Findings = append(w.rep.Findings, Finding{Severity: s, Check: "spf", Name: name, Record: rec, Message: msg})
}

func (w *walker) walk(ctx context.Context, name, via string, path []string, depth int) *SPFNode {
	node := &SPFNode{Name: name, Via: via}
	if depth > 3*MaxLookups {
		w.add(Crit, name, "", "include tree too deep")
		return node
	}
	a := w.r.Lookup(ctx, name, TypeTXT)
	node.Answer = a.Describe()
	if a.Temporary() {
		w.add(Unknown, name, "", "TXT lookup failed: "+a.Describe()+" (receivers return temperror)")
		return node
	}
	rr, found, err := SelectSPF(a.RRs)
	if err != nil {
		w.add(Crit, name, "", err.Error()+": receivers return permerror")
		return node
	}
	if !found {
		node.Answer = "none"
		if via == "" {
			w.add(Crit, name, "", "no SPF record ("+a.Describe()+")")
		} else {
			w.add(Crit, name, "", fmt.Sprintf("%s points to a name without an SPF record (%s): permerror", via, a.Describe()))
		}
		return node
	}
	node.Record, node.Strings = rr.Data, rr.Strings
	for _, s := range rr.Strings {
		if len(s) > 255 {
			w.add(Crit, name, rr.Data, fmt.Sprintf("a TXT string is %d octets (at most 255): cannot be published", len(s)))
		}
	}
	if len(rr.Data) > 450 {
		w.add(Warn, name, rr.Data, fmt.Sprintf("SPF record is %d octets (RFC 7208 §3.4 advises at most 450)", len(rr.Data)))
	}
	if a.Size > 512 {
		w.add(Warn, name, rr.Data, fmt.Sprintf("TXT answer is %d octets (> 512: needs EDNS or TCP)", a.Size))
	}
	for _, msg := range SplitInsideToken(rr.Strings) {
		w.add(Warn, name, rr.Data, msg)
	}
	rec, err := ParseSPF(rr.Data)
	if err != nil {
		w.add(Crit, name, rr.Data, "syntax: "+err.Error()+": receivers return permerror")
		return node
	}
	w.checkAll(name, rec, via == "")
	seenInc := map[string]bool{}
	path = append(path, name)
	for _, t := range rec.Terms {
		if t.Modifier && t.Name == "redirect" && rec.HasAll {
			w.add(Warn, name, rr.Data, fmt.Sprintf("%q is ignored because the record has an all mechanism (RFC 7208 §6.1); not counted", t.Raw))
			continue
		}
		if !t.Lookup() {
			continue
		}
		node.Lookups++
		w.rep.RFC++
		w.rep.Strict++
		target := name
		if t.Arg != "" {
			target = Canon(t.Arg)
		}
		if t.HasMacro() {
			w.add(Info, name, rr.Data, fmt.Sprintf("%q has a macro: counted once, target not expanded", t.Raw))
			continue
		}
		switch t.Name {
		case "include", "redirect":
			if seenInc[target] {
				w.add(Warn, name, rr.Data, fmt.Sprintf("duplicate %q", t.Raw))
			}
			seenInc[target] = true
			if contains(path, target) {
				w.add(Crit, name, rr.Data, fmt.Sprintf("%q loops back to %s: permerror", t.Raw, target))
				continue
			}
			node.Children = append(node.Children, w.walk(ctx, target, t.Raw, path, depth+1))
		case "a":
			a4 := w.r.Lookup(ctx, target, TypeA)
			a6 := w.r.Lookup(ctx, target, TypeAAAA)
			if a4.Temporary() {
				w.add(Unknown, name, rr.Data, fmt.Sprintf("%q: A lookup failed: %s", t.Raw, a4.Describe()))
			} else if a4.Void() && (a6.Void() || a6.Temporary()) {
				w.voidTerm(name, rr.Data, t, a4)
			}
		case "mx":
			m := w.r.Lookup(ctx, target, TypeMX)
			if m.Temporary() {
				w.add(Unknown, name, rr.Data, fmt.Sprintf("%q: MX lookup failed: %s", t.Raw, m.Describe()))
				continue
			}
			if m.Void() {
				w.voidTerm(name, rr.Data, t, m)
			}
			hosts := mxHosts(m.RRs)
			node.MXHosts += len(hosts)
			w.rep.Strict += len(hosts)
			if len(hosts) > MaxMXHosts {
				w.add(Crit, name, rr.Data, fmt.Sprintf("%q: %s has %d MX hosts (at most %d): permerror", t.Raw, target, len(hosts), MaxMXHosts))
			}
		case "ptr":
			w.add(Warn, name, rr.Data, fmt.Sprintf("%q: the ptr mechanism SHOULD NOT be published (RFC 7208 §5.5)", t.Raw))
		case "exists":
			e := w.r.Lookup(ctx, target, TypeA)
			if e.Temporary() {
				w.add(Unknown, name, rr.Data, fmt.Sprintf("%q: A lookup failed: %s", t.Raw, e.Describe()))
			} else if e.Void() {
				w.voidTerm(name, rr.Data, t, e)
			}
		}
	}
	return node
}

func (w *walker) voidTerm(name, rec string, t Term, a Answer) {
	w.rep.Void++
	s := Warn
	if w.rep.Void > MaxVoidLookups {
		s = Crit
	}
	w.add(s, name, rec, fmt.Sprintf("%q is a void lookup (%s; %d so far, limit %d)", t.Raw, a.Describe(), w.rep.Void, MaxVoidLookups))
}

func (w *walker) checkAll(name string, rec Record, root bool) {
	lastMech := -1
	for i, t := range rec.Terms {
		if !t.Modifier {
			lastMech = i
		}
	}
	_, hasRedirect := rec.Redirect()
	for i, t := range rec.Terms {
		if t.Modifier || t.Name != "all" {
			continue
		}
		if i != lastMech {
			w.add(Warn, name, rec.Text, fmt.Sprintf("%q is not the last mechanism: the terms after it are never evaluated", t.Raw))
		}
		switch t.Qualifier {
		case '+':
			w.add(Crit, name, rec.Text, fmt.Sprintf("%q authorizes every host on the Internet", t.Raw))
		case '?':
			w.add(Warn, name, rec.Text, fmt.Sprintf("%q: unlisted hosts get neutral", t.Raw))
		}
	}
	if root && !rec.HasAll && !hasRedirect {
		w.add(Warn, name, rec.Text, "no all mechanism and no redirect: unlisted hosts get neutral")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// EvaluateIPs evaluates each IP against domain and adds the results to the
// report; newIPs must pass (CRIT otherwise) within the lookup limit.
func (rep *SPFReport) EvaluateIPs(ctx context.Context, r Resolver, sender string, ips []netip.Addr, mustPass bool) {
	for _, ip := range ips {
		ev := Evaluate(ctx, r, ip, rep.Domain, sender, "")
		rep.Evals = append(rep.Evals, ev)
		if !mustPass {
			continue
		}
		switch ev.Result {
		case ResPass:
			rep.Findings = append(rep.Findings, Finding{Severity: OK, Check: "spf", Name: rep.Domain,
				Message: fmt.Sprintf("NEW IP %s: pass using %d lookup(s)", ip, ev.Lookups)})
		case ResTemperror:
			rep.Findings = append(rep.Findings, Finding{Severity: Unknown, Check: "spf", Name: rep.Domain,
				Message: fmt.Sprintf("NEW IP %s: temperror (%s)", ip, ev.Reason)})
		default:
			rep.Findings = append(rep.Findings, Finding{Severity: Crit, Check: "spf", Name: rep.Domain,
				Message: fmt.Sprintf("NEW IP %s: %s (%s): NEW mail fails SPF", ip, ev.Result, strings.TrimSpace(ev.Reason))})
		}
	}
	rep.Severity = rep.Findings.Worst()
}
