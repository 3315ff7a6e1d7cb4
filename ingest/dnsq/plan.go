package dnsq

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"cutover/model/auth"
)

// PlanItem is one DNS change of the cutover, in order (wave2 §5.8).
type PlanItem struct {
	ID       int    `json:"id"`
	Phase    string `json:"phase"` // pre, dual, post
	Name     string `json:"name"`
	Type     string `json:"type"`
	Action   string `json:"action"` // add, modify, remove, lower-ttl, restore-ttl, wait, manual, blocked
	Current  string `json:"current,omitempty"`
	Proposed string `json:"proposed,omitempty"`
	TTL      uint32 `json:"ttl,omitempty"`
	Note     string `json:"note,omitempty"`
}

// PlanReport is `dns plan`'s result.
type PlanReport struct {
	Phase string              `json:"phase"`
	Items []PlanItem          `json:"items"`
	SPF   []*auth.SPFProposal `json:"spf,omitempty"`
	// Blocked: DMARC enforces and NEW's DKIM does not pass aligned yet.
	Blocked bool `json:"ratio_blocked"`
	// Flattened are the includes --flatten replaced (RecordFlattened keeps
	// their hashes for dns check).
	Flattened []auth.Flattened `json:"flattened,omitempty"`
}

// PlanOptions of `dns plan`.
type PlanOptions struct {
	Phase         string // pre, dual, post, all
	Flatten       []string
	AllowStepdown bool
}

