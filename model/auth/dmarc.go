package auth

import (
	"context"
	"fmt"
	"strings"
)

// OrgFunc returns a domain's organizational domain by the Public Suffix List
// (RFC 7489 §3.2); the caller injects it (golang.org/x/net/publicsuffix).
type OrgFunc func(domain string) (string, error)

// DMARCRecord is a parsed DMARC policy. Every tag is kept (RFC 9989 adds
// t, np and psd; RFC 7489 receivers still know pct, rf, ri).
type DMARCRecord struct {
	Raw   string            `json:"raw"`
	Order []string          `json:"-"`
	Tags  map[string]string `json:"tags"`
	P     string            `json:"p"`
	SP    string            `json:"sp,omitempty"`
	NP    string            `json:"np,omitempty"`
	ADKIM string            `json:"adkim"` // r (default) or s
	ASPF  string            `json:"aspf"`
	T     string            `json:"t,omitempty"` // y: testing (RFC 9989)
	PSD   string            `json:"psd,omitempty"`
	RUA   string            `json:"rua,omitempty"`
}

// ParseDMARC parses a TXT text at _dmarc.<domain>. Notes are findings about
// the record itself (removed or unknown tags, missing p).
func ParseDMARC(txt string) (DMARCRecord, []Finding, error) {
	var notes []Finding
	note := func(s Severity, msg string) {
		notes = append(notes, Finding{Severity: s, Check: "dmarc", Record: txt, Message: msg})
	}
	order, tags, err := ParseTags(txt)
	rec := DMARCRecord{Raw: txt, Order: order, Tags: tags, ADKIM: "r", ASPF: "r"}
	if err != nil {
		return rec, notes, err
	}
	if len(order) == 0 || order[0] != "v" || tags["v"] != "DMARC1" {
		return rec, notes, fmt.Errorf("v=DMARC1 must be the first tag")
	}
	policy := func(tag string) (string, error) {
		v := strings.ToLower(tags[tag])
		switch v {
		case "none", "quarantine", "reject":
			return v, nil
		}
		return "", fmt.Errorf("%s=%s: must be none, quarantine or reject", tag, tags[tag])
	}
	if _, ok := tags["p"]; ok {
		if rec.P, err = policy("p"); err != nil {
			return rec, notes, err
		}
	} else {
		note(Crit, "no p= tag: RFC 9989 allows it (policy none), but RFC 7489 receivers discard the record")
	}
	for _, tag := range []string{"sp", "np"} {
		if _, ok := tags[tag]; ok {
			v, err := policy(tag)
			if err != nil {
				return rec, notes, err
			}
			if tag == "sp" {
				rec.SP = v
			} else {
				rec.NP = v
			}
		}
	}
	for _, tag := range []string{"adkim", "aspf"} {
		if v, ok := tags[tag]; ok {
			v = strings.ToLower(v)
			if v != "r" && v != "s" {
				return rec, notes, fmt.Errorf("%s=%s: must be r or s", tag, tags[tag])
			}
			if tag == "adkim" {
				rec.ADKIM = v
			} else {
				rec.ASPF = v
			}
		}
	}
	if v, ok := tags["t"]; ok {
		rec.T = strings.ToLower(v)
		if rec.T == "y" {
			note(Info, "t=y: testing mode (RFC 9989): receivers apply one policy level less")
		}
	}
	if v, ok := tags["psd"]; ok {
		rec.PSD = strings.ToLower(v)
	}
	rec.RUA = tags["rua"]
	if rec.RUA == "" {
		note(Warn, "no rua=: no aggregate reports (Yahoo strongly recommends them)")
	}
	for _, tag := range []string{"pct", "rf", "ri"} {
		if v, ok := tags[tag]; ok {
			note(Info, fmt.Sprintf("%s=%s is removed in RFC 9989; RFC 7489 receivers still honour pct", tag, v))
		}
	}
	known := map[string]bool{"v": true, "p": true, "sp": true, "np": true, "adkim": true, "aspf": true, "t": true,
		"psd": true, "rua": true, "ruf": true, "fo": true, "pct": true, "rf": true, "ri": true}
	for _, k := range order {
		if !known[k] {
			note(Info, fmt.Sprintf("unknown tag %q (receivers ignore it)", k))
		}
	}
	return rec, notes, nil
}

// DMARCReport is the DMARC state of one RFC5322.From domain.
type DMARCReport struct {
	Domain   string       `json:"domain"`
	Name     string       `json:"name"` // where the applied record was found
	Record   *DMARCRecord `json:"record,omitempty"`
	OrgPSL   string       `json:"org_domain_psl,omitempty"`
	OrgTree  string       `json:"org_domain_tree,omitempty"`
	Findings Findings     `json:"findings"`
	Severity Severity     `json:"severity"`
}

func (r *DMARCReport) add(s Severity, name, rec, msg string) {
	r.Findings = append(r.Findings, Finding{Severity: s, Check: "dmarc", Name: name, Record: rec, Message: msg})
}

// lookupDMARC returns the DMARC records at _dmarc.<d>.
func lookupDMARC(ctx context.Context, r Resolver, d string) ([]string, Answer) {
	a := r.Lookup(ctx, "_dmarc."+d, TypeTXT)
	var out []string
	for _, rr := range a.RRs {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(rr.Data)), "v=dmarc1") {
			out = append(out, rr.Data)
		}
	}
	return out, a
}