// Plan builds the ordered change list: lower TTLs → wait → add NEW to SPF and
// publish the selector → switch signing → after the drain remove OLD, retire
// the old selectors, restore the TTLs.
func Plan(ctx context.Context, c *Client, cfg Config, opt PlanOptions) (*PlanReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	phase := opt.Phase
	if phase == "" {
		phase = "all"
	}
	switch phase {
	case "pre", "dual", "post", "all":
	default:
		return nil, fmt.Errorf("--phase %q: want pre, dual, post or all", phase)
	}
	ips, _ := cfg.IPs()
	low, _ := cfg.TTLLowDuration()
	lowS := uint32(low.Seconds())
	key, err := cfg.LoadKey()
	if err != nil {
		return nil, err
	}
	rep := &PlanReport{Phase: phase}
	var items []PlanItem
	item := func(it PlanItem) { items = append(items, it) }

	// SPF names that change, and their proposals.
	type change struct {
		name, current, proposed string
		ttl                     uint32
		newName                 bool
	}
	var spf []change
	for _, d := range cfg.Domains {
		p := auth.ProposeDualSPF(ctx, c, d, cfg.MailFrom.New, ips)
		rep.SPF = append(rep.SPF, p)
		ch := change{name: p.Name, current: p.Current, proposed: p.Proposed}
		a := c.Lookup(ctx, p.Name, auth.TypeTXT)
		for _, rr := range a.RRs {
			if auth.IsSPF(rr.Data) {
				ch.current, ch.ttl = rr.Data, rr.TTL
			}
		}
		ch.newName = ch.current == ""
		dup := false
		for _, s := range spf {
			dup = dup || s.name == ch.name
		}
		if !dup {
			spf = append(spf, ch)
		}
	}
	// pre: lower the TTL of every record that will change, then wait.
	for _, s := range spf {
		if s.newName {
			continue // a new name needs no pre-staging
		}
		if s.ttl > lowS {
			item(PlanItem{Phase: "pre", Name: s.name, Type: "TXT", Action: "lower-ttl", Current: s.current, Proposed: s.current, TTL: lowS,
				Note: fmt.Sprintf("TTL %d → %d s; safe to change %d s after every server serves it", s.ttl, lowS, s.ttl)})
			item(PlanItem{Phase: "pre", Name: s.name, Type: "TXT", Action: "wait",
				Note: fmt.Sprintf("until safe_at = lowered_at + %d s (cutover dns ttl)", s.ttl)})
		}
	}
	for _, d := range cfg.Domains {
		if cfg.NewSelector == "" {
			continue
		}
		name := cfg.NewSelector + "._domainkey." + auth.Canon(d)
		a := c.Lookup(ctx, name, auth.TypeTXT)
		rec := "<v=DKIM1; k=rsa; p=… of new_dkim_key>"
		if key != nil {
			if r, err := auth.DKIMRecord(key.Public()); err == nil {
				rec = r
			}
		}
		note := "new name: no pre-staging; NEW signs only after it verifies (cutover dns dkim)"
		if a.Rcode != auth.NXDomain {
			note = "WARN: the name is in use (" + a.Describe() + "): check it is NEW's key"
		}
		item(PlanItem{Phase: "pre", Name: name, Type: "TXT", Action: "add", Proposed: rec, TTL: lowS, Note: note})
	}
	// dual: SPF, signing, DMARC gate.
	for _, s := range spf {
		action := "modify"
		if s.newName {
			action = "add"
		}
		var note string
		for _, p := range rep.SPF {
			if p.Name == s.name {
				note = fmt.Sprintf("lookups %d (RFC), %d (strict); NEW's IP uses %d", p.Lookups, p.Strict, p.NewLookups)
				if p.Lookups > auth.MaxLookups {
					note += "; over the limit: use " + p.Alternatives[0].Name
				}
			}
		}
		if len(opt.Flatten) > 0 && !s.newName {
			// Only on request, per include named; the cost is stated.
			flat, fl, err := auth.Flatten(ctx, c, s.name, s.proposed, opt.Flatten)
			if err != nil {
				return nil, err
			}
			rep.Flattened = append(rep.Flattened, fl...)
			for _, f := range fl {
				for _, ch := range f.Chain {
					item(PlanItem{Phase: "dual", Name: ch.Name, Type: "TXT", Action: "add", Proposed: ch.Data, TTL: lowS,
						Note: "chained record of the flattened include:" + f.Include})
				}
				note += fmt.Sprintf("; flattened include:%s (%d terms, answers sha256 %s): %s", f.Include, len(f.Terms), f.Hash[:16], f.Cost)
			}
			for i := range spf {
				if spf[i].name == s.name {
					spf[i].proposed = flat
				}
			}
			s.proposed = flat
		}
		item(PlanItem{Phase: "dual", Name: s.name, Type: "TXT", Action: action, Current: s.current, Proposed: s.proposed, TTL: lowS, Note: note})
	}
	for _, d := range cfg.Domains {
		if cfg.NewSelector != "" {
			item(PlanItem{Phase: "dual", Name: auth.Canon(d), Action: "manual",
				Note: fmt.Sprintf("NEW MTA signs with d=%s s=%s (after the selector verifies)", auth.Canon(d), cfg.NewSelector)})
		}
		dm := auth.CheckDMARC(ctx, c, d, OrgDomain)
		if dm.Record == nil {
			continue
		}
		pass := false
		if key != nil && cfg.NewSelector != "" {
			res, _ := TestSignature(ctx, c, auth.Canon(d), cfg.NewSelector, key, timeNow())
			pass = res == "pass"
		}
		blocked, f, step := auth.DMARCGate(dm.Record, pass, opt.AllowStepdown)
		if blocked {
			rep.Blocked = true
			item(PlanItem{Phase: "dual", Name: dm.Name, Type: "TXT", Action: "blocked", Current: dm.Record.Raw, Note: f.Message})
			if step != "" {
				item(PlanItem{Phase: "dual", Name: dm.Name, Type: "TXT", Action: "modify", Current: dm.Record.Raw, Proposed: step, TTL: lowS,
					Note: "step-down (--allow-dmarc-stepdown): back to p=reject after 7 days of aligned passes"})
			}
		}
	}
	// post: after the drain.
	for _, s := range spf {
		if s.newName {
			continue
		}
		post := removeTerms(s.proposed, cfg.OldSPF)
		if post != s.proposed {
			item(PlanItem{Phase: "post", Name: s.name, Type: "TXT", Action: "modify", Current: s.proposed, Proposed: post, TTL: lowS,
				Note: "after the last OLD attempt + OLD's queue lifetime (Postfix 5d, Exim 4d, PowerMTA 4d12h, SendGrid 72h)"})
		}
	}
	for _, d := range cfg.Domains {
		for _, sel := range cfg.OldSelectors {
			item(PlanItem{Phase: "post", Name: sel + "._domainkey." + auth.Canon(d), Type: "TXT", Action: "modify", Proposed: "v=DKIM1; p=",
				Note: "retire (empty p=) after the last OLD-signed message + max(7 days, OLD's queue lifetime)"})
		}
	}
	for _, s := range spf {
		if !s.newName && s.ttl > lowS {
			item(PlanItem{Phase: "post", Name: s.name, Type: "TXT", Action: "restore-ttl", TTL: s.ttl,
				Note: "once unchanged for 48 h after the last change"})
		}
	}
	for _, it := range items {
		if phase == "all" || it.Phase == phase {
			it.ID = len(rep.Items) + 1
			rep.Items = append(rep.Items, it)
		}
	}
	return rep, nil
}

func removeTerms(record string, terms []string) string {
	var out []string
	for _, f := range strings.Fields(record) {
		drop := false
		for _, t := range terms {
			drop = drop || strings.EqualFold(strings.TrimPrefix(f, "+"), strings.TrimPrefix(t, "+"))
		}
		if !drop {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// quoteTXT renders a TXT text as RFC 1035 character-strings of ≤ 255 octets.
func quoteTXT(s string) string {
	var parts []string
	for {
		n := min(len(s), 255)
		parts = append(parts, `"`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s[:n])+`"`)
		s = s[n:]
		if s == "" {
			break
		}
	}
	return strings.Join(parts, " ")
}

// Render writes the plan as text, json, zone (RFC 1035 lines of the records
// to publish) or nsupdate (nsupdate(1) commands).
func (p *PlanReport) Render(w io.Writer, format string) error {
	switch format {
	case "", "text":
		fmt.Fprintf(w, "DNS plan (phase %s)\n", p.Phase)
		if p.Blocked {
			fmt.Fprintln(w, "BLOCKED: NEW ratio stays at 0 until NEW's DKIM passes aligned (see the blocked item)")
		}
		for _, it := range p.Items {
			fmt.Fprintf(w, "%2d. [%s] %-11s %s %s\n", it.ID, it.Phase, it.Action, it.Name, it.Type)
			if it.Current != "" && it.Current != it.Proposed {
				fmt.Fprintf(w, "      now:  %s\n", it.Current)
			}
			if it.Proposed != "" {
				fmt.Fprintf(w, "      new:  %s\n", it.Proposed)
			}
			if it.TTL > 0 && it.Action != "wait" {
				fmt.Fprintf(w, "      ttl:  %d\n", it.TTL)
			}
			if it.Note != "" {
				fmt.Fprintf(w, "      note: %s\n", it.Note)
			}
		}
		for _, sp := range p.SPF {
			for _, a := range sp.Alternatives {
				fmt.Fprintf(w, "alternative for %s: %s TXT %q (%d lookups): %s\n", sp.Domain, a.Name, a.Record, a.Lookups, a.Why)
			}
		}
		return nil
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(p)
	case "zone":
		for _, it := range p.Items {
			switch it.Action {
			case "add", "modify", "lower-ttl":
				fmt.Fprintf(w, "; %d. [%s] %s\n%s. %d IN %s %s\n", it.ID, it.Phase, it.Action, it.Name, it.TTL, it.Type, quoteTXT(it.Proposed))
			default:
				fmt.Fprintf(w, "; %d. [%s] %s %s: %s\n", it.ID, it.Phase, it.Action, it.Name, it.Note)
			}
		}
		return nil
	case "nsupdate":
		for _, it := range p.Items {
			switch it.Action {
			case "add", "modify", "lower-ttl":
				fmt.Fprintf(w, "; %d. [%s] %s\n", it.ID, it.Phase, it.Action)
				if it.Current != "" {
					fmt.Fprintf(w, "update delete %s. %s %s\n", it.Name, it.Type, quoteTXT(it.Current))
				}
				fmt.Fprintf(w, "update add %s. %d %s %s\nsend\n", it.Name, it.TTL, it.Type, quoteTXT(it.Proposed))
			default:
				fmt.Fprintf(w, "; %d. [%s] %s %s: %s\n", it.ID, it.Phase, it.Action, it.Name, it.Note)
			}
		}
		return nil
	}
	return fmt.Errorf("--format %q: want text, json, zone or nsupdate", format)
}

// timeNow is the clock of test signatures (tests fix it).
var timeNow = time.Now