// walkNames lists the names RFC 9989's DNS tree walk queries, from the From
// domain up to the single-label parent; more than 8 labels jump to 7 first.
func walkNames(d string) []string {
	labels := strings.Split(d, ".")
	var out []string
	for i := 0; i < len(labels); i++ {
		if i > 0 && len(labels)-i > 7 {
			continue
		}
		out = append(out, strings.Join(labels[i:], "."))
	}
	return out
}

// CheckDMARC discovers and checks the policy for from (§5.5).
func CheckDMARC(ctx context.Context, r Resolver, from string, org OrgFunc) *DMARCReport {
	from = Canon(from)
	rep := &DMARCReport{Domain: from}
	if org != nil {
		if o, err := org(from); err == nil {
			rep.OrgPSL = o
		}
	}
	// Tree walk: the first record found applies; the organizational domain
	// is the psd=n domain, the one below a psd=y, or the highest with a record.
	var applied string
	var appliedName string
	names := walkNames(from)
	for i, n := range names {
		recs, a := lookupDMARC(ctx, r, n)
		if a.Temporary() {
			rep.add(Unknown, "_dmarc."+n, "", "TXT lookup failed: "+a.Describe())
			rep.Severity = rep.Findings.Worst()
			return rep
		}
		if len(recs) > 1 && applied == "" {
			rep.add(Crit, "_dmarc."+n, strings.Join(recs, " | "), fmt.Sprintf("%d DMARC records: receivers discard them all", len(recs)))
			rep.Severity = rep.Findings.Worst()
			return rep
		}
		if len(recs) != 1 {
			continue
		}
		if applied == "" {
			applied, appliedName = recs[0], n
		}
		rec, _, err := ParseDMARC(recs[0])
		if err != nil {
			continue
		}
		switch rec.PSD {
		case "n":
			rep.OrgTree = n
		case "y":
			if i > 0 && rep.OrgTree == "" {
				rep.OrgTree = names[i-1]
			}
		default:
			if rep.OrgTree == "" || len(n) < len(rep.OrgTree) {
				if len(strings.Split(n, ".")) > 1 {
					rep.OrgTree = n
				}
			}
		}
		if rec.PSD == "n" || rec.PSD == "y" {
			break
		}
	}
	if rep.OrgTree == "" {
		rep.OrgTree = from
	}
	if rep.OrgPSL != "" && rep.OrgPSL != rep.OrgTree {
		rep.add(Warn, from, "", fmt.Sprintf("organizational domain differs: %s by the Public Suffix List (RFC 7489), %s by the DNS tree walk (RFC 9989)", rep.OrgPSL, rep.OrgTree))
	}
	if applied == "" {
		rep.add(Crit, "_dmarc."+from, "", "no DMARC record (bulk senders need one, p=none at least)")
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	rep.Name = "_dmarc." + appliedName
	rec, notes, err := ParseDMARC(applied)
	if err != nil {
		rep.add(Crit, rep.Name, applied, "record does not parse: "+err.Error())
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	rep.Record = &rec
	for _, n := range notes {
		n.Name = rep.Name
		rep.Findings = append(rep.Findings, n)
	}
	p := rec.P
	if appliedName != from && rec.SP != "" {
		p = rec.SP
	}
	rep.add(OK, rep.Name, applied, fmt.Sprintf("policy for %s: p=%s (adkim=%s, aspf=%s)", from, orDefault(p, "none"), rec.ADKIM, rec.ASPF))
	rep.Severity = rep.Findings.Worst()
	return rep
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Aligned reports identifier alignment of a (MAIL FROM domain or DKIM d=)
// with the From domain: equal in strict mode, same organizational domain in
// relaxed mode (RFC 7489 §3.1).
func Aligned(id, from string, strict bool, org OrgFunc) bool {
	id, from = Canon(id), Canon(from)
	if id == from {
		return true
	}
	if strict || org == nil {
		return false
	}
	a, err1 := org(id)
	b, err2 := org(from)
	return err1 == nil && err2 == nil && a == b
}

// DMARCGate is the transition rule (§5.5): with p=quarantine|reject, a NEW
// ratio above 0 is blocked while NEW's DKIM test signature does not pass
// aligned. The step-down (p=reject → p=quarantine, never a pct ramp) is
// proposed only when allowStepdown is set.
func DMARCGate(rec *DMARCRecord, newDKIMAlignedPass, allowStepdown bool) (blocked bool, f Finding, stepdown string) {
	f = Finding{Check: "dmarc", Severity: OK, Message: "NEW's DKIM passes aligned: ratio > 0 allowed"}
	if rec == nil {
		f.Severity, f.Message = Crit, "no DMARC record"
		return false, f, ""
	}
	if newDKIMAlignedPass || (rec.P != "quarantine" && rec.P != "reject") {
		if !newDKIMAlignedPass {
			f.Severity, f.Message = Warn, "NEW's DKIM does not pass aligned (p="+orDefault(rec.P, "none")+": not blocked, but fix it before enforcing)"
		}
		return false, f, ""
	}
	f.Severity = Crit
	f.Message = fmt.Sprintf("p=%s and NEW's DKIM does not pass aligned: ratio > 0 is blocked until the NEW selector is published and matches the key", rec.P)
	if allowStepdown && rec.P == "reject" {
		stepdown = replaceTag(rec, "p", "quarantine")
		f.Message += "; step-down proposed: p=reject → p=quarantine, back up after 7 days of aligned passes"
	}
	return true, f, stepdown
}

func replaceTag(rec *DMARCRecord, tag, val string) string {
	var parts []string
	for _, k := range rec.Order {
		v := rec.Tags[k]
		if k == tag {
			v = val
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}
